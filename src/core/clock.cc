#include "core/clock.h"

#include <chrono>

namespace strata {

namespace {
class SystemClock final : public Clock {
 public:
  int64_t now_micros() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};
}  // namespace

const Clock& system_clock() {
  static const SystemClock kClock;
  return kClock;
}

double monotonic_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace strata
