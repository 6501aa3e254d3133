// The message bus and the function framework. A function consumes one topic; its handler gets
// a Context for sending events on. Delivery is at-least-once: a handler that returns a
// retryable Status is called again with backoff, up to max_attempts, then the event is
// dead-lettered. Permanent errors dead-letter at once. Handlers must be idempotent.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "runtime/event.h"

namespace strata {

struct RetryPolicy {
  int max_attempts = 10;  // about 50 s of backoff: rides out a server restart or failover
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{10000};
  double multiplier = 2.0;
};

// The delay before delivery attempt `attempt` + 1 after attempt `attempt` (from 1) failed:
// initial_backoff * multiplier^(attempt-1), capped at max_backoff, without jitter. Buses add
// +/-20% jitter on top so retries of many events do not arrive in lockstep.
std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int attempt);

// What a handler may do besides computing.
class Context {
 public:
  virtual ~Context() = default;
  // Publishes `event` on `topic` at once, whatever the handler returns later; a retried
  // handler may send the same event again, so receivers must be idempotent.
  virtual Status send(const std::string& topic, Event event) = 0;
  // Delivery attempt of the current event, from 1.
  virtual int attempt() const = 0;
  // True once the runtime is stopping; long handlers check it between batches.
  virtual bool cancelled() const = 0;
};

using Handler = std::function<Status(Context& ctx, const Event& event)>;

struct FunctionSpec {
  std::string name;   // also the consumer group: "split", "archive-sqlite", "purge"
  std::string topic;  // the topic it consumes
  Handler handler;
  // Replicas: handler calls that may run at once. The bus starts with `concurrency` of them and
  // has room for `max_replicas` (0: as many as `concurrency`); set_replicas() moves the count
  // within that room while it runs. A function at 0 replicas takes no event: they wait.
  int concurrency = 1;
  RetryPolicy retry;
  int max_replicas = 0;
};

// A function's load as a scaler sees it.
struct FunctionLoad {
  int replicas = 0;      // now
  int max_replicas = 0;  // the room set_replicas() may use
  // Events of this function not finished yet: waiting, delayed for a retry, or being handled.
  // On a shared bus, by every worker (the consumer group's lag plus its pending entries).
  int64_t backlog = 0;
};

// Called once per event that exhausted its attempts or failed permanently.
struct DeadLetter {
  std::string function;
  std::string topic;
  Event event;
  int attempts = 0;
  Status error;
};
using DeadLetterHandler = std::function<void(const DeadLetter&)>;

// Checks a spec before a bus takes it: a name, a topic, a handler, concurrency of at least 0,
// room for at least 1 replica, retry.max_attempts of at least 1. The error names the function.
Status check_function_spec(const FunctionSpec& spec);

class Bus {
 public:
  virtual ~Bus() = default;
  virtual Status publish(const std::string& topic, Event event) = 0;
  // Adds a function; every function subscribed to a topic receives every event on it (one
  // consumer group per function). Call before start().
  virtual Status subscribe(FunctionSpec spec) = 0;
  virtual void on_dead_letter(DeadLetterHandler handler) = 0;
  virtual Status start() = 0;
  // Stops taking events, lets in-flight handlers finish, joins the workers.
  virtual void stop() = 0;

  // Pools (after start()): the subscribed functions' names, their load, and a new replica count
  // (clamped to 0..max_replicas; an error names an unknown function). Lowering it lets running
  // handlers finish; only new events wait.
  virtual std::vector<std::string> function_names() const = 0;
  virtual Result<FunctionLoad> load(const std::string& function) = 0;
  virtual Status set_replicas(const std::string& function, int replicas) = 0;
  // Called after this process publishes an event for a function that has 0 replicas here, so
  // a scaler can bring one up at once rather than at its next poll. Set before start(); the
  // hook must be quick and must not call the bus.
  virtual void on_idle_backlog(std::function<void()> hook) = 0;
};

// In-process bus: a queue per (topic, function) and `concurrency` worker threads per function;
// retries wait on a timer thread, never on a worker. wait_idle() returns when no event is
// queued, delayed for retry or in flight (events sent by a handler count before the handler's
// own event is released). Thread-safe: publish from any thread, handlers included; events
// published before start() wait for it; an event without id or type is refused. stop() drops
// queued and delayed events (resume re-plans them), refuses new ones with a cancelled Status,
// waits for running handlers and joins the threads; it is idempotent, and called from a handler
// it only begins the stop (the destructor or a later stop() joins). Do not call wait_idle()
// from a handler: its own event is in flight.
class EmbeddedBus : public Bus {
 public:
  EmbeddedBus();
  ~EmbeddedBus() override;
  Status publish(const std::string& topic, Event event) override;
  Status subscribe(FunctionSpec spec) override;
  void on_dead_letter(DeadLetterHandler handler) override;
  Status start() override;
  void stop() override;
  // Blocks until idle or `timeout` passes; true if idle.
  bool wait_idle(std::chrono::milliseconds timeout = std::chrono::hours(24 * 365));
  std::vector<std::string> function_names() const override;
  Result<FunctionLoad> load(const std::string& function) override;
  Status set_replicas(const std::string& function, int replicas) override;
  void on_idle_backlog(std::function<void()> hook) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata
