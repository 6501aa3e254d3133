// status: folds the chain's events into the state store (task -> shards -> batches). Folding is
// monotonic: a late or repeated event never moves a shard backwards, so redelivery is harmless.
#include <algorithm>

#include "core/log.h"
#include "functions/functions.h"
#include "functions/task.h"

namespace strata {

namespace {

int rank(const std::string& state) {
  if (state == "pending") return 0;
  if (state == "archiving") return 1;
  if (state == "archived") return 2;
  if (state == "purging") return 3;
  if (state == "done") return 4;
  return -1;  // failed: any new attempt may replace it
}

bool advance(ShardRecord& shard, const std::string& to) {
  if (shard.state == "done") return false;
  if (to == "failed" || rank(to) >= rank(shard.state)) {
    shard.state = to;
    return true;
  }
  return false;
}

// Recomputes the task's totals from its shards and finishes it when every shard is terminal.
Status refresh_task(Services& svc, const std::string& task_id) {
  STRATA_ASSIGN_OR_RETURN(std::optional<TaskRecord> task, svc.state->get_task(task_id));
  if (!task) return Status::ok();
  STRATA_ASSIGN_OR_RETURN(std::vector<ShardRecord> shards, svc.state->list_shards(task_id));
  TaskRecord& t = *task;
  t.shards_total = std::max<int>(t.shards_total, static_cast<int>(shards.size()));
  t.shards_done = t.shards_failed = 0;
  t.rows = t.rows_purged = t.bytes_in = t.bytes_out = 0;
  std::string first_error;
  for (const ShardRecord& s : shards) {
    if (s.state == "done") ++t.shards_done;
    if (s.state == "failed") {
      ++t.shards_failed;
      if (first_error.empty()) first_error = "shard " + std::to_string(s.index) + ": " + s.error;
    }
    t.rows += s.rows;
    t.rows_purged += s.rows_purged;
    t.bytes_in += s.bytes_in;
    t.bytes_out += s.bytes_out;
  }
  t.updated_at = svc.clock->now_micros();
  if (t.state == "running" && t.shards_done + t.shards_failed == t.shards_total) {
    t.state = t.shards_failed == 0 ? "succeeded" : "failed";
    t.finished_at = t.updated_at;
    if (t.shards_failed) t.error = first_error;
  }
  return svc.state->put_task(t);
}

Status fold(Services& svc, const Event& ev) {
  const Json& d = ev.data;
  const std::string task_id = d.value("task_id", "");
  if (task_id.empty()) return Status::ok();
  if (ev.type == kTaskPlanned) return refresh_task(svc, task_id);
  if (ev.type == kTaskFailed) {
    STRATA_ASSIGN_OR_RETURN(std::optional<TaskRecord> task, svc.state->get_task(task_id));
    TaskRecord t = task ? *task : TaskRecord{};
    t.id = task_id;
    if (t.policy_name.empty()) t.policy_name = d.value("policy_name", "");
    if (t.created_at == 0) t.created_at = svc.clock->now_micros();
    t.state = "failed";
    t.error = d.value("error", "");
    t.finished_at = t.updated_at = svc.clock->now_micros();
    return svc.state->put_task(t);
  }
  if (!d.contains("shard")) return Status::ok();
  const int index = d["shard"].get<int>();
  STRATA_ASSIGN_OR_RETURN(std::optional<ShardRecord> found, svc.state->get_shard(task_id, index));
  if (!found) return Status::ok();  // a task this store never planned
  ShardRecord s = *found;
  bool terminal_change = false;
  if (ev.type == kShardStarted) {
    if (advance(s, "archiving")) {
      s.started_at = d.value("started_at", int64_t{0});
      s.error.clear();
    }
    s.attempts = std::max(s.attempts + 1, d.value("attempt", 1));
  } else if (ev.type == kBatchArchived) {
    BatchRecord b;
    b.task_id = task_id;
    b.shard = index;
    b.seq = d.value("seq", 0);
    b.rows = d.value("rows", int64_t{0});
    b.bytes_in = d.value("bytes_in", int64_t{0});
    b.started_at = d.value("started_at", int64_t{0});
    b.finished_at = d.value("finished_at", int64_t{0});
    STRATA_TRY(svc.state->put_batch(b));
    if (s.state == "archiving") {
      s.rows = d.value("shard_rows", s.rows);
      s.bytes_in = d.value("shard_bytes_in", s.bytes_in);
      s.bytes_out = d.value("shard_bytes_out", s.bytes_out);
    }
  } else if (ev.type == kShardArchived) {
    bool move = d.value("move", false);
    if (advance(s, move ? "archived" : "done")) {
      s.rows = d.value("rows", int64_t{0});
      if (d.value("bytes_in", int64_t{0}) > 0) s.bytes_in = d["bytes_in"].get<int64_t>();
      s.bytes_out = d.value("bytes_out", int64_t{0});
      s.files = d.value("files", 0);
      if (!move) s.finished_at = d.value("finished_at", int64_t{0});
      terminal_change = true;
    }
  } else if (ev.type == kPurgeProgress) {
    if (advance(s, "purging")) s.rows_purged = d.value("rows_purged", int64_t{0});
  } else if (ev.type == kShardPurged) {
    if (advance(s, "done")) {
      s.rows_purged = d.value("rows_purged", int64_t{0});
      s.finished_at = d.value("finished_at", int64_t{0});
      terminal_change = true;
    }
  } else if (ev.type == kShardFailed) {
    if (advance(s, "failed")) {
      s.error = d.value("error", "");
      s.finished_at = svc.clock->now_micros();
      terminal_change = true;
    }
  } else {
    return Status::ok();
  }
  STRATA_TRY(svc.state->put_shard(s));
  if (terminal_change || ev.type == kShardStarted) return refresh_task(svc, task_id);
  return Status::ok();
}

}  // namespace

Handler make_status_handler(Services& services) {
  return [&services](Context&, const Event& ev) { return fold(services, ev); };
}

}  // namespace strata
