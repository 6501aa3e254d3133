// strata: the command line. Each command is a thin layer over the functions and the runtime.
#include <malloc.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <thread>
#include <tuple>

#include "cli/api_client.h"
#include "cli/demo.h"
#include "cli/local_runner.h"
#include "cli/progress.h"
#include "cli/report.h"
#include "cli/serve_config.h"
#include "cli/server.h"
#include "cli/service.h"
#include "core/clock.h"
#include "core/fs.h"
#include "core/log.h"
#include "functions/catalog.h"
#include "functions/restore.h"
#include "functions/retention.h"
#include "functions/task.h"
#include "functions/verify.h"
#include "policy/policy.h"
#include "runtime/redis_bus.h"

namespace strata {
namespace {

constexpr const char* kVersion = "0.1.0";
constexpr int kExitFailed = 1;  // the task or the check failed
constexpr int kExitUsage = 2;   // bad input: policy, arguments, unreachable state

std::atomic<bool> g_interrupted{false};

void on_signal(int) { g_interrupted.store(true); }

int fail(const Status& s) {
  std::fprintf(stderr, "error: %s\n", s.message().c_str());
  return kExitUsage;
}

void print_json(const Json& j) { std::cout << j.dump(2) << std::endl; }

struct RunArgs {
  std::string policy_path;
  std::string state_path = ".strata/state.db";
  std::string resume;
  bool dry_run = false;
  bool json = false;
  bool new_task = false;
  bool all = false;
};

// `strata plan` and `strata run --dry-run`: the shards and statements, touching nothing.
int plan_command(const RunArgs& args) {
  auto policy = load_policy(args.policy_path);
  if (!policy.is_ok()) return fail(policy.status());
  auto source = default_registry().open_source(source_spec_of(*policy));
  if (!source.is_ok()) return fail(source.status());
  std::optional<TaskRecord> previous;
  if (path_exists(args.state_path)) {
    auto state = open_sqlite_state_store(args.state_path);
    if (state.is_ok()) {
      auto prev = (*state)->latest_succeeded(policy->name);
      if (prev.is_ok()) previous = *prev;
    }
  }
  auto plan = plan_task(*policy, **source, system_clock(), previous);
  if (!plan.is_ok()) return fail(plan.status());
  const size_t batch_rows = static_cast<size_t>(policy->batch.rows);
  if (args.json) {
    Json shards = Json::array();
    for (const Shard& s : plan->shards) {
      ShardStatements st = (*source)->statements(plan->predicate, s, batch_rows);
      Json sj = shard_to_json(s);
      sj["read"] = st.read;
      if (policy->mode == Mode::kMove) sj["purge"] = st.purge;
      shards.push_back(sj);
    }
    Json targets = Json::array();
    for (const TargetConfig& t : policy->targets) {
      targets.push_back({{"uri", t.uri},
                         {"dataset", dataset_of(*policy, t)},
                         {"format", t.format},
                         {"compression", t.compression},
                         {"layout", t.layout}});
    }
    print_json({{"policy", policy->name},
                {"mode", mode_name(policy->mode)},
                {"selection", describe_predicate(*policy, plan->predicate)},
                {"predicate", predicate_to_json(plan->predicate)},
                {"shards", shards},
                {"targets", targets}});
    return 0;
  }
  int64_t est = 0;
  for (const Shard& s : plan->shards) est += s.estimated_rows;
  std::printf("policy %s (%s): %s from %s\n", policy->name.c_str(), mode_name(policy->mode),
              policy->source.table.c_str(), parse_uri(policy->source.uri)->redacted().c_str());
  std::printf("selection: %s\n", describe_predicate(*policy, plan->predicate).c_str());
  std::printf("%zu shards, about %s rows\n\n", plan->shards.size(), human_count(est).c_str());
  std::vector<std::vector<std::string>> rows = {{"SHARD", "KEY FROM", "KEY TO", "EST ROWS"}};
  for (const Shard& s : plan->shards) {
    rows.push_back({std::to_string(s.index), s.range.lo.to_string(), s.range.hi.to_string(),
                    human_count(s.estimated_rows)});
  }
  std::fputs(render_table(rows).c_str(), stdout);
  for (const TargetConfig& t : policy->targets) {
    auto spec = format_of(t);
    std::printf("\ntarget %s: %s/%s%spart-<task>-<shard>-<attempt>-<n>%s\n", t.uri.c_str(),
                t.uri.c_str(), dataset_of(*policy, t).c_str(),
                t.layout.empty() ? "/" : ("/" + t.layout + "/").c_str(),
                spec.is_ok() ? file_extension(*spec).c_str() : "");
  }
  size_t shown = 0;
  for (const Shard& s : plan->shards) {
    if (!args.all && shown == 1 && plan->shards.size() > 2) {
      std::printf(
          "\n... %zu more shards: the same statements with their own key bounds "
          "(--all shows every one)\n",
          plan->shards.size() - 2);
      break;
    }
    ShardStatements st = (*source)->statements(plan->predicate, s, batch_rows);
    std::printf("\nshard %d reads, %zu rows per statement, after the last key read:\n  %s\n",
                s.index, batch_rows, st.read.c_str());
    if (policy->mode == Mode::kMove) {
      std::printf("then deletes the archived keys, %lld per transaction:\n  %s\n",
                  static_cast<long long>(policy->purge.batch_rows), st.purge.c_str());
    }
    ++shown;
  }
  if (!args.all && plan->shards.size() > 2) {
    const Shard& s = plan->shards.back();
    ShardStatements st = (*source)->statements(plan->predicate, s, batch_rows);
    std::printf("\nshard %d reads:\n  %s\n", s.index, st.read.c_str());
  }
  return 0;
}

int print_run(const LocalRunResult& run, bool json) {
  if (json) {
    print_json(run_report_json(run));
  } else {
    std::fputs(run_report_table(run).c_str(), stdout);
  }
  if (run.interrupted) return 130;
  return run.task.state == "succeeded" ? 0 : kExitFailed;
}

Result<LocalRunResult> run_policy(const Policy& policy, const RunArgs& args) {
  LocalRunOptions opt;
  opt.state_path = args.state_path;
  opt.resume_task = args.resume;
  opt.no_resume = args.new_task;
  opt.interrupted = &g_interrupted;
  Progress progress(isatty(STDERR_FILENO) != 0);
  opt.on_status = progress.handler();
  progress.start();
  auto result = run_locally(policy, opt);
  progress.stop();
  return result;
}

// Retention: every target with `expire_after` drops (or, on a dry run, lists) archived files
// whose newest row is older than the cutoff. Messages go to stderr.
Status apply_retention(const Policy& policy, bool dry_run) {
  for (const TargetConfig& tc : policy.targets) {
    if (!tc.expire_after) continue;
    STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Target> target,
                            default_registry().open_target(tc.uri, policy.base_dir));
    if (!target->keeps_catalog()) continue;
    const int64_t now = system_clock().now_micros();
    const int64_t cutoff = now - tc.expire_after->count();
    STRATA_ASSIGN_OR_RETURN(ExpireReport r,
                            expire_files(*target, dataset_of(policy, tc), cutoff, dry_run, now));
    std::set<std::string> partitions;
    for (const ExpiredFile& f : r.files) {
      partitions.insert(f.partition);
      if (dry_run) {
        std::fprintf(stderr, "would expire %s/%s (%s rows, newest %s)\n",
                     target->describe().c_str(), f.path.c_str(),
                     human_count(static_cast<int64_t>(f.rows)).c_str(),
                     format_timestamp(f.time_max).c_str());
      }
    }
    std::fprintf(stderr, "%s %s: %zu files in %zu partitions, %s rows, %s older than %s (%s)\n",
                 dry_run ? "retention would expire from" : "retention expired from",
                 target->describe().c_str(), r.files.size(), partitions.size(),
                 human_count(static_cast<int64_t>(r.rows)).c_str(),
                 human_bytes(static_cast<int64_t>(r.bytes)).c_str(),
                 format_duration(*tc.expire_after).c_str(), format_timestamp(cutoff).c_str());
  }
  return Status::ok();
}

int run_command(const RunArgs& args) {
  if (args.dry_run) {
    int rc = plan_command(args);
    if (rc != 0) return rc;
    auto policy = load_policy(args.policy_path);
    if (!policy.is_ok()) return fail(policy.status());
    Status s = apply_retention(*policy, true);
    return s.is_ok() ? 0 : fail(s);
  }
  auto policy = load_policy(args.policy_path);
  if (!policy.is_ok()) return fail(policy.status());
  auto result = run_policy(*policy, args);
  if (!result.is_ok()) return fail(result.status());
  int rc = print_run(*result, args.json);
  if (rc == 0) {
    Status s = apply_retention(*policy, false);
    if (!s.is_ok()) return fail(s.with_context("retention"));
  }
  return rc;
}

// A state store by path (SQLite) or URI (sqlite://, postgres://).
Result<std::unique_ptr<StateStore>> open_state(const std::string& state) {
  if (state.find("://") != std::string::npos) return open_state_store(state);
  return open_sqlite_state_store(state);
}

int status_command(const std::string& state_path, const std::string& task_id, bool json) {
  if (state_path.find("://") == std::string::npos && !path_exists(state_path)) {
    return fail(Status::permanent("no state store at " + state_path +
                                  " (run a policy first, or pass --state PATH)"));
  }
  auto state = open_state(state_path);
  if (!state.is_ok()) return fail(state.status());
  if (task_id.empty()) {
    auto tasks = (*state)->list_tasks(100);
    if (!tasks.is_ok()) return fail(tasks.status());
    auto pools = (*state)->list_pools();
    if (!pools.is_ok()) return fail(pools.status());
    const int64_t now = system_clock().now_micros();
    if (json) {
      Json arr = Json::array();
      for (const TaskRecord& t : *tasks) arr.push_back(task_json(t));
      print_json(arr);
    } else {
      std::fputs(tasks_table(*tasks).c_str(), stdout);
      const std::string table = pools_table(*pools, now);
      if (!table.empty()) std::printf("\nworker pools\n%s", table.c_str());
    }
    return 0;
  }
  auto task = (*state)->get_task(task_id);
  if (!task.is_ok()) return fail(task.status());
  if (!*task) return fail(Status::permanent("no task " + task_id + " in " + state_path));
  auto shards = (*state)->list_shards(task_id);
  if (!shards.is_ok()) return fail(shards.status());
  std::vector<std::vector<BatchRecord>> batches;
  for (const ShardRecord& s : *shards) {
    auto b = (*state)->list_batches(task_id, s.index);
    if (!b.is_ok()) return fail(b.status());
    batches.push_back(std::move(*b));
  }
  if (json) {
    print_json(task_detail_json(**task, *shards, batches));
  } else {
    std::fputs(task_detail(**task, *shards, batches).c_str(), stdout);
  }
  return 0;
}

int verify_command(const std::string& uri, bool deep, bool json) {
  auto target = default_registry().open_target(uri, "");
  if (!target.is_ok()) return fail(target.status());
  auto report = verify_target(**target, deep);
  if (!report.is_ok()) return fail(report.status());
  if (json) {
    print_json({{"target", (*target)->describe()},
                {"deep", deep},
                {"manifests", report->manifests},
                {"files", report->files},
                {"rows", report->rows},
                {"bytes", report->bytes},
                {"ok", report->problems.empty()},
                {"problems", report->problems},
                {"unfinished", report->unfinished}});
  } else {
    for (const std::string& p : report->problems) std::printf("BAD  %s\n", p.c_str());
    for (const std::string& p : report->unfinished) {
      std::printf(
          "WAIT %s: part of a shard not committed yet (running, or interrupted: run the "
          "task again to finish it)\n",
          p.c_str());
    }
    std::printf("%s: %d manifests, %d files, %s rows, %s %s%s\n", (*target)->describe().c_str(),
                report->manifests, report->files,
                human_count(static_cast<int64_t>(report->rows)).c_str(),
                human_bytes(static_cast<int64_t>(report->bytes)).c_str(),
                deep ? "re-read and verified" : "checked (sizes; --deep re-reads every row)",
                report->problems.empty()
                    ? "; all good"
                    : ("; " + std::to_string(report->problems.size()) + " problem(s)").c_str());
  }
  if (report->manifests == 0) {
    std::fprintf(stderr, "warning: %s holds no manifests (nothing archived there yet?)\n",
                 uri.c_str());
  }
  return report->problems.empty() ? 0 : kExitFailed;
}

// Totals of a group of catalog files.
struct LsGroup {
  int files = 0;
  uint64_t rows = 0, bytes = 0;
  std::optional<int64_t> time_min, time_max;
  std::set<std::string> partitions;
  void add(const CatalogFile& f) {
    ++files;
    rows += f.rows;
    bytes += f.bytes;
    if (f.time_min && (!time_min || *f.time_min < *time_min)) time_min = f.time_min;
    if (f.time_max && (!time_max || *f.time_max > *time_max)) time_max = f.time_max;
    partitions.insert(f.partition);
  }
  Json to_json() const {
    return Json{{"files", files},
                {"rows", rows},
                {"bytes", bytes},
                {"partitions", partitions.size()},
                {"time_min", time_min ? Json(format_timestamp(*time_min)) : Json(nullptr)},
                {"time_max", time_max ? Json(format_timestamp(*time_max)) : Json(nullptr)}};
  }
  std::string span() const {
    if (!time_min || !time_max) return "-";
    return format_timestamp(*time_min).substr(0, 19) + " .. " +
           format_timestamp(*time_max).substr(0, 19);
  }
};

std::string format_table(std::vector<std::string> header,
                         std::vector<std::vector<std::string>> rows) {
  rows.insert(rows.begin(), std::move(header));
  return render_table(rows);
}

// `strata ls TARGET [DATASET]`: datasets, or one dataset's partitions (--files: its files), from
// the catalog alone.
int ls_command(const std::string& uri, const std::string& dataset, bool files, bool json) {
  auto target = default_registry().open_target(uri, "");
  if (!target.is_ok()) return fail(target.status());
  if (!(*target)->keeps_catalog()) {
    return fail(Status::permanent((*target)->describe() +
                                  " is a database table: it keeps no catalog (query the table, or "
                                  "`strata verify` it)"));
  }
  auto catalog = load_catalog(**target);
  if (!catalog.is_ok()) return fail(catalog.status());
  const Catalog& c = *catalog;
  if (dataset.empty()) {
    Json out = Json::array();
    std::vector<std::vector<std::string>> rows;
    for (const auto& [name, fs] : c.datasets) {
      LsGroup g;
      for (const CatalogFile& f : fs) g.add(f);
      Json j = g.to_json();
      j["dataset"] = name;
      out.push_back(std::move(j));
      rows.push_back({name, std::to_string(g.partitions.size()), std::to_string(g.files),
                      human_count(static_cast<int64_t>(g.rows)),
                      human_bytes(static_cast<int64_t>(g.bytes)), g.span()});
    }
    if (json) {
      print_json({{"target", (*target)->describe()}, {"version", c.version}, {"datasets", out}});
    } else {
      std::fputs(
          format_table({"DATASET", "PARTITIONS", "FILES", "ROWS", "BYTES", "TIME SPAN"}, rows)
              .c_str(),
          stdout);
      if (c.datasets.empty()) std::printf("(%s holds no archived data)\n", uri.c_str());
    }
    return 0;
  }
  auto it = c.datasets.find(dataset);
  if (it == c.datasets.end()) {
    std::string names;
    for (const auto& [name, fs] : c.datasets) names += (names.empty() ? "" : ", ") + name;
    return fail(Status::permanent("no dataset '" + dataset + "' in " + (*target)->describe() +
                                  " (datasets: " + (names.empty() ? "none" : names) + ")"));
  }
  std::vector<std::vector<std::string>> rows;
  Json out = Json::array();
  if (files) {
    for (const CatalogFile& f : it->second) {
      LsGroup g;
      g.add(f);
      Json j = g.to_json();
      j.erase("partitions");
      j["path"] = f.path;
      j["task_id"] = f.task_id;
      j["shard"] = f.shard;
      out.push_back(std::move(j));
      rows.push_back({f.path, human_count(static_cast<int64_t>(f.rows)),
                      human_bytes(static_cast<int64_t>(f.bytes)), g.span()});
    }
  } else {
    std::map<std::string, LsGroup> parts;
    for (const CatalogFile& f : it->second) parts[f.partition].add(f);
    for (const auto& [name, g] : parts) {
      Json j = g.to_json();
      j.erase("partitions");
      j["partition"] = name;
      out.push_back(std::move(j));
      rows.push_back({name.empty() ? "(none)" : name, std::to_string(g.files),
                      human_count(static_cast<int64_t>(g.rows)),
                      human_bytes(static_cast<int64_t>(g.bytes)), g.span()});
    }
  }
  if (json) {
    print_json({{"target", (*target)->describe()},
                {"dataset", dataset},
                {files ? "files" : "partitions", out}});
  } else if (files) {
    std::fputs(format_table({"FILE", "ROWS", "BYTES", "TIME SPAN"}, rows).c_str(), stdout);
  } else {
    std::fputs(format_table({"PARTITION", "FILES", "ROWS", "BYTES", "TIME SPAN"}, rows).c_str(),
               stdout);
  }
  return 0;
}

struct RestoreArgs {
  std::string target, dataset, where, from, to, into;
  bool json = false;
};

int restore_command(const RestoreArgs& a) {
  RestoreOptions opt;
  opt.dataset = a.dataset;
  if (!a.where.empty()) {
    auto where = parse_row_filter(a.where);
    if (!where.is_ok()) return fail(where.status());
    opt.where = std::move(where).value();
  }
  auto instant = [](const std::string& text, const char* flag) -> Result<int64_t> {
    auto t = parse_timestamp(text);
    if (t.is_ok()) return *t;
    auto d = parse_date(text);
    if (d.is_ok()) return *d * 86400LL * 1000000LL;
    return Status::permanent(std::string(flag) + " '" + text +
                             "' is not a date or timestamp (e.g. 2026-01-01 or "
                             "2026-01-01T00:00:00Z)");
  };
  if (!a.from.empty()) {
    auto t = instant(a.from, "--from");
    if (!t.is_ok()) return fail(t.status());
    opt.from = *t;
  }
  if (!a.to.empty()) {
    auto t = instant(a.to, "--to");
    if (!t.is_ok()) return fail(t.status());
    opt.to = *t;
  }
  auto archive = default_registry().open_target(a.target, "");
  if (!archive.is_ok()) return fail(archive.status());
  auto into = default_registry().open_table_target(a.into);
  if (!into.is_ok()) return fail(into.status());
  const double t0 = monotonic_seconds();
  double last = t0;
  auto report = restore_dataset(**archive, **into, opt, [&](const RestoreReport& r) {
    if (a.json || monotonic_seconds() - last < 0.5) return;
    last = monotonic_seconds();
    std::fprintf(stderr, "restore: %d of %d files, %s rows read, %s inserted\n", r.files_read,
                 r.files_total - r.files_skipped,
                 human_count(static_cast<int64_t>(r.rows_read)).c_str(),
                 human_count(static_cast<int64_t>(r.rows_inserted)).c_str());
  });
  if (!report.is_ok()) return fail(report.status());
  const double secs = std::max(monotonic_seconds() - t0, 1e-6);
  const RestoreReport& r = *report;
  if (a.json) {
    print_json({{"archive", (*archive)->describe()},
                {"into", (*into)->describe()},
                {"dataset", a.dataset},
                {"files", r.files_total},
                {"files_read", r.files_read},
                {"files_skipped", r.files_skipped},
                {"row_groups_skipped", r.groups_skipped},
                {"rows_read", r.rows_read},
                {"rows_matched", r.rows_matched},
                {"rows_inserted", r.rows_inserted},
                {"rows_already_there", r.rows_matched - r.rows_inserted},
                {"seconds", secs}});
  } else {
    std::printf(
        "restored %s of %s into %s\n  files          %d read, %d skipped by time span, %llu row "
        "groups skipped by statistics\n  rows   "
        "        %s read, %s matched, %s inserted, %s already there\n  throughput     %s "
        "rows/s\n  duration       %s\n",
        a.dataset.c_str(), (*archive)->describe().c_str(), (*into)->describe().c_str(),
        r.files_read, r.files_skipped, static_cast<unsigned long long>(r.groups_skipped),
        human_count(static_cast<int64_t>(r.rows_read)).c_str(),
        human_count(static_cast<int64_t>(r.rows_matched)).c_str(),
        human_count(static_cast<int64_t>(r.rows_inserted)).c_str(),
        human_count(static_cast<int64_t>(r.rows_matched - r.rows_inserted)).c_str(),
        human_count(static_cast<int64_t>(static_cast<double>(r.rows_matched) / secs)).c_str(),
        format_elapsed(secs).c_str());
  }
  return 0;
}

int demo_command(int64_t rows, const std::string& dir, bool json, bool no_run) {
  const std::string db = join_path(dir, "telemetry.db");
  const std::string policy_path = join_path(dir, "telemetry.yaml");
  std::fprintf(stderr, "generating %s rows of vehicle telemetry in %s ...\n",
               human_count(rows).c_str(), db.c_str());
  const double t0 = monotonic_seconds();
  Status s = generate_telemetry_db(db, rows, system_clock().now_micros());
  if (!s.is_ok()) return fail(s);
  // A fresh database gets a fresh archive and state: no task of an earlier demo applies.
  std::error_code ec;
  std::filesystem::remove_all(join_path(dir, "archive"), ec);
  std::filesystem::remove_all(join_path(dir, ".strata"), ec);
  s = write_file_atomic(policy_path, demo_policy_yaml("telemetry.db", "archive"));
  if (!s.is_ok()) return fail(s);
  std::fprintf(stderr, "generated in %s; wrote the policy %s\n",
               format_elapsed(monotonic_seconds() - t0).c_str(), policy_path.c_str());
  if (no_run) return 0;
  auto policy = load_policy(policy_path);
  if (!policy.is_ok()) return fail(policy.status());
  std::fprintf(stderr, "archiving rows older than 30 days into %s/archive (move mode) ...\n",
               dir.c_str());
  RunArgs args;
  args.state_path = join_path(dir, ".strata/state.db");
  args.new_task = true;
  auto result = run_policy(*policy, args);
  if (!result.is_ok()) return fail(result.status());
  int rc = print_run(*result, json);
  if (!json && rc == 0) {
    std::printf("\nNext: strata status --state %s %s\n      strata verify %s/archive\n",
                args.state_path.c_str(), result->task.id.c_str(), dir.c_str());
  }
  return rc;
}

int worker_command(const WorkerOptions& options) {
  Status s = run_worker(options);
  return s.is_ok() ? 0 : fail(s);
}

int submit_command(const std::string& policy_path, SubmitOptions options, bool json) {
  auto policy = load_policy(policy_path);
  if (!policy.is_ok()) return fail(policy.status());
  options.interrupted = &g_interrupted;
  auto result = submit_task(*policy, options);
  if (!result.is_ok()) return fail(result.status());
  if (!options.wait) {
    if (json) {
      print_json(Json{{"task_id", result->task.id}, {"state", "submitted"}});
    } else {
      std::printf("submitted task %s (strata status %s --state ...)\n", result->task.id.c_str(),
                  result->task.id.c_str());
    }
    return 0;
  }
  return print_run(*result, json);
}

// One line per task of a server's JSON task list, or one task's summary.
std::string remote_task_line(const Json& t) {
  const Json shards = t.value("shards", Json::object());
  return t.value("task_id", "") + "  " + t.value("policy", "") + "  " + t.value("state", "") +
         "  shards " + std::to_string(shards.value("done", 0)) + "/" +
         std::to_string(shards.value("total", 0)) + "  rows " +
         human_count(t.value("rows", int64_t{0})) + " archived, " +
         human_count(t.value("rows_purged", int64_t{0})) + " purged" +
         (t.value("error", "").empty() ? "" : "  error: " + t.value("error", ""));
}

int remote_error(const ApiReply& r) {
  return fail(Status::permanent("server answered " + std::to_string(r.status) + ": " +
                                r.body.value("error", r.body.dump())));
}

int submit_remote(const std::string& server, const std::string& token_file,
                  const std::string& policy, bool wait, bool json) {
  auto token = api_token(token_file);
  if (!token.is_ok()) return fail(token.status());
  Json body;
  if (path_exists(policy)) {
    auto text = read_file(policy);
    if (!text.is_ok()) return fail(text.status());
    body["inline"] = *text;  // relative paths in it resolve in the server's policy directory
  } else {
    body["policy"] = policy;
  }
  auto r =
      api_call(server, *token, "POST", wait ? "/v1/tasks?wait=1h" : "/v1/tasks", body.dump(), 3700);
  if (!r.is_ok()) return fail(r.status());
  if (r->status != 200 && r->status != 202) return remote_error(*r);
  Json task = r->body;
  // A task still running after the server's longest wait: keep asking.
  while (wait && r->status == 202 && !g_interrupted.load()) {
    r = api_call(server, *token, "GET", "/v1/tasks/" + task.value("task_id", ""));
    if (!r.is_ok()) return fail(r.status());
    if (r->status != 200) return remote_error(*r);
    task = r->body;
    const std::string st = task.value("state", "");
    if (task_finished(st)) break;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  if (json) {
    print_json(task);
  } else {
    std::printf("%s\n", remote_task_line(task).c_str());
  }
  if (!wait) return 0;
  return task.value("state", "") == "succeeded" ? 0 : kExitFailed;
}

int status_remote(const std::string& server, const std::string& token_file,
                  const std::string& task_id, bool json) {
  auto token = api_token(token_file);
  if (!token.is_ok()) return fail(token.status());
  auto r = api_call(server, *token, "GET", task_id.empty() ? "/v1/tasks" : "/v1/tasks/" + task_id);
  if (!r.is_ok()) return fail(r.status());
  if (r->status != 200) return remote_error(*r);
  if (json) {
    print_json(r->body);
  } else if (task_id.empty()) {
    for (const Json& t : r->body.value("tasks", Json::array())) {
      std::printf("%s\n", remote_task_line(t).c_str());
    }
    auto pools = api_call(server, *token, "GET", "/v1/pools");
    if (pools.is_ok() && pools->status == 200) {
      for (const Json& p : pools->body.value("pools", Json::array())) {
        std::printf("pool %s  %s  replicas %d (%d..%d)  backlog %lld\n",
                    p.value("function", "").c_str(), p.value("worker", "").c_str(),
                    p.value("replicas", 0), p.value("min", 0), p.value("max", 0),
                    static_cast<long long>(p.value("backlog", int64_t{0})));
      }
    }
  } else {
    std::printf("%s\n", remote_task_line(r->body).c_str());
    for (const Json& s : r->body.value("shard_list", Json::array())) {
      std::printf("  shard %d  %s  rows %s  purged %s%s\n", s.value("index", 0),
                  s.value("state", "").c_str(), human_count(s.value("rows", int64_t{0})).c_str(),
                  human_count(s.value("rows_purged", int64_t{0})).c_str(),
                  s.value("error", "").empty() ? "" : ("  " + s.value("error", "")).c_str());
    }
  }
  return 0;
}

// strata cancel / strata retry: through a server's API, or straight on the state store (and,
// for retry, the bus) of the workers.
struct TaskActionArgs {
  std::string task, server, token_file, state, bus;
  bool json = false;
};

int task_action_command(const std::string& action, const TaskActionArgs& a) {
  Json task;
  if (!a.server.empty()) {
    auto token = api_token(a.token_file);
    if (!token.is_ok()) return fail(token.status());
    auto r = api_call(a.server, *token, "POST", "/v1/tasks/" + a.task + "/" + action, "{}");
    if (!r.is_ok()) return fail(r.status());
    if (r->status != 202) return remote_error(*r);
    task = r->body;
  } else {
    if (a.state.empty() || (action == "retry" && a.bus.empty())) {
      return fail(Status::permanent("strata " + action + " needs --server URL, or --state" +
                                    (action == "retry" ? " and --bus" : "") + " of the workers"));
    }
    auto state = open_state(a.state);
    if (!state.is_ok()) return fail(state.status());
    TaskAction result;
    if (action == "cancel") {
      result = cancel_task(**state, a.task);
    } else {
      auto bus = open_bus(a.bus);
      if (!bus.is_ok()) return fail(bus.status());
      result = retry_task(**state, **bus, a.task);
      result.task.state = "retrying";
    }
    if (result.code != 202) return fail(Status::permanent(result.error));
    task = task_json(result.task);
  }
  if (a.json) {
    print_json(task);
  } else {
    std::printf("%s\n", remote_task_line(task).c_str());
  }
  return 0;
}

}  // namespace
}  // namespace strata

int main(int argc, char** argv) {
  using namespace strata;
  // Batches, pages and part buffers are allocated and freed by the megabyte, over and over. By
  // default glibc maps each such block fresh and unmaps it on free, so every batch pays page
  // faults and zeroing (a fifth of the CPU of a PostgreSQL copy). Keep them in the heap instead,
  // and keep freed memory for the next batch: the peak RSS is the same, it is just reused.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  // One heap for every thread. With glibc's default (up to 8 per core), each thread that ever
  // held a batch keeps an arena of freed buffers, and the peak RSS grows with the length of the
  // run: a PostgreSQL copy of 6.7M rows peaked at 104 MiB against 82 MiB for 0.67M. With one
  // arena, 83-86 MiB, at the same speed (the threads allocate by the megabyte, rarely).
  mallopt(M_ARENA_MAX, 1);
  std::string log_level = "warn";
  CLI::App app{"strata: archive aging data from online stores into cold storage, safely.",
               "strata"};
  app.require_subcommand(1);
  app.set_version_flag("--version", kVersion);
  app.add_option("--log-level", log_level, "debug, info, warn or error")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));

  RunArgs run_args;
  auto* run = app.add_subcommand("run", "Run a policy to completion on embedded defaults");
  run->add_option("policy", run_args.policy_path, "Policy file (YAML)")->required();
  run->add_flag("--dry-run", run_args.dry_run, "Show the shards and statements; touch nothing");
  run->add_flag("--json", run_args.json, "Print the final report as JSON");
  run->add_option("--resume", run_args.resume, "Finish the task with this id");
  run->add_flag("--new", run_args.new_task, "Start a new task even if one is unfinished");
  run->add_option("--state", run_args.state_path, "State store (SQLite)")->capture_default_str();

  // Options shared by `strata worker` and `strata serve`; flags override the --config file.
  struct ChainFlags {
    std::string config, bus, state, functions, lease_ttl, poll, cooldown;
    std::vector<std::string> pools;
    int archive_workers = 0, purge_workers = 0;
    bool fixed = false;
  };
  auto add_chain_flags = [](CLI::App* cmd, ChainFlags& f, bool worker) {
    cmd->add_option("--config", f.config,
                    "strata.yaml with these settings (docs/serve.md); flags override it");
    cmd->add_option(
        "--bus", f.bus,
        worker ? "Bus: redis://host:port[/db]" : "Bus: redis://... (default: in-process)");
    cmd->add_option("--state", f.state, "State store: postgres://... or sqlite://PATH");
    cmd->add_option("--functions", f.functions,
                    "Functions to run here: split,archive,purge,status (or archive-<kind>); "
                    "default all");
    cmd->add_option("--archive-workers", f.archive_workers,
                    "Shards archived at once per source kind (archive pools' max; default 2)");
    cmd->add_option("--purge-workers", f.purge_workers, "Shards purged at once (default 2)");
    cmd->add_option("--pool", f.pools,
                    "Pool bounds FUNCTION=MIN:MAX, e.g. archive=0:4 (repeatable; min default 0)");
    cmd->add_option("--poll", f.poll, "How often pools read their backlog (default 1s)");
    cmd->add_option(
        "--cooldown", f.cooldown,
        "Backlog-free time before a pool scales down, to zero with min 0 (default 30s)");
    cmd->add_flag("--fixed-replicas", f.fixed,
                  "No scaling: archive-workers / purge-workers / 1 replicas all the time");
    cmd->add_option("--lease-ttl", f.lease_ttl,
                    "How long a dead worker's shard waits before another takes it (default 30s)");
  };
  // The config file (if any) with the flags on top.
  auto chain_config = [](const ChainFlags& f, ServeConfig& c) -> Result<ChainConfig> {
    if (!f.config.empty()) {
      STRATA_ASSIGN_OR_RETURN(c, load_serve_config(f.config));
    }
    if (!f.bus.empty()) c.bus = f.bus;
    if (!f.state.empty()) c.state = f.state;
    if (!f.functions.empty()) c.functions = f.functions;
    if (f.archive_workers > 0) c.archive_workers = f.archive_workers;
    if (f.purge_workers > 0) c.purge_workers = f.purge_workers;
    if (f.fixed) c.pools.enabled = false;
    for (auto [flag, text, field] : {std::tuple<const char*, const std::string*, Micros*>{
                                         "--lease-ttl", &f.lease_ttl, &c.lease_ttl},
                                     {"--poll", &f.poll, &c.pools.poll},
                                     {"--cooldown", &f.cooldown, &c.pools.cooldown}}) {
      if (text->empty()) continue;
      auto d = parse_duration(*text);
      if (!d.is_ok() || d->count() <= 0) {
        return Status::permanent(std::string(flag) + " '" + *text +
                                 "': expected a duration such as 30s or 500ms");
      }
      *field = *d;
    }
    if (c.lease_ttl < std::chrono::seconds(1)) {
      return Status::permanent("--lease-ttl must be at least 1s");
    }
    STRATA_ASSIGN_OR_RETURN(ChainConfig chain, chain_config_of(c));
    if (!f.pools.empty() && !chain.pools) {
      return Status::permanent("--pool needs pools to scale (drop --fixed-replicas)");
    }
    for (const std::string& p : f.pools) STRATA_TRY(parse_pool(p, chain.pools->bounds));
    return chain;
  };

  WorkerOptions worker_opts;
  worker_opts.interrupted = &g_interrupted;
  ChainFlags worker_flags;
  auto* worker = app.add_subcommand(
      "worker", "Run the functions on a shared bus and state store until stopped (SIGTERM)");
  add_chain_flags(worker, worker_flags, true);

  ServeOptions serve_opts;
  serve_opts.interrupted = &g_interrupted;
  ChainFlags serve_flags;
  std::string serve_token_file, serve_listen, serve_policies;
  auto* serve_cmd = app.add_subcommand(
      "serve", "The HTTP API (submit, wait, status) with the chain in-process, until SIGTERM");
  serve_cmd->add_option("--listen", serve_listen,
                        "HOST:PORT (port 0: any free port; default 127.0.0.1:8470)");
  serve_cmd->add_option("--token-file", serve_token_file,
                        "File holding the bearer token (else $STRATA_TOKEN)");
  serve_cmd->add_option("--policies", serve_policies, "Directory of policy files (default .)");
  add_chain_flags(serve_cmd, serve_flags, false);

  SubmitOptions submit_opts;
  std::string submit_policy;
  bool submit_json = false;
  auto* submit = app.add_subcommand("submit", "Ask the workers on a bus for a task of a policy");
  std::string submit_server, submit_token_file;
  submit
      ->add_option("policy", submit_policy,
                   "Policy file (YAML), or with --server a policy name the server knows")
      ->required();
  submit->add_option("--server", submit_server, "A strata serve: http://host:port");
  submit->add_option("--token-file", submit_token_file, "Its bearer token (else $STRATA_TOKEN)");
  submit->add_option("--bus", submit_opts.bus_uri, "Or the workers' bus: redis://host:port[/db]");
  submit->add_option("--state", submit_opts.state_uri, "and their state store");
  submit->add_flag("--wait", submit_opts.wait, "Wait for the task to end; print its report");
  submit->add_flag("--json", submit_json, "Print JSON");

  RunArgs plan_args;
  auto* plan = app.add_subcommand("plan", "Show the shards and statements a run would use");
  plan->add_option("policy", plan_args.policy_path, "Policy file (YAML)")->required();
  plan->add_flag("--json", plan_args.json, "Print the plan as JSON");
  plan->add_flag("--all", plan_args.all, "Show the statements of every shard");
  plan->add_option("--state", plan_args.state_path, "State store (SQLite)")->capture_default_str();

  std::string status_task, status_state = ".strata/state.db";
  bool status_json = false;
  auto* status = app.add_subcommand("status", "Tasks, or one task's shards and batches");
  status->add_option("task", status_task, "Task id");
  status->add_flag("--json", status_json, "Print JSON");
  status->add_option("--state", status_state, "State store (SQLite path, or URI)")
      ->capture_default_str();
  std::string status_server, status_token_file;
  status->add_option("--server", status_server, "Ask a strata serve instead: http://host:port");
  status->add_option("--token-file", status_token_file, "Its bearer token (else $STRATA_TOKEN)");

  std::map<std::string, TaskActionArgs> action_args;
  std::map<std::string, CLI::App*> action_cmds;
  for (const char* action : {"cancel", "retry"}) {
    TaskActionArgs& a = action_args[action];
    CLI::App* cmd = app.add_subcommand(
        action, std::string(action) == "cancel"
                    ? "Stop a running task (its shards stop within about a second)"
                    : "Run a failed or cancelled task's unfinished shards again");
    cmd->add_option("task", a.task, "Task id")->required();
    cmd->add_option("--server", a.server, "A strata serve: http://host:port");
    cmd->add_option("--token-file", a.token_file, "Its bearer token (else $STRATA_TOKEN)");
    cmd->add_option("--state", a.state, "Or the workers' state store (URI or SQLite path)");
    cmd->add_option("--bus", a.bus, "and their bus (retry): redis://host:port[/db]");
    cmd->add_flag("--json", a.json, "Print JSON");
    action_cmds[action] = cmd;
  }

  std::string verify_target_uri;
  bool verify_json = false, verify_deep = false;
  auto* verify = app.add_subcommand(
      "verify",
      "Check a target's archive against its manifests: every file there with its size, no stray "
      "file (--deep: sha256, every row, row checksums)");
  verify->add_option("target", verify_target_uri, "Target URI or directory")->required();
  verify->add_flag("--deep", verify_deep,
                   "Re-read every file: sha256, decode every row, recompute row checksums (the "
                   "default checks that every file is there with its size)");
  verify->add_flag("--json", verify_json, "Print JSON");

  int64_t demo_rows = 1000000;
  std::string demo_dir = "demo";
  bool demo_json = false, demo_no_run = false;
  std::string ls_target_uri, ls_dataset;
  bool ls_files = false, ls_json = false;
  auto* ls = app.add_subcommand(
      "ls", "List a target's datasets, or one dataset's partitions or files, from its catalog");
  ls->add_option("target", ls_target_uri, "Target URI or directory")->required();
  ls->add_option("dataset", ls_dataset, "A dataset: list its partitions");
  ls->add_flag("--files", ls_files, "With a dataset: list its files");
  ls->add_flag("--json", ls_json, "Print JSON");

  RestoreArgs restore_args;
  auto* restore = app.add_subcommand(
      "restore",
      "Load archived rows back into a database table (created if missing; re-runs "
      "add nothing twice)");
  restore->add_option("target", restore_args.target, "The archive: target URI or directory")
      ->required();
  restore->add_option("--dataset", restore_args.dataset, "Dataset to restore (see strata ls)")
      ->required();
  restore
      ->add_option("--into", restore_args.into,
                   "Table to load: postgres://.../db?table=T, mysql://...?table=T or "
                   "sqlite://file.db?table=T; passwords as ${ENV}")
      ->required();
  restore->add_option("--where", restore_args.where,
                      "Only rows matching: column op value [AND ...], e.g. \"vehicle = 7\"");
  restore->add_option("--from", restore_args.from,
                      "Only rows with time >= this (date or RFC 3339)");
  restore->add_option("--to", restore_args.to, "Only rows with time < this");
  restore->add_flag("--json", restore_args.json, "Print JSON");

  auto* demo = app.add_subcommand("demo", "Generate a telemetry database and archive it");
  demo->add_option("--rows", demo_rows, "Rows to generate")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{2000000000}));
  demo->add_option("--dir", demo_dir, "Folder for the database, policy and archive")
      ->capture_default_str();
  demo->add_flag("--json", demo_json, "Print the final report as JSON");
  demo->add_flag("--no-run", demo_no_run, "Only generate the database and the policy");

  auto* docs = app.add_subcommand("policy-reference", "Print the reference of every policy key");
  auto* config_docs = app.add_subcommand(
      "config-reference", "Print the reference of strata.yaml (strata serve/worker --config)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  init_logging(log_level);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  if (*run) return run_command(run_args);
  if (*serve_cmd) {
    ServeConfig config;
    auto chain = chain_config(serve_flags, config);
    if (!chain.is_ok()) return fail(chain.status());
    serve_opts.chain = *chain;
    serve_opts.listen = serve_listen.empty() ? config.listen : serve_listen;
    serve_opts.policies_dir = serve_policies.empty() ? config.policies : serve_policies;
    auto token = api_token(serve_token_file.empty() ? config.token_file : serve_token_file);
    if (!token.is_ok()) return fail(token.status());
    serve_opts.token = *token;
    Status st = serve(serve_opts);
    return st.is_ok() ? 0 : fail(st);
  }
  if (*worker) {
    ServeConfig config;
    config.state.clear();
    auto chain = chain_config(worker_flags, config);
    if (!chain.is_ok()) return fail(chain.status());
    if (chain->bus_uri.empty() || chain->state_uri.empty()) {
      return fail(Status::permanent(
          "strata worker needs --bus redis://... and --state postgres://... (or both in "
          "--config)"));
    }
    worker_opts.chain = *chain;
    return worker_command(worker_opts);
  }
  if (*submit) {
    if (!submit_server.empty()) {
      return submit_remote(submit_server, submit_token_file, submit_policy, submit_opts.wait,
                           submit_json);
    }
    if (submit_opts.bus_uri.empty() || submit_opts.state_uri.empty()) {
      return fail(Status::permanent(
          "strata submit needs --server URL, or --bus and --state of the workers"));
    }
    return submit_command(submit_policy, submit_opts, submit_json);
  }
  if (*plan) return plan_command(plan_args);
  if (*status) {
    if (!status_server.empty()) {
      return status_remote(status_server, status_token_file, status_task, status_json);
    }
    return status_command(status_state, status_task, status_json);
  }
  for (const auto& [action, cmd] : action_cmds) {
    if (*cmd) return task_action_command(action, action_args[action]);
  }
  if (*verify) return verify_command(verify_target_uri, verify_deep, verify_json);
  if (*ls) return ls_command(ls_target_uri, ls_dataset, ls_files, ls_json);
  if (*restore) return restore_command(restore_args);
  if (*demo) return demo_command(demo_rows, demo_dir, demo_json, demo_no_run);
  if (*docs) {
    std::fputs(policy_reference_markdown().c_str(), stdout);
    return 0;
  }
  if (*config_docs) {
    std::fputs(serve_config_reference_markdown().c_str(), stdout);
    return 0;
  }
  return kExitUsage;
}
