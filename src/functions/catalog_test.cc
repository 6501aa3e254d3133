#include "functions/catalog.h"

#include "functions/restore.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "connectors/file/file_target.h"
#include "core/fs.h"
#include "tests/support/duckdb.h"

namespace strata {
namespace {

using testing_support::fresh_dir;

std::unique_ptr<Target> file_target(const std::string& dir) {
  auto uri = parse_uri("file://" + dir);
  auto t = open_file_target(*uri, "");
  EXPECT_TRUE(t.is_ok()) << t.status().to_string();
  return std::move(t).value();
}

ShardManifest manifest(const std::string& task, int shard, int files) {
  ShardManifest m;
  m.task_id = task;
  m.shard = shard;
  m.dataset = "telemetry";
  m.committed_at = 1;
  for (int i = 0; i < files; ++i) {
    ManifestFile f;
    f.partition = "dt=2026-01-0" + std::to_string(1 + i % 3);
    f.path = "telemetry/" + f.partition + "/part-" + task + "-" + std::to_string(shard) + "-" +
             std::to_string(i) + ".parquet";
    f.rows = 10;
    f.bytes = 100;
    f.time_min = 1000 * i;
    f.time_max = 1000 * i + 999;
    m.files.push_back(f);
  }
  return m;
}

TEST(Catalog, ConcurrentWritersLoseNoEntry) {
  std::string dir = fresh_dir("concurrent");
  auto target = file_target(dir);
  // 4 threads x 15 shards, each with its own target object (as separate processes would).
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto mine = file_target(dir);
      for (int s = 0; s < 15; ++s) {
        Status st = catalog_add(*mine, manifest("task" + std::to_string(t), s, 2), 1);
        EXPECT_TRUE(st.is_ok()) << st.to_string();
      }
    });
  }
  for (auto& th : threads) th.join();
  auto c = load_catalog(*target);
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  ASSERT_EQ(c->datasets.size(), 1u);
  EXPECT_EQ(c->datasets.at("telemetry").size(), 4u * 15u * 2u);
  EXPECT_EQ(c->version, 60);
  // Old versions are pruned; the newest stays.
  auto versions = target->list("_strata/catalog/");
  ASSERT_TRUE(versions.is_ok());
  EXPECT_LE(versions->size(), 6u);
}

// A file target whose next catalog version write waits until told: a writer that pauses
// between reading the catalog and writing its next version, as a stopped or cut-off process does.
class PausingTarget final : public Target {
 public:
  explicit PausingTarget(std::unique_ptr<Target> inner) : inner_(std::move(inner)) {}
  std::atomic<bool> pause_next{false};
  std::atomic<bool> paused{false};
  std::atomic<bool> resume{false};

  std::string describe() const override { return inner_->describe(); }
  Status check_writable() override { return inner_->check_writable(); }
  Result<std::unique_ptr<PartWriter>> create_part(
      const std::string& path, const FormatSpec& format, std::shared_ptr<const Schema> schema,
      const std::map<std::string, std::string>& metadata) override {
    return inner_->create_part(path, format, std::move(schema), metadata);
  }
  Status put(const std::string& path, std::string_view content) override {
    return inner_->put(path, content);
  }
  Result<bool> put_if_absent(const std::string& path, std::string_view content) override {
    if (pause_next.exchange(false)) {
      paused = true;
      while (!resume) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return inner_->put_if_absent(path, content);
  }
  Result<std::optional<std::string>> get(const std::string& path) override {
    return inner_->get(path);
  }
  Result<std::vector<std::string>> list(const std::string& prefix) override {
    return inner_->list(prefix);
  }
  Status remove(const std::string& path) override { return inner_->remove(path); }
  Status remove_incomplete(const std::string& dir, const std::string& name_prefix) override {
    return inner_->remove_incomplete(dir, name_prefix);
  }
  Result<std::unique_ptr<ByteSource>> open(const std::string& path) override {
    return inner_->open(path);
  }

 private:
  std::unique_ptr<Target> inner_;
};

// A writer that read version N and writes N+1 only after others have gone far past it (and
// pruning has freed N+1's name) lands off the chain: its entries must still reach the catalog.
TEST(Catalog, AWriterThatPausedPastPruningLosesNothing) {
  std::string dir = fresh_dir("paused");
  auto target = file_target(dir);
  ASSERT_TRUE(catalog_add(*target, manifest("first", 0, 1), 1).is_ok());
  PausingTarget slow(file_target(dir));
  slow.pause_next = true;
  std::thread late([&] {
    Status st = catalog_add(slow, manifest("late", 0, 2), 2);
    EXPECT_TRUE(st.is_ok()) << st.to_string();
  });
  while (!slow.paused) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  for (int s = 0; s < 12; ++s) ASSERT_TRUE(catalog_add(*target, manifest("busy", s, 1), 3).is_ok());
  slow.resume = true;
  late.join();
  auto c = load_catalog(*target);
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  const auto& files = c->datasets.at("telemetry");
  EXPECT_EQ(files.size(), 1u + 2u + 12u);
  EXPECT_EQ(std::count_if(files.begin(), files.end(),
                          [](const CatalogFile& f) { return f.task_id == "late"; }),
            2);
  // The stray version is pruned by the next writes.
  ASSERT_TRUE(catalog_add(*target, manifest("after", 0, 1), 4).is_ok());
  auto versions = target->list("_strata/catalog/");
  ASSERT_TRUE(versions.is_ok());
  EXPECT_LE(versions->size(), 6u);
}

TEST(Catalog, AddingAShardTwiceChangesNothingAndRemoveDropsFiles) {
  std::string dir = fresh_dir("idempotent");
  auto target = file_target(dir);
  ASSERT_TRUE(catalog_add(*target, manifest("t", 0, 3), 1).is_ok());
  ASSERT_TRUE(catalog_add(*target, manifest("t", 0, 3), 2).is_ok());
  auto c = load_catalog(*target);
  ASSERT_TRUE(c.is_ok());
  EXPECT_EQ(c->version, 1);
  EXPECT_EQ(c->datasets.at("telemetry").size(), 3u);
  std::set<std::string> gone = {c->datasets.at("telemetry")[0].path};
  ASSERT_TRUE(catalog_remove(*target, "telemetry", gone, 3).is_ok());
  c = load_catalog(*target);
  ASSERT_TRUE(c.is_ok());
  EXPECT_EQ(c->datasets.at("telemetry").size(), 2u);
  EXPECT_EQ(c->updated_at, 3);
}

// An earlier version's pointer file, stale or missing, changes nothing.
TEST(Catalog, AStalePointerOrNoneStillFindsTheNewestVersion) {
  std::string dir = fresh_dir("pointer");
  auto target = file_target(dir);
  for (int s = 0; s < 3; ++s) ASSERT_TRUE(catalog_add(*target, manifest("t", s, 1), 1).is_ok());
  // A writer that crashed before moving the pointer, or a slower one that moved it back.
  ASSERT_TRUE(target->put("_strata/catalog.json", R"({"version": 1})").is_ok());
  auto c = load_catalog(*target);
  ASSERT_TRUE(c.is_ok());
  EXPECT_EQ(c->version, 3);
  EXPECT_EQ(c->datasets.at("telemetry").size(), 3u);
  ASSERT_TRUE(target->remove("_strata/catalog.json").is_ok());
  c = load_catalog(*target);
  ASSERT_TRUE(c.is_ok());
  EXPECT_EQ(c->version, 3);
}

TEST(Catalog, ExclusiveCreateRefusesAnExistingDocument) {
  std::string dir = fresh_dir("exclusive");
  auto target = file_target(dir);
  auto first = target->put_if_absent("a/b.json", "1");
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  EXPECT_TRUE(*first);
  auto second = target->put_if_absent("a/b.json", "2");
  ASSERT_TRUE(second.is_ok());
  EXPECT_FALSE(*second);
  EXPECT_EQ(**target->get("a/b.json"), "1");
  auto names = target->list("a/");
  ASSERT_TRUE(names.is_ok());
  EXPECT_EQ(*names, std::vector<std::string>{"a/b.json"});  // no temp file left behind
}

TEST(RestoreFilter, ParsesConditionsAndNamesWhatIsWrong) {
  auto f = parse_row_filter("ts >= '2026-01-01' AND vehicle = 7 and \"odd name\" <> 'it''s'");
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  ASSERT_EQ(f->size(), 3u);
  EXPECT_EQ((*f)[0].column, "ts");
  EXPECT_EQ((*f)[0].op, ">=");
  EXPECT_EQ((*f)[0].literal, "2026-01-01");
  EXPECT_EQ((*f)[1].literal, "7");
  EXPECT_EQ((*f)[2].column, "odd name");
  EXPECT_EQ((*f)[2].op, "!=");
  EXPECT_EQ((*f)[2].literal, "it's");
  auto null = parse_row_filter("status = null");
  ASSERT_TRUE(null.is_ok());
  EXPECT_EQ((*null)[0].literal, "NULL");
  auto bad = parse_row_filter("ts >> 5");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("expected: column op value"), std::string::npos)
      << bad.status().message();
  EXPECT_FALSE(parse_row_filter("ts = 'open").is_ok());
  EXPECT_FALSE(parse_row_filter("ts = 1 OR v = 2").is_ok());
}

}  // namespace
}  // namespace strata
