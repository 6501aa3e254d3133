// Re-reading archived files: sha256 over the stored bytes, then a full decode whose row count
// and order-independent row checksum must match what the manifest says was written.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "connectors/target.h"
#include "core/duration.h"
#include "functions/manifest.h"

namespace strata {

// sha256 of the object at `path`, read sequentially.
Result<std::string> sha256_of(Target& target, const std::string& path);

// A reader of one manifest file with the manifest's schema; `columns` empty = all. `src` keeps the
// bytes open and must outlive the reader. `keep_group`: see ReadOptions.
Result<std::unique_ptr<FormatReader>> open_file_reader(
    Target& target, const ShardManifest& manifest, const ManifestFile& file,
    std::unique_ptr<ByteSource>& src, std::vector<std::string> columns,
    std::function<bool(const std::vector<ColumnBounds>&)> keep_group = {});

// Checks one file of a manifest; the error names the file and what differs. Quick: it exists with
// the size the manifest says. Deep: also its sha256, and a full decode whose rows and row
// checksum match. `pace` is called after each decoded batch (a deep check of a large file is
// otherwise one long burst of work beside the source's production load).
Status verify_file(Target& target, const ShardManifest& manifest, const ManifestFile& file,
                   bool deep = true, const Pace& pace = {});

// Reads `columns` (in this order) of a verified file in batches of up to `batch_rows` rows.
Status read_columns(Target& target, const ShardManifest& manifest, const ManifestFile& file,
                    const std::vector<std::string>& columns, size_t batch_rows,
                    const std::function<Status(const Batch&)>& on_batch);

struct VerifyReport {
  int manifests = 0;
  int files = 0;
  uint64_t rows = 0;
  uint64_t bytes = 0;
  std::vector<std::string> problems;  // one line per bad file, naming it
  // Data files that no committed manifest lists but a pending record does: parts of a shard that
  // is being written, or of an interrupted task that a re-run will clean up and finish.
  std::vector<std::string> unfinished;
};

// Every manifest of the target and every file they list, and every data file of the target that
// no manifest lists (a problem, unless a pending record claims it). `progress` (may be empty) is
// called after each file.
Result<VerifyReport> verify_target(Target& target, bool deep,
                                   const std::function<void(const VerifyReport&)>& progress = {});

}  // namespace strata
