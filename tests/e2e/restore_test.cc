// End to end: the catalog (`strata ls`) and `strata restore` on a demo archive: everything
// restored plus what stayed in the source equals the original rows; a filter restores only its
// rows and prunes files by time span; a re-run adds nothing.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/schema.h"
#include "tests/e2e/e2e_support.h"

namespace strata::e2e {
namespace {

using testing_support::fresh_dir;

struct Archived {
  std::string dir;
  std::vector<std::string> original;
  int64_t archived = 0;
};

// A demo database moved into a day-partitioned Parquet archive.
Archived make_archive(const std::string& name, int rows) {
  Archived a;
  a.dir = fresh_dir(name);
  auto d = run_strata({"demo", "--rows", std::to_string(rows), "--dir", a.dir, "--no-run"}, a.dir);
  EXPECT_EQ(d.exit_code, 0) << d.err;
  a.original = source_telemetry_rows(a.dir + "/telemetry.db");
  auto r = run_strata({"run", "telemetry.yaml", "--json"}, a.dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  a.archived = nlohmann::json::parse(r.out)["rows"].get<int64_t>();
  return a;
}

TEST(Catalog, LsListsDatasetsPartitionsAndFilesFromTheCatalog) {
  Archived a = make_archive("ls", 20000);
  auto ls = run_strata({"ls", "archive", "--json"}, a.dir);
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  auto j = nlohmann::json::parse(ls.out);
  ASSERT_EQ(j["datasets"].size(), 1u);
  EXPECT_EQ(j["datasets"][0]["dataset"], "telemetry");
  EXPECT_EQ(j["datasets"][0]["rows"].get<int64_t>(), a.archived);
  const int partitions = j["datasets"][0]["partitions"].get<int>();
  EXPECT_GE(partitions, 55);  // one folder per day older than 30 of 90 days
  auto parts = run_strata({"ls", "archive", "telemetry", "--json"}, a.dir);
  ASSERT_EQ(parts.exit_code, 0) << parts.err;
  auto pj = nlohmann::json::parse(parts.out);
  ASSERT_EQ(static_cast<int>(pj["partitions"].size()), partitions);
  EXPECT_EQ(pj["partitions"][0]["partition"].get<std::string>().rfind("dt=", 0), 0u);
  int64_t rows = 0;
  for (const auto& p : pj["partitions"]) rows += p["rows"].get<int64_t>();
  EXPECT_EQ(rows, a.archived);
  auto files = run_strata({"ls", "archive", "telemetry", "--files"}, a.dir);
  ASSERT_EQ(files.exit_code, 0) << files.err;
  EXPECT_NE(files.out.find(".parquet"), std::string::npos);
  auto missing = run_strata({"ls", "archive", "nope"}, a.dir);
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("no dataset 'nope'"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("telemetry"), std::string::npos) << missing.err;
}

TEST(Restore, EverythingBackIntoSqliteEqualsTheOriginal) {
  Archived a = make_archive("restore-all", 20000);
  auto r = run_strata({"restore", "archive", "--dataset", "telemetry", "--into",
                       "sqlite://restored.db?table=telemetry", "--json"},
                      a.dir);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["rows_inserted"].get<int64_t>(), a.archived);
  EXPECT_EQ(j["files_skipped"].get<int>(), 0);

  std::vector<std::string> all = source_telemetry_rows(a.dir + "/restored.db");
  EXPECT_EQ(static_cast<int64_t>(all.size()), a.archived);
  std::vector<std::string> left = source_telemetry_rows(a.dir + "/telemetry.db");
  all.insert(all.end(), left.begin(), left.end());
  std::sort(all.begin(), all.end());
  std::vector<std::string> want = a.original;
  std::sort(want.begin(), want.end());
  EXPECT_TRUE(all == want) << "restored + remaining differs from the original rows";

  // Again: nothing new.
  auto again = run_strata({"restore", "archive", "--dataset", "telemetry", "--into",
                           "sqlite://restored.db?table=telemetry", "--json"},
                          a.dir);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  auto aj = nlohmann::json::parse(again.out);
  EXPECT_EQ(aj["rows_inserted"].get<int64_t>(), 0);
  EXPECT_EQ(aj["rows_already_there"].get<int64_t>(), a.archived);
  EXPECT_EQ(sqlite_count(a.dir + "/restored.db", "telemetry"), a.archived);
}

TEST(Restore, AFilterRestoresOnlyItsRowsAndSkipsFilesOutsideItsTimeSpan) {
  Archived a = make_archive("restore-filter", 20000);
  // The archived rows of one vehicle in the oldest 20 days.
  auto span = sqlite_rows(a.dir + "/telemetry.db", "SELECT date('now', '-70 days')");
  const std::string from = span[0][0].value_or("");
  auto from_days = parse_date(from);
  ASSERT_TRUE(from_days.is_ok()) << from;
  const int64_t from_us = *from_days * 86400LL * 1000000LL;
  auto r =
      run_strata({"restore", "archive", "--dataset", "telemetry", "--into",
                  "sqlite://part.db?table=t", "--where", "vehicle_id = 7", "--to", from, "--json"},
                 a.dir);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_GT(j["files_skipped"].get<int>(), 30) << r.out;
  int64_t restored = sqlite_count(a.dir + "/part.db", "t");
  EXPECT_GT(restored, 0);
  EXPECT_EQ(restored, j["rows_inserted"].get<int64_t>());
  EXPECT_EQ(sqlite_count(a.dir + "/part.db", "t", "vehicle_id <> 7"), 0);
  // Every restored row is from before the cutoff, and every such row of vehicle 7 came back.
  int64_t expect = 0;
  for (const std::string& row : a.original) {
    auto f1 = row.find('|');
    auto f2 = row.find('|', f1 + 1);
    auto f3 = row.find('|', f2 + 1);
    std::string vehicle = row.substr(f1 + 1, f2 - f1 - 1);
    std::string ts = row.substr(f2 + 1, f3 - f2 - 1);
    if (vehicle == "7" && std::stoll(ts) < from_us) ++expect;
  }
  EXPECT_EQ(restored, expect);

  auto bad = run_strata({"restore", "archive", "--dataset", "telemetry", "--into",
                         "sqlite://part.db?table=t", "--where", "no_such = 1"},
                        a.dir);
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("no column 'no_such'"), std::string::npos) << bad.err;
}

// Without a day layout a shard is one file of many row groups: a key range reads only the row
// groups whose statistics overlap it, and restores exactly its archived rows.
TEST(Restore, AKeyRangeSkipsRowGroupsOutsideIt) {
  const std::string dir = fresh_dir("restore-row-groups");
  auto d = run_strata({"demo", "--rows", "150000", "--dir", dir, "--no-run"}, dir);
  ASSERT_EQ(d.exit_code, 0) << d.err;
  const std::vector<std::string> original = source_telemetry_rows(dir + "/telemetry.db");
  std::string policy = read_text(dir + "/telemetry.yaml");
  const std::string layout = "    layout: \"dt={ts:%Y-%m-%d}\"\n";
  ASSERT_NE(policy.find(layout), std::string::npos) << policy;
  policy.replace(policy.find(layout), layout.size(), "    row_group_mb: 1\n");
  write_file(dir + "/telemetry.yaml", policy);
  auto r = run_strata({"run", "telemetry.yaml", "--json"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;

  auto back = run_strata({"restore", "archive", "--dataset", "telemetry", "--into",
                          "sqlite://range.db?table=t", "--where", "id >= 20000 AND id < 21000",
                          "--json"},
                         dir);
  ASSERT_EQ(back.exit_code, 0) << back.err << back.out;
  auto j = nlohmann::json::parse(back.out);
  EXPECT_GE(j["row_groups_skipped"].get<int>(), 3) << back.out;
  EXPECT_LT(j["rows_read"].get<int64_t>(), 60000) << back.out;
  // Exactly the archived rows of the range: those still in the source are not in the archive.
  const auto left = sqlite_rows(dir + "/telemetry.db",
                                "SELECT count(*) FROM telemetry WHERE id >= 20000 AND id < 21000");
  const int64_t still_there = std::stoll(left[0][0].value_or("0"));
  int64_t in_range = 0;
  for (const std::string& row : original) {
    const int64_t id = std::stoll(row.substr(0, row.find('|')));
    if (id >= 20000 && id < 21000) ++in_range;
  }
  EXPECT_EQ(sqlite_count(dir + "/range.db", "t"), in_range - still_there);
  EXPECT_EQ(sqlite_count(dir + "/range.db", "t", "id < 20000 OR id >= 21000"), 0);
  EXPECT_GT(in_range - still_there, 500);
}

TEST(Retention, ExpireAfterDropsOldPartitionsListedFirstByDryRun) {
  Archived a = make_archive("retention", 20000);
  auto before = nlohmann::json::parse(run_strata({"ls", "archive", "--json"}, a.dir).out);
  const int64_t rows_before = before["datasets"][0]["rows"].get<int64_t>();
  const int parts_before = before["datasets"][0]["partitions"].get<int>();
  std::string policy = read_text(a.dir + "/telemetry.yaml");
  const std::string layout = "    layout: \"dt={ts:%Y-%m-%d}\"\n";
  ASSERT_NE(policy.find(layout), std::string::npos) << policy;
  policy.replace(policy.find(layout), layout.size(), layout + "    expire_after: 60d\n");
  write_file(a.dir + "/keep60.yaml", policy);

  // The dry run lists what would go and deletes nothing.
  auto dry = run_strata({"run", "keep60.yaml", "--dry-run"}, a.dir);
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.err.find("would expire"), std::string::npos) << dry.err;
  auto same = nlohmann::json::parse(run_strata({"ls", "archive", "--json"}, a.dir).out);
  EXPECT_EQ(same["datasets"][0]["rows"].get<int64_t>(), rows_before);

  auto r = run_strata({"run", "keep60.yaml", "--new"}, a.dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("retention expired from"), std::string::npos) << r.err;
  auto after = nlohmann::json::parse(run_strata({"ls", "archive", "--json"}, a.dir).out);
  const int parts_after = after["datasets"][0]["partitions"].get<int>();
  EXPECT_LT(parts_after, parts_before - 20);
  EXPECT_GT(parts_after, 20);
  // Nothing older than 60 days is left (a day of slack for the partition boundary).
  const std::string oldest = after["datasets"][0]["time_min"].get<std::string>();
  auto cutoff = sqlite_rows(a.dir + "/telemetry.db", "SELECT date('now', '-61 days')");
  EXPECT_GT(oldest, cutoff[0][0].value_or("")) << oldest;
  // The archive still verifies: the manifests no longer list the expired files.
  auto v = run_strata({"verify", "archive", "--deep"}, a.dir);
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

}  // namespace
}  // namespace strata::e2e
