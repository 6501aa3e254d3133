#include "core/duration.h"

#include <cstdio>

namespace strata {

Result<Micros> parse_duration(std::string_view text) {
  auto bad = [&] {
    return Status::permanent("invalid duration '" + std::string(text) +
                             "' (expected a number with a unit: 30d, 12h, 15m, 10s, 500ms, 1h30m)");
  };
  if (text.empty()) return bad();
  int64_t total = 0;
  size_t p = 0;
  while (p < text.size()) {
    size_t start = p;
    int64_t n = 0;
    while (p < text.size() && text[p] >= '0' && text[p] <= '9') {
      if (n > 1'000'000'000'000LL) return bad();
      n = n * 10 + (text[p] - '0');
      ++p;
    }
    if (p == start) return bad();
    size_t ustart = p;
    while (p < text.size() && (text[p] < '0' || text[p] > '9')) ++p;
    std::string_view unit = text.substr(ustart, p - ustart);
    int64_t mult;
    if (unit == "w")
      mult = 7LL * 86400 * 1000000;
    else if (unit == "d")
      mult = 86400LL * 1000000;
    else if (unit == "h")
      mult = 3600LL * 1000000;
    else if (unit == "m")
      mult = 60LL * 1000000;
    else if (unit == "s")
      mult = 1000000;
    else if (unit == "ms")
      mult = 1000;
    else if (unit == "us")
      mult = 1;
    else
      return bad();
    total += n * mult;
  }
  return Micros(total);
}

std::string format_duration(Micros d) {
  int64_t us = d.count();
  if (us == 0) return "0s";
  std::string out;
  if (us < 0) {
    out = "-";
    us = -us;
  }
  struct Unit {
    const char* name;
    int64_t micros;
  };
  static constexpr Unit kUnits[] = {{"d", 86400LL * 1000000},
                                    {"h", 3600LL * 1000000},
                                    {"m", 60LL * 1000000},
                                    {"s", 1000000},
                                    {"ms", 1000},
                                    {"us", 1}};
  for (const Unit& u : kUnits) {
    if (us >= u.micros) {
      out += std::to_string(us / u.micros) + u.name;
      us %= u.micros;
    }
  }
  return out;
}

std::string format_elapsed(double seconds) {
  char buf[64];
  if (seconds < 1) {
    std::snprintf(buf, sizeof buf, "%.0fms", seconds * 1000);
  } else if (seconds < 60) {
    std::snprintf(buf, sizeof buf, "%.2fs", seconds);
  } else if (seconds < 3600) {
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(seconds) / 60,
                  static_cast<int>(seconds) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(seconds) / 3600,
                  (static_cast<int>(seconds) / 60) % 60);
  }
  return buf;
}

}  // namespace strata
