// The Redis Streams bus (Redis >= 7): the same contract as the embedded bus (bus.h), shared by
// many processes on many machines. Layout, compatible with Dapr's pubsub.redis component so a
// function in any language beside a Dapr sidecar can join the chain:
//   - one stream per topic, key = the topic name ("strata.tasks");
//   - each entry has one field, `data`, holding the CloudEvent JSON (Event::to_json);
//   - one consumer group per function (group = FunctionSpec::name, Dapr's consumerID), created
//     with MKSTREAM at start() from id 0, so events published before the first worker started
//     are delivered too; consumer name = this bus's worker id ("host-pid-n").
//
// Delivery: at least once. An entry is XACKed after its handler returns ok, or after it has been
// dead-lettered. A retryable failure leaves it pending (un-acked) in the group; after
// backoff_delay (+/-20% jitter) this worker XCLAIMs it back and runs the handler again. The
// delivery count Redis keeps for the pending entry (XPENDING) is the attempt number, so retries
// survive this worker: an entry pending longer than the visibility timeout (its worker died, or
// lost its connection) is taken over by any worker with XAUTOCLAIM, which counts as a delivery.
// Entries being handled or waiting for their retry are kept fresh (XCLAIM JUSTID every third of
// the visibility timeout) so that a long handler is not taken over while its worker lives.
// Once an entry's delivery count reaches RetryPolicy::max_attempts with a retryable failure, or
// on a permanent failure, or when an entry arrives already past max_attempts (a worker crashed
// on it each time), it is added to "<topic>.deadletter" (fields: data, function, topic, attempts,
// error) and acked, and the DeadLetterHandler is called. An entry whose `data` is not a
// CloudEvent is dead-lettered at once.
//
// Connections: one per handler thread (blocking XREADGROUP with a short timeout, so stop() is
// prompt), one for publishing, one for the keep-fresh loop. A lost connection is re-opened with
// backoff (logged, never fatal); an entry whose ack could not be sent stays pending and is acked
// after reconnecting, or re-claimed by another worker. Nothing un-acked is ever dropped.
// stop() stops reading, lets running handlers finish (their acks are sent) and joins; entries
// waiting for a retry stay pending in Redis for another worker (or a restart) to re-claim.
//
// URI: redis://[[user]:password@]host[:port][/db]?visibility_timeout=30s&block=500ms
//      &connect_timeout=5s&maxlen=0    (${ENV} in the password is expanded at connect)
//   visibility_timeout  pending this long without a keep-fresh, an entry is taken over
//   block               XREADGROUP block time: bounds stop() latency and retry lateness
//   maxlen              XADD MAXLEN ~ N trims each stream (0: no trimming). Trimming also
//                       drops entries not yet consumed once a backlog exceeds N.
// Thread-safety: publish from any thread, handlers included. subscribe before start().
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "runtime/bus.h"

namespace strata {

struct RedisBusOptions {
  std::string uri;  // redis://...; the query options above override the fields below
  std::chrono::milliseconds visibility_timeout{30000};
  std::chrono::milliseconds block{500};
  std::chrono::milliseconds connect_timeout{5000};
  int64_t maxlen = 0;
  std::string worker_id;  // consumer name; default "<hostname>-<pid>-<n>"
};

class RedisBus : public Bus {
 public:
  // Checks the options and connects once (a server that cannot be reached is a retryable
  // error naming it; a wrong password or an old Redis is permanent).
  static Result<std::unique_ptr<RedisBus>> open(RedisBusOptions options);
  ~RedisBus() override;

  Status publish(const std::string& topic, Event event) override;
  // Checks the spec; the group is created at start(). Entries waiting for a retry are kept
  // fresh, so backoffs longer than the visibility timeout are fine.
  Status subscribe(FunctionSpec spec) override;
  void on_dead_letter(DeadLetterHandler handler) override;
  // Creates the consumer groups and starts the threads.
  Status start() override;
  void stop() override;
  std::vector<std::string> function_names() const override;
  // backlog: XINFO GROUPS lag + pending of the function's group (every worker's).
  Result<FunctionLoad> load(const std::string& function) override;
  Status set_replicas(const std::string& function, int replicas) override;
  void on_idle_backlog(std::function<void()> hook) override;

  const std::string& worker_id() const;

 private:
  struct Impl;
  explicit RedisBus(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// By URI: "embedded" (or empty) for the in-process bus, redis://... for Redis Streams.
Result<std::unique_ptr<Bus>> open_bus(const std::string& uri);

}  // namespace strata
