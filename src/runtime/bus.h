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
  int concurrency = 1;  // handler calls in flight at once
  RetryPolicy retry;
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

// Checks a spec before a bus takes it: a name, a topic, a handler, concurrency and
// retry.max_attempts of at least 1. The error names the function.
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

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata
