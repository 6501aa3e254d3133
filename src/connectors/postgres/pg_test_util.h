// Test support for the PostgreSQL connector: every test gets its own database on the server named
// by STRATA_TEST_PG_URI (started by scripts/run-tests), written with plain libpq independently of
// the connector, and dropped afterwards.
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "connectors/source.h"

namespace strata::pg_test {

// A plain libpq session.
class Session {
 public:
  explicit Session(const std::string& uri) : conn_(PQconnectdb(uri.c_str())) {
    EXPECT_EQ(PQstatus(conn_), CONNECTION_OK) << PQerrorMessage(conn_);
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);  // "skipping" notices
  }
  ~Session() { PQfinish(conn_); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  PGconn* get() const { return conn_; }
  void exec(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    ExecStatusType st = PQresultStatus(r);
    EXPECT_TRUE(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        << sql << ": " << PQresultErrorMessage(r);
    PQclear(r);
  }
  // The first column of every row, as text ("NULL" for null).
  std::vector<std::string> column(const std::string& sql) {
    std::vector<std::string> out;
    PGresult* r = PQexec(conn_, sql.c_str());
    EXPECT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << sql << ": " << PQresultErrorMessage(r);
    for (int i = 0; i < PQntuples(r); ++i) {
      out.push_back(PQgetisnull(r, i, 0) ? "NULL" : PQgetvalue(r, i, 0));
    }
    PQclear(r);
    return out;
  }
  std::string value(const std::string& sql) {
    auto c = column(sql);
    return c.empty() ? "<no row>" : c[0];
  }
  int64_t count(const std::string& sql) { return std::stoll(value(sql)); }

 private:
  PGconn* conn_;
};

// The server's URI, or a failure telling how to run the test.
inline std::string server_uri(const char* var = "STRATA_TEST_PG_URI") {
  const char* uri = std::getenv(var);
  if (uri == nullptr || *uri == '\0') {
    ADD_FAILURE() << var
                  << " is not set: run the PostgreSQL tests through `make test` or "
                     "scripts/run-tests, which start the test servers and export it";
    return "";
  }
  return uri;
}

// `uri` with its database replaced by `db`.
inline std::string with_database(const std::string& uri, const std::string& db) {
  size_t q = uri.find('?');
  std::string base = uri.substr(0, q);
  std::string query = q == std::string::npos ? "" : uri.substr(q);
  size_t slash = base.find('/', base.find("://") + 3);
  return base.substr(0, slash) + "/" + db + query;
}

// A fresh database per test.
class PgTest : public testing::Test {
 protected:
  void SetUp() override {
    server_ = server_uri();
    ASSERT_FALSE(server_.empty());  // the test body does not run
    std::string name = testing::UnitTest::GetInstance()->current_test_info()->name();
    db_name_ = "pgt_";
    for (char c : name) {
      db_name_ += std::isalnum(static_cast<unsigned char>(c))
                      ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
                      : '_';
    }
    db_name_ = db_name_.substr(0, 48) + "_" + std::to_string(getpid());
    admin_ = std::make_unique<Session>(server_);
    admin_->exec("DROP DATABASE IF EXISTS " + db_name_ + " WITH (FORCE)");
    admin_->exec("CREATE DATABASE " + db_name_);
    uri_ = with_database(server_, db_name_);
    db_ = std::make_unique<Session>(uri_);
  }
  void TearDown() override {
    db_.reset();
    if (admin_) admin_->exec("DROP DATABASE IF EXISTS " + db_name_ + " WITH (FORCE)");
  }

  std::string server_;
  std::string db_name_;
  std::string uri_;
  std::unique_ptr<Session> admin_;
  std::unique_ptr<Session> db_;
};

}  // namespace strata::pg_test
