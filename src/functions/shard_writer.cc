#include "functions/shard_writer.h"

#include <cstdio>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "core/checksum.h"
#include "core/log.h"
#include "functions/verify.h"

namespace strata {

struct ShardWriter::OpenPart {
  std::string partition;
  std::string path;
  std::unique_ptr<PartWriter> writer;
  Value key_min, key_max;
  std::optional<int64_t> time_min, time_max;
};

ShardWriter::ShardWriter(Target& target, ShardWriterOptions options,
                         std::shared_ptr<const Schema> schema)
    : target_(target), opt_(std::move(options)), schema_(std::move(schema)), scratch_(schema_) {
  key_col_ = schema_->index_of(opt_.key_column);
  time_col_ = opt_.time_column.empty() ? -1 : schema_->index_of(opt_.time_column);
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char tag[16];
  std::snprintf(tag, sizeof tag, "%08x", static_cast<unsigned>(rng() & 0xffffffffu));
  attempt_ = tag;
}

// The shard's pending records: "<shard>.json" (written before attempts had tags) and
// "<shard>.<tag>.json", one per attempt, side by side.
std::string ShardWriter::own_pending_path() const {
  std::string path = pending_path(opt_.dataset, opt_.task_id, opt_.shard);
  return path.substr(0, path.size() - 5) + "." + attempt_ + ".json";
}

ShardWriter::~ShardWriter() {
  for (auto& p : open_) p->writer->abort();
}

Status ShardWriter::start() {
  auto layout = PartitionLayout::parse(opt_.layout, *schema_);
  if (!layout.is_ok()) return layout.status();
  layout_ = std::move(layout).value();
  // The files a committed manifest lists are never removed here, whatever a pending record says
  // (an attempt that committed while this one started has not removed its record yet).
  STRATA_ASSIGN_OR_RETURN(std::optional<ShardManifest> committed,
                          load_manifest(target_, opt_.dataset, opt_.task_id, opt_.shard));
  std::set<std::string> keep;
  if (committed) {
    for (const ManifestFile& f : committed->files) keep.insert(f.path);
  }
  const std::string legacy = pending_path(opt_.dataset, opt_.task_id, opt_.shard);
  const std::string prefix = legacy.substr(0, legacy.size() - 4);  // ".../<shard>."
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> records, target_.list(prefix));
  for (const std::string& listed : records) {
    const std::string record = listed.rfind(prefix, 0) == 0 ? listed : prefix + listed;
    STRATA_ASSIGN_OR_RETURN(std::optional<std::string> text, target_.get(record));
    if (!text) continue;
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_object() && j.contains("files")) {
      for (const auto& f : j["files"]) {
        const std::string file = f.get<std::string>();
        if (keep.count(file)) continue;
        spdlog::info("shard {}/{}: removing {} left by an interrupted attempt", opt_.task_id,
                     opt_.shard, file);
        STRATA_TRY(target_.remove(file));
      }
    }
    STRATA_TRY(target_.remove(record));
  }
  // Parts a killed attempt never finished are invisible but take space: remove them too.
  return target_.remove_incomplete(opt_.dataset,
                                   "part-" + opt_.task_id + "-" + std::to_string(opt_.shard) + "-");
}

Status ShardWriter::save_pending() {
  nlohmann::json j = {{"task_id", opt_.task_id},
                      {"shard", opt_.shard},
                      {"attempt", attempt_},
                      {"files", pending_files_}};
  return target_.put(own_pending_path(), j.dump());
}

Result<ShardWriter::OpenPart*> ShardWriter::part_for(const std::string& partition) {
  for (auto it = open_.begin(); it != open_.end(); ++it) {
    if ((*it)->partition == partition) {
      if (it != open_.begin()) open_.splice(open_.begin(), open_, it);
      return open_.front().get();
    }
  }
  if (static_cast<int>(open_.size()) >= opt_.max_open_parts) {
    STRATA_TRY(close_part(*open_.back()));
    open_.pop_back();
  }
  auto part = std::make_unique<OpenPart>();
  part->partition = partition;
  std::string dir = opt_.dataset + "/" + (partition.empty() ? "" : partition + "/");
  part->path = dir + "part-" + opt_.task_id + "-" + std::to_string(opt_.shard) + "-" + attempt_ +
               "-" + std::to_string(seq_++) + file_extension(opt_.format);
  // Named in the pending record before it can become visible (see close_part).
  pending_files_.push_back(part->path);
  pending_dirty_ = true;
  STRATA_ASSIGN_OR_RETURN(
      part->writer, target_.create_part(part->path, opt_.format, schema_, opt_.file_metadata));
  open_.push_front(std::move(part));
  return open_.front().get();
}

Status ShardWriter::close_part(OpenPart& part) {
  if (pending_dirty_) {
    STRATA_TRY(save_pending());
    pending_dirty_ = false;
  }
  STRATA_ASSIGN_OR_RETURN(PartFile pf, part.writer->commit());
  ManifestFile f;
  f.path = pf.path;
  f.format = opt_.format.name;
  f.compression = compression_name(opt_.format.compression);
  f.partition = part.partition;
  f.rows = pf.rows;
  f.bytes = pf.bytes;
  f.sha256 = pf.sha256;
  f.checksum = pf.checksum;
  f.key_min = part.key_min;
  f.key_max = part.key_max;
  f.time_min = part.time_min;
  f.time_max = part.time_max;
  closed_bytes_ += pf.bytes;
  committed_.push_back(std::move(f));
  return Status::ok();
}

Status ShardWriter::write_run(const std::string& partition, const Batch& batch, size_t begin,
                              size_t end) {
  STRATA_ASSIGN_OR_RETURN(OpenPart * part, part_for(partition));
  if (key_col_ >= 0) {
    const ColumnVector& k = batch.column(static_cast<size_t>(key_col_));
    if (part->key_min.is_null()) part->key_min = k.value_at(begin);
    part->key_max = k.value_at(end - 1);
  }
  if (time_col_ >= 0) {
    const ColumnVector& t = batch.column(static_cast<size_t>(time_col_));
    for (size_t r = begin; r < end; ++r) {
      if (t.is_null(r)) continue;
      int64_t v = t.int_at(r);
      if (!part->time_min || v < *part->time_min) part->time_min = v;
      if (!part->time_max || v > *part->time_max) part->time_max = v;
    }
  }
  if (begin == 0 && end == batch.num_rows()) return part->writer->write(batch);
  scratch_.clear();
  scratch_.append_rows(batch, begin, end);
  return part->writer->write(scratch_);
}

Status ShardWriter::write(const Batch& batch) {
  const size_t n = batch.num_rows();
  if (n == 0) return Status::ok();
  if (layout_.empty()) return write_run("", batch, 0, n);
  size_t run_start = 0;
  layout_.partition_of(batch, 0, run_partition_);
  for (size_t r = 1; r < n; ++r) {
    layout_.partition_of(batch, r, partition_buf_);
    if (partition_buf_ != run_partition_) {
      STRATA_TRY(write_run(run_partition_, batch, run_start, r));
      run_partition_.swap(partition_buf_);
      run_start = r;
    }
  }
  return write_run(run_partition_, batch, run_start, n);
}

Result<ShardManifest> ShardWriter::commit(ShardManifest manifest) {
  while (!open_.empty()) {
    Status closed = close_part(*open_.back());
    if (!closed.is_ok()) {
      // Another attempt that took the shard over clears unfinished parts when it starts; if it
      // has committed the shard meanwhile, its manifest is the answer.
      auto winner = load_manifest(target_, opt_.dataset, opt_.task_id, opt_.shard);
      if (winner.is_ok() && winner->has_value()) {
        spdlog::warn(
            "shard {}/{}: committed meanwhile by another attempt ({}); attempt {} "
            "removes its own parts",
            opt_.task_id, opt_.shard, closed.message(), attempt_);
        abort();
        return **winner;
      }
      return closed;
    }
    open_.pop_back();
  }
  RowChecksum total;
  manifest.rows = 0;
  manifest.files = committed_;
  for (const ManifestFile& f : manifest.files) {
    STRATA_ASSIGN_OR_RETURN(RowChecksum c, RowChecksum::parse(f.checksum));
    total.add(c);
    manifest.rows += f.rows;
  }
  manifest.checksum = total.to_string();
  if (opt_.verify) {
    for (const ManifestFile& f : manifest.files)
      STRATA_TRY(verify_file(target_, manifest, f, true, opt_.pace));
  }
  STRATA_ASSIGN_OR_RETURN(
      bool created, target_.put_if_absent(manifest_path(opt_.dataset, opt_.task_id, opt_.shard),
                                          manifest.to_json().dump(1)));
  if (!created) {
    // Another attempt committed the shard first: its files are the shard's, ours go.
    spdlog::warn(
        "shard {}/{}: committed meanwhile by another attempt; attempt {} removes its "
        "own parts",
        opt_.task_id, opt_.shard, attempt_);
    abort();
    STRATA_ASSIGN_OR_RETURN(std::optional<ShardManifest> winner,
                            load_manifest(target_, opt_.dataset, opt_.task_id, opt_.shard));
    if (!winner) {
      return Status::retryable("shard " + opt_.task_id + "/" + std::to_string(opt_.shard) +
                               ": its manifest was there and then was not; run again");
    }
    return *winner;
  }
  STRATA_TRY(target_.remove(own_pending_path()));
  return manifest;
}

void ShardWriter::abort() {
  for (auto& p : open_) p->writer->abort();
  open_.clear();
  // Only this attempt's own files: their names carry its tag.
  for (const std::string& f : pending_files_) (void)target_.remove(f);
  (void)target_.remove(own_pending_path());
  pending_files_.clear();
  committed_.clear();
}

uint64_t ShardWriter::bytes_written() const {
  uint64_t n = closed_bytes_;
  for (const auto& p : open_) n += p->writer->bytes();
  return n;
}

}  // namespace strata
