// The SQLite state store: upserts and reads of every record type, ordering, the latest-task
// queries, persistence across reopen, concurrent writers and the schema-version guard.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "runtime/state_store.h"

namespace strata {
namespace {

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

  std::unique_ptr<StateStore> open() {
    auto store = open_sqlite_state_store(path_);
    EXPECT_TRUE(store.is_ok()) << store.status().to_string();
    return store.is_ok() ? std::move(store).value() : nullptr;
  }

  static TaskRecord task(std::string id, std::string policy, std::string state,
                         int64_t created_at) {
    TaskRecord t;
    t.id = std::move(id);
    t.policy_name = std::move(policy);
    t.state = std::move(state);
    t.created_at = created_at;
    t.updated_at = created_at;
    return t;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(SqliteStateStoreTest, TaskUpsertGetAndEveryField) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  TaskRecord t = task("t1", "telemetry", "running", 1000);
  t.policy = Json{{"source", {{"uri", "postgres://u:${PGPASSWORD}@db/x"}}}};
  t.predicate = Json{{"time_before", "2026-10-01T00:00:00Z"}};
  t.shards_total = 8;
  ASSERT_TRUE(store->put_task(t).is_ok());

  t.state = "failed";
  t.updated_at = 2000;
  t.finished_at = 2000;
  t.shards_done = 7;
  t.shards_failed = 1;
  t.rows = 1234567890123;
  t.rows_purged = 1000;
  t.bytes_in = 1 << 30;
  t.bytes_out = 12345;
  t.error = "shard 3: table telemetry does not exist — ünïcode kept";
  ASSERT_TRUE(store->put_task(t).is_ok());

  auto got = store->get_task("t1");
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  ASSERT_TRUE(got->has_value());
  const TaskRecord& g = **got;
  EXPECT_EQ(g.id, "t1");
  EXPECT_EQ(g.policy_name, "telemetry");
  EXPECT_EQ(g.state, "failed");
  EXPECT_EQ(g.created_at, 1000);
  EXPECT_EQ(g.updated_at, 2000);
  EXPECT_EQ(g.finished_at, 2000);
  EXPECT_EQ(g.policy, t.policy);
  EXPECT_EQ(g.predicate, t.predicate);
  EXPECT_EQ(g.shards_total, 8);
  EXPECT_EQ(g.shards_done, 7);
  EXPECT_EQ(g.shards_failed, 1);
  EXPECT_EQ(g.rows, 1234567890123);
  EXPECT_EQ(g.rows_purged, 1000);
  EXPECT_EQ(g.bytes_in, 1 << 30);
  EXPECT_EQ(g.bytes_out, 12345);
  EXPECT_EQ(g.error, t.error);

  auto missing = store->get_task("nope");
  ASSERT_TRUE(missing.is_ok());
  EXPECT_FALSE(missing->has_value());

  auto all = store->list_tasks();
  ASSERT_TRUE(all.is_ok());
  EXPECT_EQ(all->size(), 1u) << "an upsert does not add a row";
}

TEST_F(SqliteStateStoreTest, ListTasksNewestFirstWithLimit) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->put_task(task("b", "p", "running", 200)).is_ok());
  ASSERT_TRUE(store->put_task(task("c", "p", "running", 300)).is_ok());
  ASSERT_TRUE(store->put_task(task("a", "p", "running", 100)).is_ok());
  ASSERT_TRUE(store->put_task(task("c2", "q", "running", 300)).is_ok());  // same time, later

  auto all = store->list_tasks();
  ASSERT_TRUE(all.is_ok());
  std::vector<std::string> ids;
  for (const auto& t : *all) ids.push_back(t.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"c2", "c", "b", "a"}));

  auto two = store->list_tasks(2);
  ASSERT_TRUE(two.is_ok());
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[1].id, "c");
}

TEST_F(SqliteStateStoreTest, LatestUnfinishedAndLatestSucceeded) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->put_task(task("old-run", "orders", "running", 100)).is_ok());
  ASSERT_TRUE(store->put_task(task("new-run", "orders", "running", 300)).is_ok());
  ASSERT_TRUE(store->put_task(task("ok-1", "orders", "succeeded", 150)).is_ok());
  ASSERT_TRUE(store->put_task(task("ok-2", "orders", "succeeded", 250)).is_ok());
  ASSERT_TRUE(store->put_task(task("failed", "orders", "failed", 400)).is_ok());
  ASSERT_TRUE(store->put_task(task("other", "logs", "running", 500)).is_ok());

  auto unfinished = store->latest_unfinished("orders");
  ASSERT_TRUE(unfinished.is_ok());
  ASSERT_TRUE(unfinished->has_value());
  EXPECT_EQ((*unfinished)->id, "new-run");

  auto succeeded = store->latest_succeeded("orders");
  ASSERT_TRUE(succeeded.is_ok());
  ASSERT_TRUE(succeeded->has_value());
  EXPECT_EQ((*succeeded)->id, "ok-2");

  // Finishing the newest run exposes the older one; a policy without tasks has none.
  TaskRecord done = task("new-run", "orders", "succeeded", 300);
  ASSERT_TRUE(store->put_task(done).is_ok());
  EXPECT_EQ((*store->latest_unfinished("orders"))->id, "old-run");
  EXPECT_EQ((*store->latest_succeeded("orders"))->id, "new-run");
  EXPECT_FALSE(store->latest_succeeded("logs")->has_value());
  EXPECT_FALSE(store->latest_unfinished("nothing")->has_value());
}

TEST_F(SqliteStateStoreTest, ShardsUpsertGetAndListInIndexOrder) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  for (int i : {2, 0, 1}) {
    ShardRecord s;
    s.task_id = "t1";
    s.index = i;
    s.range = Json{{"lo", i * 100}, {"hi", i * 100 + 100}};
    s.estimated_rows = 100;
    ASSERT_TRUE(store->put_shard(s).is_ok());
  }
  ShardRecord other;
  other.task_id = "t2";
  ASSERT_TRUE(store->put_shard(other).is_ok());

  ShardRecord s;
  s.task_id = "t1";
  s.index = 1;
  s.state = "archived";
  s.range = Json{{"lo", "2026-01-01"}, {"hi", nullptr}};
  s.estimated_rows = 100;
  s.rows = 98;
  s.rows_purged = 3;
  s.bytes_in = 4096;
  s.bytes_out = 1024;
  s.files = 2;
  s.attempts = 3;
  s.started_at = 10;
  s.finished_at = 20;
  s.error = "retried twice";
  ASSERT_TRUE(store->put_shard(s).is_ok());

  auto got = store->get_shard("t1", 1);
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  ASSERT_TRUE(got->has_value());
  const ShardRecord& g = **got;
  EXPECT_EQ(g.task_id, "t1");
  EXPECT_EQ(g.index, 1);
  EXPECT_EQ(g.state, "archived");
  EXPECT_EQ(g.range, s.range);
  EXPECT_EQ(g.estimated_rows, 100);
  EXPECT_EQ(g.rows, 98);
  EXPECT_EQ(g.rows_purged, 3);
  EXPECT_EQ(g.bytes_in, 4096);
  EXPECT_EQ(g.bytes_out, 1024);
  EXPECT_EQ(g.files, 2);
  EXPECT_EQ(g.attempts, 3);
  EXPECT_EQ(g.started_at, 10);
  EXPECT_EQ(g.finished_at, 20);
  EXPECT_EQ(g.error, "retried twice");
  EXPECT_FALSE(store->get_shard("t1", 7)->has_value());

  auto list = store->list_shards("t1");
  ASSERT_TRUE(list.is_ok());
  ASSERT_EQ(list->size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ((*list)[i].index, i);
  EXPECT_EQ((*list)[1].state, "archived");
  EXPECT_TRUE(store->list_shards("none")->empty());
}

TEST_F(SqliteStateStoreTest, BatchesUpsertAndListInSeqOrder) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  for (int seq : {1, 0, 2}) {
    BatchRecord b;
    b.task_id = "t1";
    b.shard = 4;
    b.seq = seq;
    b.rows = 10;
    ASSERT_TRUE(store->put_batch(b).is_ok());
  }
  BatchRecord other_shard;
  other_shard.task_id = "t1";
  other_shard.shard = 5;
  ASSERT_TRUE(store->put_batch(other_shard).is_ok());

  BatchRecord b;
  b.task_id = "t1";
  b.shard = 4;
  b.seq = 2;
  b.rows = 7;
  b.bytes_in = 700;
  b.started_at = 5;
  b.finished_at = 9;
  ASSERT_TRUE(store->put_batch(b).is_ok());

  auto list = store->list_batches("t1", 4);
  ASSERT_TRUE(list.is_ok());
  ASSERT_EQ(list->size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ((*list)[i].seq, i);
    EXPECT_EQ((*list)[i].shard, 4);
    EXPECT_EQ((*list)[i].task_id, "t1");
  }
  EXPECT_EQ((*list)[2].rows, 7);
  EXPECT_EQ((*list)[2].bytes_in, 700);
  EXPECT_EQ((*list)[2].started_at, 5);
  EXPECT_EQ((*list)[2].finished_at, 9);
  EXPECT_EQ(store->list_batches("t1", 5)->size(), 1u);
}

TEST_F(SqliteStateStoreTest, DeadLettersUpsertByFunctionAndEventNewestFirst) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto letter = [](std::string function, std::string event_id, int64_t at) {
    DeadLetterRecord d;
    d.function = std::move(function);
    d.topic = "strata.shards.sqlite";
    d.event_json =
        make_event("strata.shard.planned", "strata/split", "t/0", Json::object()).to_json().dump();
    Json j = Json::parse(d.event_json);
    j["id"] = event_id;
    d.event_json = j.dump();
    d.attempts = 5;
    d.error = "retryable: connection refused";
    d.at = at;
    return d;
  };
  ASSERT_TRUE(store->put_dead_letter(letter("archive", "e1", 100)).is_ok());
  ASSERT_TRUE(store->put_dead_letter(letter("archive", "e2", 300)).is_ok());
  ASSERT_TRUE(store->put_dead_letter(letter("status", "e1", 200)).is_ok());
  // The same event dead-lettered again by the same function replaces its row.
  DeadLetterRecord again = letter("archive", "e1", 400);
  again.attempts = 1;
  again.error = "permanent: table gone";
  ASSERT_TRUE(store->put_dead_letter(again).is_ok());
  // Unparseable event text is still stored.
  DeadLetterRecord garbage = letter("split", "x", 50);
  garbage.event_json = "not json";
  ASSERT_TRUE(store->put_dead_letter(garbage).is_ok());

  auto list = store->list_dead_letters();
  ASSERT_TRUE(list.is_ok()) << list.status().to_string();
  ASSERT_EQ(list->size(), 4u);
  EXPECT_EQ((*list)[0].at, 400);
  EXPECT_EQ((*list)[0].function, "archive");
  EXPECT_EQ((*list)[0].attempts, 1);
  EXPECT_EQ((*list)[0].error, "permanent: table gone");
  EXPECT_EQ((*list)[0].topic, "strata.shards.sqlite");
  EXPECT_EQ(Json::parse((*list)[0].event_json)["id"], "e1");
  EXPECT_EQ((*list)[1].at, 300);
  EXPECT_EQ((*list)[2].at, 200);
  EXPECT_EQ((*list)[3].event_json, "not json");
  EXPECT_EQ(store->list_dead_letters(1)->size(), 1u);
}

TEST_F(SqliteStateStoreTest, ReopenKeepsEverything) {
  {
    auto store = open();
    ASSERT_NE(store, nullptr);
    TaskRecord t = task("t1", "p", "running", 1);
    t.policy = Json{{"k", "v"}};
    ASSERT_TRUE(store->put_task(t).is_ok());
    ShardRecord s;
    s.task_id = "t1";
    s.index = 3;
    ASSERT_TRUE(store->put_shard(s).is_ok());
    BatchRecord b;
    b.task_id = "t1";
    b.shard = 3;
    ASSERT_TRUE(store->put_batch(b).is_ok());
    DeadLetterRecord d;
    d.function = "f";
    d.event_json = "{}";
    ASSERT_TRUE(store->put_dead_letter(d).is_ok());
  }
  EXPECT_TRUE(std::filesystem::exists(path_));
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto t = store->get_task("t1");
  ASSERT_TRUE(t.is_ok() && t->has_value());
  EXPECT_EQ((*t)->policy, (Json{{"k", "v"}}));
  EXPECT_TRUE(store->get_shard("t1", 3)->has_value());
  EXPECT_EQ(store->list_batches("t1", 3)->size(), 1u);
  EXPECT_EQ(store->list_dead_letters()->size(), 1u);
}

TEST_F(SqliteStateStoreTest, ConcurrentWritersFromSeveralThreads) {
  constexpr int kThreads = 6;
  constexpr int kPerThread = 150;
  auto store = open();
  ASSERT_NE(store, nullptr);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string task_id = "task-" + std::to_string(t);
      for (int i = 0; i < kPerThread; ++i) {
        TaskRecord task = SqliteStateStoreTest::task(task_id, "p", "running", i);
        task.rows = i;
        EXPECT_TRUE(store->put_task(task).is_ok());
        BatchRecord b;
        b.task_id = task_id;
        b.seq = i;
        b.rows = i;
        EXPECT_TRUE(store->put_batch(b).is_ok());
        EXPECT_TRUE(store->list_batches(task_id, 0).is_ok());  // readers interleave too
      }
    });
  }
  for (auto& th : threads) th.join();
  auto tasks = store->list_tasks(1000);
  ASSERT_TRUE(tasks.is_ok());
  EXPECT_EQ(tasks->size(), static_cast<size_t>(kThreads));
  for (const auto& t : *tasks) EXPECT_EQ(t.rows, kPerThread - 1);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(store->list_batches("task-" + std::to_string(t), 0)->size(),
              static_cast<size_t>(kPerThread));
  }
}

TEST_F(SqliteStateStoreTest, RefusesAStoreWithANewerSchema) {
  ASSERT_NE(open(), nullptr);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE schema_version SET version = 99", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);

  auto store = open_sqlite_state_store(path_);
  ASSERT_FALSE(store.is_ok());
  EXPECT_TRUE(store.status().is_permanent());
  const std::string& msg = store.status().message();
  EXPECT_NE(msg.find(path_), std::string::npos) << msg;
  EXPECT_NE(msg.find("99"), std::string::npos) << msg;
  EXPECT_NE(msg.find("newer"), std::string::npos) << msg;
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
