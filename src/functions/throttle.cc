#include "functions/throttle.h"

#include <dirent.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <string>
#include <thread>

#include "core/log.h"

namespace strata {

namespace {
// Bursts are short so that the rate holds over any window a user would look at.
constexpr double kBurstSeconds = 0.1;

std::atomic<int> nice_when_busy{0};
std::atomic<bool> reniced{false};
}  // namespace

void lower_priority_when_source_busy(int nice) {
  nice_when_busy = nice;
  reniced = false;
}

bool renice_all_threads(int nice) {
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return false;
  bool ok = true;
  while (const dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    const auto tid = static_cast<id_t>(std::stol(e->d_name));
    errno = 0;
    const int now = getpriority(PRIO_PROCESS, tid);
    if (errno != 0 || now >= nice) continue;  // gone meanwhile, or already as nice
    if (setpriority(PRIO_PROCESS, tid, nice) != 0 && errno != ESRCH) ok = false;  // ended: fine
  }
  closedir(dir);
  return ok;
}

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

LagGate::LagGate(Source& source, std::optional<Micros> max_lag, std::string what,
                 std::chrono::milliseconds interval)
    : source_(source), max_lag_(max_lag), what_(std::move(what)), interval_(interval) {}

Status LagGate::wait(const std::function<bool()>& cancelled) {
  if (!max_lag_) return Status::ok();
  auto now = std::chrono::steady_clock::now();
  if (now < next_check_) return Status::ok();
  bool paused = false;
  const auto pause_start = now;
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(Micros lag, source_.replication_lag());
    next_check_ = std::chrono::steady_clock::now() + interval_;
    if (lag <= *max_lag_) break;
    if (!paused) {
      spdlog::warn("{}: a replica lags {} (max_replication_lag {}): paused until it catches up",
                   what_, format_duration(lag), format_duration(*max_lag_));
      paused = true;
    }
    if (cancelled()) return Status::cancelled(what_ + " stopped while paused for replica lag");
    std::this_thread::sleep_for(interval_);
  }
  if (paused) {
    auto waited =
        std::chrono::duration_cast<Micros>(std::chrono::steady_clock::now() - pause_start);
    paused_ += waited;
    spdlog::info("{}: replicas caught up after {}, resuming", what_, format_duration(waited));
  }
  return Status::ok();
}

double LoadSensor::load() {
  const auto now = std::chrono::steady_clock::now();
  if (!supported_ || now < next_) return average_;
  next_ = now + std::chrono::milliseconds(250);
  Result<double> active = source_.foreign_activity();
  if (!active.is_ok()) {
    spdlog::debug("source load unknown: {}", active.status().message());
    return average_;
  }
  if (*active < 0) {
    supported_ = false;
    return average_ = 0;
  }
  // The first reading stands alone: starting the average from 0 would let the first steps of a
  // run, the ones with no pause behind them yet, go at full speed on a busy source.
  average_ = sampled_ ? average_ + 0.25 * (*active - average_) : *active;
  sampled_ = true;
  const int nice = nice_when_busy.load();
  if (nice > 0 && average_ >= 1.0 && !reniced.exchange(true)) {
    if (renice_all_threads(nice)) {
      spdlog::info("the source is busy ({:.1f} other sessions): running at nice {} from now on",
                   average_, nice);
    } else {
      spdlog::warn("the source is busy, but this process could not lower its priority to nice {}",
                   nice);
    }
  }
  return average_;
}

void Pacer::pause(std::chrono::steady_clock::duration took) {
  double coef = std::max(coef_, 0.0) + busy_coef_ * load();
  if (coef <= 0) return;
  const auto step = took;
  if (recent_count_ > 0) {
    auto sorted = recent_;
    const auto median = sorted.begin() + recent_count_ / 2;
    std::nth_element(sorted.begin(), median, sorted.begin() + recent_count_);
    took = std::min(took, kOutlier * *median);
  }
  recent_[next_recent_] = step;
  next_recent_ = (next_recent_ + 1) % kRecentSteps;
  recent_count_ = std::min(recent_count_ + 1, kRecentSteps);
  const auto wait = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double, std::nano>(
          static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(took).count()) *
          coef));
  if (wait.count() <= 0) return;
  std::this_thread::sleep_for(wait);
  paused_ += wait;
}

void SessionGate::Hold::release() {
  if (gate_ == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(gate_->mu_);
    --gate_->taken_;
  }
  gate_->cv_.notify_one();
  gate_ = nullptr;
}

SessionGate::Hold SessionGate::take() {
  std::lock_guard<std::mutex> lock(mu_);
  ++taken_;
  return Hold(this);
}

std::optional<SessionGate::Hold> SessionGate::wait(const std::function<bool()>& cancelled) {
  for (;;) {
    if (cancelled && cancelled()) return std::nullopt;
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, std::chrono::milliseconds(100), [&] { return taken_ < limit_; })) {
      ++taken_;
      return Hold(this);
    }
  }
}

int SessionGate::taken() const {
  std::lock_guard<std::mutex> lock(mu_);
  return taken_;
}

}  // namespace strata
