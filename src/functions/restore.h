// Restore: brings archived rows back into a database table (PostgreSQL, MySQL/MariaDB, SQLite),
// created if missing with the archive's schema and key, loaded idempotently (keys already in the
// table are skipped, so a re-run or an overlapping restore adds nothing twice). The archive is
// read through its manifests; files whose time span lies outside the filter are not opened, and
// Parquet row groups whose min/max statistics rule out every row are not decoded.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "connectors/table_target.h"
#include "connectors/target.h"
#include "core/schema.h"
#include "core/status.h"

namespace strata {

// One condition of a restore filter: `column op literal`.
struct RowCondition {
  std::string column;
  std::string op;  // = != < <= > >=
  std::string literal;
};

// Parses "ts >= '2026-01-01' AND vehicle = 7": conditions joined by AND, each a column name, a
// comparison and a literal (quoted text or timestamp, a number, or NULL only with = and !=).
Result<std::vector<RowCondition>> parse_row_filter(const std::string& text);

struct RestoreOptions {
  std::string dataset;
  std::vector<RowCondition> where;
  std::optional<int64_t> from;  // time column >= from (µs UTC)
  std::optional<int64_t> to;    // time column <  to
  size_t batch_rows = 10000;
};

struct RestoreReport {
  int files_total = 0;          // files of the dataset
  int files_read = 0;           // after pruning by time span
  int files_skipped = 0;        // pruned
  uint64_t groups_skipped = 0;  // Parquet row groups pruned by their statistics
  uint64_t rows_read = 0;
  uint64_t rows_matched = 0;   // passed the filter
  uint64_t rows_inserted = 0;  // new in the table (the rest were there already)
  uint64_t bytes_read = 0;
};

// Restores `options.dataset` of `archive` into `into`. `progress` (may be empty) is called after
// every batch.
Result<RestoreReport> restore_dataset(Target& archive, TableTarget& into,
                                      const RestoreOptions& options,
                                      const std::function<void(const RestoreReport&)>& progress);

}  // namespace strata
