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
  return -1;  // failed or cancelled: any new attempt may replace it
}

bool advance(ShardRecord& shard, const std::string& to) {
  if (shard.state == "done") return false;
  if (rank(to) < 0 || rank(to) >= rank(shard.state)) {
    shard.state = to;
    return true;
  }
  return false;
}

// The totals of a task's shards, and whether they are all terminal.
struct Totals {
  int done = 0, failed = 0, shards = 0;
  int64_t rows = 0, rows_purged = 0, bytes_in = 0, bytes_out = 0;
  std::string first_error;
  bool operator==(const Totals& o) const {
    return done == o.done && failed == o.failed && shards == o.shards && rows == o.rows &&
           rows_purged == o.rows_purged && bytes_in == o.bytes_in && bytes_out == o.bytes_out;
  }
};

Result<Totals> totals_of(Services& svc, const std::string& task_id) {
  STRATA_ASSIGN_OR_RETURN(std::vector<ShardRecord> shards, svc.state->list_shards(task_id));
  Totals t;
  t.shards = static_cast<int>(shards.size());
  for (const ShardRecord& s : shards) {
    if (s.state == "done") ++t.done;
    if (s.state == "failed") {
      ++t.failed;
      if (t.first_error.empty())
        t.first_error = "shard " + std::to_string(s.index) + ": " + s.error;
    }
    t.rows += s.rows;
    t.rows_purged += s.rows_purged;
    t.bytes_in += s.bytes_in;
    t.bytes_out += s.bytes_out;
  }
  return t;
}

// Recomputes the task's totals from its shards and finishes it when every shard is terminal
// (a cancelled task keeps its state; its totals still move as in-flight shards stop). Several
// status workers may refresh one task at once, each from what it read: after writing, a refresh
// reads the shards again and writes again if they changed meanwhile, so the last write always
// reflects every shard change committed before it.
Status refresh_task(Services& svc, const std::string& task_id) {
  STRATA_ASSIGN_OR_RETURN(Totals totals, totals_of(svc, task_id));
  for (int round = 0; round < 100; ++round) {
    const int64_t now = svc.clock->now_micros();
    STRATA_TRY(svc.state->update_task(task_id, [&](std::optional<TaskRecord>& task) {
      if (!task) return false;
      TaskRecord& t = *task;
      t.shards_total = std::max<int>(t.shards_total, totals.shards);
      t.shards_done = totals.done;
      t.shards_failed = totals.failed;
      t.rows = totals.rows;
      t.rows_purged = totals.rows_purged;
      t.bytes_in = totals.bytes_in;
      t.bytes_out = totals.bytes_out;
      t.updated_at = now;
      if (t.state == "running" && t.shards_done + t.shards_failed == t.shards_total) {
        t.state = t.shards_failed == 0 ? "succeeded" : "failed";
        t.finished_at = now;
        if (t.shards_failed) t.error = totals.first_error;
      }
      return true;
    }));
    STRATA_ASSIGN_OR_RETURN(Totals again, totals_of(svc, task_id));
    if (again == totals) return Status::ok();
    totals = std::move(again);
  }
  return Status::retryable("task " + task_id + ": its shards keep changing while it is refreshed");
}

Status fold(Services& svc, const Event& ev) {
  const Json& d = ev.data;
  const std::string task_id = d.value("task_id", "");
  if (task_id.empty()) return Status::ok();
  if (ev.type == kTaskPlanned) return refresh_task(svc, task_id);
  if (ev.type == kTaskFailed) {
    const int64_t now = svc.clock->now_micros();
    return svc.state->update_task(task_id, [&](std::optional<TaskRecord>& task) {
      if (!task) task.emplace();
      TaskRecord& t = *task;
      if (t.policy_name.empty()) t.policy_name = d.value("policy_name", "");
      // The policy of a task that failed before it was planned, so that it can be retried.
      if (t.policy.empty() && d.contains("policy") && d["policy"].is_object()) {
        t.policy = d["policy"];
      }
      if (t.created_at == 0) t.created_at = now;
      if (t.state != "cancelled") t.state = "failed";
      t.error = d.value("error", "");
      t.finished_at = t.updated_at = now;
      return true;
    });
  }
  if (!d.contains("shard")) return Status::ok();
  const int index = d["shard"].get<int>();
  if (ev.type == kBatchArchived) {
    BatchRecord b;
    b.task_id = task_id;
    b.shard = index;
    b.seq = d.value("seq", 0);
    b.rows = d.value("rows", int64_t{0});
    b.bytes_in = d.value("bytes_in", int64_t{0});
    b.started_at = d.value("started_at", int64_t{0});
    b.finished_at = d.value("finished_at", int64_t{0});
    STRATA_TRY(svc.state->put_batch(b));
  }
  const int64_t now = svc.clock->now_micros();
  bool terminal_change = false;
  // One transaction per event, so status workers in several processes never lose each other's
  // changes to a shard. The change may run more than once: it only looks at `found` and `d`.
  auto change = [&](std::optional<ShardRecord>& found) {
    terminal_change = false;
    if (!found) return false;  // a task this store never planned
    ShardRecord& s = *found;
    if (ev.type == kShardStarted) {
      if (advance(s, "archiving")) {
        s.started_at = d.value("started_at", int64_t{0});
        s.error.clear();
      }
      s.attempts = std::max(s.attempts + 1, d.value("attempt", 1));
      return true;
    }
    if (ev.type == kBatchArchived) {
      if (s.state != "archiving") return false;
      s.rows = d.value("shard_rows", s.rows);
      s.bytes_in = d.value("shard_bytes_in", s.bytes_in);
      s.bytes_out = d.value("shard_bytes_out", s.bytes_out);
      return true;
    }
    if (ev.type == kShardArchived) {
      const bool move = d.value("move", false);
      if (!advance(s, move ? "archived" : "done")) return false;
      s.rows = d.value("rows", int64_t{0});
      if (d.value("bytes_in", int64_t{0}) > 0) s.bytes_in = d["bytes_in"].get<int64_t>();
      s.bytes_out = d.value("bytes_out", int64_t{0});
      s.files = d.value("files", 0);
      if (!move) s.finished_at = d.value("finished_at", int64_t{0});
      terminal_change = true;
      return true;
    }
    // Counts only grow: a late event of an earlier purge attempt never lowers them.
    if (ev.type == kPurgeProgress) {
      if (!advance(s, "purging")) return false;
      s.rows_purged = std::max(s.rows_purged, d.value("rows_purged", int64_t{0}));
      return true;
    }
    if (ev.type == kShardPurged) {
      if (!advance(s, "done")) return false;
      s.rows_purged = std::max(s.rows_purged, d.value("rows_purged", int64_t{0}));
      s.finished_at = d.value("finished_at", int64_t{0});
      terminal_change = true;
      return true;
    }
    if (ev.type == kShardCancelled) {
      if (!advance(s, "cancelled")) return false;
      s.error = "cancelled";
      s.finished_at = now;
      terminal_change = true;
      return true;
    }
    if (ev.type == kShardFailed) {
      if (!advance(s, "failed")) return false;
      s.error = d.value("error", "");
      s.finished_at = now;
      terminal_change = true;
      return true;
    }
    return false;
  };
  STRATA_TRY(svc.state->update_shard(task_id, index, change));
  if (terminal_change || ev.type == kShardStarted) return refresh_task(svc, task_id);
  return Status::ok();
}

}  // namespace

Handler make_status_handler(Services& services) {
  return [&services](Context&, const Event& ev) { return fold(services, ev); };
}

}  // namespace strata
