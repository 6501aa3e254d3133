// The policy file: one config spec per section (the only place keys, types, defaults and ranges
// are declared), the checks across fields, YAML and JSON entry points, and the reference.
#include "policy/policy.h"

#include <yaml-cpp/yaml.h>

#include <exception>
#include <filesystem>
#include <system_error>

#include "core/fs.h"
#include "core/schema.h"
#include "policy/config_spec.h"
#include "policy/schedule.h"

namespace strata {

std::vector<std::string> split_names(std::string_view list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string_view::npos) comma = list.size();
    std::string_view name = list.substr(start, comma - start);
    while (!name.empty() && std::isspace(static_cast<unsigned char>(name.front()))) {
      name.remove_prefix(1);
    }
    while (!name.empty() && std::isspace(static_cast<unsigned char>(name.back()))) {
      name.remove_suffix(1);
    }
    if (!name.empty()) out.emplace_back(name);
    start = comma + 1;
  }
  return out;
}

namespace {

using config::ParseContext;
using config::SectionSpec;

constexpr const char* kLayoutSyntax = "placeholders are {column} or {column:%Y-%m-%d}";

// Layout syntax only: balanced braces, a column name in each placeholder, a non-empty format
// after ':', a relative path. Whether the columns exist is checked when the source is known.
std::optional<std::string> check_layout(const std::string& layout) {
  auto at = [](size_t i) { return " at character " + std::to_string(i + 1); };
  for (size_t i = 0; i < layout.size(); ++i) {
    if (layout[i] == '}') {
      return "has a '}' without a matching '{'" + at(i) + " (" + kLayoutSyntax + ")";
    }
    if (layout[i] != '{') continue;
    size_t close = layout.find_first_of("{}", i + 1);
    if (close == std::string::npos || layout[close] == '{') {
      return "has an unclosed '{'" + at(i) + " (" + kLayoutSyntax + ")";
    }
    const std::string inner = layout.substr(i + 1, close - i - 1);
    const size_t colon = inner.find(':');
    const std::string column = inner.substr(0, colon);
    if (column.empty()) {
      return "has a placeholder without a column name" + at(i) + " (" + kLayoutSyntax + ")";
    }
    for (char c : column) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.') {
        return "has an invalid column name '" + column + "' in a placeholder" + at(i) + " (" +
               kLayoutSyntax + ")";
      }
    }
    if (colon != std::string::npos && colon + 1 == inner.size()) {
      return "has an empty format in '{" + inner + "}' (write {" + column + "} or {" + column +
             ":%Y-%m-%d})";
    }
    i = close;
  }
  if (!layout.empty() && layout[0] == '/') {
    return "must be a relative path (remove the leading '/')";
  }
  for (const auto& part : std::filesystem::path(layout)) {
    if (part == "..") return "must not contain '..' (it stays inside the dataset folder)";
  }
  return std::nullopt;
}

std::optional<std::string> check_dataset(const std::string& dataset) {
  if (!dataset.empty() && dataset[0] == '/') return "must be a relative folder name";
  for (const auto& part : std::filesystem::path(dataset)) {
    if (part == ".." || part == ".") return "must not contain '.' or '..' components";
  }
  return std::nullopt;
}

std::optional<std::string> check_timestamp(const std::string& text) {
  if (parse_timestamp(text).is_ok()) return std::nullopt;
  return "must be a timestamp like 2026-01-01 or 2026-01-01T00:00:00Z, got '" + text + "'";
}

std::optional<std::string> check_schedule(const std::string& text) {
  if (text.empty()) return std::nullopt;
  auto s = parse_schedule(text);
  if (s.is_ok()) return std::nullopt;
  return s.status().message();
}

std::optional<std::string> check_not_empty(const std::string& text) {
  if (text.empty()) return "must not be empty";
  return std::nullopt;
}

// The specs are built once and never destroyed (they are referenced by each other).
const SectionSpec<SourceConfig>& source_spec() {
  static const auto* spec = [] {
    auto* s = new SectionSpec<SourceConfig>(
        "source", "The store and table to archive from, with its key and time columns.");
    s->field("uri", &SourceConfig::uri,
             "Store address, e.g. `sqlite://telemetry.db` or "
             "`postgres://app:${PGPASSWORD}@db/prod`. Relative sqlite/file paths are relative to "
             "the policy file.")
        .required()
        .sensitive()
        .uri();
    s->field("table", &SourceConfig::table,
             "Table (or collection, measurement) to archive; may be schema-qualified.")
        .required();
    s->field("key", &SourceConfig::key,
             "Unique, indexed key: a column, or several separated by commas for a composite "
             "primary key (`device_id, seq`). Shards are ranges of the first; reads page through "
             "the whole key in order.")
        .required()
        .check(check_not_empty);
    s->field("time", &SourceConfig::time,
             "Time column; required by `selection.older_than` and `selection.before`.");
    s->field("where", &SourceConfig::where, "Extra SQL predicate AND-ed to the selection.");
    s->field("exclude", &SourceConfig::exclude,
             "Columns left out of the archive, separated by commas (e.g. a column whose type "
             "Strata cannot store). Never a key or the time column.");
    return s;
  }();
  return *spec;
}

const SectionSpec<SelectionConfig>& selection_spec() {
  static const auto* spec = [] {
    auto* s = new SectionSpec<SelectionConfig>(
        "selection",
        "Which rows are archived: exactly one of `older_than`, `before`, `key_below`.");
    s->field("older_than", &SelectionConfig::older_than,
             "Rows whose time column is older than this age at plan time, e.g. `30d`.");
    s->field("before", &SelectionConfig::before,
             "Rows whose time column is before this timestamp (RFC 3339 or YYYY-MM-DD, UTC "
             "unless an offset is given).")
        .check(check_timestamp);
    s->field("key_below", &SelectionConfig::key_below,
             "Rows whose key is below this value (integer or text).")
        .check(check_not_empty);
    return s;
  }();
  return *spec;
}

const SectionSpec<SplitConfig>& split_spec() {
  static const auto* spec = [] {
    auto* s = new SectionSpec<SplitConfig>("split", "How a task is cut into shards.");
    s->field("shard_rows", &SplitConfig::shard_rows,
             "Rows per shard, the unit of work and of retry. Small selections are counted "
             "exactly. Large ones are planned from samples or the server's estimates: on "
             "PostgreSQL, a table whose key follows its pages (append-only) is cut within this, "
             "into a multiple of `parallel` shards of even size (the workers finish together); "
             "others aim at 85% of it and a shard can hold more (up to about 1.5x). A shard "
             "holds every row of its leading key value.")
        .min(1);
    s->field("parallel", &SplitConfig::parallel,
             "Shards read from the source at once, and purged at once (`strata run` lets one more "
             "shard close, verify and record its files beside them). Unthrottled "
             "(`throttle.sleep_coef` and "
             "`busy_sleep_coef` 0, no `rows_per_second`), `strata run` purges twice as many at "
             "once when every shard is archived, on the sessions archiving used: the source never "
             "has more than 2 x parallel of its sessions at work.")
        .range(1, 64);
    return s;
  }();
  return *spec;
}

const SectionSpec<BatchConfig>& batch_spec() {
  static const auto* spec = [] {
    auto* s = new SectionSpec<BatchConfig>("batch", "How rows are read from the source.");
    s->field("rows", &BatchConfig::rows,
             "Rows per read batch; memory is bounded by rows x parallel.")
        .range(1, 1'000'000);
    return s;
  }();
  return *spec;
}

const SectionSpec<TargetConfig>& target_spec() {
  static const auto* spec = [] {
    auto* s = new SectionSpec<TargetConfig>("target", "Where archived rows are written.");
    s->field("uri", &TargetConfig::uri,
             "Target address, e.g. `file://archive` (relative to the policy file) or "
             "`s3://bucket/prefix`.")
        .required()
        .sensitive()
        .uri();
    s->field("format", &TargetConfig::format, "File format of the archive.")
        .allowed({"ndjson", "csv", "parquet"});
    s->field("compression", &TargetConfig::compression,
             "Compression codec; which codecs a format supports is checked by the format.")
        .allowed({"none", "zstd", "snappy", "gzip"});
    s->field("level", &TargetConfig::level, "Compression level (codec-specific upper bound).")
        .range(1, 22);
    s->field("row_group_mb", &TargetConfig::row_group_mb,
             "Parquet row group size in MiB (bytes before compression); memory per open file "
             "is bounded by it.")
        .range(1, 4096);
    s->field("layout", &TargetConfig::layout,
             "Partition folders, e.g. `dt={ts:%Y-%m-%d}`: `{column}` or "
             "`{column:strftime-format}` placeholders; empty = none.")
        .check(check_layout);
    s->field("expire_after", &TargetConfig::expire_after,
             "Retention in the cold tier, e.g. `365d`: after each run, archived files whose "
             "newest row is older than this are deleted (through the catalog; `strata run "
             "--dry-run` lists them first). Unset: kept forever.");
    s->field("dataset", &TargetConfig::dataset, "Folder under the target uri.")
        .default_text("the source table name (after the last '.')")
        .check(check_dataset);
    return s;
  }();
  return *spec;
}

const SectionSpec<ThrottleConfig>& throttle_spec() {
  static const auto* spec = [] {
    auto* s = new SectionSpec<ThrottleConfig>("throttle", "How hard the source is read.");
    s->field("rows_per_second", &ThrottleConfig::rows_per_second,
             "Read rate limit over all shards; 0 = unlimited.")
        .min(0);
    s->field("sleep_coef", &ThrottleConfig::sleep_coef,
             "After each batch (read, encoded and written) and each DELETE transaction, pause "
             "this multiple of the time it took (pt-archiver's --sleep-coef), so a source slowed "
             "by its production load is archived more slowly too (one step far longer than the "
             "ones before it counts as 4 times their median: a stalled process does not pause "
             "for minutes). The default 1 leaves the "
             "source at least half of the time; 0 = full speed. Planning's statements (the "
             "selection's first and last keys, probed in slices of the key range; the sample) "
             "are paced by it too.")
        .range(0, 100);
    s->field("busy_sleep_coef", &ThrottleConfig::busy_sleep_coef,
             "Added to `sleep_coef`, times the source's load: how many other sessions are busy "
             "on it on average (counted up to 8). A source where one session is always busy "
             "gets pauses 12 times as long as each step took, a saturated one (4 busy sessions) "
             "49 times, an idle one none: Strata yields to production in proportion to it. "
             "PostgreSQL counts sessions of other applications running a statement or inside a "
             "transaction (pg_stat_activity; other roles' sessions only with pg_read_all_stats); "
             "MySQL/MariaDB, other connections running a statement (PROCESSLIST; other users' "
             "only with the PROCESS privilege). The steps shrink with the load as well: read "
             "batches to `batch.rows` / (1 + load), at least 1,000 rows, and DELETE transactions "
             "to `purge.batch_rows` / (1 + load), at least 50, so the source's work for each "
             "comes in shorter bursts that production's statements wait behind. 0 = off.")
        .range(0, 1000);
    s->field("nice", &ThrottleConfig::nice,
             "Once the source shows production load (`busy_sleep_coef`'s count, one busy "
             "session or more on average), `strata run` lowers its CPU priority to this nice "
             "value for the rest of the run, so that a database on the same host gets the CPU "
             "before Strata's decoding, compression and verification. Throttled runs only (not "
             "at full speed: `sleep_coef` and `busy_sleep_coef` 0); `strata worker` and "
             "`strata serve` keep the priority they are started with. 0 = kept.")
        .range(0, 19);
    s->field("max_replication_lag", &ThrottleConfig::max_replication_lag,
             "Pause reads and deletes while any replica of the source lags more than this (e.g. "
             "`5s`); checked about once a second. PostgreSQL: replay lag in "
             "pg_stat_replication; MySQL/MariaDB: Seconds_Behind_Master of the replicas (a "
             "stopped replica counts as lagging). Unset: not checked.");
    return s;
  }();
  return *spec;
}

const SectionSpec<PurgeConfig>& purge_spec() {
  static const auto* spec = [] {
    auto* s = new SectionSpec<PurgeConfig>(
        "purge", "How archived rows are deleted from the source (mode: move).");
    s->field("batch_rows", &PurgeConfig::batch_rows, "Rows per DELETE transaction.")
        .range(1, 10'000);
    s->field("sleep", &PurgeConfig::sleep, "Pause between DELETE transactions.");
    return s;
  }();
  return *spec;
}

const SectionSpec<Policy>& policy_spec() {
  static const auto* spec = [] {
    auto* s = new SectionSpec<Policy>("policy", "A policy file is a YAML mapping with these keys.");
    s->field("name", &Policy::name, "Policy name, used for tasks and state.")
        .default_text("the file name without extension")
        .check(check_not_empty);
    s->section("source", &Policy::source, source_spec(), "Where rows come from.").required();
    s->section("selection", &Policy::selection, selection_spec(), "Which rows are archived.")
        .required();
    s->section("split", &Policy::split, split_spec(), "Shard size and parallelism.");
    s->section("batch", &Policy::batch, batch_spec(), "Read batch size.");
    s->list("targets", &Policy::targets, target_spec(), "Where rows go; one or more.")
        .required()
        .alias("target");
    s->choice("mode", &Policy::mode, {{"copy", Mode::kCopy}, {"move", Mode::kMove}},
              "`copy` keeps source rows; `move` deletes them once archived and verified.");
    s->field("verify", &Policy::verify,
             "Re-read and check every committed file; required by `mode: move`.");
    s->section("throttle", &Policy::throttle, throttle_spec(), "Read rate limit.");
    s->section("purge", &Policy::purge, purge_spec(), "Delete pacing for `mode: move`.");
    s->field("schedule", &Policy::schedule,
             "When `strata serve` runs the policy by itself: a cron expression in UTC (`0 3 * * "
             "*`: minute hour day-of-month month day-of-week, with `*`, lists, ranges and "
             "`*/N` steps), `@hourly`, `@daily`, `@weekly`, `@monthly`, or `@every 10m`. "
             "Unset: only when asked.")
        .check(check_schedule);
    return s;
  }();
  return *spec;
}

// The checks across fields, in the order they run; also listed in the reference.
constexpr const char* kCrossChecks[] = {
    "`selection` has exactly one of `older_than`, `before`, `key_below`.",
    "`selection.older_than` and `selection.before` need `source.time`.",
    "There is at least one target.",
    "No two targets have the same `uri` and `dataset`.",
    "`mode: move` needs `verify: true`.",
};

std::string last_component(const std::string& table) {
  size_t dot = table.rfind('.');
  return dot == std::string::npos ? table : table.substr(dot + 1);
}

// Checks across fields and fills defaults that depend on other fields (name, dataset).
Status check_policy(Policy& p, const ParseContext& ctx) {
  const SelectionConfig& sel = p.selection;
  std::vector<std::string> rules;
  if (sel.older_than) rules.push_back("older_than");
  if (sel.before) rules.push_back("before");
  if (sel.key_below) rules.push_back("key_below");
  if (rules.empty()) {
    return ctx.error(ctx.position("selection"),
                     "selection needs one of older_than, before or key_below "
                     "(e.g. older_than: 30d)");
  }
  if (rules.size() > 1) {
    return ctx.error(
        ctx.position("selection." + rules[1]),
        "selection has both " + rules[0] + " and " + rules[1] + "; keep exactly one rule");
  }
  if ((sel.older_than || sel.before) && p.source.time.empty()) {
    return ctx.error(ctx.position("selection." + rules[0]),
                     "selection." + rules[0] +
                         " compares the time column, but source.time is not set; add "
                         "'time: <column>' to source, or select with key_below");
  }
  if (p.targets.empty()) {
    return ctx.error(ctx.position("targets"),
                     "targets is empty; add at least one target (e.g. '- uri: file://archive')");
  }
  for (TargetConfig& t : p.targets) {
    if (t.dataset.empty()) t.dataset = last_component(p.source.table);
  }
  for (size_t j = 1; j < p.targets.size(); ++j) {
    for (size_t i = 0; i < j; ++i) {
      const TargetConfig& a = p.targets[i];
      const TargetConfig& b = p.targets[j];
      if (a.uri == b.uri && a.dataset == b.dataset) {
        return ctx.error(ctx.position("targets[" + std::to_string(j) + "]"),
                         "targets[" + std::to_string(j) + "] writes to the same place as targets[" +
                             std::to_string(i) + "] (uri " + b.uri + ", dataset " + b.dataset +
                             "); give one of them another uri or dataset");
      }
    }
  }
  if (p.mode == Mode::kMove && !p.verify) {
    return ctx.error(ctx.position("verify"),
                     "mode: move requires verify: true (source rows are deleted only after "
                     "their archive files are verified); set verify: true or use mode: copy");
  }
  if (p.name.empty()) {
    p.name = p.file.empty() ? last_component(p.source.table)
                            : std::filesystem::path(p.file).stem().string();
  }
  return Status::ok();
}

std::string example_policy() {
  return R"(name: telemetry
source:
  uri: sqlite://telemetry.db
  table: telemetry
  key: id
  time: ts
  where: "status <> 'pinned'"
selection:
  older_than: 30d
split: {shard_rows: 100000, parallel: 2}
batch: {rows: 10000}
targets:
  - uri: file://archive
    format: ndjson
    compression: zstd
    level: 3
    layout: "dt={ts:%Y-%m-%d}"
mode: move
verify: true
throttle: {rows_per_second: 0}
purge: {batch_rows: 1000, sleep: 0s}
)";
}

}  // namespace

const char* mode_name(Mode mode) {
  switch (mode) {
    case Mode::kCopy:
      return "copy";
    case Mode::kMove:
      return "move";
  }
  return "unknown";
}

nlohmann::json Policy::to_json() const {
  nlohmann::json j = policy_spec().to_json(*this);
  j["file"] = file;
  j["base_dir"] = base_dir;
  return j;
}

Result<Policy> Policy::from_json(const nlohmann::json& j) {
  ParseContext ctx("policy JSON");
  ctx.set_check_env(false);
  if (!j.is_object()) return ctx.error({}, "expected an object, got " + std::string(j.type_name()));
  Policy p;
  nlohmann::json body = j;
  using Member = std::string Policy::*;
  for (auto [key, member] : {std::pair<const char*, Member>{"file", &Policy::file},
                             std::pair<const char*, Member>{"base_dir", &Policy::base_dir}}) {
    if (!body.contains(key)) continue;
    if (!body[key].is_string()) return ctx.error({}, std::string(key) + " must be a string");
    p.*member = body[key].get<std::string>();
    body.erase(key);
  }
  try {
    STRATA_TRY(policy_spec().parse_json(body, ctx, p));
  } catch (const std::exception& e) {
    return ctx.error({}, std::string("cannot read the policy: ") + e.what());
  }
  STRATA_TRY(check_policy(p, ctx));
  return p;
}

Result<Policy> parse_policy(std::string_view yaml_text, const std::string& file_name,
                            const std::string& base_dir) {
  ParseContext ctx(file_name);
  Policy p;
  p.file = file_name;
  p.base_dir = base_dir;
  try {
    std::vector<YAML::Node> docs = YAML::LoadAll(std::string(yaml_text));
    if (docs.size() > 1) {
      return ctx.error(config::Position::of(docs[1].Mark()),
                       "a policy file holds one YAML document, found " +
                           std::to_string(docs.size()) + " (remove the extra '---')");
    }
    if (docs.empty() || docs[0].IsNull()) {
      return ctx.error({},
                       "the policy is empty (expected a mapping with source, selection and "
                       "targets; see docs/policy.md)");
    }
    STRATA_TRY(policy_spec().parse(docs[0], ctx, p));
  } catch (const YAML::Exception& e) {
    return ctx.error(config::Position::of(e.mark), "invalid YAML: " + e.msg);
  } catch (const std::exception& e) {
    return ctx.error({}, std::string("cannot read the policy: ") + e.what());
  }
  STRATA_TRY(check_policy(p, ctx));
  return p;
}

Result<Policy> load_policy(const std::string& path) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(st)) {
    return Status::permanent("policy file '" + path + "' does not exist (check the path)");
  }
  if (std::filesystem::is_directory(st)) {
    return Status::permanent("'" + path + "' is a directory, not a policy file");
  }
  STRATA_ASSIGN_OR_RETURN(std::string text, read_file(path));
  std::filesystem::path dir = std::filesystem::absolute(path, ec).parent_path();
  if (ec) dir = std::filesystem::path(path).parent_path();
  return parse_policy(text, path, dir.lexically_normal().string());
}

std::string policy_reference_markdown() {
  std::string out =
      "# Policy reference\n\n"
      "<!-- Generated from the config specs in src/policy/policy.cc by "
      "policy_reference_markdown(); do not edit. Regenerate with "
      "`policy_docgen > docs/policy.md`. -->\n\n"
      "A policy says what to archive (a source table and a selection rule), where to (one or "
      "more targets), and how fast. Unknown keys, wrong types, missing keys and out-of-range "
      "values are rejected with the file, line and column. Secrets are never written in a "
      "policy: write `${NAME}` and export the variable; it must be set when the policy is "
      "loaded and is expanded only when connecting.\n\n"
      "```yaml\n" +
      example_policy() +
      "```\n\n"
      "Durations are written `30d`, `12h`, `90m`, `45s`, `500ms` or combined (`1h30m`).\n\n";
  out += config::reference_markdown(policy_spec(), 2);
  out += "## Checks across keys\n\n";
  for (const char* check : kCrossChecks) out += std::string("- ") + check + "\n";
  return out;
}

}  // namespace strata
