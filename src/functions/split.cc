// split: the entry of the chain. Plans a task into shards (or, for a task that already has a
// plan, re-dispatches the shards that are not done) and sends one event per shard.
#include <algorithm>
#include <cctype>

#include "core/log.h"
#include "functions/functions.h"
#include "functions/task.h"
#include "functions/work.h"

namespace strata {

namespace {

Status send_status(Context& ctx, const Event& parent, const char* type, const std::string& subject,
                   Json data) {
  return ctx.send(kTopicStatus,
                  make_event(type, "strata/split", subject, std::move(data), &parent));
}

// A task request names its task (letters, digits, '_', '-', '.': it becomes part of file names)
// and carries its policy as JSON ("policy", what Strata sends) or as the YAML text of a policy
// file ("policy_yaml", with an optional "base_dir" for relative paths: what a function in
// another language finds easiest to send).
Result<std::string> task_id_of_request(const Json& d) {
  if (!d.is_object() || !d.contains("task_id") || !d["task_id"].is_string()) {
    return Status::permanent("task request needs a string 'task_id'");
  }
  const std::string id = d["task_id"].get<std::string>();
  const bool ok =
      !id.empty() && id.size() <= 100 && id[0] != '.' &&
      std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
      });
  if (!ok) {
    return Status::permanent("task id '" + id +
                             "' may hold only letters, digits, '_', '-' and '.' (up to 100)");
  }
  return id;
}

Result<Policy> policy_of_request(const Json& d) {
  if (d.contains("policy")) return Policy::from_json(d["policy"]);
  if (d.contains("policy_yaml") && d["policy_yaml"].is_string()) {
    return parse_policy(d["policy_yaml"].get<std::string>(), "task request policy",
                        d.value("base_dir", std::string()));
  }
  return Status::permanent("task request needs 'policy' (JSON) or 'policy_yaml' (text)");
}

Status split(Services& svc, Context& ctx, const Event& ev) {
  const Json& d = ev.data;
  STRATA_ASSIGN_OR_RETURN(std::string task_id, task_id_of_request(d));
  STRATA_ASSIGN_OR_RETURN(Policy policy, policy_of_request(d));
  STRATA_ASSIGN_OR_RETURN(std::string kind, svc.registry->source_kind(policy.source.uri));
  STRATA_ASSIGN_OR_RETURN(std::shared_ptr<Source> source,
                          open_task_source(svc, task_id, source_spec_of(policy)));
  for (const TargetConfig& t : policy.targets) {
    STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Target> target,
                            svc.registry->open_target(t.uri, policy.base_dir));
    STRATA_TRY(target->check_writable());
  }

  STRATA_ASSIGN_OR_RETURN(std::optional<TaskRecord> existing, svc.state->get_task(task_id));
  if (existing && existing->state == "cancelled" && !d.value("retry", false)) {
    spdlog::info("task {} was cancelled: its request is not run (retry it to run it again)",
                 task_id);
    return Status::ok();
  }
  std::vector<Shard> todo;
  Predicate predicate;
  if (existing && !existing->predicate.empty()) {
    // Resume: same predicate, same shards; skip the ones already done.
    STRATA_ASSIGN_OR_RETURN(predicate, predicate_from_json(existing->predicate));
    STRATA_ASSIGN_OR_RETURN(std::vector<ShardRecord> shards, svc.state->list_shards(task_id));
    for (ShardRecord r : shards) {
      if (r.state == "done") continue;
      if (r.state == "failed" || r.state == "cancelled") {
        // Pending again before the task is running again: a failed shard is terminal, and a
        // task whose shards are all terminal would be finished (as failed) by the next fold.
        r.state = "pending";
        r.error.clear();
        STRATA_TRY(svc.state->put_shard(r));
      }
      Json sj = r.range;
      sj["index"] = r.index;
      sj["estimated_rows"] = r.estimated_rows;
      STRATA_ASSIGN_OR_RETURN(Shard s, shard_from_json(sj));
      todo.push_back(std::move(s));
    }
    existing->state = "running";
    existing->finished_at = 0;
    existing->error.clear();
    existing->updated_at = svc.clock->now_micros();
    STRATA_TRY(svc.state->put_task(*existing));
    spdlog::info("task {}: resuming {} of {} shards", task_id, todo.size(), shards.size());
  } else {
    STRATA_ASSIGN_OR_RETURN(std::optional<TaskRecord> previous,
                            svc.state->latest_succeeded(policy.name));
    STRATA_ASSIGN_OR_RETURN(TaskPlan plan, plan_task(policy, *source, *svc.clock, previous,
                                                     std::nullopt, /*pace=*/true));
    predicate = plan.predicate;
    todo = plan.shards;
    // The plan is made durable before any shard is dispatched, so a crash at any later point
    // resumes this task with this predicate instead of starting an overlapping one.
    TaskRecord task;
    task.id = task_id;
    task.policy_name = policy.name;
    task.state = "running";
    task.created_at = svc.clock->now_micros();
    task.updated_at = task.created_at;
    task.policy = policy.to_json();
    task.predicate = predicate_to_json(predicate);
    task.shards_total = static_cast<int>(plan.shards.size());
    for (const Shard& s : plan.shards) {
      ShardRecord r;
      r.task_id = task_id;
      r.index = s.index;
      r.state = "pending";
      const Json sj = shard_to_json(s);
      r.range = Json{{"lo", sj["lo"]}, {"hi", sj["hi"]}};
      r.estimated_rows = s.estimated_rows;
      STRATA_TRY(svc.state->put_shard(r));
    }
    if (plan.shards.empty()) {
      task.state = "succeeded";
      task.finished_at = task.created_at;
    }
    STRATA_TRY(svc.state->put_task(task));
  }

  Json shards_json = Json::array();
  for (const Shard& s : todo) shards_json.push_back(shard_to_json(s));
  STRATA_TRY(send_status(ctx, ev, kTaskPlanned, task_id,
                         Json{{"task_id", task_id},
                              {"policy_name", policy.name},
                              {"resumed", existing.has_value()},
                              {"predicate", predicate_to_json(predicate)},
                              {"shards", shards_json}}));
  const std::string topic = std::string(kTopicShardsPrefix) + kind;
  for (const Shard& s : todo) {
    ShardWork work{task_id, policy, predicate, s};
    STRATA_TRY(
        ctx.send(topic, make_event(kShardRequested, "strata/split",
                                   task_id + "/" + std::to_string(s.index), work.to_json(), &ev)));
  }
  return Status::ok();
}

}  // namespace

Handler make_split_handler(Services& services) {
  return [&services](Context& ctx, const Event& ev) {
    return forget_source_on_failure(services, ev.data, split(services, ctx, ev));
  };
}

Event make_task_request(const std::string& task_id, const Policy& policy) {
  return make_event(kTaskRequested, "strata/cli", task_id,
                    Json{{"task_id", task_id}, {"policy", policy.to_json()}});
}

Event make_retry_request(const TaskRecord& task) {
  return make_event(kTaskRequested, "strata/cli", task.id,
                    Json{{"task_id", task.id}, {"policy", task.policy}, {"retry", true}});
}

}  // namespace strata
