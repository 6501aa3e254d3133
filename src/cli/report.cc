#include "cli/report.h"

#include <sys/resource.h>

#include <cstdio>

#include "core/duration.h"
#include "core/schema.h"

namespace strata {

std::string human_bytes(int64_t bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::string human_count(int64_t n) {
  const std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out = n < 0 ? "-" : "";
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string render_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    if (width.size() < r.size()) width.resize(r.size(), 0);
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string out;
  for (size_t ri = 0; ri < rows.size(); ++ri) {
    const auto& r = rows[ri];
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    out += line + "\n";
    if (ri == 0) {
      size_t total = 0;
      for (size_t i = 0; i < width.size(); ++i) total += width[i] + (i + 1 < width.size() ? 2 : 0);
      out += std::string(total, '-') + "\n";
    }
  }
  return out;
}

namespace {

std::string when(int64_t micros) {
  if (micros == 0) return "-";
  std::string s = format_timestamp(micros - micros % 1000000);
  return s.substr(0, 19);
}

std::string span(int64_t from, int64_t to) {
  if (from == 0 || to == 0 || to < from) return "-";
  return format_elapsed(static_cast<double>(to - from) / 1e6);
}

double ratio(int64_t in, int64_t out) {
  return out > 0 ? static_cast<double>(in) / static_cast<double>(out) : 0;
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace

Json run_report_json(const LocalRunResult& run) {
  const TaskRecord& t = run.task;
  Json j = task_json(t);
  j["resumed"] = run.resumed;
  j["interrupted"] = run.interrupted;
  j["duration_s"] = run.seconds;
  j["rows_per_s"] = run.seconds > 0 ? static_cast<double>(t.rows) / run.seconds : 0;
  j["mb_per_s"] = run.seconds > 0 ? static_cast<double>(t.bytes_in) / 1e6 / run.seconds : 0;
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  j["peak_rss_mib"] = static_cast<double>(ru.ru_maxrss) / 1024.0;
  return j;
}

std::string run_report_table(const LocalRunResult& run) {
  const TaskRecord& t = run.task;
  double rate = run.seconds > 0 ? static_cast<double>(t.rows) / run.seconds : 0;
  std::vector<std::vector<std::string>> rows = {
      {"task", t.id + (run.resumed ? " (resumed)" : "")},
      {"policy", t.policy_name},
      {"state", t.state},
      {"shards", std::to_string(t.shards_done) + " done, " + std::to_string(t.shards_failed) +
                     " failed, " + std::to_string(t.shards_total) + " total"},
      {"rows archived", human_count(t.rows)},
  };
  if (t.policy.value("mode", "copy") == "move")
    rows.push_back({"rows purged", human_count(t.rows_purged)});
  rows.push_back({"bytes in", human_bytes(t.bytes_in)});
  rows.push_back({"bytes out", human_bytes(t.bytes_out)});
  rows.push_back({"compression", fixed(ratio(t.bytes_in, t.bytes_out), 2) + "x"});
  rows.push_back({"throughput", human_count(static_cast<int64_t>(rate)) + " rows/s, " +
                                    fixed(run.seconds > 0 ? t.bytes_in / 1e6 / run.seconds : 0, 1) +
                                    " MB/s"});
  rows.push_back({"duration", format_elapsed(run.seconds)});
  if (!t.error.empty()) rows.push_back({"error", t.error});
  std::string out;
  for (const auto& r : rows) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "  %-14s ", r[0].c_str());
    out += buf + r[1] + "\n";
  }
  if (run.interrupted)
    out += "\nInterrupted. Run the same command again, or strata run --resume " + t.id +
           ", to finish it.\n";
  return out;
}

Json task_json(const TaskRecord& t) {
  return Json{
      {"task_id", t.id},
      {"policy", t.policy_name},
      {"state", t.state},
      {"mode", t.policy.value("mode", "copy")},
      {"created_at", t.created_at ? format_timestamp(t.created_at) : ""},
      {"finished_at", t.finished_at ? format_timestamp(t.finished_at) : ""},
      {"predicate", t.predicate},
      {"shards", {{"total", t.shards_total}, {"done", t.shards_done}, {"failed", t.shards_failed}}},
      {"rows", t.rows},
      {"rows_purged", t.rows_purged},
      {"bytes_in", t.bytes_in},
      {"bytes_out", t.bytes_out},
      {"compression_ratio", ratio(t.bytes_in, t.bytes_out)},
      {"error", t.error}};
}

std::string tasks_table(const std::vector<TaskRecord>& tasks) {
  std::vector<std::vector<std::string>> rows = {
      {"TASK", "POLICY", "STATE", "SHARDS", "ROWS", "BYTES OUT", "STARTED", "DURATION", "ERROR"}};
  for (const TaskRecord& t : tasks) {
    std::string err = t.error.size() > 60 ? t.error.substr(0, 57) + "..." : t.error;
    rows.push_back({t.id, t.policy_name, t.state,
                    std::to_string(t.shards_done) + "/" + std::to_string(t.shards_total),
                    human_count(t.rows), human_bytes(t.bytes_out), when(t.created_at),
                    span(t.created_at, t.finished_at ? t.finished_at : t.updated_at), err});
  }
  return render_table(rows);
}

std::string pools_table(const std::vector<PoolRecord>& pools, int64_t now) {
  std::vector<std::vector<std::string>> rows = {
      {"FUNCTION", "WORKER", "REPLICAS", "MIN", "MAX", "BACKLOG", "SEEN"}};
  for (const PoolRecord& p : pools) {
    if (now - p.updated_at > kPoolStaleMicros) continue;
    std::string seen = span(p.updated_at, now);
    seen.append(" ago");
    rows.push_back({p.function, p.worker, std::to_string(p.replicas),
                    std::to_string(p.min_replicas), std::to_string(p.max_replicas),
                    std::to_string(p.backlog), seen});
  }
  if (rows.size() == 1) return "";
  return render_table(rows);
}

Json pools_json(const std::vector<PoolRecord>& pools, int64_t now) {
  Json arr = Json::array();
  for (const PoolRecord& p : pools) {
    if (now - p.updated_at > kPoolStaleMicros) continue;
    arr.push_back(Json{{"function", p.function},
                       {"worker", p.worker},
                       {"replicas", p.replicas},
                       {"min", p.min_replicas},
                       {"max", p.max_replicas},
                       {"backlog", p.backlog},
                       {"updated_at", p.updated_at}});
  }
  return arr;
}

namespace {
std::string range_text(const Json& r) {
  auto v = [](const Json& x) { return x.is_null() ? std::string("-") : x.dump(); };
  return v(r.value("lo", Json())) + " .. " + v(r.value("hi", Json()));
}
}  // namespace

std::string task_detail(const TaskRecord& t, const std::vector<ShardRecord>& shards,
                        const std::vector<std::vector<BatchRecord>>& batches) {
  std::string out = "task " + t.id + "  policy " + t.policy_name + "  state " + t.state + "\n";
  out += "  selection: " + t.predicate.dump() + "\n";
  out += "  shards " + std::to_string(t.shards_done) + "/" + std::to_string(t.shards_total) +
         " done, " + std::to_string(t.shards_failed) + " failed; rows " + human_count(t.rows) +
         " archived, " + human_count(t.rows_purged) + " purged; " + human_bytes(t.bytes_in) +
         " in, " + human_bytes(t.bytes_out) + " out\n";
  if (!t.error.empty()) out += "  error: " + t.error + "\n";
  out += "\n";
  std::vector<std::vector<std::string>> rows = {{"SHARD", "STATE", "KEY RANGE", "EST ROWS", "ROWS",
                                                 "PURGED", "BYTES IN", "BYTES OUT", "FILES",
                                                 "ATTEMPTS", "DURATION", "ERROR"}};
  for (const ShardRecord& s : shards) {
    rows.push_back({std::to_string(s.index), s.state, range_text(s.range),
                    human_count(s.estimated_rows), human_count(s.rows), human_count(s.rows_purged),
                    human_bytes(s.bytes_in), human_bytes(s.bytes_out), std::to_string(s.files),
                    std::to_string(s.attempts), span(s.started_at, s.finished_at), s.error});
  }
  out += render_table(rows);
  std::vector<std::vector<std::string>> brows = {
      {"SHARD", "BATCH", "ROWS", "BYTES IN", "STARTED", "DURATION", "ROWS/S"}};
  for (const auto& list : batches) {
    for (const BatchRecord& b : list) {
      double secs = static_cast<double>(b.finished_at - b.started_at) / 1e6;
      brows.push_back({std::to_string(b.shard), std::to_string(b.seq), human_count(b.rows),
                       human_bytes(b.bytes_in), when(b.started_at),
                       span(b.started_at, b.finished_at),
                       secs > 0 ? human_count(static_cast<int64_t>(b.rows / secs)) : "-"});
    }
  }
  if (brows.size() > 1) out += "\n" + render_table(brows);
  return out;
}

Json task_detail_json(const TaskRecord& t, const std::vector<ShardRecord>& shards,
                      const std::vector<std::vector<BatchRecord>>& batches) {
  Json j = task_json(t);
  Json sj = Json::array();
  for (size_t i = 0; i < shards.size(); ++i) {
    const ShardRecord& s = shards[i];
    Json bj = Json::array();
    if (i < batches.size()) {
      for (const BatchRecord& b : batches[i]) {
        bj.push_back({{"seq", b.seq},
                      {"rows", b.rows},
                      {"bytes_in", b.bytes_in},
                      {"started_at", b.started_at ? format_timestamp(b.started_at) : ""},
                      {"duration_s", static_cast<double>(b.finished_at - b.started_at) / 1e6}});
      }
    }
    sj.push_back({{"index", s.index},
                  {"state", s.state},
                  {"range", s.range},
                  {"estimated_rows", s.estimated_rows},
                  {"rows", s.rows},
                  {"rows_purged", s.rows_purged},
                  {"bytes_in", s.bytes_in},
                  {"bytes_out", s.bytes_out},
                  {"files", s.files},
                  {"attempts", s.attempts},
                  {"started_at", s.started_at ? format_timestamp(s.started_at) : ""},
                  {"finished_at", s.finished_at ? format_timestamp(s.finished_at) : ""},
                  {"error", s.error},
                  {"batches", bj}});
  }
  j["shard_list"] = sj;
  return j;
}

}  // namespace strata
