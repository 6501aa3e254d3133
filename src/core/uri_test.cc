#include "core/uri.h"

#include <gtest/gtest.h>

namespace strata {
namespace {

TEST(Uri, ParsesNetworkUris) {
  auto u = parse_uri("postgres://app:p%40ss@db.local:5433/prod?sslmode=require&table=a.b");
  ASSERT_TRUE(u.is_ok());
  EXPECT_EQ(u->scheme, "postgres");
  EXPECT_EQ(u->user, "app");
  EXPECT_EQ(u->password, "p@ss");
  EXPECT_EQ(u->host, "db.local");
  EXPECT_EQ(u->port, 5433);
  EXPECT_EQ(u->path, "/prod");
  EXPECT_EQ(u->query.at("sslmode"), "require");
  EXPECT_EQ(u->redacted(), "postgres://app:***@db.local:5433/prod?sslmode=require&table=a.b");
  auto v6 = parse_uri("redis://[::1]:6380");
  ASSERT_TRUE(v6.is_ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 6380);
}

TEST(Uri, LocalPaths) {
  EXPECT_EQ(parse_uri("sqlite://demo/telemetry.db")->path, "demo/telemetry.db");
  EXPECT_EQ(parse_uri("file:///srv/archive")->path, "/srv/archive");
  auto bare = parse_uri("archive/out");
  EXPECT_EQ(bare->scheme, "file");
  EXPECT_EQ(bare->path, "archive/out");
}

TEST(Uri, RejectsBadInput) {
  EXPECT_FALSE(parse_uri("").is_ok());
  EXPECT_FALSE(parse_uri("postgres://h:99x/db").is_ok());
  EXPECT_FALSE(parse_uri("sqlite://").is_ok());
}

}  // namespace
}  // namespace strata
