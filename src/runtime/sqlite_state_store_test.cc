// What only the SQLite state store has: a file path (created with its directory; errors name
// it) and the migration of a version-1 store (before shard leases). Everything both stores do is
// in state_store_conformance_test.cc.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "runtime/state_store.h"

namespace strata {
namespace {

using namespace std::chrono_literals;

class SqliteStateStoreTest : public testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = testing::TempDir() + "/strata_state_test_" + std::to_string(getpid()) + "_" +
           std::to_string(counter++);
    std::filesystem::remove_all(dir_);
    path_ = dir_ + "/nested/state.db";  // the directory does not exist yet
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void raw_exec(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << sql << ": " << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  }

  std::string dir_;
  std::string path_;
};

TEST_F(SqliteStateStoreTest, CreatesTheFileAndItsDirectory) {
  auto store = open_sqlite_state_store(path_);
  ASSERT_TRUE(store.is_ok()) << store.status().to_string();
  EXPECT_TRUE(std::filesystem::exists(path_));
  auto by_uri = open_state_store("sqlite://" + path_);
  ASSERT_TRUE(by_uri.is_ok()) << by_uri.status().to_string();
}

// A store written by a binary from before leases (schema version 1) gains the lease columns and
// keeps its shards.
TEST_F(SqliteStateStoreTest, MigratesAVersion1Store) {
  {
    auto store = open_sqlite_state_store(path_);
    ASSERT_TRUE(store.is_ok());
    ShardRecord s;
    s.task_id = "t";
    s.index = 2;
    s.state = "archived";
    ASSERT_TRUE((*store)->put_shard(s).is_ok());
  }
  raw_exec(
      "ALTER TABLE shards DROP COLUMN lease_owner; ALTER TABLE shards DROP COLUMN lease_until; "
      "UPDATE schema_version SET version = 1");
  auto store = open_sqlite_state_store(path_);
  ASSERT_TRUE(store.is_ok()) << store.status().to_string();
  auto s = (*store)->get_shard("t", 2);
  ASSERT_TRUE(s.is_ok() && s->has_value()) << s.status().to_string();
  EXPECT_EQ((*s)->state, "archived");
  EXPECT_EQ((*s)->lease_owner, "");
  auto claimed = (*store)->claim_shard("t", 2, "w", 1h);
  ASSERT_TRUE(claimed.is_ok()) << claimed.status().to_string();
  EXPECT_TRUE(*claimed);
}

TEST_F(SqliteStateStoreTest, ErrorsNameThePath) {
  std::filesystem::create_directories(dir_);
  std::string not_a_db = dir_ + "/garbage.db";
  {
    std::FILE* f = std::fopen(not_a_db.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("this is not a SQLite database, just text long enough to have a header.....", f);
    std::fclose(f);
  }
  auto store = open_sqlite_state_store(not_a_db);
  ASSERT_FALSE(store.is_ok());
  EXPECT_TRUE(store.status().is_permanent());
  EXPECT_NE(store.status().message().find(not_a_db), std::string::npos) << store.status().message();

  // A parent "directory" that is a file.
  auto under_file = open_sqlite_state_store(not_a_db + "/state.db");
  ASSERT_FALSE(under_file.is_ok());
  EXPECT_NE(under_file.status().message().find(not_a_db), std::string::npos)
      << under_file.status().message();
}

}  // namespace
}  // namespace strata
