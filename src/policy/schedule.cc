#include "policy/schedule.h"

#include <charconv>
#include <ctime>
#include <vector>

namespace strata {

namespace {

Status bad(std::string_view text, const std::string& what) {
  return Status::permanent("schedule '" + std::string(text) + "': " + what +
                           " (expected a cron expression like \"0 3 * * *\" (minute hour "
                           "day-of-month month day-of-week, UTC), @hourly, @daily, @weekly, "
                           "@monthly, or @every 10m)");
}

std::optional<int> number(std::string_view s) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// One field: "*", "a", "a-b", with "/step", comma-separated; values within [lo, hi].
template <size_t N>
Status parse_field(std::string_view text, std::string_view field, const char* name, int lo,
                   int hi, std::bitset<N>& out) {
  size_t start = 0;
  while (start <= field.size()) {
    size_t comma = field.find(',', start);
    std::string_view part =
        field.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    int step = 1;
    if (size_t slash = part.find('/'); slash != std::string_view::npos) {
      auto s = number(part.substr(slash + 1));
      if (!s || *s < 1) return bad(text, std::string(name) + " step must be a positive number");
      step = *s;
      part = part.substr(0, slash);
    }
    int a = lo, b = hi;
    if (part != "*") {
      size_t dash = part.find('-');
      auto x = number(part.substr(0, dash));
      auto y = dash == std::string_view::npos ? x : number(part.substr(dash + 1));
      if (!x || !y || *x < lo || *y > hi || *x > *y) {
        return bad(text, std::string(name) + " '" + std::string(part) + "' is not within " +
                             std::to_string(lo) + "-" + std::to_string(hi));
      }
      a = *x;
      b = dash == std::string_view::npos && step > 1 ? hi : *y;
    }
    for (int v = a; v <= b; v += step) out.set(static_cast<size_t>(v == 7 && hi == 7 ? 0 : v));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return Status::ok();
}

}  // namespace

bool Schedule::matches(int64_t micros) const {
  if (every) return false;
  const std::time_t secs = static_cast<std::time_t>(micros / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  if (!minutes.test(static_cast<size_t>(tm.tm_min)) || !hours.test(static_cast<size_t>(tm.tm_hour)) ||
      !months.test(static_cast<size_t>(tm.tm_mon + 1))) {
    return false;
  }
  const bool day = days.test(static_cast<size_t>(tm.tm_mday));
  const bool weekday = weekdays.test(static_cast<size_t>(tm.tm_wday));
  if (any_day && any_weekday) return true;
  if (any_day) return weekday;
  if (any_weekday) return day;
  return day || weekday;
}

Result<Schedule> parse_schedule(std::string_view text) {
  std::string_view t = text;
  while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  if (t.rfind("@every", 0) == 0) {
    std::string_view rest = t.substr(6);
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    auto d = parse_duration(rest);
    if (!d.is_ok() || d->count() < 1000000) return bad(text, "@every needs a duration of 1s or more");
    Schedule s;
    s.every = *d;
    return s;
  }
  std::string expr(t);
  if (t == "@hourly") expr = "0 * * * *";
  if (t == "@daily" || t == "@midnight") expr = "0 0 * * *";
  if (t == "@weekly") expr = "0 0 * * 0";
  if (t == "@monthly") expr = "0 0 1 * *";
  if (!expr.empty() && expr[0] == '@') return bad(text, "unknown shorthand '" + expr + "'");
  std::vector<std::string_view> fields;
  std::string_view e = expr;
  size_t i = 0;
  while (i < e.size()) {
    while (i < e.size() && e[i] == ' ') ++i;
    size_t j = i;
    while (j < e.size() && e[j] != ' ') ++j;
    if (j > i) fields.push_back(e.substr(i, j - i));
    i = j;
  }
  if (fields.size() != 5) {
    return bad(text, "a cron expression has 5 fields, this one " + std::to_string(fields.size()));
  }
  Schedule s;
  STRATA_TRY(parse_field(text, fields[0], "minute", 0, 59, s.minutes));
  STRATA_TRY(parse_field(text, fields[1], "hour", 0, 23, s.hours));
  STRATA_TRY(parse_field(text, fields[2], "day-of-month", 1, 31, s.days));
  STRATA_TRY(parse_field(text, fields[3], "month", 1, 12, s.months));
  STRATA_TRY(parse_field(text, fields[4], "day-of-week", 0, 7, s.weekdays));
  s.any_day = fields[2] == "*";
  s.any_weekday = fields[4] == "*";
  return s;
}

}  // namespace strata
