// archive: streams one shard from its source into every target of the policy, commits and
// verifies the parts and the shard manifest, then asks purge to delete (move mode).
#include <malloc.h>

#include <optional>

#include "connectors/prefetch_reader.h"
#include "connectors/table_parts.h"
#include "core/checksum.h"
#include "core/clock.h"
#include "core/log.h"
#include "functions/catalog.h"
#include "functions/functions.h"
#include "functions/shard_writer.h"
#include "functions/task.h"
#include "functions/work.h"

namespace strata {

namespace {

constexpr size_t kMinBusyBatchRows = 1000;  // batches shrink with production's load down to this

struct TargetState {
  TargetConfig config;
  std::string dataset;
  std::unique_ptr<Target> target;
  std::unique_ptr<ShardWriter> writer;  // null when a committed manifest already exists
  std::optional<ShardManifest> manifest;
};

ShardManifest manifest_base(const ShardWork& w, const std::string& dataset,
                            const std::string& redacted_source, const Schema& schema,
                            const Clock& clock) {
  ShardManifest m;
  m.task_id = w.task_id;
  m.shard = w.shard.index;
  m.dataset = dataset;
  m.source = redacted_source;
  m.table = w.policy.source.table;
  m.key_columns = w.policy.source.key_columns();
  m.time_column = w.policy.source.time;
  m.predicate = predicate_to_json(w.predicate);
  m.range = w.shard.range;
  m.schema = schema;
  m.committed_at = clock.now_micros();
  return m;
}

// A shard's lease in the state store for the time one archive attempt works on it: claimed
// first, renewed as batches go by (every third of its time to live), released at the end.
class ShardLease {
 public:
  ShardLease(Services& svc, std::string task_id, int index)
      : svc_(svc), task_id_(std::move(task_id)), index_(index) {}
  ShardLease(const ShardLease&) = delete;
  ShardLease& operator=(const ShardLease&) = delete;
  ~ShardLease() {
    if (!held_) return;
    Status s = svc_.state->release_shard(task_id_, index_, svc_.worker_id);
    if (!s.is_ok()) {
      spdlog::warn("shard {}/{}: its lease was not released ({}); it expires by itself", task_id_,
                   index_, s.message());
    }
  }

  Result<bool> claim() {
    STRATA_ASSIGN_OR_RETURN(
        held_, svc_.state->claim_shard(task_id_, index_, svc_.worker_id, svc_.lease_ttl));
    renewed_ = svc_.clock->now_micros();
    return held_;
  }

  // Renews the lease when a third of its time to live has passed (always with `now`); a lost
  // lease is retryable (another worker took the shard over: this attempt stops, committing
  // nothing and removing only its own files).
  Status keep(bool now_please = false) {
    const int64_t now = svc_.clock->now_micros();
    if (!now_please && now - renewed_ < svc_.lease_ttl.count() / 3) return Status::ok();
    Status s = svc_.state->renew_shard(task_id_, index_, svc_.worker_id, svc_.lease_ttl);
    if (!s.is_ok()) {
      held_ = false;
      return Status::retryable("shard " + task_id_ + "/" + std::to_string(index_) +
                               ": lost its lease (" + s.message() + ")");
    }
    renewed_ = now;
    return Status::ok();
  }

 private:
  Services& svc_;
  const std::string task_id_;
  const int index_;
  bool held_ = false;
  int64_t renewed_ = 0;
};

Status archive(Services& svc, Context& ctx, const Event& ev) {
  STRATA_ASSIGN_OR_RETURN(ShardWork w, ShardWork::from_json(ev.data));
  const std::string subject = w.task_id + "/" + std::to_string(w.shard.index);
  auto status = [&](const char* type, Json data) {
    data["task_id"] = w.task_id;
    data["shard"] = w.shard.index;
    return ctx.send(kTopicStatus,
                    make_event(type, "strata/archive", subject, std::move(data), &ev));
  };
  std::optional<SessionGate::Hold> reading;
  if (svc.archive_reads != nullptr) {
    reading = svc.archive_reads->wait([&] { return ctx.cancelled(); });
    if (!reading) return Status::cancelled("shard " + subject + " stopped before it started");
  }
  SessionGate::Hold session;
  if (svc.source_sessions != nullptr) session = svc.source_sessions->take();
  // With several workers, one at a time works on a shard: a redelivery (its first worker was
  // slow past the bus's visibility timeout) waits for the lease, then finds the shard committed.
  std::optional<ShardLease> lease;
  if (!svc.worker_id.empty() && svc.state != nullptr) {
    lease.emplace(svc, w.task_id, w.shard.index);
    STRATA_ASSIGN_OR_RETURN(bool mine, lease->claim());
    if (!mine) {
      return Status::retryable("shard " + subject +
                               " is being archived by another worker (it holds the lease)");
    }
  }
  CancelWatch cancel(svc, w.task_id);
  auto stop_cancelled = [&] {
    spdlog::info("shard {}: its task was cancelled; stopped", subject);
    return status(kShardCancelled, Json{{"finished_at", svc.clock->now_micros()}});
  };
  if (cancel.cancelled()) return stop_cancelled();
  const int64_t started_at = svc.clock->now_micros();
  STRATA_TRY(status(kShardStarted, Json{{"attempt", ctx.attempt()}, {"started_at", started_at}}));

  STRATA_ASSIGN_OR_RETURN(std::shared_ptr<Source> source,
                          open_task_source(svc, w.task_id, source_spec_of(w.policy)));
  STRATA_ASSIGN_OR_RETURN(Schema schema_value, source->describe());
  auto schema = std::make_shared<const Schema>(std::move(schema_value));

  // After each batch (waited for, written, reported) and each step of the verification at commit:
  // a pause as long as the step took, times the throttle's coefficients. The read-ahead thread
  // fetches at most one batch meanwhile.
  Pacer pacer(w.policy.throttle.sleep_coef, w.policy.throttle.busy_sleep_coef, source.get());

  const auto parsed_source = parse_uri(w.policy.source.uri);
  const std::string redacted_source = parsed_source.is_ok() ? parsed_source->redacted() : "";
  std::vector<TargetState> targets;
  bool all_committed = true;
  for (const TargetConfig& tc : w.policy.targets) {
    TargetState ts;
    ts.config = tc;
    ts.dataset = dataset_of(w.policy, tc);
    STRATA_ASSIGN_OR_RETURN(ts.target, svc.registry->open_target(tc.uri, w.policy.base_dir));
    STRATA_ASSIGN_OR_RETURN(ts.manifest,
                            load_manifest(*ts.target, ts.dataset, w.task_id, w.shard.index));
    if (!ts.manifest) {
      all_committed = false;
      ShardWriterOptions opt;
      opt.task_id = w.task_id;
      opt.shard = w.shard.index;
      opt.dataset = ts.dataset;
      STRATA_ASSIGN_OR_RETURN(opt.format, format_of(tc));
      opt.layout = tc.layout;
      opt.key_column = w.policy.source.first_key();
      opt.time_column = w.policy.source.time;
      opt.verify = w.policy.verify;
      opt.pace = [&pacer](std::chrono::steady_clock::duration took) { pacer.pause(took); };
      opt.max_open_parts = svc.max_open_partitions;
      opt.file_metadata = {{"strata.task", w.task_id},
                           {kPartMetaSource, redacted_source},
                           {"strata.table", w.policy.source.table},
                           {kPartMetaPredicate, predicate_to_json(w.predicate).dump()},
                           {kPartMetaRange, Json{{"lo", value_to_json(w.shard.range.lo)},
                                                 {"hi", value_to_json(w.shard.range.hi)}}
                                                .dump()},
                           {kPartMetaKeyColumns, Json(w.policy.source.key_columns()).dump()},
                           {kPartMetaTimeColumn, w.policy.source.time}};
      ts.writer = std::make_unique<ShardWriter>(*ts.target, std::move(opt), schema);
      STRATA_TRY(ts.writer->start());
    }
    targets.push_back(std::move(ts));
  }

  int64_t rows = 0, bytes_in = 0;
  if (!all_committed) {
    auto abort_all = [&] {
      for (TargetState& ts : targets) {
        if (ts.writer) ts.writer->abort();
      }
    };
    const size_t batch_rows = static_cast<size_t>(w.policy.batch.rows);
    auto read = source->read(w.predicate, w.shard, batch_rows);
    if (!read.is_ok()) {
      abort_all();
      return read.status();
    }
    // The next batch is read while this one is encoded and written.
    std::unique_ptr<BatchReader> reader = prefetching(std::move(read).value(), schema);
    auto throttle = svc.throttles.get(w.task_id + "/read", w.policy.throttle.rows_per_second);
    LagGate lag(*source, w.policy.throttle.max_replication_lag, "archive of shard " + subject);
    Batch batch(schema);
    for (int seq = 0;; ++seq) {
      if (ctx.cancelled()) {
        abort_all();
        return Status::cancelled("shard " + subject + " stopped before it finished");
      }
      if (cancel.cancelled()) {
        abort_all();
        return stop_cancelled();
      }
      const int64_t batch_started = svc.clock->now_micros();
      const auto step_started = std::chrono::steady_clock::now();
      auto more = reader->next(batch);
      if (!more.is_ok()) {
        abort_all();
        return more.status();
      }
      if (!*more) break;
      throttle->acquire(static_cast<int64_t>(batch.num_rows()));
      if (lease) {
        if (Status s = lease->keep(); !s.is_ok()) {
          abort_all();
          return s;
        }
      }
      if (Status s = lag.wait([&] { return ctx.cancelled(); }); !s.is_ok()) {
        abort_all();
        return s;
      }
      for (TargetState& ts : targets) {
        if (!ts.writer) continue;
        Status s = ts.writer->write(batch);
        if (!s.is_ok()) {
          abort_all();
          return s.with_context("target " + ts.target->describe());
        }
      }
      rows += static_cast<int64_t>(batch.num_rows());
      bytes_in += static_cast<int64_t>(batch.data_bytes());
      int64_t bytes_out = 0;
      for (TargetState& ts : targets) {
        if (ts.writer) bytes_out += static_cast<int64_t>(ts.writer->bytes_written());
      }
      STRATA_TRY(status(kBatchArchived, Json{{"seq", seq},
                                             {"rows", static_cast<int64_t>(batch.num_rows())},
                                             {"bytes_in", static_cast<int64_t>(batch.data_bytes())},
                                             {"shard_rows", rows},
                                             {"shard_bytes_in", bytes_in},
                                             {"shard_bytes_out", bytes_out},
                                             {"started_at", batch_started},
                                             {"finished_at", svc.clock->now_micros()}}));
      pacer.pause(std::chrono::steady_clock::now() - step_started);
      reader->set_batch_rows(Pacer::step_rows(batch_rows, kMinBusyBatchRows, pacer.load()));
    }
    // Every row is read: the session goes back to the source's pool, and the next shard may read
    // while this one commits.
    reader.reset();
    session = SessionGate::Hold();
    reading.reset();
    // Still this worker's shard? A renewed lease holds for a whole ttl, longer than a commit.
    if (lease) {
      if (Status s = lease->keep(/*now_please=*/true); !s.is_ok()) {
        abort_all();
        return s;
      }
    }
    for (TargetState& ts : targets) {
      if (!ts.writer) continue;
      auto m =
          ts.writer->commit(manifest_base(w, ts.dataset, redacted_source, *schema, *svc.clock));
      if (!m.is_ok()) {
        abort_all();
        return m.status().with_context("target " + ts.target->describe());
      }
      ts.manifest = std::move(m).value();
    }
  }

  // Every target must hold the same rows before anything may be purged.
  const ShardManifest& first = *targets.front().manifest;
  int64_t bytes_out = 0;
  int files = 0;
  for (const TargetState& ts : targets) {
    if (ts.manifest->checksum != first.checksum) {
      return Status::permanent("shard " + subject + ": target " + ts.target->describe() +
                               " holds rows " + ts.manifest->checksum + " but " +
                               targets.front().target->describe() + " holds " + first.checksum +
                               " (the source changed between attempts; nothing was purged)");
    }
    for (const ManifestFile& f : ts.manifest->files) bytes_out += static_cast<int64_t>(f.bytes);
    files += static_cast<int>(ts.manifest->files.size());
  }
  // The catalog lists the shard's files (again, harmlessly, when a crash came between the
  // manifest and the catalog).
  for (const TargetState& ts : targets) {
    if (!ts.target->keeps_catalog()) continue;
    // The manifest is the record (verify, restore and purge read manifests); the catalog is an
    // index for `strata ls` and retention. A failed update is reported, never a reason to leave
    // committed rows unpurged.
    Status s = catalog_add(*ts.target, *ts.manifest, svc.clock->now_micros());
    if (!s.is_ok()) {
      spdlog::warn("shard {}: the catalog of {} was not updated: {}", subject,
                   ts.target->describe(), s.message());
    }
  }
  if (all_committed) {
    rows = static_cast<int64_t>(first.rows);
    spdlog::info("shard {}: already committed ({} rows), not archived again", subject, rows);
  }
  spdlog::info("shard {}: {} rows archived to {} target(s){}", subject, rows, targets.size(),
               svc.worker_id.empty() ? "" : " by " + svc.worker_id);
  STRATA_TRY(status(kShardArchived, Json{{"rows", rows},
                                         {"bytes_in", bytes_in},
                                         {"bytes_out", bytes_out},
                                         {"files", files},
                                         {"move", w.policy.mode == Mode::kMove},
                                         {"finished_at", svc.clock->now_micros()}}));
  if (w.policy.mode == Mode::kMove) {
    STRATA_TRY(ctx.send(kTopicPurge,
                        make_event(kPurgeRequested, "strata/archive", subject, w.to_json(), &ev)));
  }
  return Status::ok();
}

}  // namespace

Handler make_archive_handler(Services& services) {
  return [&services](Context& ctx, const Event& ev) {
    Status s = forget_source_on_failure(services, ev.data, archive(services, ctx, ev));
    // The shard's batches and part buffers are freed by now: hand their pages back, so that the
    // peak RSS follows the shards at once, not how many ran before (freed megabyte buffers
    // otherwise leave fragments that pile up over a long run).
    malloc_trim(0);
    return s;
  };
}

}  // namespace strata
