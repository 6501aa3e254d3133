// The policy file: what to archive, from where, to where, how fast. Parsed from YAML through a
// declared config spec per section (config_spec.h) so unknown keys, wrong types and missing fields
// are rejected with file:line:column and a fix, and docs/policy.md is generated from the same
// spec. Secrets are written as ${ENV} references and kept unexpanded here.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/duration.h"
#include "core/status.h"

namespace strata {

enum class Mode { kCopy, kMove };

// "a, b" -> {"a", "b"}: `key` and `exclude` name one column or several, separated by commas.
std::vector<std::string> split_names(std::string_view list);

struct SourceConfig {
  std::string uri;  // sqlite://telemetry.db, postgres://user:${PGPASSWORD}@host/db, ...
  std::string table;
  std::string key;      // unique key: a column, or "a, b" for a composite key (shards on the first)
  std::string time;     // time column (required by older_than/before and time layouts)
  std::string where;    // optional extra SQL predicate
  std::string exclude;  // columns left out of the archive, comma-separated

  std::vector<std::string> key_columns() const { return split_names(key); }
  std::string first_key() const {
    auto keys = key_columns();
    return keys.empty() ? "" : keys.front();
  }
};

// Exactly one of older_than / before / key_below.
struct SelectionConfig {
  std::optional<Micros> older_than;      // time < now - older_than
  std::optional<std::string> before;     // time < this timestamp (RFC 3339 or YYYY-MM-DD)
  std::optional<std::string> key_below;  // key < this (integer or text)
};

struct SplitConfig {
  int64_t shard_rows = 100000;  // rows per shard, as planned (see the field's description)
  int parallel = 2;             // shards archived at once
};

struct BatchConfig {
  int64_t rows = 10000;  // rows per read batch
};

// The format a target writes when the policy does not say. The one place it is decided.
inline constexpr const char* kDefaultTargetFormat = "parquet";

struct TargetConfig {
  std::string uri;                            // file://archive, s3://bucket/prefix
  std::string format = kDefaultTargetFormat;  // ndjson | csv | parquet
  std::string compression = "zstd";
  int level = 3;
  int64_t row_group_mb = 128;          // parquet row group size
  std::string layout;                  // e.g. "dt={ts:%Y-%m-%d}"; empty = no partition folders
  std::string dataset;                 // folder under the target; default: the source table name
  std::optional<Micros> expire_after;  // retention: archived files older than this are deleted
};

struct ThrottleConfig {
  double rows_per_second = 0;     // 0 = unlimited
  double sleep_coef = 1.0;        // pause this multiple of each read batch's and DELETE's time
  double busy_sleep_coef = 12.0;  // added, times the source's load (other sessions busy, <= 8)
  std::optional<Micros> max_replication_lag;  // pause reads and deletes while a replica lags more
  int nice = 10;  // strata run's CPU priority once the source is busy (throttled runs); 0 = kept
};

struct PurgeConfig {
  int64_t batch_rows = 1000;  // rows per DELETE transaction
  Micros sleep{0};            // pause between transactions
};

struct Policy {
  std::string name;      // default: the file name without extension
  std::string file;      // where it was loaded from ("" for inline)
  std::string base_dir;  // relative local paths resolve against this (the file's directory)
  SourceConfig source;
  SelectionConfig selection;
  SplitConfig split;
  BatchConfig batch;
  std::vector<TargetConfig> targets;
  Mode mode = Mode::kCopy;
  bool verify = true;
  ThrottleConfig throttle;
  PurgeConfig purge;
  std::string schedule;  // when strata serve runs it by itself (policy/schedule.h); "" = never

  // Lossless JSON form carried in task events and stored with the task: every key (defaults
  // included, durations as "30d", mode as "copy"/"move", unset selection rules left out) plus
  // "file" and "base_dir". ${NAME} references stay unexpanded, so it holds no secret.
  nlohmann::json to_json() const;
  // The inverse, with the same checks as parse_policy (messages start "policy JSON: ", without
  // positions), except that referenced environment variables need not be set here: the
  // receiving process may not hold them, and connectors report unset ones when connecting.
  static Result<Policy> from_json(const nlohmann::json& j);
};

// "copy" or "move".
const char* mode_name(Mode mode);

// Reads and validates a policy file. Errors are permanent and look like
//   "policy.yaml:7:5: unknown key 'shard_row' in split (did you mean 'shard_rows'? valid keys:
//   shard_rows, parallel)".
// `file` is `path` as given; `base_dir` is the file's absolute directory. A missing, unreadable
// or empty file is an error naming the path.
Result<Policy> load_policy(const std::string& path);
// Same, from text; `file_name` is used in messages (and as `file`; "" = no prefix), `base_dir`
// for relative paths. Defaults that depend on other keys are filled in: `name` (the file name
// without extension, or the table name without a file) and each target's `dataset`.
Result<Policy> parse_policy(std::string_view yaml_text, const std::string& file_name,
                            const std::string& base_dir);

// The reference for every policy key, generated from the config specs (Markdown); the content
// of docs/policy.md (regenerate with the policy_docgen tool).
std::string policy_reference_markdown();

}  // namespace strata
