// The chain on many processes: `strata worker` runs the functions on a shared bus (Redis
// Streams) and state store (PostgreSQL); `strata submit` asks them for a task and may wait for it.
#pragma once

#include <atomic>
#include <string>

#include "cli/local_runner.h"
#include "functions/services.h"
#include "runtime/bus.h"
#include "core/duration.h"
#include "policy/policy.h"

namespace strata {

struct WorkerOptions {
  std::string bus_uri;    // redis://host:port[/db]
  std::string state_uri;  // postgres://... (or sqlite:// for workers on one machine)
  int archive_workers = 2;  // shards archived at once per source kind, in this process
  int purge_workers = 2;
  // How long a shard stays with a worker that stopped renewing its lease (a killed worker's
  // shards go to another one after this).
  Micros lease_ttl = std::chrono::seconds(30);
  const std::atomic<bool>* interrupted = nullptr;  // stops the worker (SIGTERM, Ctrl-C)
};

// This process's name among workers: "<hostname>-<pid>" (leases and logs carry it).
std::string worker_name();

// The whole chain in this process, on a bus and state store opened by URI: every function
// subscribed (split, archive for every source kind, purge, status) and the bus started. Members
// are destroyed in reverse order, the bus (stopping its handlers) before what they use.
struct RunningChain {
  std::unique_ptr<StateStore> state;
  Services services;
  std::unique_ptr<Bus> bus;
};
// `worker_id` empty: no shard leases (the only process on its bus).
Result<std::unique_ptr<RunningChain>> start_chain(const std::string& bus_uri,
                                                  const std::string& state_uri,
                                                  const std::string& worker_id,
                                                  int archive_workers, int purge_workers,
                                                  Micros lease_ttl);

// Subscribes every function of the chain (split, archive for every source kind, purge, status)
// and works until interrupted; in-flight events finish, the rest stay on the bus for others.
Status run_worker(const WorkerOptions& options);

struct SubmitOptions {
  std::string bus_uri;
  std::string state_uri;
  bool wait = false;  // until the task ends (or `timeout` passes)
  Micros timeout = std::chrono::hours(24);
  const std::atomic<bool>* interrupted = nullptr;
};

// Publishes a request for a new task of `policy` on strata.tasks. Without wait the result holds
// the task id only (state "submitted"); with wait, the task's final record.
Result<LocalRunResult> submit_task(const Policy& policy, const SubmitOptions& options);

}  // namespace strata
