// Time as a parameter: production code takes a Clock so tests can pin "now".
#pragma once

#include <cstdint>

namespace strata {

class Clock {
 public:
  virtual ~Clock() = default;
  // Microseconds since the Unix epoch, UTC.
  virtual int64_t now_micros() const = 0;
};

// The real wall clock. Thread-safe.
const Clock& system_clock();

// Monotonic seconds for measuring elapsed time.
double monotonic_seconds();

}  // namespace strata
