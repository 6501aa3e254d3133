#include "policy/schedule.h"

#include <gtest/gtest.h>

#include "core/schema.h"

namespace strata {
namespace {

int64_t at(const char* text) {
  auto t = parse_timestamp(text);
  EXPECT_TRUE(t.is_ok()) << text;
  return t.is_ok() ? *t : 0;
}

TEST(Schedule, CronFieldsListsRangesAndSteps) {
  auto s = parse_schedule("*/15 8-18/2 * * 1-5");
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  EXPECT_TRUE(s->matches(at("2026-11-27T08:30:10Z")));   // Friday
  EXPECT_FALSE(s->matches(at("2026-11-27T08:31:00Z")));  // minute
  EXPECT_FALSE(s->matches(at("2026-11-27T09:30:00Z")));  // odd hour
  EXPECT_TRUE(s->matches(at("2026-11-27T18:45:00Z")));
  EXPECT_FALSE(s->matches(at("2026-11-29T08:30:00Z")));  // Sunday
  auto daily = parse_schedule("@daily");
  ASSERT_TRUE(daily.is_ok());
  EXPECT_TRUE(daily->matches(at("2026-03-01T00:00:59Z")));
  EXPECT_FALSE(daily->matches(at("2026-03-01T00:01:00Z")));
  auto lists = parse_schedule("5,35 3 1,15 1-6 *");
  ASSERT_TRUE(lists.is_ok());
  EXPECT_TRUE(lists->matches(at("2026-02-15T03:35:00Z")));
  EXPECT_FALSE(lists->matches(at("2026-07-15T03:35:00Z")));  // July
  // Day-of-month and day-of-week both set: either matches, as in cron; 7 is Sunday too.
  auto either = parse_schedule("0 0 13 * 7");
  ASSERT_TRUE(either.is_ok());
  EXPECT_TRUE(either->matches(at("2026-11-13T00:00:00Z")));  // the 13th, a Friday
  EXPECT_TRUE(either->matches(at("2026-11-29T00:00:00Z")));  // a Sunday
  EXPECT_FALSE(either->matches(at("2026-11-27T00:00:00Z")));
}

TEST(Schedule, EveryIsAnInterval) {
  auto s = parse_schedule("@every 90s");
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  ASSERT_TRUE(s->every.has_value());
  EXPECT_EQ(s->every->count(), 90000000);
  EXPECT_FALSE(s->matches(at("2026-11-27T00:00:00Z")));
}

TEST(Schedule, ErrorsSayWhatIsWrong) {
  for (auto [text, says] : std::vector<std::pair<const char*, const char*>>{
           {"* * * *", "5 fields, this one 4"},
           {"60 * * * *", "minute '60' is not within 0-59"},
           {"0 24 * * *", "hour '24'"},
           {"0 0 0 * *", "day-of-month '0'"},
           {"0 0 * 13 *", "month '13'"},
           {"*/0 * * * *", "step must be a positive number"},
           {"@yearly", "unknown shorthand"},
           {"@every 10ms", "1s or more"},
           {"@every soon", "1s or more"},
           {"a b c d e", "minute 'a'"},
       }) {
    auto s = parse_schedule(text);
    ASSERT_FALSE(s.is_ok()) << text;
    EXPECT_NE(s.status().message().find(says), std::string::npos) << s.status().message();
  }
}

}  // namespace
}  // namespace strata
