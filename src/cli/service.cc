#include "cli/service.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>

#include "core/clock.h"
#include "core/duration.h"
#include "core/log.h"
#include "functions/functions.h"
#include "functions/task.h"
#include "runtime/redis_bus.h"
#include "runtime/state_store.h"

namespace strata {

namespace {

bool stop_requested(const std::atomic<bool>* flag) { return flag != nullptr && flag->load(); }

}  // namespace

std::string worker_name() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0) return "worker-" + std::to_string(::getpid());
  return std::string(buf) + "-" + std::to_string(::getpid());
}

Result<std::vector<std::string>> parse_functions(const std::string& list) {
  const std::vector<std::string> known = chain_function_names(default_registry().source_kinds());
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    const std::string name = list.substr(start, comma - start);
    start = comma + 1;
    if (name.empty()) continue;
    if (name == "archive") {
      for (const std::string& n : known) {
        if (n.rfind("archive-", 0) == 0) out.push_back(n);
      }
      continue;
    }
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string all = "archive";
      for (const std::string& n : known) all += ", " + n;
      return Status::permanent("--functions: unknown function '" + name + "' (known: " + all + ")");
    }
    out.push_back(name);
  }
  if (out.empty()) return Status::permanent("--functions: name at least one function");
  return out;
}

Status parse_pool(const std::string& spec, std::map<std::string, PoolBounds>& bounds) {
  const std::string hint = "--pool '" + spec + "': expected FUNCTION=MIN:MAX, e.g. archive=0:4";
  const size_t eq = spec.find('=');
  const size_t colon = spec.find(':', eq == std::string::npos ? 0 : eq);
  if (eq == std::string::npos || eq == 0 || colon == std::string::npos) {
    return Status::permanent(hint);
  }
  auto min = parse_int(spec.substr(eq + 1, colon - eq - 1));
  auto max = parse_int(spec.substr(colon + 1));
  if (!min.is_ok() || !max.is_ok() || *min < 0 || *max < 1 || *max < *min || *max > 256) {
    return Status::permanent(hint + " with 0 <= MIN <= MAX, 1 <= MAX <= 256");
  }
  bounds[spec.substr(0, eq)] = PoolBounds{static_cast<int>(*min), static_cast<int>(*max), 1};
  return Status::ok();
}

Result<std::map<std::string, PoolBounds>> resolve_pools(const ChainConfig& config,
                                                        const std::vector<std::string>& names) {
  const PoolsConfig& pc = *config.pools;
  for (const auto& [key, b] : pc.bounds) {
    if (key != "archive" && std::find(names.begin(), names.end(), key) == names.end()) {
      return Status::permanent("pool '" + key + "': no such function runs here");
    }
  }
  std::map<std::string, PoolBounds> out;
  for (const std::string& name : names) {
    const bool archive = name.rfind("archive-", 0) == 0;
    int default_max = 1;
    if (archive) default_max = std::max(config.archive_workers, 1);
    if (name == "purge") default_max = std::max(config.purge_workers, 1);
    if (name == "status") default_max = 2;
    PoolBounds b{0, default_max, 1};
    if (auto it = pc.bounds.find(archive ? "archive" : name); it != pc.bounds.end()) b = it->second;
    if (auto it = pc.bounds.find(name); it != pc.bounds.end()) b = it->second;
    if (b.max == 0) b.max = std::max(default_max, b.min);  // a bound without max (strata.yaml)
    out[name] = b;
  }
  return out;
}

namespace {

// Writes the pools to the state store when they change, and every 5 s (so `strata status` can
// tell a live worker's pools from a dead one's).
std::function<void(const std::vector<PoolState>&)> pool_recorder(StateStore* state,
                                                                 std::string owner) {
  auto last = std::make_shared<std::vector<PoolState>>();
  auto written_at = std::make_shared<double>(-100);
  return [state, owner, last, written_at](const std::vector<PoolState>& pools) {
    bool changed = pools.size() != last->size();
    for (size_t i = 0; !changed && i < pools.size(); ++i) {
      changed = pools[i].replicas != (*last)[i].replicas ||
                (pools[i].backlog == 0) != ((*last)[i].backlog == 0);
    }
    if (!changed && monotonic_seconds() - *written_at < 5) return;
    const int64_t now = system_clock().now_micros();
    for (const PoolState& p : pools) {
      PoolRecord r;
      r.worker = owner;
      r.function = p.function;
      r.replicas = p.replicas;
      r.min_replicas = p.bounds.min;
      r.max_replicas = p.bounds.max;
      r.backlog = p.backlog;
      r.updated_at = now;
      Status s = state->put_pool(r);
      if (!s.is_ok()) {
        spdlog::debug("pools of {} not recorded: {}", owner, s.message());
        return;
      }
    }
    *last = pools;
    *written_at = monotonic_seconds();
  };
}

}  // namespace

void RunningChain::stop() {
  if (scaler) scaler->stop();
  if (bus) bus->stop();
  if (scaler && state) {
    Status s = state->remove_pools(pools_owner);
    if (!s.is_ok()) spdlog::debug("pools of {} not removed: {}", pools_owner, s.message());
  }
  scaler.reset();
}

Result<std::unique_ptr<RunningChain>> start_chain(const ChainConfig& config) {
  auto chain = std::make_unique<RunningChain>();
  STRATA_ASSIGN_OR_RETURN(chain->state, open_state_store(config.state_uri));
  STRATA_ASSIGN_OR_RETURN(chain->bus, open_bus(config.bus_uri));
  Services& services = chain->services;
  services.registry = &default_registry();
  services.state = chain->state.get();
  services.sources = &chain->sources;
  services.worker_id = config.worker_id;
  services.lease_ttl = config.lease_ttl;
  ChainOptions options;
  options.archive_workers = config.archive_workers;
  options.purge_workers = config.purge_workers;
  options.source_kinds = services.registry->source_kinds();
  options.functions = config.functions;
  const std::vector<std::string> names =
      config.functions.empty() ? chain_function_names(options.source_kinds) : config.functions;
  if (config.pools) {
    STRATA_ASSIGN_OR_RETURN(options.pools, resolve_pools(config, names));
  }
  STRATA_TRY(register_chain(*chain->bus, services, options));
  STRATA_TRY(chain->bus->start());
  if (config.pools) {
    chain->pools_owner = config.worker_id.empty() ? worker_name() : config.worker_id;
    ScalerOptions so;
    so.poll = config.pools->poll;
    so.cooldown = config.pools->cooldown;
    so.pools = options.pools;
    so.report = pool_recorder(chain->state.get(), chain->pools_owner);
    chain->scaler = std::make_unique<Scaler>(*chain->bus, std::move(so));
    STRATA_TRY(chain->scaler->start());
  }
  return chain;
}

Status run_worker(const WorkerOptions& options) {
  ChainConfig config = options.chain;
  if (config.worker_id.empty()) config.worker_id = worker_name();
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<RunningChain> chain, start_chain(config));
  std::string functions;
  for (const std::string& n : chain->bus->function_names()) {
    functions += (functions.empty() ? "" : ", ") + n;
  }
  spdlog::info("worker {} on {} with state {}: {}{}", config.worker_id, config.bus_uri,
               config.state_uri, functions, config.pools ? " (pools scaled on their backlog)" : "");
  while (!stop_requested(options.interrupted)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  spdlog::info("worker {} stopping: in-flight events finish, the rest stay on the bus",
               config.worker_id);
  chain->stop();
  return Status::ok();
}

Result<LocalRunResult> submit_task(const Policy& policy, const SubmitOptions& options) {
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<StateStore> state, open_state_store(options.state_uri));
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Bus> bus, open_bus(options.bus_uri));
  LocalRunResult result;
  const std::string task_id = new_task_id(system_clock());
  const double started = monotonic_seconds();
  STRATA_TRY(bus->publish(kTopicTasks, make_task_request(task_id, policy)));
  result.task.id = task_id;
  result.task.policy_name = policy.name;
  result.task.state = "submitted";
  if (!options.wait) return result;
  const double limit = std::chrono::duration<double>(options.timeout).count();
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(std::optional<TaskRecord> task, state->get_task(task_id));
    if (task) {
      result.task = *task;
      if (task_finished(task->state)) break;
    }
    if (stop_requested(options.interrupted)) {
      result.interrupted = true;  // the task goes on in the workers
      break;
    }
    if (monotonic_seconds() - started > limit) {
      return Status::retryable("task " + task_id + " did not end within the wait (it goes on; " +
                               "see strata status " + task_id + " --state ...)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  result.seconds = monotonic_seconds() - started;
  return result;
}

TaskAction cancel_task(StateStore& state, const std::string& task_id) {
  TaskAction out;
  const int64_t now = system_clock().now_micros();
  Status s = state.update_task(task_id, [&](std::optional<TaskRecord>& task) {
    out = TaskAction{};
    if (!task) {
      out.code = 404;
      out.error = "no task " + task_id;
      return false;
    }
    out.task = *task;
    if (task->state != "running") {
      out.code = 409;
      out.error = "task " + task_id + " is " + task->state + ": only a running task is cancelled";
      return false;
    }
    task->state = "cancelled";
    task->error = "cancelled by request";
    task->finished_at = task->updated_at = now;
    out.task = *task;
    return true;
  });
  if (!s.is_ok()) return TaskAction{503, s.message(), {}};
  if (out.code == 202) spdlog::info("task {} cancelled", task_id);
  return out;
}

TaskAction retry_task(StateStore& state, Bus& bus, const std::string& task_id) {
  Result<std::optional<TaskRecord>> task = state.get_task(task_id);
  if (!task.is_ok()) return TaskAction{503, task.status().message(), {}};
  if (!*task) return TaskAction{404, "no task " + task_id, {}};
  const TaskRecord& t = **task;
  if (t.state != "failed" && t.state != "cancelled") {
    return TaskAction{
        409, "task " + task_id + " is " + t.state + ": only a failed or cancelled task is retried",
        t};
  }
  if (!t.policy.is_object() || t.policy.empty()) {
    return TaskAction{
        409, "task " + task_id + " failed before its policy was recorded: submit the policy again",
        t};
  }
  Status s = bus.publish(kTopicTasks, make_retry_request(t));
  if (!s.is_ok()) return TaskAction{503, "cannot queue the retry: " + s.message(), t};
  spdlog::info("task {} retried: its shards that are not done run again", task_id);
  return TaskAction{202, "", t};
}

}  // namespace strata
