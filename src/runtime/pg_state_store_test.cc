// What only the PostgreSQL state store has (the shared cases are in
// state_store_conformance_test.cc): URI options, errors that name the server without its
// password, and two stores in two schemas of one database staying apart.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <cstdlib>

#include "runtime/state_store.h"

namespace strata {
namespace {

std::string server_uri() {
  const char* uri = std::getenv("STRATA_TEST_PG_URI");
  if (uri == nullptr || *uri == '\0') {
    ADD_FAILURE() << "STRATA_TEST_PG_URI is not set: run the PostgreSQL state store tests "
                     "through `make test` or scripts/run-tests, which start the test servers "
                     "and export it";
    return "";
  }
  return uri;
}

std::string with_query(const std::string& uri, const std::string& q) {
  return uri + (uri.find('?') == std::string::npos ? "?" : "&") + q;
}

TEST(PgStateStore, AWrongPasswordNamesTheServerNotThePassword) {
  std::string uri = server_uri();
  ASSERT_FALSE(uri.empty());
  const std::string good_password = "strata-test";
  ASSERT_NE(uri.find(":" + good_password + "@"), std::string::npos) << uri;
  std::string bad = uri;
  bad.replace(bad.find(":" + good_password + "@"), good_password.size() + 2, ":wrong-secret-pw@");
  auto store = open_postgres_state_store(bad);
  ASSERT_FALSE(store.is_ok());
  const std::string& msg = store.status().message();
  EXPECT_TRUE(store.status().is_permanent()) << store.status().to_string();
  EXPECT_NE(msg.find("postgres postgres://strata:***@127.0.0.1"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("wrong-secret-pw"), std::string::npos) << msg;
  EXPECT_NE(msg.find("password"), std::string::npos) << "says what to check: " << msg;
}

TEST(PgStateStore, ANobodyListeningPortIsRetryable) {
  auto store = open_postgres_state_store("postgres://strata@127.0.0.1:1/strata?connect_timeout=2");
  ASSERT_FALSE(store.is_ok());
  EXPECT_TRUE(store.status().is_retryable()) << store.status().to_string();
  EXPECT_NE(store.status().message().find("127.0.0.1:1"), std::string::npos);
}

TEST(PgStateStore, RejectsUnknownOptionsAndBadSchemaNames) {
  auto unknown = open_postgres_state_store("postgres://u@h/db?scheme=x");
  ASSERT_FALSE(unknown.is_ok());
  EXPECT_NE(unknown.status().message().find("unknown URI option 'scheme'"), std::string::npos)
      << unknown.status().message();
  auto bad = open_postgres_state_store("postgres://u@h/db?schema=Robert'); DROP");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("schema"), std::string::npos);
}

TEST(PgStateStore, SchemasKeepStoresApart) {
  std::string uri = server_uri();
  ASSERT_FALSE(uri.empty());
  const std::string suffix = std::to_string(::getpid());
  auto a = open_postgres_state_store(with_query(uri, "schema=apart_a_" + suffix));
  auto b = open_state_store(with_query(uri, "schema=apart_b_" + suffix));
  ASSERT_TRUE(a.is_ok()) << a.status().to_string();
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  TaskRecord t;
  t.id = "only-in-a";
  t.policy_name = "p";
  ASSERT_TRUE((*a)->put_task(t).is_ok());
  EXPECT_TRUE((*a)->get_task("only-in-a")->has_value());
  EXPECT_FALSE((*b)->get_task("only-in-a")->has_value());
  PGconn* c = PQconnectdb(uri.c_str());
  ASSERT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
  PQclear(PQexec(
      c, ("DROP SCHEMA apart_a_" + suffix + " CASCADE; DROP SCHEMA apart_b_" + suffix + " CASCADE")
             .c_str()));
  PQfinish(c);
}

}  // namespace
}  // namespace strata
