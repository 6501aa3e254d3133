#include "functions/task.h"

#include <algorithm>
#include <cctype>
#include <random>

#include "functions/manifest.h"
#include "functions/partition_layout.h"
#include "functions/throttle.h"

namespace strata {

using nlohmann::json;

SourceSpec source_spec_of(const Policy& policy) {
  SourceSpec s;
  s.uri = policy.source.uri;
  s.table = policy.source.table;
  s.key_columns = policy.source.key_columns();
  s.exclude_columns = split_names(policy.source.exclude);
  s.time_column = policy.source.time;
  // The policy's `where` travels in the task's Predicate (resolve_predicate), not here.
  s.base_dir = policy.base_dir;
  return s;
}

std::string dataset_of(const Policy& policy, const TargetConfig& target) {
  if (!target.dataset.empty()) return target.dataset;
  const std::string& t = policy.source.table;
  size_t dot = t.rfind('.');
  return dot == std::string::npos ? t : t.substr(dot + 1);
}

Result<FormatSpec> format_of(const TargetConfig& target) {
  if (default_registry().is_table_target(target.uri)) {
    // A database table stores rows; its parts are checked as uncompressed NDJSON renderings.
    if (!target.layout.empty()) {
      return Status::permanent("target " + target.uri.substr(0, target.uri.find("://")) +
                               "://...: a database table target takes no layout (remove "
                               "'layout', or archive to files)");
    }
    return make_format_spec("ndjson", "none", 0);
  }
  auto spec = make_format_spec(target.format, target.compression, target.level);
  if (!spec.is_ok()) return spec.status().with_context("target " + target.uri);
  spec->row_group_bytes = static_cast<uint64_t>(target.row_group_mb) << 20;
  return spec;
}

std::string new_task_id(const Clock& clock) {
  int64_t us = clock.now_micros();
  int64_t days = us >= 0 ? us / 86400000000LL : (us - 86399999999LL) / 86400000000LL;
  int64_t rem = (us - days * 86400000000LL) / 1000000;
  std::string date = format_date(days);
  char buf[64];
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::snprintf(buf, sizeof buf, "%.4s%.2s%.2sT%02d%02d%02d-%06x", date.c_str(), date.c_str() + 5,
                date.c_str() + 8, static_cast<int>(rem / 3600), static_cast<int>(rem / 60 % 60),
                static_cast<int>(rem % 60), static_cast<unsigned>(rng() & 0xffffff));
  return buf;
}

namespace {

Result<Value> typed_key(const Schema& schema, const std::string& key, const std::string& text) {
  int k = schema.index_of(key);
  if (k >= 0 && storage_of(schema[k].type) == Storage::kInt) {
    auto v = parse_int(text);
    if (!v.is_ok()) {
      return Status::permanent("selection.key_below '" + text +
                               "' is not an integer, but key column '" + key + "' is " +
                               type_name(schema[k].type));
    }
    return Value::of_int(*v);
  }
  return Value::of_text(text);
}

// "key column 'ID' does not exist (did you mean 'id'?)" or "... (columns: a, b, c)".
Status missing_column(const std::string& where, const char* role, const std::string& name,
                      const Schema& schema) {
  std::string hint, names;
  for (const Column& c : schema.columns()) {
    names += (names.empty() ? "" : ", ") + c.name;
    if (c.name.size() == name.size() &&
        std::equal(c.name.begin(), c.name.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      hint = "did you mean '" + c.name + "'? names are case-sensitive in a policy";
    }
  }
  return Status::permanent(where + ": " + role + " column '" + name + "' does not exist (" +
                           (hint.empty() ? "columns: " + names : hint) + ")");
}

}  // namespace

Result<Predicate> resolve_predicate(const Policy& policy, const Schema& schema, int64_t now_micros,
                                    const std::optional<TaskRecord>& previous) {
  Predicate p;
  p.where = policy.source.where;
  const SelectionConfig& sel = policy.selection;
  if (sel.older_than) {
    p.time_before = now_micros - sel.older_than->count();
  } else if (sel.before) {
    STRATA_ASSIGN_OR_RETURN(int64_t t, parse_timestamp(*sel.before));
    p.time_before = t;
  } else if (sel.key_below) {
    STRATA_ASSIGN_OR_RETURN(p.key_below,
                            typed_key(schema, policy.source.first_key(), *sel.key_below));
  }
  if (policy.mode == Mode::kCopy && previous) {
    // Continue where the last successful copy ended.
    auto prev = predicate_from_json(previous->predicate);
    if (prev.is_ok()) {
      // Equal or later bounds select nothing: everything below them was copied already.
      if (p.time_before && prev->time_before) p.time_from = prev->time_before;
      if (p.key_below && prev->key_below) p.key_from = prev->key_below;
    }
  }
  return p;
}

Result<TaskPlan> plan_task(const Policy& policy, Source& source, const Clock& clock,
                           const std::optional<TaskRecord>& previous,
                           const std::optional<Predicate>& fixed, bool pace) {
  TaskPlan plan;
  STRATA_ASSIGN_OR_RETURN(plan.schema, source.describe());
  const std::string where = "source " + policy.source.table;
  const std::vector<std::string> keys = policy.source.key_columns();
  for (size_t i = 0; i < keys.size(); ++i) {
    if (plan.schema.index_of(keys[i]) < 0)
      return missing_column(where, "key", keys[i], plan.schema);
    for (size_t j = 0; j < i; ++j) {
      if (keys[j] == keys[i]) {
        return Status::permanent(where + ": key column '" + keys[i] +
                                 "' is named twice in source.key");
      }
    }
  }
  for (const std::string& x : split_names(policy.source.exclude)) {
    if (std::find(keys.begin(), keys.end(), x) != keys.end() || x == policy.source.time) {
      return Status::permanent(where + ": column '" + x +
                               "' is excluded but it is a key or the time column, which every "
                               "archive needs; remove it from source.exclude");
    }
  }
  if (!policy.source.time.empty()) {
    int t = plan.schema.index_of(policy.source.time);
    if (t < 0) return missing_column(where, "time", policy.source.time, plan.schema);
    Type tt = plan.schema[t].type;
    if (tt != Type::kTimestamp && tt != Type::kDate) {
      return Status::permanent(where + ": time column '" + policy.source.time + "' is " +
                               type_name(tt) +
                               ", not a timestamp or date (declare it TIMESTAMP/DATETIME/DATE, or "
                               "select by key_below)");
    }
  }
  for (const TargetConfig& t : policy.targets) {
    STRATA_TRY(format_of(t).status());
    auto layout = PartitionLayout::parse(t.layout, plan.schema);
    if (!layout.is_ok()) return layout.status().with_context("target " + t.uri);
  }
  if (fixed) {
    plan.predicate = *fixed;
  } else {
    STRATA_ASSIGN_OR_RETURN(plan.predicate,
                            resolve_predicate(policy, plan.schema, clock.now_micros(), previous));
  }
  SplitOptions split;
  split.shard_rows = policy.split.shard_rows;
  split.parallel = policy.split.parallel;
  std::optional<Pacer> pacer;
  if (pace) {
    // sleep_coef alone: planning is a few short statements (the probes come in slices); what
    // matters beside production is that none runs long, and busy_sleep_coef's long pauses
    // would hold the whole task back on a busy source.
    pacer.emplace(policy.throttle.sleep_coef);
    split.pace = [&](std::chrono::steady_clock::duration took) { pacer->pause(took); };
  }
  STRATA_ASSIGN_OR_RETURN(plan.shards, source.plan(plan.predicate, split));
  return plan;
}

std::string describe_predicate(const Policy& policy, const Predicate& p) {
  std::string out;
  auto add = [&](const std::string& s) { out += (out.empty() ? "" : " AND ") + s; };
  if (p.time_from) add(policy.source.time + " >= '" + format_timestamp(*p.time_from) + "'");
  if (p.time_before) add(policy.source.time + " < '" + format_timestamp(*p.time_before) + "'");
  if (p.key_from) add(policy.source.first_key() + " >= " + p.key_from->to_string());
  if (p.key_below) add(policy.source.first_key() + " < " + p.key_below->to_string());
  if (!p.where.empty()) add("(" + p.where + ")");
  return out.empty() ? "all rows" : out;
}

}  // namespace strata
