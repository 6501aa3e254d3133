#include "cli/local_runner.h"

#include "core/clock.h"
#include "core/log.h"
#include "functions/task.h"

namespace strata {

Result<LocalRunResult> run_locally(const Policy& file_policy, const LocalRunOptions& options) {
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<StateStore> state,
                          open_sqlite_state_store(options.state_path));
  LocalRunResult result;
  Policy policy = file_policy;
  std::string task_id;
  if (!options.resume_task.empty()) {
    STRATA_ASSIGN_OR_RETURN(std::optional<TaskRecord> task, state->get_task(options.resume_task));
    if (!task) {
      return Status::permanent("task " + options.resume_task + " is not in " + options.state_path +
                               " (see strata status for the tasks it holds)");
    }
    task_id = task->id;
  } else if (!options.no_resume) {
    STRATA_ASSIGN_OR_RETURN(std::optional<TaskRecord> unfinished,
                            state->latest_unfinished(policy.name));
    if (unfinished) {
      task_id = unfinished->id;
      spdlog::info("resuming unfinished task {} of policy '{}'", task_id, policy.name);
    } else {
      // The newest task failed and the policy is the one it ran: retry its failed shards rather
      // than plan a new task, which would archive again the rows of shards that were committed
      // but not purged when it failed. A changed policy (the usual fix) starts a new task.
      STRATA_ASSIGN_OR_RETURN(std::vector<TaskRecord> tasks, state->list_tasks(20));
      for (const TaskRecord& t : tasks) {
        if (t.policy_name != policy.name) continue;
        if (t.state == "failed") {
          auto stored = Policy::from_json(t.policy);
          if (stored.is_ok() && stored->to_json() == file_policy.to_json()) {
            task_id = t.id;
            spdlog::info(
                "retrying the failed shards of task {} (the policy is unchanged; --new starts a "
                "fresh task)",
                task_id);
          }
        }
        break;  // only the newest task of the policy counts
      }
    }
  }
  if (!task_id.empty()) {
    // A task keeps the policy it was planned with, so its shards mean the same rows.
    STRATA_ASSIGN_OR_RETURN(std::optional<TaskRecord> task, state->get_task(task_id));
    if (task && !task->policy.empty()) {
      auto stored = Policy::from_json(task->policy);
      if (stored.is_ok()) {
        if (stored->to_json() != file_policy.to_json()) {
          spdlog::warn(
              "task {} resumes with the policy it started with; the file has changed "
              "since (the changes apply to the next task)",
              task_id);
        }
        policy = std::move(stored).value();
      }
    }
    result.resumed = true;
  } else {
    task_id = new_task_id(system_clock());
  }

  SourceCache sources;
  Services services;
  services.registry = &default_registry();
  services.state = state.get();
  services.sources = &sources;
  // The source's sessions: `parallel` archiving and as many purging. Unthrottled, once every
  // shard is archived, twice as many purging: a move's purges outlast its reads. (Throttled, the
  // purges' pauses leave the source its time per session: more sessions would only add load.)
  const ThrottleConfig& t = policy.throttle;
  const bool full_speed = t.sleep_coef <= 0 && t.busy_sleep_coef <= 0 && t.rows_per_second <= 0;
  lower_priority_when_source_busy(t.sleep_coef > 0 || t.busy_sleep_coef > 0 ? t.nice : 0);
  SessionGate sessions(2 * policy.split.parallel);
  services.source_sessions = &sessions;
  // `parallel` shards read at once, and one more worker: a shard's commit (closing, verifying and
  // recording its files, a fifth of its time) runs beside the next shard's read. (Twice as many
  // workers measured no faster, with 10% more peak memory.)
  SessionGate reads(policy.split.parallel);
  services.archive_reads = &reads;
  EmbeddedBus bus;
  ChainOptions chain;
  chain.archive_workers = policy.split.parallel + 1;
  chain.purge_workers = (full_speed ? 2 : 1) * policy.split.parallel;
  STRATA_ASSIGN_OR_RETURN(chain.source_kinds[0], services.registry->source_kind(policy.source.uri));
  STRATA_TRY(register_chain(bus, services, chain));
  if (options.on_status) {
    STRATA_TRY(bus.subscribe(FunctionSpec{"progress", kTopicStatus, options.on_status, 1, {}}));
  }
  const double started = monotonic_seconds();
  STRATA_TRY(bus.start());
  STRATA_TRY(bus.publish(kTopicTasks, make_task_request(task_id, policy)));
  while (!bus.wait_idle(std::chrono::milliseconds(100))) {
    if (options.interrupted && options.interrupted->load()) {
      result.interrupted = true;
      break;
    }
  }
  bus.stop();
  result.seconds = monotonic_seconds() - started;
  STRATA_ASSIGN_OR_RETURN(std::optional<TaskRecord> task, state->get_task(task_id));
  if (!task) {
    return Status::permanent("task " + task_id + " left no record in " + options.state_path);
  }
  result.task = std::move(*task);
  return result;
}

}  // namespace strata
