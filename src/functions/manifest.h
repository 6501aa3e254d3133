// Shard manifests: what one shard wrote to one target. The archive describes itself: verify,
// purge and restore need only the target, never the state store.
//
//   <dataset>/_strata/manifests/<task>/<shard>.json   committed: every file durable and verified
//   <dataset>/_strata/pending/<task>/<shard>.json     files a shard may have started; removed at
//                                                     commit, used to clean up after a crash
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "connectors/source.h"
#include "connectors/source_json.h"
#include "connectors/target.h"
#include "core/schema.h"
#include "core/status.h"

namespace strata {

struct ManifestFile {
  std::string path;  // relative to the target root
  std::string format;
  std::string compression;
  std::string partition;  // e.g. "dt=2026-11-01"; empty without a layout
  uint64_t rows = 0;
  uint64_t bytes = 0;
  std::string sha256;
  std::string checksum;  // RowChecksum text
  Value key_min, key_max;
  std::optional<int64_t> time_min, time_max;  // µs
};

struct ShardManifest {
  int version = 1;
  std::string task_id;
  int shard = 0;
  std::string dataset;
  std::string source;  // redacted URI
  std::string table;
  std::vector<std::string> key_columns;  // the source's unique key, in key order
  std::string time_column;
  nlohmann::json predicate;  // the task's resolved selection
  KeyRange range;
  Schema schema;
  std::vector<ManifestFile> files;
  uint64_t rows = 0;
  std::string checksum;  // over all files
  int64_t committed_at = 0;
  // Files deleted by retention (expire_after), and their rows; not in `files` or `rows`.
  std::vector<std::string> expired_files;
  uint64_t expired_rows = 0;

  nlohmann::json to_json() const;
  static Result<ShardManifest> from_json(const nlohmann::json& j);
};

std::string manifest_path(const std::string& dataset, const std::string& task_id, int shard);
std::string pending_path(const std::string& dataset, const std::string& task_id, int shard);
// "<dataset>/_strata/manifests/"
std::string manifests_prefix(const std::string& dataset);

Result<std::optional<ShardManifest>> load_manifest(Target& target, const std::string& dataset,
                                                   const std::string& task_id, int shard);
// Every committed manifest under `target` (all datasets), sorted by path.
Result<std::vector<ShardManifest>> list_manifests(Target& target);

}  // namespace strata
