// Writes one shard's rows into one target: routes rows to partition folders, keeps a bounded
// number of part files open, and commits the shard in an order that survives a crash anywhere:
//
//   1. parts are written under hidden temporary names; before any of them is renamed to its
//      final name, every final name started so far is saved in the shard's pending record;
//   2. each part is fsynced and renamed (by the target);
//   3. every part is re-read and checked (sha256, rows, row checksum) when verify is on;
//   4. the manifest is written atomically; only then is the pending record removed.
//
// start() removes whatever an earlier, interrupted attempt of the same shard left (the files in
// its pending record), so re-running a shard never leaves a duplicate row behind.
//
// Two attempts of one shard may overlap (a worker cut off from the state store loses its lease,
// and another takes the shard over while the first still runs). Each attempt names its parts and
// its pending record with its own random tag, so it only ever removes its own files, and the
// manifest is created exclusively: the first attempt to commit wins, a later one finds the
// manifest there, removes its own parts and returns the winner's manifest.
// Not thread-safe: one per (shard, target).
#pragma once

#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "connectors/target.h"
#include "core/duration.h"
#include "functions/manifest.h"
#include "functions/partition_layout.h"

namespace strata {

struct ShardWriterOptions {
  std::string task_id;
  int shard = 0;
  std::string dataset;
  FormatSpec format;
  std::string layout;
  std::string key_column;
  std::string time_column;
  bool verify = true;
  // Called after each step of the verification at commit (see verify_file).
  Pace pace;
  int max_open_parts = 16;
  std::map<std::string, std::string> file_metadata;
};

class ShardWriter {
 public:
  ShardWriter(Target& target, ShardWriterOptions options, std::shared_ptr<const Schema> schema);
  ~ShardWriter();
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  // Cleans up after an interrupted attempt.
  Status start();
  Status write(const Batch& batch);
  // Commits every part, verifies, writes `manifest` (files, rows and checksum filled in here).
  // When another attempt committed the shard first, its manifest (this attempt's parts removed).
  Result<ShardManifest> commit(ShardManifest manifest);
  // Removes every file this attempt created and its pending record.
  void abort();
  // This attempt's tag, in its part names: part-<task>-<shard>-<tag>-<n>.
  const std::string& attempt() const { return attempt_; }
  uint64_t bytes_written() const;

 private:
  struct OpenPart;
  Status write_run(const std::string& partition, const Batch& batch, size_t begin, size_t end);
  Result<OpenPart*> part_for(const std::string& partition);
  Status close_part(OpenPart& part);
  Status save_pending();
  std::string own_pending_path() const;

  Target& target_;
  ShardWriterOptions opt_;
  std::shared_ptr<const Schema> schema_;
  PartitionLayout layout_;
  int key_col_ = -1;
  int time_col_ = -1;
  int seq_ = 0;
  std::string attempt_;
  std::vector<std::string> pending_files_;
  bool pending_dirty_ = false;  // names added since the pending record was last saved
  std::list<std::unique_ptr<OpenPart>> open_;  // most recently used first
  std::vector<ManifestFile> committed_;
  Batch scratch_;
  std::string partition_buf_, run_partition_;
  uint64_t closed_bytes_ = 0;
};

}  // namespace strata
