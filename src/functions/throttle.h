// Rate limits shared by every worker of a task in this process: a token bucket in rows per
// second with a 100 ms burst. acquire() sleeps the calling worker; it never busy-waits.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "connectors/source.h"
#include "core/duration.h"
#include "core/status.h"

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

// The nice value this process takes once a load sensor first sees the source busy (an average of
// one other session or more): from then on a database on the same host gets the CPU before this
// process's decoding, compression and verification. 0 (the default) = never. Set by `strata run`
// for a throttled policy (throttle.nice), before its workers start.
void lower_priority_when_source_busy(int nice);
// Gives every thread of this process the nice value `nice`, where it is lower now (Linux keeps
// one per thread; threads started later inherit their starter's). False if a thread refused.
bool renice_all_threads(int nice);

// A source's production load: how many other sessions are working on it, on average
// (Source::foreign_activity(), sampled at most every 250 ms, exponentially averaged over about
// 1 s). 0 when the store cannot tell. Not thread-safe: one per worker thread.
class LoadSensor {
 public:
  explicit LoadSensor(Source& source) : source_(source) {}
  double load();

 private:
  Source& source_;
  bool supported_ = true;
  bool sampled_ = false;
  double average_ = 0;
  std::chrono::steady_clock::time_point next_{};
};

// Pacing by the work's own duration (pt-archiver's --sleep-coef): after each timed step (a
// batch read, encoded and written; a DELETE transaction), pause `coef` times as long as it took.
// A source slowed by its production load is then read and purged more slowly too; coef 1 gives
// this worker at most half of the time. With a source that reports its load, `busy_coef` times
// that load (other sessions busy on average, counted up to kMaxLoad) is added: the worker yields
// to production in proportion to how busy production is, and runs at the speed `coef` allows
// when nothing else uses the source.
//
// A step far longer than the ones before it pauses as if it took kOutlier times their median:
// a process stopped or starved for a while (SIGSTOP, a busy host) would otherwise, at 49 x,
// pause for minutes after one stalled step. A source that stays slow raises the median within a
// few steps, and the pauses with it.
class Pacer {
 public:
  static constexpr double kMaxLoad = 8;
  static constexpr int kOutlier = 4;
  static constexpr size_t kRecentSteps = 9;
  explicit Pacer(double coef, double busy_coef = 0, Source* source = nullptr)
      : coef_(coef), busy_coef_(busy_coef) {
    if (source != nullptr && busy_coef > 0) {
      sensor_.emplace(*source);
      sensor_->load();  // read before the first step, so its pause already knows the load
    }
  }
  // Runs f(), then pauses; returns what f returned.
  template <class F>
  auto run(F&& f) {
    const auto start = std::chrono::steady_clock::now();
    auto result = f();
    pause(std::chrono::steady_clock::now() - start);
    return result;
  }
  // Pauses after work that took `took`.
  void pause(std::chrono::steady_clock::duration took);
  // The source's production load as the pauses see it (capped at kMaxLoad); 0 without a sensor.
  double load() { return sensor_ ? std::min(sensor_->load(), kMaxLoad) : 0.0; }
  // How many rows a step should take beside `load` (load()): `rows` / (1 + load), at least
  // `floor` (and never more than `rows`). Beside a busy production, steps shrink (archive
  // batches, purge transactions): the same pace overall, in shorter bursts of the store's work
  // that production's statements wait behind.
  static size_t step_rows(size_t rows, size_t floor, double load) {
    return std::max(std::min(rows, floor),
                    static_cast<size_t>(static_cast<double>(rows) / (1.0 + std::max(load, 0.0))));
  }
  // Time spent pausing so far.
  std::chrono::steady_clock::duration paused() const { return paused_; }

 private:
  double coef_;
  double busy_coef_;
  std::optional<LoadSensor> sensor_;
  std::chrono::steady_clock::duration paused_{};
  // The last steps, as they took (a ring: the next one goes at next_recent_).
  std::array<std::chrono::steady_clock::duration, kRecentSteps> recent_{};
  size_t recent_count_ = 0;
  size_t next_recent_ = 0;
};

// One Throttle per (task, purpose) key, created on first use. Thread-safe.
class ThrottleRegistry {
 public:
  std::shared_ptr<Throttle> get(const std::string& key, double rows_per_second);

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Throttle>> throttles_;
};

// The sessions a process running the whole chain (strata run) has at work on its source. Archive
// takes one while it reads a shard and never waits; purge takes one for each DELETE
// transaction and waits while `limit` are taken. With a limit of 2 x parallel and as many purge
// workers (an unthrottled run), a move purges `parallel` shards at once while shards are still
// being archived and twice as many once they all are: the purges take over archiving's sessions
// instead of trailing on half of them, and the source never has more of the run's sessions at
// work than while it archived (one more at most, for the rest of a DELETE transaction under way
// when a shard starts archiving). Thread-safe.
class SessionGate {
 public:
  explicit SessionGate(int limit) : limit_(limit) {}

  // A session taken; given back when destroyed.
  class Hold {
   public:
    Hold() = default;
    explicit Hold(SessionGate* gate) : gate_(gate) {}
    Hold(Hold&& o) noexcept : gate_(std::exchange(o.gate_, nullptr)) {}
    Hold& operator=(Hold&& o) noexcept {
      if (this != &o) {
        release();
        gate_ = std::exchange(o.gate_, nullptr);
      }
      return *this;
    }
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;
    ~Hold() { release(); }

   private:
    void release();
    SessionGate* gate_ = nullptr;
  };

  // Takes a session now, whatever the count (archive).
  Hold take();
  // Takes a session once fewer than `limit` are taken (purge); nullopt if `cancelled` turns true
  // first (asked every 100 ms).
  std::optional<Hold> wait(const std::function<bool()>& cancelled);
  int taken() const;

 private:
  const int limit_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int taken_ = 0;
};

// Holds a worker back while the source's replicas lag more than `max_lag`: wait() asks the source
// at most once per `interval`, and while the lag is over the bound sleeps and asks again, logging
// when it pauses and resumes. No bound: wait() returns at once.
class LagGate {
 public:
  LagGate(Source& source, std::optional<Micros> max_lag, std::string what,
          std::chrono::milliseconds interval = std::chrono::milliseconds(1000));
  // ok once the lag is within the bound; cancelled when `cancelled` turns true while paused; the
  // source's error (retryable when a replica cannot be reached) otherwise.
  Status wait(const std::function<bool()>& cancelled);
  // Time spent paused so far.
  Micros paused() const { return paused_; }

 private:
  Source& source_;
  std::optional<Micros> max_lag_;
  std::string what_;
  std::chrono::milliseconds interval_;
  std::chrono::steady_clock::time_point next_check_{};
  Micros paused_{0};
};

}  // namespace strata
