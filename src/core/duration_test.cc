#include "core/duration.h"

#include <gtest/gtest.h>

#include "core/env.h"

namespace strata {
namespace {

TEST(Duration, Parses) {
  EXPECT_EQ(parse_duration("30d")->count(), 30LL * 86400 * 1000000);
  EXPECT_EQ(parse_duration("1h30m")->count(), 5400LL * 1000000);
  EXPECT_EQ(parse_duration("250ms")->count(), 250000);
  EXPECT_FALSE(parse_duration("30").is_ok());
  EXPECT_FALSE(parse_duration("d").is_ok());
  EXPECT_FALSE(parse_duration("3x").is_ok());
  EXPECT_NE(parse_duration("3 days").status().message().find("30d"), std::string::npos);
}

TEST(Duration, Formats) {
  EXPECT_EQ(format_duration(*parse_duration("30d")), "30d");
  EXPECT_EQ(format_duration(*parse_duration("90m")), "1h30m");
  EXPECT_EQ(format_elapsed(0.25), "250ms");
}

TEST(Env, ExpandsAndNamesMissingVariables) {
  setenv("STRATA_TEST_PW", "s3cret", 1);
  unsetenv("STRATA_TEST_MISSING");
  EXPECT_EQ(*expand_env("pg://u:${STRATA_TEST_PW}@h/db"), "pg://u:s3cret@h/db");
  EXPECT_EQ(*expand_env("cost $5 $${X}"), "cost $5 ${X}");
  auto missing = expand_env("${STRATA_TEST_MISSING}");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("STRATA_TEST_MISSING"), std::string::npos);
  EXPECT_EQ(env_references("a${X}b${Y}"), (std::vector<std::string>{"X", "Y"}));
}

}  // namespace
}  // namespace strata
