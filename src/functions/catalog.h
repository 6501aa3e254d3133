// The archive catalog: one document per target listing every committed file of every dataset
// (partition, rows, bytes, time span, task and shard), so `strata ls`, retention and restore
// need not read every manifest.
//
//   _strata/catalog/v0000000042.json   immutable versions, each the whole catalog
//
// (Earlier versions also kept a pointer, _strata/catalog.json; the listing decides now and the
// file, if present, is ignored.)
//
// An update reads the newest version, adds or removes entries, and creates the next version
// with Target::put_if_absent; when another writer created that version first, it reads again
// and retries, so two tasks (or two shards of one task) never lose each other's entries. Readers
// take the highest version listed and step forward while a newer one exists. Old versions
// beyond the last few are removed; since that frees their numbers, a writer that paused between
// its read and its write could create one of them off the chain, so every update reads the
// newest version again afterwards and applies its change again unless it is there.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "connectors/target.h"
#include "core/status.h"
#include "functions/manifest.h"

namespace strata {

struct CatalogFile {
  std::string path;
  std::string partition;
  std::string task_id;
  int shard = 0;
  uint64_t rows = 0;
  uint64_t bytes = 0;
  std::optional<int64_t> time_min, time_max;  // µs UTC
  int64_t committed_at = 0;
};

struct Catalog {
  int64_t version = 0;  // 0: no catalog yet
  int64_t updated_at = 0;
  std::map<std::string, std::vector<CatalogFile>> datasets;  // files sorted by path

  nlohmann::json to_json() const;
  static Result<Catalog> from_json(const nlohmann::json& j);
};

// The newest catalog of `target` (version 0 and no datasets when there is none yet).
Result<Catalog> load_catalog(Target& target);
// Adds the files of a committed shard manifest (idempotent: a shard already listed is replaced).
Status catalog_add(Target& target, const ShardManifest& manifest, int64_t now_micros);
// Removes files of `dataset` (after they were deleted by retention).
Status catalog_remove(Target& target, const std::string& dataset,
                      const std::set<std::string>& paths, int64_t now_micros);

}  // namespace strata
