// purge: deletes from the source exactly the keys held by the shard's committed, verified files,
// in small transactions that re-check the selection predicate, throttled. Runs only when every
// target has committed the shard with identical rows.
#include <algorithm>
#include <thread>

#include "core/log.h"
#include "functions/functions.h"
#include "functions/task.h"
#include "functions/verify.h"
#include "functions/work.h"

namespace strata {

namespace {

constexpr size_t kMinPurgeRows = 50;  // transactions shrink with production's load down to this

Status purge(Services& svc, Context& ctx, const Event& ev) {
  STRATA_ASSIGN_OR_RETURN(ShardWork w, ShardWork::from_json(ev.data));
  const std::string subject = w.task_id + "/" + std::to_string(w.shard.index);
  auto status = [&](const char* type, Json data) {
    data["task_id"] = w.task_id;
    data["shard"] = w.shard.index;
    return ctx.send(kTopicStatus, make_event(type, "strata/purge", subject, std::move(data), &ev));
  };

  CancelWatch cancel(svc, w.task_id);
  auto stop_cancelled = [&] {
    spdlog::info("purge of shard {}: its task was cancelled; stopped", subject);
    return status(kShardCancelled, Json{{"finished_at", svc.clock->now_micros()}});
  };
  if (cancel.cancelled()) return stop_cancelled();

  // Safety rule 1: only keys in a committed manifest whose files verify are deleted.
  std::unique_ptr<Target> first_target;
  std::optional<ShardManifest> manifest;
  for (const TargetConfig& tc : w.policy.targets) {
    STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Target> target,
                            svc.registry->open_target(tc.uri, w.policy.base_dir));
    STRATA_ASSIGN_OR_RETURN(
        std::optional<ShardManifest> m,
        load_manifest(*target, dataset_of(w.policy, tc), w.task_id, w.shard.index));
    if (!m) {
      return Status::permanent("purge of shard " + subject + " refused: " + target->describe() +
                               " has no committed manifest for it");
    }
    if (manifest && m->checksum != manifest->checksum) {
      return Status::permanent("purge of shard " + subject +
                               " refused: targets hold different rows");
    }
    if (!manifest) {
      manifest = std::move(m);
      first_target = std::move(target);
    }
  }
  for (const ManifestFile& f : manifest->files) {
    STRATA_ASSIGN_OR_RETURN(std::string sha, sha256_of(*first_target, f.path));
    if (sha != f.sha256) {
      return Status::permanent("purge of shard " + subject +
                               " refused: " + first_target->describe() + "/" + f.path +
                               " no longer matches its manifest (sha256 " + sha + ")");
    }
  }

  STRATA_ASSIGN_OR_RETURN(std::shared_ptr<Source> source,
                          open_task_source(svc, w.task_id, source_spec_of(w.policy)));
  auto throttle = svc.throttles.get(w.task_id + "/purge", w.policy.throttle.rows_per_second);
  const size_t txn_rows = static_cast<size_t>(w.policy.purge.batch_rows);
  LagGate lag(*source, w.policy.throttle.max_replication_lag, "purge of shard " + subject);
  Pacer pacer(w.policy.throttle.sleep_coef, w.policy.throttle.busy_sleep_coef, source.get());
  // Rows deleted by earlier attempts at this shard (the last count they reported): each attempt
  // deletes only what is still there, so the shard's total is theirs plus this one's.
  int64_t before = 0;
  if (svc.state != nullptr) {
    Result<std::optional<ShardRecord>> rec = svc.state->get_shard(w.task_id, w.shard.index);
    // (An earlier attempt left it "purging"; a retried task, "archived" again with its count.)
    if (rec.is_ok() && *rec && ((*rec)->state == "purging" || (*rec)->state == "archived")) {
      before = (*rec)->rows_purged;
    }
  }
  int64_t deleted = 0, seen = 0;
  bool task_cancelled = false;
  double last_progress = monotonic_seconds();
  for (const ManifestFile& f : manifest->files) {
    Status s = read_columns(
        *first_target, *manifest, f, manifest->key_columns, txn_rows,
        [&](const Batch& keys) -> Status {
          if (ctx.cancelled()) return Status::cancelled("purge of shard " + subject + " stopped");
          if (cancel.cancelled()) {
            task_cancelled = true;
            return Status::cancelled("purge of shard " + subject + ": its task was cancelled");
          }
          throttle->acquire(static_cast<int64_t>(keys.num_rows()));
          STRATA_TRY(lag.wait([&] { return ctx.cancelled(); }));
          // Beside production, transactions shrink with its load: each holds its locks for
          // less time.
          const size_t n_keys = keys.num_rows();
          const size_t step = Pacer::step_rows(txn_rows, kMinPurgeRows, pacer.load());
          for (size_t at = 0; at < n_keys; at += step) {
            const size_t end = std::min(n_keys, at + step);
            const bool whole = at == 0 && end == n_keys;
            Batch part;
            if (!whole) {
              part = Batch(keys.schema_ptr());
              part.append_rows(keys, at, end);
            }
            const Batch& txn = whole ? keys : part;
            std::optional<SessionGate::Hold> session;
            if (svc.source_sessions != nullptr) {
              session = svc.source_sessions->wait([&] { return ctx.cancelled(); });
              if (!session) return Status::cancelled("purge of shard " + subject + " stopped");
            }
            const auto started = std::chrono::steady_clock::now();
            Result<uint64_t> n = source->delete_keys(w.predicate, w.shard, txn);
            session.reset();  // the pause leaves the session to other workers
            pacer.pause(std::chrono::steady_clock::now() - started);
            if (!n.is_ok()) return n.status();
            deleted += static_cast<int64_t>(*n);
          }
          seen += static_cast<int64_t>(keys.num_rows());
          if (monotonic_seconds() - last_progress > 0.5) {
            last_progress = monotonic_seconds();
            STRATA_TRY(
                status(kPurgeProgress, Json{{"rows_purged", before + deleted}, {"keys", seen}}));
          }
          if (w.policy.purge.sleep.count() > 0) std::this_thread::sleep_for(w.policy.purge.sleep);
          return Status::ok();
        });
    if (task_cancelled) return stop_cancelled();
    if (!s.is_ok()) {
      // The exact count so far, for the next attempt to start from.
      (void)status(kPurgeProgress, Json{{"rows_purged", before + deleted}, {"keys", seen}});
      return s.with_context("purge of shard " + subject);
    }
  }
  if (deleted < seen) {
    spdlog::info(
        "shard {}: {} of {} archived rows deleted; the others were already gone or no "
        "longer match the selection, and were kept",
        subject, deleted, seen);
  }
  return status(kShardPurged, Json{{"rows_purged", before + deleted},
                                   {"keys", seen},
                                   {"finished_at", svc.clock->now_micros()}});
}

}  // namespace

Handler make_purge_handler(Services& services) {
  return [&services](Context& ctx, const Event& ev) {
    return forget_source_on_failure(services, ev.data, purge(services, ctx, ev));
  };
}

}  // namespace strata
