// End to end: the strata binary against real SQLite files, with DuckDB reading the archive back.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "tests/e2e/e2e_support.h"

namespace strata::e2e {
namespace {

using testing_support::fresh_dir;
namespace fs = std::filesystem;

// A demo database and policy in a fresh folder, not yet archived.
std::string make_demo(const std::string& name, int rows) {
  std::string dir = fresh_dir(name);
  auto r = run_strata({"demo", "--rows", std::to_string(rows), "--dir", dir, "--no-run"}, dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return dir;
}

std::string policy_text(const std::string& extra_target = "", const std::string& mode = "move",
                        const std::string& selection = "older_than: 30d", int shard_rows = 2000,
                        const std::string& more = "", const std::string& format = "ndjson") {
  return "name: telemetry\n"
         "source: {uri: sqlite://telemetry.db, table: telemetry, key: id, time: ts}\n"
         "selection: {" +
         selection +
         "}\n"
         "split: {shard_rows: " +
         std::to_string(shard_rows) +
         ", parallel: 2}\n"
         "batch: {rows: 1000}\n"
         "targets:\n"
         "  - {uri: file://archive, format: " +
         format + ", layout: 'dt={ts:%Y-%m-%d}'}\n" + extra_target + "mode: " + mode + "\n" + more;
}

// The promise of every run: archive + remaining source = original, and no key twice.
void expect_nothing_lost(const std::string& dir, const std::vector<std::string>& original,
                         const std::string& format = "ndjson") {
  std::vector<std::string> archived = archive_telemetry_rows(dir + "/archive", format);
  std::vector<std::string> remaining = source_telemetry_rows(dir + "/telemetry.db");
  std::set<std::string> keys;
  for (const std::string& r : archived) {
    std::string key = r.substr(0, r.find('|'));
    EXPECT_TRUE(keys.insert(key).second) << "key " << key << " archived twice";
  }
  std::vector<std::string> all = archived;
  all.insert(all.end(), remaining.begin(), remaining.end());
  std::vector<std::string> a = original;
  std::sort(all.begin(), all.end());
  std::sort(a.begin(), a.end());
  ASSERT_EQ(all.size(), a.size()) << archived.size() << " archived + " << remaining.size()
                                  << " remaining";
  EXPECT_TRUE(all == a) << "archive + source differs from the original rows";
}

class MoveEachFormat : public ::testing::TestWithParam<const char*> {};

TEST_P(MoveEachFormat, MovesOldRowsVerifiedAndNothingLost) {
  const std::string format = GetParam();
  std::string dir = make_demo("move-" + format, 30000);
  auto original = source_telemetry_rows(dir + "/telemetry.db");
  const int64_t eligible =
      sqlite_count(dir + "/telemetry.db", "telemetry", "ts < datetime('now', '-30 days')");
  ASSERT_GT(eligible, 15000);
  write_file(dir + "/p.yaml", policy_text("", "move", "older_than: 30d", 2000, "", format));
  auto r = run_strata({"run", "p.yaml", "--json"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["state"], "succeeded");
  EXPECT_NEAR(report["rows"].get<double>(), static_cast<double>(eligible), 5);
  EXPECT_EQ(report["rows_purged"], report["rows"]);
  EXPECT_GT(report["bytes_out"].get<int64_t>(), 0);
  EXPECT_GT(report["compression_ratio"].get<double>(), 1.5);
  expect_nothing_lost(dir, original, format);
  EXPECT_EQ(sqlite_count(
                dir + "/telemetry.db", "telemetry",
                "ts < '" +
                    report["predicate"]["time_before_text"].get<std::string>().substr(0, 10) + "'"),
            0);
  // Hive-style day folders, and nothing half-written left visible.
  int files = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir + "/archive")) {
    std::string p = e.path().string();
    EXPECT_EQ(p.find(".tmp"), std::string::npos) << p;
    if (e.is_regular_file()) {
      EXPECT_EQ(p.find("/_strata/pending/"), std::string::npos) << p;
    }
    if (e.is_regular_file() && p.find("/_strata/") == std::string::npos) {
      ++files;
      EXPECT_NE(p.find("/telemetry/dt=20"), std::string::npos) << p;
    }
  }
  EXPECT_GT(files, 10);

  auto v = run_strata({"verify", "archive", "--deep"}, dir);
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_NE(v.out.find("all good"), std::string::npos) << v.out;

  // Running again archives nothing more: it is all gone from the source.
  auto again = run_strata({"run", "p.yaml", "--json"}, dir);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(nlohmann::json::parse(again.out)["rows"], 0);
  expect_nothing_lost(dir, original, format);
}

INSTANTIATE_TEST_SUITE_P(Formats, MoveEachFormat, ::testing::Values("parquet", "ndjson", "csv"));

TEST(Run, StatusShowsTasksShardsAndBatches) {
  std::string dir = make_demo("status", 8000);
  write_file(dir + "/p.yaml", policy_text());
  auto r = run_strata({"run", "p.yaml", "--json"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string id = nlohmann::json::parse(r.out)["task_id"];
  auto list = run_strata({"status", "--json"}, dir);
  ASSERT_EQ(list.exit_code, 0) << list.err;
  auto tasks = nlohmann::json::parse(list.out);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0]["task_id"], id);
  auto one = run_strata({"status", id, "--json"}, dir);
  ASSERT_EQ(one.exit_code, 0) << one.err;
  auto detail = nlohmann::json::parse(one.out);
  ASSERT_GE(detail["shard_list"].size(), 2u);
  int64_t rows = 0;
  for (const auto& s : detail["shard_list"]) {
    EXPECT_EQ(s["state"], "done");
    EXPECT_GE(s["batches"].size(), 1u);
    int64_t batch_rows = 0;
    for (const auto& b : s["batches"]) batch_rows += b["rows"].get<int64_t>();
    EXPECT_EQ(batch_rows, s["rows"].get<int64_t>());
    rows += s["rows"].get<int64_t>();
  }
  EXPECT_EQ(rows, detail["rows"].get<int64_t>());
  auto text = run_strata({"status", id}, dir);
  EXPECT_NE(text.out.find("SHARD"), std::string::npos);
  EXPECT_NE(text.out.find("BATCH"), std::string::npos);
  auto missing = run_strata({"status", "nope"}, dir);
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("nope"), std::string::npos);
}

// `split.parallel` bounds the shards reading from the source at once, although `strata run` has
// one more archive worker (committing a shard while the next reads): from the status, no more
// than `parallel` shards are ever between their first batch's start and their last batch's end.
TEST(Run, NoMoreThanParallelShardsReadAtOnce) {
  std::string dir = make_demo("reads_at_once", 24000);
  std::string text = policy_text("", "copy", "older_than: 30d", 1000);
  text.replace(text.find("batch: {rows: 1000}"), 19, "batch: {rows: 100}");
  write_file(dir + "/p.yaml", text);
  auto r = run_strata({"run", "p.yaml", "--json"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string id = nlohmann::json::parse(r.out)["task_id"];
  auto one = run_strata({"status", id, "--json"}, dir);
  ASSERT_EQ(one.exit_code, 0) << one.err;
  auto micros = [](const std::string& iso) {  // "2026-11-27T14:44:11.101646Z"
    std::tm tm{};
    EXPECT_NE(strptime(iso.c_str(), "%Y-%m-%dT%H:%M:%S", &tm), nullptr) << iso;
    const size_t dot = iso.find('.');
    const int64_t frac = dot == std::string::npos ? 0 : std::stoll(iso.substr(dot + 1, 6));
    return static_cast<int64_t>(timegm(&tm)) * 1'000'000 + frac;
  };
  std::vector<std::pair<int64_t, int>> edges;  // (time, +1 a shard starts reading, -1 it ends)
  auto detail = nlohmann::json::parse(one.out);
  ASSERT_GE(detail["shard_list"].size(), 8u);
  for (const auto& s : detail["shard_list"]) {
    int64_t first = INT64_MAX, last = 0;
    for (const auto& b : s["batches"]) {
      const int64_t start = micros(b["started_at"].get<std::string>());
      first = std::min(first, start);
      last = std::max<int64_t>(last, start + std::llround(b["duration_s"].get<double>() * 1e6));
    }
    ASSERT_LT(first, last) << s.dump();
    edges.emplace_back(first, +1);
    edges.emplace_back(last, -1);
  }
  std::sort(edges.begin(), edges.end());  // at equal times the end (-1) comes first
  int reading = 0, most = 0;
  for (const auto& [t, d] : edges) most = std::max(most, reading += d);
  EXPECT_LE(most, 2);
}

TEST(Run, PlanAndDryRunTouchNothing) {
  std::string dir = make_demo("plan", 10000);
  write_file(dir + "/p.yaml", policy_text());
  const int64_t before = sqlite_count(dir + "/telemetry.db", "telemetry");
  auto plan = run_strata({"plan", "p.yaml"}, dir);
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_NE(plan.out.find("SELECT"), std::string::npos) << plan.out;
  EXPECT_NE(plan.out.find("DELETE FROM"), std::string::npos) << plan.out;
  EXPECT_NE(plan.out.find("shards"), std::string::npos);
  auto dry = run_strata({"run", "--dry-run", "p.yaml", "--json"}, dir);
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  auto j = nlohmann::json::parse(dry.out);
  ASSERT_GE(j["shards"].size(), 3u);
  int64_t est = 0;
  for (const auto& s : j["shards"]) {
    EXPECT_LE(s["estimated_rows"].get<int64_t>(), 2000);
    est += s["estimated_rows"].get<int64_t>();
  }
  EXPECT_EQ(est,
            sqlite_count(dir + "/telemetry.db", "telemetry", "ts < datetime('now', '-30 days')"));
  EXPECT_EQ(sqlite_count(dir + "/telemetry.db", "telemetry"), before);
  EXPECT_FALSE(fs::exists(dir + "/archive"));
  EXPECT_FALSE(fs::exists(dir + "/.strata"));
}

TEST(Run, CopyModeReRunTakesOnlyNewlyEligibleRows) {
  std::string dir = make_demo("copy", 9000);
  auto original = source_telemetry_rows(dir + "/telemetry.db");
  auto ts_of = [&](int id) {
    return *sqlite_rows(dir + "/telemetry.db",
                        "SELECT ts FROM telemetry WHERE id = " + std::to_string(id))[0][0];
  };
  std::string first_cut = ts_of(3001), second_cut = ts_of(6001);
  write_file(dir + "/p.yaml", policy_text("", "copy", "before: '" + first_cut + "'"));
  auto r1 = run_strata({"run", "p.yaml", "--json"}, dir);
  ASSERT_EQ(r1.exit_code, 0) << r1.err;
  EXPECT_EQ(nlohmann::json::parse(r1.out)["rows"], 3000);
  auto r2 = run_strata({"run", "p.yaml", "--json"}, dir);
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_EQ(nlohmann::json::parse(r2.out)["rows"], 0);
  write_file(dir + "/p.yaml", policy_text("", "copy", "before: '" + second_cut + "'"));
  auto r3 = run_strata({"run", "p.yaml", "--json"}, dir);
  ASSERT_EQ(r3.exit_code, 0) << r3.err;
  EXPECT_EQ(nlohmann::json::parse(r3.out)["rows"], 3000);
  auto archived = archive_telemetry_rows(dir + "/archive");
  ASSERT_EQ(archived.size(), 6000u);
  std::vector<std::string> expected(original.begin(), original.begin() + 6000);
  std::sort(expected.begin(), expected.end());
  std::sort(archived.begin(), archived.end());
  EXPECT_TRUE(archived == expected);
  EXPECT_EQ(sqlite_count(dir + "/telemetry.db", "telemetry"), 9000);  // copy deletes nothing
}

TEST(Run, PeakMemoryStaysSmallAtOneMillionRows) {
#ifdef STRATA_SANITIZED
  GTEST_SKIP() << "RSS is not meaningful under AddressSanitizer";
#endif
  std::string dir = make_demo("rss", 1000000);
  write_file(dir + "/p.yaml", policy_text("", "move", "older_than: 30d", 100000));
  auto r = run_strata({"run", "p.yaml", "--json"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  long rss_mib = last_peak_rss_kib() / 1024;
  std::printf("peak RSS for 1M rows: %ld MiB\n", rss_mib);
  EXPECT_LT(rss_mib, 150);
  EXPECT_GT(nlohmann::json::parse(r.out)["rows"].get<int64_t>(), 600000);
}

TEST(Run, AnyTableAndColumnNamesWork) {
  std::string dir = fresh_dir("quoting");
  sqlite_exec(dir + "/odd.db",
              "CREATE TABLE \"my \"\"odd\"\" table\" (\"key col\" INTEGER PRIMARY KEY, "
              "\"select\" TEXT, \"when\" TIMESTAMP);"
              "INSERT INTO \"my \"\"odd\"\" table\" VALUES (1,'a','2020-01-01 00:00:00'),"
              "(2,'b''c','2020-01-02 00:00:00'),(3,NULL,'2099-01-01 00:00:00');");
  write_file(dir + "/p.yaml",
             "source: {uri: sqlite://odd.db, table: 'my \"odd\" table', key: key col, time: when}\n"
             "selection: {older_than: 1d}\n"
             "targets: [{uri: file://out, format: csv, dataset: odd, layout: 'y={when:%Y}'}]\n"
             "mode: move\n");
  auto r = run_strata({"run", "p.yaml", "--json"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["rows"], 2);
  EXPECT_EQ(sqlite_count(dir + "/odd.db", "\"my \"\"odd\"\" table\""), 1);
  auto rows =
      testing_support::duckdb_query({"SELECT \"key col\" AS k, \"select\" AS s FROM read_csv(" +
                                     testing_support::sql_quote(dir + "/out/odd/**/*.csv.zst") +
                                     ", header=true, hive_partitioning=false) ORDER BY 1"});
  ASSERT_TRUE(rows.is_ok()) << rows.status().message();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[1]["s"], "b'c");
}

// kill -9 at many moments across split, archive and purge; a plain re-run then finishes the task.
class KillAnywhere : public ::testing::TestWithParam<int> {};

TEST_P(KillAnywhere, ReRunFinishesWithNothingLostOrDuplicated) {
  const int point = GetParam();
  std::string dir = make_demo("kill" + std::to_string(point), 40000);
  auto original = source_telemetry_rows(dir + "/telemetry.db");
  write_file(dir + "/p.yaml", policy_text("", "move", "older_than: 30d", 2000,
                                          "throttle: {rows_per_second: 100000}\n"));
  pid_t pid = spawn_strata({"run", "p.yaml"}, dir);
  ASSERT_GT(pid, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(5 + point * 45));
  kill(pid, SIGKILL);
  int rc = wait_for(pid);
  if (fs::exists(dir + "/archive")) {
    // Whatever the kill left is either committed or claimed by a pending record: never a stray.
    auto mid = run_strata({"verify", "archive"}, dir);
    EXPECT_EQ(mid.out.find("BAD"), std::string::npos) << mid.out;
  }
  auto r = run_strata({"run", "p.yaml", "--json"}, dir);
  ASSERT_EQ(r.exit_code, 0) << "first run exit " << rc << "\n" << r.err << r.out;
  auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["state"], "succeeded");
  expect_nothing_lost(dir, original);
  EXPECT_EQ(sqlite_count(
                dir + "/telemetry.db", "telemetry",
                "ts < '" +
                    report["predicate"]["time_before_text"].get<std::string>().substr(0, 10) + "'"),
            0);
  auto v = run_strata({"verify", "archive", "--deep"}, dir);
  EXPECT_EQ(v.exit_code, 0) << v.out;
}

INSTANTIATE_TEST_SUITE_P(Points, KillAnywhere, ::testing::Range(0, 20));

TEST(Run, ResumeByTaskIdAfterInterrupt) {
  std::string dir = make_demo("resume", 20000);
  auto original = source_telemetry_rows(dir + "/telemetry.db");
  write_file(dir + "/p.yaml", policy_text("", "move", "older_than: 30d", 1000,
                                          "throttle: {rows_per_second: 20000}\n"));
  pid_t pid = spawn_strata({"run", "p.yaml"}, dir);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  kill(pid, SIGINT);
  int rc = wait_for(pid);
  EXPECT_EQ(rc, 130) << read_text(dir + "/.stderr");
  auto list = nlohmann::json::parse(run_strata({"status", "--json"}, dir).out);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["state"], "running");
  std::string id = list[0]["task_id"];
  auto r = run_strata({"run", "p.yaml", "--resume", id, "--json"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["task_id"], id);
  EXPECT_EQ(report["resumed"], true);
  expect_nothing_lost(dir, original);
}

}  // namespace
}  // namespace strata::e2e
