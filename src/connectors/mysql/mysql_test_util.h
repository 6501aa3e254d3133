// Test support for the MySQL connector tests: the test server's address from the environment
// (scripts/run-tests starts the servers), one database per test, and an independent admin
// connection (plain Connector/C calls, not the connector under test) to set up and check tables.
#pragma once

#include <gtest/gtest.h>
#include <mysql.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace strata::mysql_test {

// STRATA_TEST_MYSQL_URI, or "" after failing the test with how to get one.
inline std::string env_or_fail(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    ADD_FAILURE() << name
                  << " is not set: run the MySQL tests through `make test` or scripts/run-tests "
                     "(they start MariaDB), or `scripts/test-servers start DIR && source DIR/env`";
    return "";
  }
  return v;
}

struct Address {
  std::string host, user, password;
  int port = 0;
};

// Parses mysql://user:password@host:port/db (the test servers' form).
inline Address parse_address(const std::string& uri) {
  Address a;
  size_t s = uri.find("://");
  std::string rest = uri.substr(s + 3);
  size_t at = rest.find('@');
  std::string userinfo = rest.substr(0, at);
  rest = rest.substr(at + 1);
  size_t colon = userinfo.find(':');
  a.user = userinfo.substr(0, colon);
  a.password = colon == std::string::npos ? "" : userinfo.substr(colon + 1);
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  colon = hostport.rfind(':');
  a.host = hostport.substr(0, colon);
  a.port = std::stoi(hostport.substr(colon + 1));
  return a;
}

class Admin {
 public:
  explicit Admin(const std::string& uri, const std::string& db = "") {
    Address a = parse_address(uri);
    m_ = mysql_init(nullptr);
    mysql_optionsv(m_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (mysql_real_connect(m_, a.host.c_str(), a.user.c_str(), a.password.c_str(),
                           db.empty() ? nullptr : db.c_str(), static_cast<unsigned>(a.port),
                           nullptr, CLIENT_MULTI_STATEMENTS) == nullptr) {
      ADD_FAILURE() << "admin connect to " << a.host << ":" << a.port << ": " << mysql_error(m_);
    }
    exec("SET time_zone = '+00:00'");
  }
  ~Admin() { mysql_close(m_); }
  Admin(const Admin&) = delete;
  Admin& operator=(const Admin&) = delete;

  // Runs one or more statements; fails the test on an error.
  void exec(const std::string& sql) {
    if (mysql_real_query(m_, sql.data(), sql.size()) != 0) {
      ADD_FAILURE() << sql.substr(0, 300) << ": " << mysql_error(m_);
      return;
    }
    do {
      MYSQL_RES* r = mysql_store_result(m_);
      if (r) mysql_free_result(r);
    } while (mysql_next_result(m_) == 0);
    if (mysql_errno(m_) != 0) ADD_FAILURE() << sql.substr(0, 300) << ": " << mysql_error(m_);
  }
  // Every row of a query, NULL as nullopt.
  std::vector<std::vector<std::optional<std::string>>> rows(const std::string& sql) {
    std::vector<std::vector<std::optional<std::string>>> out;
    if (mysql_real_query(m_, sql.data(), sql.size()) != 0) {
      ADD_FAILURE() << sql << ": " << mysql_error(m_);
      return out;
    }
    MYSQL_RES* r = mysql_store_result(m_);
    if (!r) return out;
    unsigned n = mysql_num_fields(r);
    while (MYSQL_ROW row = mysql_fetch_row(r)) {
      unsigned long* len = mysql_fetch_lengths(r);
      std::vector<std::optional<std::string>> v;
      for (unsigned i = 0; i < n; ++i) {
        if (row[i]) {
          v.emplace_back(std::string(row[i], len[i]));
        } else {
          v.emplace_back(std::nullopt);
        }
      }
      out.push_back(std::move(v));
    }
    mysql_free_result(r);
    return out;
  }
  // The first column of every row ("NULL" for null).
  std::vector<std::string> column(const std::string& sql) {
    std::vector<std::string> out;
    for (auto& r : rows(sql)) out.push_back(r.at(0).value_or("NULL"));
    return out;
  }
  int64_t count(const std::string& sql) {
    auto c = column(sql);
    return c.empty() ? -1 : std::stoll(c[0]);
  }
  unsigned long id() { return mysql_thread_id(m_); }
  MYSQL* get() { return m_; }

 private:
  MYSQL* m_ = nullptr;
};

// A fixture with its own database, named after the test, dropped afterwards.
class MysqlTest : public testing::Test {
 protected:
  void SetUp() override {
    base_uri_ = env_or_fail("STRATA_TEST_MYSQL_URI");
    ASSERT_FALSE(base_uri_.empty());
    std::string name = testing::UnitTest::GetInstance()->current_test_info()->name();
    db_ = "st_";
    for (char c : name)
      db_ += static_cast<char>(std::isalnum(static_cast<unsigned char>(c))
                                   ? std::tolower(static_cast<unsigned char>(c))
                                   : '_');
    db_ = db_.substr(0, 60);
    admin_ = std::make_unique<Admin>(base_uri_);
    admin_->exec("DROP DATABASE IF EXISTS `" + db_ + "`");
    admin_->exec("CREATE DATABASE `" + db_ + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci");
    admin_->exec("USE `" + db_ + "`");
    uri_ = base_uri_.substr(0, base_uri_.rfind('/') + 1) + db_;
  }
  void TearDown() override {
    if (admin_) {
      for (const std::string& d : extra_dbs_) admin_->exec("DROP DATABASE IF EXISTS " + quoted(d));
      admin_->exec("DROP DATABASE IF EXISTS `" + db_ + "`");
    }
  }

  static std::string quoted(const std::string& name) {
    std::string out = "`";
    for (char c : name) out += c == '`' ? std::string("``") : std::string(1, c);
    return out + "`";
  }

  std::string base_uri_;
  std::string uri_;  // mysql://...@host:port/<this test's database>
  std::string db_;
  std::vector<std::string> extra_dbs_;
  std::unique_ptr<Admin> admin_;
};

}  // namespace strata::mysql_test
