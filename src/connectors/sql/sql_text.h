// SQL statement text shared by the SQL connectors (PostgreSQL, MySQL/MariaDB): identifier quoting,
// the task predicate, shard bounds, keyset continuation over a (composite) key, reads and key
// deletes. Each statement is built twice at once: with placeholders for execution and with the
// values shown as literals for `strata plan`. Connectors bind the Params in their own wire form.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/source.h"
#include "core/schema.h"
#include "core/status.h"

namespace strata::sql {

enum class Dialect { kSqlite, kPostgres, kMysql };

// "a""b" (SQLite, PostgreSQL) or `a``b` (MySQL).
std::string quote_ident(Dialect d, std::string_view name);
// A value as an SQL literal of the dialect, for dry-run text: 42, 'it''s', NULL, X'00ff',
// '2026-01-02 03:04:05.123456+00' (PostgreSQL timestamps) or '2026-01-02 03:04:05.123456'.
std::string literal(Dialect d, const Value& v, Type type);

// A bound value. Int for kInt64/kDate/kTimestamp/kBool, double for kDouble, text (raw bytes for
// kBytes) for the rest.
struct Param {
  Value value;
  Type type;
};

class Builder {
 public:
  explicit Builder(Dialect d) : dialect_(d) {}

  Dialect dialect() const { return dialect_; }
  Builder& sql(std::string_view s);
  // A placeholder ($n for PostgreSQL, ? otherwise) bound to `v`.
  Builder& param(Value v, Type type);
  // " WHERE " before the first condition, " AND " before the others.
  Builder& cond();
  // Shows `shown` in the dry-run text where the SQL has `sql`.
  Builder& placeholder(std::string_view sql, std::string_view shown);
  // Conditions written as an expression: after `(TRUE`, every cond() adds " AND ..."; close the
  // parenthesis, then end_conditions() lets the next cond() start a WHERE again.
  Builder& continue_conditions() {
    has_cond_ = true;
    return *this;
  }
  Builder& end_conditions() {
    has_cond_ = false;
    return *this;
  }

  const std::string& text() const { return sql_; }
  const std::string& shown() const { return shown_; }
  const std::vector<Param>& params() const { return params_; }

 private:
  Dialect dialect_;
  std::string sql_;
  std::string shown_;
  std::vector<Param> params_;
  bool has_cond_ = false;
};

// The quoted names statements are built from.
struct TableRef {
  std::string qualified;         // quoted, schema-qualified when given
  std::vector<std::string> key;  // quoted key columns, in key order
  std::vector<Type> key_types;   // their types
  std::string time;              // quoted time column; "" when none
  std::string where;             // the policy's extra predicate (raw SQL); "" when none
};

// The task predicate: time window, first-key window, the policy's and the task's extra SQL.
void add_predicate(Builder& b, const TableRef& t, const Predicate& p);
// first_key BETWEEN lo AND hi (a null bound is open).
void add_shard_bounds(Builder& b, const TableRef& t, const Shard& s);
// Rows after the key tuple `last`: k1 > ? OR (k1 = ? AND k2 > ?) ...
void add_after(Builder& b, const TableRef& t, const std::vector<Value>& last);
// " ORDER BY k1, k2".
std::string order_by_key(const TableRef& t);
// SELECT <select_list> FROM t WHERE shard AND predicate [AND after] ORDER BY key [LIMIT n].
// `after` null = the first page; limit 0 = no LIMIT.
void build_read(Builder& b, const TableRef& t, std::string_view select_list, const Predicate& p,
                const Shard& s, const std::vector<Value>* after, size_t limit);
// Whether rows [begin, end) of a one-column integer key batch are k, k+1, ..., without NULLs:
// then a range delete removes exactly the listed keys.
bool is_contiguous_run(const Batch& keys, size_t begin, size_t end);
// DELETE FROM t WHERE <keys> AND shard AND predicate, for rows [begin, end) of `keys` (one column
// per key column): a contiguous integer run as BETWEEN, a single key as IN (...), a composite key
// as (k1, k2) IN ((..), ..).
void build_delete(Builder& b, const TableRef& t, const Predicate& p, const Shard& s,
                  const Batch& keys, size_t begin, size_t end);
// The delete statement with the key list shown as "<archived keys>", for dry runs.
std::string shown_delete(Dialect d, const TableRef& t, const Predicate& p, const Shard& s);

// What a probe for the first or last selected key found: nullopt = the server gave up (time
// cap); an empty Value inside = no selected row in the range probed.
using ProbeResult = std::optional<Value>;
using Probe = std::function<Result<ProbeResult>(const Value& lo, const Value& hi)>;

// Planning's probe for the selection's first (desc false) or last key, over an integer key's
// extent [lo, hi] in `slices` slices from the probed end, each a bounded index range, with
// split.pace after each: a selection that ends far from the extent's end (old rows at the bottom
// of a table, probed from the top) costs slices of work spread out, not one long scan beside
// production. Keys that are not integers: one probe. Once the probes have taken `budget` in all
// without finding a selected key, the walk gives up (nullopt), as a probe that hits its own time
// cap does: the caller plans over the whole extent instead (a billion-row table whose old rows
// lie below hundreds of millions of new ones plans in seconds, not in minutes of slices).
Result<ProbeResult> probe_in_slices(
    const Value& lo, const Value& hi, bool integer_key, bool desc, int slices,
    const SplitOptions& split, const Probe& probe,
    std::chrono::steady_clock::duration budget = std::chrono::seconds(5));

}  // namespace strata::sql
