#include "runtime/scaler.h"

#include <algorithm>

#include "core/log.h"

namespace strata {

int desired_replicas(int64_t backlog, const PoolBounds& bounds) {
  const int64_t per = std::max(bounds.events_per_replica, 1);
  const int64_t want = backlog <= 0 ? 0 : (backlog + per - 1) / per;
  return static_cast<int>(std::clamp<int64_t>(want, bounds.min, bounds.max));
}

Scaler::Scaler(Bus& bus, ScalerOptions options) : bus_(bus), options_(std::move(options)) {}

Scaler::~Scaler() { stop(); }

Status Scaler::start() {
  const std::vector<std::string> names = bus_.function_names();
  for (const auto& [function, bounds] : options_.pools) {
    if (std::find(names.begin(), names.end(), function) == names.end()) {
      return Status::permanent("pool '" + function + "': no such function on this worker");
    }
    if (bounds.min < 0 || bounds.max < bounds.min || bounds.max < 1) {
      return Status::permanent("pool '" + function + "': needs 0 <= min <= max and max >= 1, got " +
                               std::to_string(bounds.min) + ".." + std::to_string(bounds.max));
    }
  }
  {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    for (const auto& [function, bounds] : options_.pools) {
      Pool p;
      p.state.function = function;
      p.state.bounds = bounds;
      p.state.replicas = bounds.min;
      p.needed_at = now;
      STRATA_TRY(bus_.set_replicas(function, bounds.min));
      pools_.push_back(std::move(p));
    }
  }
  bus_.on_idle_backlog([this] { poke(); });
  thread_ = std::thread([this] { loop(); });
  return Status::ok();
}

void Scaler::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Scaler::poke() {
  {
    std::lock_guard lock(mu_);
    poked_ = true;
  }
  wake_.notify_all();
}

std::vector<PoolState> Scaler::pools() const {
  std::lock_guard lock(mu_);
  std::vector<PoolState> out;
  for (const Pool& p : pools_) out.push_back(p.state);
  return out;
}

void Scaler::loop() {
  for (;;) {
    poll_once();
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, options_.poll, [&] { return stopping_ || poked_; });
    if (stopping_) return;
    poked_ = false;
  }
}

void Scaler::poll_once() {
  std::vector<PoolState> snapshot;
  {
    std::unique_lock lock(mu_);
    for (Pool& p : pools_) {
      lock.unlock();  // the bus call may take a round trip to Redis
      Result<FunctionLoad> load = bus_.load(p.state.function);
      lock.lock();
      if (!load.is_ok()) {
        spdlog::debug("pool {}: backlog unknown ({}); replicas stay {}", p.state.function,
                      load.status().message(), p.state.replicas);
        continue;
      }
      p.state.backlog = load->backlog;
      const auto now = std::chrono::steady_clock::now();
      const int want = desired_replicas(load->backlog, p.state.bounds);
      int next = p.state.replicas;
      if (want >= p.state.replicas) {
        p.needed_at = now;
        next = want;
      } else if (now - p.needed_at >= options_.cooldown) {
        next = want;
      }
      if (next == p.state.replicas) continue;
      Status s = bus_.set_replicas(p.state.function, next);
      if (!s.is_ok()) {
        spdlog::warn("pool {}: cannot scale to {}: {}", p.state.function, next, s.message());
        continue;
      }
      spdlog::info("pool {}: {} -> {} replica(s), backlog {}", p.state.function, p.state.replicas,
                   next, load->backlog);
      p.state.replicas = next;
      p.needed_at = now;
    }
    for (const Pool& p : pools_) snapshot.push_back(p.state);
  }
  if (options_.report) options_.report(snapshot);
}

}  // namespace strata
