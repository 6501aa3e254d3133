#include "cli/service.h"

#include <unistd.h>

#include <chrono>
#include <thread>

#include "core/clock.h"
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

Result<std::unique_ptr<RunningChain>> start_chain(const std::string& bus_uri,
                                                  const std::string& state_uri,
                                                  const std::string& worker_id,
                                                  int archive_workers, int purge_workers,
                                                  Micros lease_ttl) {
  auto chain = std::make_unique<RunningChain>();
  STRATA_ASSIGN_OR_RETURN(chain->state, open_state_store(state_uri));
  STRATA_ASSIGN_OR_RETURN(chain->bus, open_bus(bus_uri));
  Services& services = chain->services;
  services.registry = &default_registry();
  services.state = chain->state.get();
  services.worker_id = worker_id;
  services.lease_ttl = lease_ttl;
  ChainOptions options;
  options.archive_workers = archive_workers;
  options.purge_workers = purge_workers;
  options.source_kinds = services.registry->source_kinds();
  STRATA_TRY(register_chain(*chain->bus, services, options));
  STRATA_TRY(chain->bus->start());
  return chain;
}

Status run_worker(const WorkerOptions& options) {
  STRATA_ASSIGN_OR_RETURN(
      std::unique_ptr<RunningChain> chain,
      start_chain(options.bus_uri, options.state_uri, worker_name(), options.archive_workers,
                  options.purge_workers, options.lease_ttl));
  const Services& services = chain->services;
  Bus* bus = chain->bus.get();
  spdlog::info("worker {} on {} with state {}: split, archive ({} at once), purge, status",
               services.worker_id, options.bus_uri, options.state_uri, options.archive_workers);
  while (!stop_requested(options.interrupted)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  spdlog::info("worker {} stopping: in-flight events finish, the rest stay on the bus",
               services.worker_id);
  bus->stop();
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
      if (task->state == "succeeded" || task->state == "failed") break;
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

}  // namespace strata
