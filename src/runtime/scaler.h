// The pool scaler: moves each function's replica count between its `min` and `max` on the
// function's backlog, as KEDA does for Deployments on a Redis Streams or queue trigger.
//
// Every `poll`, for each pool: desired = ceil(backlog / events_per_replica) clamped to
// [min, max]. Up at once when desired is above the current count; down only when desired has
// stayed below it for a whole `cooldown` (KEDA's cooldownPeriod, the HPA's stabilization
// window), so a pause between bursts does not make pools flap. With min 0,
// a pool with no backlog for a cooldown goes to zero replicas: nothing of it runs, no Redis
// connection is held. An event this process publishes for a pool at zero wakes the scaler at
// once (Bus::on_idle_backlog); an event from elsewhere is seen at the next poll.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "runtime/bus.h"

namespace strata {

struct PoolBounds {
  int min = 0;
  int max = 1;
  int events_per_replica = 1;  // backlog one replica is expected to handle
};

struct PoolState {
  std::string function;
  int replicas = 0;
  PoolBounds bounds;
  int64_t backlog = 0;
};

struct ScalerOptions {
  std::chrono::milliseconds poll{1000};
  std::chrono::milliseconds cooldown{30000};
  std::map<std::string, PoolBounds> pools;  // by function name; the bus's other functions stay
  // Called from the scaler's thread after every poll with every pool (for the state store).
  std::function<void(const std::vector<PoolState>&)> report;
};

// The replica count a pool wants for `backlog` events.
int desired_replicas(int64_t backlog, const PoolBounds& bounds);

class Scaler {
 public:
  Scaler(Bus& bus, ScalerOptions options);
  ~Scaler();
  Scaler(const Scaler&) = delete;
  Scaler& operator=(const Scaler&) = delete;

  // Checks the pools against the bus (every pool names a subscribed function; 0 <= min <= max),
  // sets each to its min, and starts polling. Call after the bus started.
  Status start();
  void stop();
  // Polls now instead of at the next interval.
  void poke();
  std::vector<PoolState> pools() const;

 private:
  void loop();
  void poll_once();

  struct Pool {
    PoolState state;
    std::chrono::steady_clock::time_point needed_at;  // last time desired >= replicas
  };

  Bus& bus_;
  const ScalerOptions options_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool poked_ = false;
  bool stopping_ = false;
  std::vector<Pool> pools_;
  std::thread thread_;
};

}  // namespace strata
