#include "functions/throttle.h"

#include <algorithm>
#include <thread>

namespace strata {

namespace {
// Bursts are short so that the rate holds over any window a user would look at.
constexpr double kBurstSeconds = 0.1;
}  // namespace

Throttle::Throttle(double rows_per_second)
    : rate_(rows_per_second), tokens_(0), last_(std::chrono::steady_clock::now()) {}

void Throttle::acquire(int64_t rows) {
  if (rate_ <= 0 || rows <= 0) return;
  std::chrono::duration<double> wait{0};
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto now = std::chrono::steady_clock::now();
    tokens_ = std::min(rate_ * kBurstSeconds,
                       tokens_ + std::chrono::duration<double>(now - last_).count() * rate_);
    last_ = now;
    tokens_ -= static_cast<double>(rows);
    if (tokens_ < 0) wait = std::chrono::duration<double>(-tokens_ / rate_);
  }
  if (wait.count() > 0) std::this_thread::sleep_for(wait);
}

std::shared_ptr<Throttle> ThrottleRegistry::get(const std::string& key, double rows_per_second) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& t = throttles_[key];
  if (!t) t = std::make_shared<Throttle>(rows_per_second);
  return t;
}

}  // namespace strata
