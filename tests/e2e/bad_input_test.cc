// Bad input gets a clear error naming the thing, a non-zero exit, and loses nothing.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/e2e/e2e_support.h"

namespace strata::e2e {
namespace {

using testing_support::fresh_dir;
namespace fs = std::filesystem;

std::string demo_dir(const std::string& name, int rows = 5000) {
  std::string dir = fresh_dir(name);
  auto r = run_strata({"demo", "--rows", std::to_string(rows), "--dir", dir, "--no-run"}, dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return dir;
}

const char* kGood =
    "source: {uri: sqlite://telemetry.db, table: telemetry, key: id, time: ts}\n"
    "selection: {older_than: 30d}\n"
    "split: {shard_rows: 1000}\n"
    "targets: [{uri: file://archive}]\n"
    "mode: move\n";

void expect_error(const CommandResult& r, const std::vector<std::string>& needles) {
  EXPECT_NE(r.exit_code, 0) << r.out;
  for (const std::string& n : needles) {
    bool found = r.err.find(n) != std::string::npos || r.out.find(n) != std::string::npos;
    EXPECT_TRUE(found) << "expected '" << n << "' in:\n" << r.err << r.out;
  }
}

TEST(BadInput, MalformedYamlNamesFileAndLine) {
  std::string dir = demo_dir("yaml");
  write_file(dir + "/p.yaml", "source: {uri: sqlite://telemetry.db\ntable: [\n");
  expect_error(run_strata({"run", "p.yaml"}, dir), {"p.yaml:", "YAML"});
  EXPECT_EQ(sqlite_count(dir + "/telemetry.db", "telemetry"), 5000);
}

TEST(BadInput, UnknownKeyNamesLineColumnAndSuggests) {
  std::string dir = demo_dir("unknown");
  write_file(dir + "/p.yaml", std::string(kGood) + "split:\n  shard_row: 10\n");
  auto r = run_strata({"run", "p.yaml"}, dir);
  // 'split' appears twice: either the duplicate or the unknown key is reported with a position.
  EXPECT_NE(r.exit_code, 0);
  write_file(dir + "/q.yaml",
             "source: {uri: sqlite://telemetry.db, table: telemetry, key: id, time: ts}\n"
             "selection: {older_than: 30d}\n"
             "split:\n"
             "  shard_row: 10\n"
             "targets: [{uri: file://archive}]\n");
  expect_error(run_strata({"run", "q.yaml"}, dir), {"q.yaml:4:3", "shard_row", "shard_rows"});
}

TEST(BadInput, MissingTableNamesItAndKeepsStateUsable) {
  std::string dir = demo_dir("notable");
  std::string p = kGood;
  p.replace(p.find("table: telemetry"), 16, "table: telemtry");
  write_file(dir + "/p.yaml", p);
  auto r = run_strata({"run", "p.yaml"}, dir);
  expect_error(r, {"telemtry"});
  EXPECT_EQ(sqlite_count(dir + "/telemetry.db", "telemetry"), 5000);
  // Fixed, the same policy name runs fine from the same state store.
  write_file(dir + "/p.yaml", kGood);
  auto ok = run_strata({"run", "p.yaml", "--json"}, dir);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

TEST(BadInput, KeyColumnNotUnique) {
  std::string dir = demo_dir("notunique");
  std::string p = kGood;
  p.replace(p.find("key: id"), 7, "key: vehicle_id");
  write_file(dir + "/p.yaml", p);
  expect_error(run_strata({"run", "p.yaml"}, dir), {"vehicle_id", "unique"});
  EXPECT_EQ(sqlite_count(dir + "/telemetry.db", "telemetry"), 5000);
}

TEST(BadInput, KeyColumnInTheWrongCaseSuggestsTheRealName) {
  std::string dir = demo_dir("keycase");
  std::string p = kGood;
  p.replace(p.find("key: id"), 7, "key: ID");
  write_file(dir + "/p.yaml", p);
  expect_error(run_strata({"run", "p.yaml"}, dir), {"'ID'", "did you mean 'id'"});
  EXPECT_EQ(sqlite_count(dir + "/telemetry.db", "telemetry"), 5000);
}

TEST(BadInput, MissingDatabaseFile) {
  std::string dir = fresh_dir("nodb");
  write_file(dir + "/p.yaml", kGood);
  expect_error(run_strata({"run", "p.yaml"}, dir), {"telemetry.db"});
  EXPECT_FALSE(fs::exists(dir + "/telemetry.db")) << "a missing database must not be created";
}

TEST(BadInput, TargetNotWritable) {
  std::string dir = demo_dir("notwritable");
  write_file(dir + "/blocker", "a file where a directory should be");
  std::string p = kGood;
  p.replace(p.find("file://archive"), 14, "file://blocker/archive");
  write_file(dir + "/p.yaml", p);
  expect_error(run_strata({"run", "p.yaml"}, dir), {"blocker/archive"});
  EXPECT_EQ(sqlite_count(dir + "/telemetry.db", "telemetry"), 5000);
}

TEST(BadInput, LiteralPasswordRejectedWithoutEchoingIt) {
  std::string dir = demo_dir("password");
  write_file(dir + "/p.yaml",
             "source: {uri: 'postgres://app:hunter2@db/prod', table: t, key: id, time: ts}\n"
             "selection: {older_than: 30d}\n"
             "targets: [{uri: file://archive}]\n");
  auto r = run_strata({"run", "p.yaml"}, dir);
  expect_error(r, {"p.yaml:1", "password", "${"});
  EXPECT_EQ(r.err.find("hunter2"), std::string::npos) << r.err;
}

TEST(BadInput, DiskFullFailsCleanlyAndReRunFinishes) {
  std::string dir = demo_dir("diskfull", 60000);
  auto original = source_telemetry_rows(dir + "/telemetry.db");
  fs::create_directories(dir + "/archive");
  if (mount("tmpfs", (dir + "/archive").c_str(), "tmpfs", 0, "size=600k") != 0) {
    GTEST_SKIP() << "cannot mount a small tmpfs here (needs root): " << strerror(errno);
  }
  struct Unmount {
    std::string path;
    ~Unmount() { umount2(path.c_str(), MNT_DETACH); }
  } unmount{dir + "/archive"};
  write_file(dir + "/p.yaml", kGood);
  auto r = run_strata({"run", "p.yaml"}, dir);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("disk is full"), std::string::npos) << r.err << r.out;
  // Free space; the re-run resumes the task and ends complete with nothing lost.
  ASSERT_EQ(mount("tmpfs", (dir + "/archive").c_str(), "tmpfs", MS_REMOUNT, "size=64m"), 0);
  auto again = run_strata({"run", "p.yaml", "--json"}, dir);
  EXPECT_EQ(again.exit_code, 0) << again.err;
  auto archived = archive_telemetry_rows(dir + "/archive", "parquet");
  auto remaining = source_telemetry_rows(dir + "/telemetry.db");
  EXPECT_EQ(archived.size() + remaining.size(), original.size());
  std::vector<std::string> all = archived;
  all.insert(all.end(), remaining.begin(), remaining.end());
  std::sort(all.begin(), all.end());
  std::sort(original.begin(), original.end());
  EXPECT_TRUE(all == original);
}

TEST(Verify, NamesTamperedAndMissingFiles) {
  std::string dir = demo_dir("tamper");
  write_file(dir + "/p.yaml", kGood);
  ASSERT_EQ(run_strata({"run", "p.yaml"}, dir).exit_code, 0);
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir + "/archive")) {
    if (e.path().extension() == ".parquet") files.push_back(e.path().string());
  }
  ASSERT_GE(files.size(), 3u);
  std::sort(files.begin(), files.end());
  {
    std::fstream f(files[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(8);
    f.put('\x5a');
  }
  fs::remove(files[1]);
  // A stray data file no manifest lists would be counted by every query over the folder.
  fs::copy_file(files[2], fs::path(files[2]).parent_path() / "part-stray.parquet");
  // The quick check (sizes, listings) sees the missing and the stray file, not the flipped byte.
  auto quick = run_strata({"verify", "archive"}, dir);
  EXPECT_EQ(quick.exit_code, 1);
  EXPECT_EQ(quick.out.find(fs::path(files[0]).filename().string()), std::string::npos) << quick.out;
  EXPECT_NE(quick.out.find(fs::path(files[1]).filename().string()), std::string::npos) << quick.out;
  EXPECT_NE(quick.out.find("2 problem"), std::string::npos) << quick.out;
  // --deep re-reads every byte and row.
  auto v = run_strata({"verify", "archive", "--deep"}, dir);
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_NE(v.out.find(fs::path(files[0]).filename().string()), std::string::npos) << v.out;
  EXPECT_NE(v.out.find(fs::path(files[1]).filename().string()), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("part-stray.parquet: a data file that no manifest lists"), std::string::npos)
      << v.out;
  EXPECT_NE(v.out.find("3 problem"), std::string::npos) << v.out;
}

}  // namespace
}  // namespace strata::e2e
