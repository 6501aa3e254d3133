// When `strata serve` runs a policy by itself: a policy's `schedule`. Cron expressions of five
// fields (minute hour day-of-month month day-of-week, in UTC) with `*`, lists `1,15`, ranges
// `1-5`, steps `*/10` and `8-18/2`; the shorthands @hourly, @daily (@midnight), @weekly,
// @monthly; or `@every DURATION` (at least 1s) for a fixed interval. Day-of-month and day-of-week
// both restricted: either may match, as in cron. Written by hand: no Debian package parses cron
// expressions as a library.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/duration.h"
#include "core/status.h"

namespace strata {

struct Schedule {
  std::optional<Micros> every;  // @every: the interval; the rest is unused
  std::bitset<60> minutes;
  std::bitset<24> hours;
  std::bitset<32> days;    // 1..31
  std::bitset<13> months;  // 1..12
  std::bitset<7> weekdays;  // 0 = Sunday
  bool any_day = true;      // day-of-month is *
  bool any_weekday = true;  // day-of-week is *

  // Whether a cron schedule fires in the minute holding `micros` (µs since the epoch, UTC).
  bool matches(int64_t micros) const;
};

// An error names the field and says what is accepted.
Result<Schedule> parse_schedule(std::string_view text);

}  // namespace strata
