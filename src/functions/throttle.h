// Rate limits shared by every worker of a task in this process: a token bucket in rows per
// second with a 100 ms burst. acquire() sleeps the calling worker; it never busy-waits.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace strata {

class Throttle {
 public:
  explicit Throttle(double rows_per_second);
  // Blocks until `rows` may proceed. rows_per_second <= 0 never blocks.
  void acquire(int64_t rows);

 private:
  double rate_;
  std::mutex mu_;
  double tokens_;
  std::chrono::steady_clock::time_point last_;
};

// One Throttle per (task, purpose) key, created on first use. Thread-safe.
class ThrottleRegistry {
 public:
  std::shared_ptr<Throttle> get(const std::string& key, double rows_per_second);

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Throttle>> throttles_;
};

}  // namespace strata
