#include "functions/source_cache.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "connectors/sqlite/sqlite_source.h"

namespace strata {
namespace {

class SourceCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("strata-source-cache-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "t.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", nullptr, nullptr,
                           nullptr),
              SQLITE_OK);
    sqlite3_close(db);
    // The real SQLite source, counted.
    ASSERT_TRUE(registry_
                    .register_source("sqlite",
                                     [this](const SourceSpec& spec) {
                                       ++opened_;
                                       return open_sqlite_source(spec);
                                     })
                    .is_ok());
    spec_.uri = "sqlite://" + (dir_ / "t.db").string();
    spec_.table = "t";
    spec_.key_columns = {"id"};
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  Registry registry_;
  std::atomic<int> opened_{0};
  SourceSpec spec_;
};

TEST_F(SourceCacheTest, TheFunctionsOfATaskShareOneSource) {
  SourceCache cache(std::chrono::seconds(60));
  auto a = cache.open(registry_, "task-1", spec_);
  ASSERT_TRUE(a.is_ok()) << a.status().to_string();
  auto b = cache.open(registry_, "task-1", spec_);
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ(a->get(), b->get());
  EXPECT_EQ(opened_, 1);
  auto schema = (*b)->describe();
  ASSERT_TRUE(schema.is_ok()) << schema.status().to_string();
  EXPECT_EQ(schema->columns().size(), 2u);

  // Another task, or another table of the same task: a source of its own.
  auto c = cache.open(registry_, "task-2", spec_);
  SourceSpec other = spec_;
  other.where = "v IS NOT NULL";
  auto d = cache.open(registry_, "task-1", other);
  ASSERT_TRUE(c.is_ok() && d.is_ok());
  EXPECT_NE(a->get(), c->get());
  EXPECT_NE(a->get(), d->get());
  EXPECT_EQ(opened_, 3);
  EXPECT_EQ(cache.size(), 3u);

  // A failure of the task drops its sources (a function still holding one keeps it); the next
  // function opens anew.
  cache.forget("task-1");
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_TRUE((*a)->describe().is_ok());
  auto e = cache.open(registry_, "task-1", spec_);
  ASSERT_TRUE(e.is_ok());
  EXPECT_NE(a->get(), e->get());
  EXPECT_EQ(opened_, 4);
  // A task id that is a prefix of another's is a different task.
  cache.forget("task");
  EXPECT_EQ(cache.size(), 2u);
}

TEST_F(SourceCacheTest, SourcesUnusedForTheIdleTimeAreClosed) {
  SourceCache cache(std::chrono::milliseconds(200));
  std::shared_ptr<Source> held = *cache.open(registry_, "busy", spec_);
  (void)*cache.open(registry_, "done", spec_);
  EXPECT_EQ(cache.size(), 2u);
  // The held one counts as in use however long it is held.
  for (int i = 0; i < 50 && cache.size() > 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(cache.size(), 1u);
  auto again = cache.open(registry_, "busy", spec_);
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(again->get(), held.get());
  EXPECT_EQ(opened_, 2);
  held.reset();
  again->reset();
  for (int i = 0; i < 50 && cache.size() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(SourceCacheTest, ConcurrentOpensOfATaskGetTheSameSource) {
  SourceCache cache(std::chrono::seconds(60));
  std::vector<std::shared_ptr<Source>> got(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < got.size(); ++i) {
    threads.emplace_back([&, i] { got[i] = *cache.open(registry_, "t", spec_); });
  }
  for (std::thread& t : threads) t.join();
  for (const auto& s : got) EXPECT_EQ(s.get(), got[0].get());
  EXPECT_EQ(cache.size(), 1u);
}

}  // namespace
}  // namespace strata
