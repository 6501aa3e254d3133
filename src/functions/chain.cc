// Wires the functions of the chain to a bus.
#include <algorithm>

#include "core/log.h"
#include "functions/functions.h"

namespace strata {

std::vector<std::string> chain_function_names(const std::vector<std::string>& source_kinds) {
  std::vector<std::string> names = {"split"};
  for (const std::string& kind : source_kinds) names.push_back("archive-" + kind);
  names.push_back("purge");
  names.push_back("status");
  return names;
}

Status register_chain(Bus& bus, Services& services, const ChainOptions& options) {
  auto wanted = [&](const std::string& name) {
    return options.functions.empty() ||
           std::find(options.functions.begin(), options.functions.end(), name) !=
               options.functions.end();
  };
  auto add = [&](const std::string& name, const std::string& topic, Handler handler, int replicas,
                 const RetryPolicy& retry) -> Status {
    if (!wanted(name)) return Status::ok();
    FunctionSpec spec{name, topic, std::move(handler), replicas, retry};
    if (auto it = options.pools.find(name); it != options.pools.end()) {
      spec.concurrency = it->second.min;
      spec.max_replicas = it->second.max;
    }
    return bus.subscribe(std::move(spec));
  };
  STRATA_TRY(add("split", kTopicTasks, make_split_handler(services), 1, options.retry));
  for (const std::string& kind : options.source_kinds) {
    STRATA_TRY(add("archive-" + kind, std::string(kTopicShardsPrefix) + kind,
                   make_archive_handler(services), options.archive_workers, options.retry));
  }
  STRATA_TRY(add("purge", kTopicPurge, make_purge_handler(services), options.purge_workers,
                 options.retry));
  RetryPolicy status_retry = options.retry;
  status_retry.max_attempts = 20;
  STRATA_TRY(add("status", kTopicStatus, make_status_handler(services), 1, status_retry));

  bus.on_dead_letter([&bus](const DeadLetter& dl) {
    spdlog::error("{} gave up on {} after {} attempt(s): {}", dl.function, dl.event.subject,
                  dl.attempts, dl.error.message());
    const Json& d = dl.event.data;
    Json data{{"task_id", d.value("task_id", "")},
              {"error", dl.error.message()},
              {"function", dl.function},
              {"attempts", dl.attempts}};
    const char* type = kShardFailed;
    if (dl.event.type == kTaskRequested) {
      type = kTaskFailed;
      if (d.contains("policy") && d["policy"].is_object()) {
        data["policy_name"] = d["policy"].value("name", "");
        data["policy"] = d["policy"];  // kept with the failed task, so it can be retried
      }
    } else if (d.contains("shard") && d["shard"].is_object()) {
      data["shard"] = d["shard"].value("index", 0);
    } else if (dl.function == "status") {
      return;  // nothing more to report to
    }
    (void)bus.publish(kTopicStatus,
                      make_event(type, "strata/runtime", dl.event.subject, data, &dl.event));
  });
  return Status::ok();
}

}  // namespace strata
