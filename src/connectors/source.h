// A source store: describes a table, plans it into bounded key-range shards, streams a shard's
// rows as Batches, and deletes archived keys. One instance per policy source; thread-safe for
// concurrent shards (each call opens or borrows its own connection).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/duration.h"
#include "core/schema.h"
#include "core/status.h"
#include "core/uri.h"

namespace strata {

// What the policy says about the source. `uri` may hold ${ENV} references (expanded by the
// connector when it connects, so they never reach logs, events or the state store).
struct SourceSpec {
  std::string uri;
  std::string table;  // may be schema-qualified: "archive.telemetry"
  // Unique together (the primary key or a unique index), in index order. Shards are ranges of
  // the first; reads page through the whole tuple in key order (keyset, never OFFSET).
  std::vector<std::string> key_columns;
  std::string time_column;  // optional; for older_than selection and partition layouts
  std::string where;        // optional extra SQL predicate, AND-ed in
  std::string base_dir;     // directory relative sqlite/file paths resolve against
  // Columns left out of reads (and so of the archive); a column whose type Strata cannot represent
  // must be listed here or describe() fails naming it. Never a key or time column.
  std::vector<std::string> exclude_columns;

  const std::string& key_column() const { return key_columns.front(); }
};

// The rows a task selects, resolved to constants at plan time so that every read and every
// purge of the task (including a resume days later) sees the same predicate.
struct Predicate {
  std::optional<int64_t> time_before;  // time_column <  this (µs UTC)
  std::optional<int64_t> time_from;    // time_column >= this (µs UTC); copy-mode watermark
  std::optional<Value> key_below;      // first key column <  this
  std::optional<Value> key_from;       // first key column >= this
  std::string where;                   // extra SQL, AND-ed in
};

// Inclusive bounds on the first key column; a null Value means unbounded on that side. With a
// composite key a shard holds every row of its leading values, so it can exceed shard_rows when
// one leading value has more rows than that.
struct KeyRange {
  Value lo;
  Value hi;
};

struct Shard {
  int index = 0;
  KeyRange range;
  int64_t estimated_rows = 0;
};

struct SplitOptions {
  int64_t shard_rows = 100000;
  // Shards archived at once. A planner that knows the selection's size well (PostgreSQL's page
  // cuts) makes the shard count a multiple of it (balanced_shards): the workers finish together
  // instead of one archiving a last shard alone.
  int parallel = 1;
  // Called after each planning statement that reads the table, with the time it took, so the
  // caller can pause there (its throttle): planning a large table on a busy source is then spread
  // out like the archive itself. Unset: no pause.
  Pace pace;
};

// How many shards `rows` selected rows make: enough to hold at most shard_rows each, rounded up
// to a multiple of `parallel` (one shard stays one).
inline int64_t balanced_shards(double rows, int64_t shard_rows, int parallel) {
  const double per = static_cast<double>(std::max<int64_t>(1, shard_rows));
  const auto n = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(rows / per)));
  const int64_t p = std::max(1, parallel);
  return n == 1 ? 1 : (n + p - 1) / p * p;
}

// Streams one shard in key order. Not thread-safe.
class BatchReader {
 public:
  virtual ~BatchReader() = default;
  // Clears `batch` (built with the source's schema) and fills up to the batch size. false = done.
  virtual Result<bool> next(Batch& batch) = 0;
  // Later batches hold at most `rows` (at least 1): the archive shrinks them beside a busy
  // production load, so that the store's work for each (a stretch of a COPY stream or of a
  // result set, read on demand) comes in shorter bursts. Safe to call while another thread is in
  // next(). Readers without a batch size of their own ignore it.
  virtual void set_batch_rows(size_t rows) { (void)rows; }
};

// The statements a shard would run, for `strata plan` / `--dry-run`.
struct ShardStatements {
  std::string read;  // with placeholders shown as literals
  std::string purge;
};

class Source {
 public:
  virtual ~Source() = default;
  // Columns and types. Checks the table exists, the key column exists and is unique (primary key
  // or unique index), the time column exists and holds times. Errors name the store and table.
  virtual Result<Schema> describe() = 0;
  // Bounded shards covering every selected row, in key order, without a full table read where
  // the store allows.
  virtual Result<std::vector<Shard>> plan(const Predicate& predicate,
                                          const SplitOptions& split) = 0;
  // Keyset reads of the rows of `shard` that match `predicate`, `batch_rows` at a time.
  virtual Result<std::unique_ptr<BatchReader>> read(const Predicate& predicate, const Shard& shard,
                                                    size_t batch_rows) = 0;
  // Deletes the rows whose key is in `keys` (one column per key column, in key order) and that
  // still match `predicate` and lie in `shard`, in one transaction. Returns the number deleted
  // (less than keys.num_rows() when rows changed or were already gone).
  virtual Result<uint64_t> delete_keys(const Predicate& predicate, const Shard& shard,
                                       const Batch& keys) = 0;
  virtual ShardStatements statements(const Predicate& predicate, const Shard& shard,
                                     size_t batch_rows) = 0;
  // How far the slowest replica lags; 0 when there are none.
  virtual Result<Micros> replication_lag() { return Micros(0); }
  // How many other sessions are working on the source right now (its production load), not
  // counting Strata's own; -1 when the store cannot tell. Thread-safe.
  virtual Result<double> foreign_activity() { return -1.0; }
};

}  // namespace strata
