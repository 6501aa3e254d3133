// The chain on many processes: `strata worker` runs the functions on a shared bus (Redis
// Streams) and state store (PostgreSQL); `strata submit` asks them for a task and may wait for it.
#pragma once

#include <atomic>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cli/local_runner.h"
#include "core/duration.h"
#include "functions/services.h"
#include "policy/policy.h"
#include "runtime/bus.h"
#include "runtime/scaler.h"

namespace strata {

// Pools: each function of a worker (or server) runs between min and max replicas, scaled on its
// backlog (runtime/scaler.h).
struct PoolsConfig {
  std::chrono::milliseconds poll{1000};
  std::chrono::milliseconds cooldown{30000};
  // By function name, or "archive" for every archive-<kind>. Unlisted, or listed with max 0:
  // split 0..1, archive 0..archive_workers, purge 0..purge_workers, status 0..2 (the max is
  // never below the min).
  std::map<std::string, PoolBounds> bounds;
};

struct ChainConfig {
  std::string bus_uri;    // redis://host:port[/db], or "" for the in-process bus
  std::string state_uri;  // postgres://... or sqlite://
  // This process's name among workers; "" = the only process on its bus (no shard leases).
  std::string worker_id;
  // Functions to run: "split", "archive" (every source kind), "archive-<kind>", "purge",
  // "status"; empty: all.
  std::vector<std::string> functions;
  int archive_workers = 2;  // shards archived at once per source kind (the pool's default max)
  int purge_workers = 2;
  // How long a shard stays with a worker that stopped renewing its lease (a killed worker's
  // shards go to another one after this).
  Micros lease_ttl = std::chrono::seconds(30);
  std::optional<PoolsConfig> pools;  // none: fixed replicas (archive_workers, purge_workers, 1)
};

// Parses --functions: "archive,purge" (names checked against the chain's).
Result<std::vector<std::string>> parse_functions(const std::string& list);
// Parses one --pool: "archive=0:4", "status=1:2" (FUNCTION=MIN:MAX).
Status parse_pool(const std::string& spec, std::map<std::string, PoolBounds>& bounds);

// Every pool of `names` (the functions that run here) from config.pools and the defaults; an
// error names a configured pool whose function does not run here.
Result<std::map<std::string, PoolBounds>> resolve_pools(const ChainConfig& config,
                                                        const std::vector<std::string>& names);

struct WorkerOptions {
  ChainConfig chain;
  const std::atomic<bool>* interrupted = nullptr;  // stops the worker (SIGTERM, Ctrl-C)
};

// This process's name among workers: "<hostname>-<pid>" (leases and logs carry it).
std::string worker_name();

// The chain in this process, on a bus and state store opened by URI: its functions subscribed,
// the bus started, and with pools their scaler (which records the pools in the state store).
// stop() (or the destructor) stops the scaler, then the bus (running handlers finish), and
// removes this worker's pools from the state store.
struct RunningChain {
  SourceCache sources;  // outlives the bus: its handlers hold the sources
  std::unique_ptr<StateStore> state;
  Services services;
  std::unique_ptr<Bus> bus;
  std::unique_ptr<Scaler> scaler;
  std::string pools_owner;  // worker name the pools are recorded under
  void stop();
  ~RunningChain() { stop(); }
};
Result<std::unique_ptr<RunningChain>> start_chain(const ChainConfig& config);

// Runs the chain's functions and works until interrupted; in-flight events finish, the rest
// stay on the bus for others.
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

// The outcome of cancel_task / retry_task, as the HTTP API answers it: 202 done (`task` as it
// is now), 404 no such task, 409 not possible in the task's state, 503 store or bus down.
struct TaskAction {
  int code = 202;
  std::string error;
  TaskRecord task;
};

// Cancels a running task: its state becomes "cancelled" at once; archive and purge stop the
// task's shards within about a second (committed shards stay committed, nothing half-written is
// kept, rows are only ever deleted once archived). Shard requests still queued are dropped.
TaskAction cancel_task(StateStore& state, const std::string& task_id);

// Runs a failed or cancelled task again with its stored policy and plan: only the shards that
// are not done run again (the failed and cancelled ones).
TaskAction retry_task(StateStore& state, Bus& bus, const std::string& task_id);

}  // namespace strata
