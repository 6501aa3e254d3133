// Retention in the cold tier (`expire_after` on a target): archived files whose newest row is
// older than the cutoff are deleted, found through the catalog. For each one, in this order so
// that an interrupted expiry is finished by the next: the shard manifest is rewritten without the
// file (its rows counted as expired), the file is deleted, and the catalog drops it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "connectors/target.h"
#include "core/status.h"

namespace strata {

struct ExpiredFile {
  std::string path;
  std::string partition;
  uint64_t rows = 0;
  uint64_t bytes = 0;
  int64_t time_max = 0;
};

struct ExpireReport {
  std::vector<ExpiredFile> files;  // expired (or, on a dry run, that would be)
  uint64_t rows = 0;
  uint64_t bytes = 0;
};

// Files of `dataset` whose time_max < cutoff (µs UTC); deleted unless `dry_run`. Files without a
// time span (no time column) never expire.
Result<ExpireReport> expire_files(Target& target, const std::string& dataset, int64_t cutoff,
                                  bool dry_run, int64_t now_micros);

}  // namespace strata
