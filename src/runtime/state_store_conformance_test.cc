// One suite, every state store: the same cases run against SQLite and PostgreSQL (the server of
// STRATA_TEST_PG_URI, each test in its own schema, dropped afterwards). Records of each kind
// (every field round-trips, upserts replace), ordering, the latest-task queries, reopening,
// concurrent writers, atomic read-modify-write (update_shard, on which a monotonic fold runs
// race-free), shard leases (exactly one of many racing owners wins, expiry, renew after loss,
// release), the schema-version guard, and errors naming the store.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include "runtime/state_store.h"

namespace strata {
namespace {

using namespace std::chrono_literals;

// One kind of store under test. open() may be called several times: each call is another
// client of the same store (another process, for PostgreSQL).
class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string uri() const = 0;
  // Runs raw SQL on the store's database (for the tests that tamper with it).
  virtual void raw_exec(const std::string& sql) = 0;
  // How the schema version table is named in raw SQL.
  virtual std::string version_table() const = 0;
};

class SqliteBackend : public Backend {
 public:
  explicit SqliteBackend(const std::string& name) {
    static std::atomic<int> counter{0};
    dir_ = testing::TempDir() + "/strata_state_conf_" + std::to_string(getpid()) + "_" +
           std::to_string(counter++) + "_" + name;
    std::filesystem::remove_all(dir_);
    path_ = dir_ + "/nested/state.db";  // the directory does not exist yet
  }
  ~SqliteBackend() override { std::filesystem::remove_all(dir_); }
  std::string uri() const override { return "sqlite://" + path_; }
  void raw_exec(const std::string& sql) override {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << sql << ": " << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  }
  std::string version_table() const override { return "schema_version"; }
  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
};

class PostgresBackend : public Backend {
 public:
  PostgresBackend(const std::string& server, const std::string& name) : server_(server) {
    schema_ = "conf_";
    for (char c : name) {
      schema_ += std::isalnum(static_cast<unsigned char>(c))
                     ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
                     : '_';
    }
    schema_ = schema_.substr(0, 48) + "_" + std::to_string(getpid());
    raw_exec("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
  }
  ~PostgresBackend() override { raw_exec("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE"); }
  std::string uri() const override {
    return server_ + (server_.find('?') == std::string::npos ? "?" : "&") + "schema=" + schema_;
  }
  void raw_exec(const std::string& sql) override {
    PGconn* c = PQconnectdb(server_.c_str());
    ASSERT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
    PQsetNoticeProcessor(
        c, [](void*, const char*) {}, nullptr);
    PGresult* r = PQexec(c, sql.c_str());
    EXPECT_TRUE(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
        << sql << ": " << PQresultErrorMessage(r);
    PQclear(r);
    PQfinish(c);
  }
  std::string version_table() const override { return schema_ + ".schema_version"; }

 private:
  std::string server_;
  std::string schema_;
};

class StateStoreConformance : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string name = testing::UnitTest::GetInstance()->current_test_info()->name();
    name = name.substr(0, name.find('/'));
    if (GetParam() == "sqlite") {
      backend_ = std::make_unique<SqliteBackend>(name);
    } else {
      const char* server = std::getenv("STRATA_TEST_PG_URI");
      ASSERT_TRUE(server != nullptr && *server != '\0')
          << "STRATA_TEST_PG_URI is not set: run the PostgreSQL state store tests through "
             "`make test` or scripts/run-tests, which start the test servers and export it";
      backend_ = std::make_unique<PostgresBackend>(server, name);
    }
  }

  std::unique_ptr<StateStore> open() {
    auto store = open_state_store(backend_->uri());
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
  static ShardRecord shard(std::string task_id, int index) {
    ShardRecord s;
    s.task_id = std::move(task_id);
    s.index = index;
    return s;
  }

  std::unique_ptr<Backend> backend_;
};

INSTANTIATE_TEST_SUITE_P(Stores, StateStoreConformance, testing::Values("sqlite", "postgres"),
                         [](const testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

TEST_P(StateStoreConformance, TaskUpsertGetAndEveryField) {
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
  t.error = "shard 3: table telemetry does not exist — ünïcode kept, 'quotes' \"too\"";
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

TEST_P(StateStoreConformance, ListTasksNewestFirstWithLimit) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->put_task(task("b", "p", "running", 200)).is_ok());
  ASSERT_TRUE(store->put_task(task("c", "p", "running", 300)).is_ok());
  ASSERT_TRUE(store->put_task(task("a", "p", "running", 100)).is_ok());
  ASSERT_TRUE(store->put_task(task("c2", "q", "running", 300)).is_ok());   // same time, later
  ASSERT_TRUE(store->put_task(task("c", "p", "succeeded", 300)).is_ok());  // keeps its place

  auto all = store->list_tasks();
  ASSERT_TRUE(all.is_ok());
  std::vector<std::string> ids;
  for (const auto& t : *all) ids.push_back(t.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"c2", "c", "b", "a"}));

  auto two = store->list_tasks(2);
  ASSERT_TRUE(two.is_ok());
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[1].id, "c");
  EXPECT_EQ(store->list_tasks(-1)->size(), 4u) << "a negative limit means no limit";
}

TEST_P(StateStoreConformance, LatestUnfinishedAndLatestSucceeded) {
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

TEST_P(StateStoreConformance, ShardsUpsertGetAndListInIndexOrder) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  for (int i : {2, 0, 1}) {
    ShardRecord s = shard("t1", i);
    s.range = Json{{"lo", i * 100}, {"hi", i * 100 + 100}};
    s.estimated_rows = 100;
    ASSERT_TRUE(store->put_shard(s).is_ok());
  }
  ASSERT_TRUE(store->put_shard(shard("t2", 0)).is_ok());

  ShardRecord s = shard("t1", 1);
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
  EXPECT_EQ(g.lease_owner, "");
  EXPECT_EQ(g.lease_until, 0);
  EXPECT_FALSE(store->get_shard("t1", 7)->has_value());

  auto list = store->list_shards("t1");
  ASSERT_TRUE(list.is_ok());
  ASSERT_EQ(list->size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ((*list)[i].index, i);
  EXPECT_EQ((*list)[1].state, "archived");
  EXPECT_TRUE(store->list_shards("none")->empty());
}

TEST_P(StateStoreConformance, BatchesUpsertAndListInSeqOrder) {
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

TEST_P(StateStoreConformance, DeadLettersUpsertByFunctionAndEventNewestFirst) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto letter = [](std::string function, std::string event_id, int64_t at) {
    DeadLetterRecord d;
    d.function = std::move(function);
    d.topic = "strata.shards.sqlite";
    Json j = make_event("strata.shard.planned", "strata/split", "t/0", Json::object()).to_json();
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

TEST_P(StateStoreConformance, ReopenKeepsEverything) {
  {
    auto store = open();
    ASSERT_NE(store, nullptr);
    TaskRecord t = task("t1", "p", "running", 1);
    t.policy = Json{{"k", "v"}};
    ASSERT_TRUE(store->put_task(t).is_ok());
    ASSERT_TRUE(store->put_shard(shard("t1", 3)).is_ok());
    ASSERT_TRUE(*store->claim_shard("t1", 3, "w1", 1h));
    BatchRecord b;
    b.task_id = "t1";
    b.shard = 3;
    ASSERT_TRUE(store->put_batch(b).is_ok());
    DeadLetterRecord d;
    d.function = "f";
    d.event_json = "{}";
    ASSERT_TRUE(store->put_dead_letter(d).is_ok());
  }
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto t = store->get_task("t1");
  ASSERT_TRUE(t.is_ok() && t->has_value());
  EXPECT_EQ((*t)->policy, (Json{{"k", "v"}}));
  auto s = store->get_shard("t1", 3);
  ASSERT_TRUE(s.is_ok() && s->has_value());
  EXPECT_EQ((*s)->lease_owner, "w1");
  EXPECT_EQ(store->list_batches("t1", 3)->size(), 1u);
  EXPECT_EQ(store->list_dead_letters()->size(), 1u);
}

// Several threads, each its own client of the store (its own process, in effect), writing and
// reading at once; for SQLite a second connection to the same file, for PostgreSQL a second pool.
TEST_P(StateStoreConformance, ConcurrentWritersFromSeveralClients) {
  constexpr int kThreads = 6;
  constexpr int kPerThread = 60;
  std::vector<std::unique_ptr<StateStore>> stores;
  for (int i = 0; i < 2; ++i) {
    stores.push_back(open());
    ASSERT_NE(stores.back(), nullptr);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      StateStore& store = *stores[t % 2];
      const std::string task_id = "task-" + std::to_string(t);
      for (int i = 0; i < kPerThread; ++i) {
        TaskRecord task = StateStoreConformance::task(task_id, "p", "running", i);
        task.rows = i;
        Status s = store.put_task(task);
        EXPECT_TRUE(s.is_ok()) << s.to_string();
        BatchRecord b;
        b.task_id = task_id;
        b.seq = i;
        b.rows = i;
        s = store.put_batch(b);
        EXPECT_TRUE(s.is_ok()) << s.to_string();
        EXPECT_TRUE(store.list_batches(task_id, 0).is_ok());  // readers interleave too
      }
    });
  }
  for (auto& th : threads) th.join();
  auto tasks = stores[0]->list_tasks(1000);
  ASSERT_TRUE(tasks.is_ok());
  EXPECT_EQ(tasks->size(), static_cast<size_t>(kThreads));
  for (const auto& t : *tasks) EXPECT_EQ(t.rows, kPerThread - 1);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(stores[1]->list_batches("task-" + std::to_string(t), 0)->size(),
              static_cast<size_t>(kPerThread));
  }
}

// put_shard replaces the record but never the lease; update_shard neither.
TEST_P(StateStoreConformance, PutShardKeepsTheLease) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->put_shard(shard("t", 0)).is_ok());
  ASSERT_TRUE(*store->claim_shard("t", 0, "worker-a", 1h));
  ShardRecord s = shard("t", 0);
  s.state = "archiving";
  s.lease_owner = "someone-else";  // ignored
  ASSERT_TRUE(store->put_shard(s).is_ok());
  ASSERT_TRUE(store
                  ->update_shard("t", 0,
                                 [](std::optional<ShardRecord>& r) {
                                   r->rows = 5;
                                   r->lease_owner = "";
                                   return true;
                                 })
                  .is_ok());
  auto got = store->get_shard("t", 0);
  ASSERT_TRUE(got.is_ok() && got->has_value());
  EXPECT_EQ((*got)->state, "archiving");
  EXPECT_EQ((*got)->rows, 5);
  EXPECT_EQ((*got)->lease_owner, "worker-a");
  EXPECT_GT((*got)->lease_until, 0);
}

TEST_P(StateStoreConformance, UpdateShardCreatesSkipsAndRollsBack) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  // Missing: the change sees nullopt and may create the row.
  ASSERT_TRUE(store
                  ->update_shard("t", 1,
                                 [](std::optional<ShardRecord>& r) {
                                   EXPECT_FALSE(r.has_value());
                                   r.emplace();
                                   r->state = "archiving";
                                   return true;
                                 })
                  .is_ok());
  auto got = store->get_shard("t", 1);
  ASSERT_TRUE(got.is_ok() && got->has_value());
  EXPECT_EQ((*got)->task_id, "t");
  EXPECT_EQ((*got)->index, 1);
  EXPECT_EQ((*got)->state, "archiving");
  // Returning false writes nothing.
  ASSERT_TRUE(store
                  ->update_shard("t", 1,
                                 [](std::optional<ShardRecord>& r) {
                                   r->state = "failed";
                                   return false;
                                 })
                  .is_ok());
  EXPECT_EQ((*store->get_shard("t", 1))->state, "archiving");
  // Not creating a missing row is fine too.
  ASSERT_TRUE(
      store->update_shard("t", 2, [](std::optional<ShardRecord>&) { return true; }).is_ok());
  EXPECT_FALSE(store->get_shard("t", 2)->has_value());
}

// The status function's fold is read-modify-write. Through update_shard, concurrent folds from
// several clients lose nothing: every increment counts, and a monotonic state rule (a late or
// repeated event never moves a shard backwards) ends at the furthest state whatever the order.
TEST_P(StateStoreConformance, UpdateShardIsAtomicAcrossClients) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 40;
  const std::vector<std::string> order = {"pending", "archiving", "archived", "purging", "done"};
  auto rank = [&](const std::string& s) {
    return static_cast<int>(std::find(order.begin(), order.end(), s) - order.begin());
  };
  std::vector<std::unique_ptr<StateStore>> stores;
  for (int i = 0; i < kThreads; ++i) {
    stores.push_back(open());
    ASSERT_NE(stores.back(), nullptr);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      for (int i = 0; i < kPerThread; ++i) {
        const std::string to = order[rng() % (order.size() - 1)];  // never "done" here
        Status s = stores[t]->update_shard("t", 0, [&](std::optional<ShardRecord>& r) {
          if (!r) r.emplace();
          r->attempts += 1;
          if (rank(to) > rank(r->state)) r->state = to;
          return true;
        });
        EXPECT_TRUE(s.is_ok()) << s.to_string();
      }
    });
  }
  for (auto& th : threads) th.join();
  auto got = stores[0]->get_shard("t", 0);
  ASSERT_TRUE(got.is_ok() && got->has_value());
  EXPECT_EQ((*got)->attempts, kThreads * kPerThread) << "an increment was lost";
  EXPECT_EQ((*got)->state, "purging");
}

TEST_P(StateStoreConformance, ClaimCreatesTheShardAndTheOwnerRenewsByClaiming) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto claimed = store->claim_shard("t", 4, "worker-a", 1h);
  ASSERT_TRUE(claimed.is_ok()) << claimed.status().to_string();
  EXPECT_TRUE(*claimed);
  auto s = store->get_shard("t", 4);
  ASSERT_TRUE(s.is_ok() && s->has_value()) << "the claim creates the shard row";
  EXPECT_EQ((*s)->state, "pending");
  EXPECT_EQ((*s)->lease_owner, "worker-a");
  const int64_t first_until = (*s)->lease_until;
  EXPECT_GT(first_until, 0);

  EXPECT_FALSE(*store->claim_shard("t", 4, "worker-b", 1h)) << "held by worker-a";
  std::this_thread::sleep_for(5ms);
  EXPECT_TRUE(*store->claim_shard("t", 4, "worker-a", 2h)) << "the owner claims again";
  EXPECT_GT((*store->get_shard("t", 4))->lease_until, first_until) << "and that renews it";
  EXPECT_TRUE(store->claim_shard("t", 4, "", 1h).status().is_permanent()) << "no owner";
}

TEST_P(StateStoreConformance, ExpiryLetsAnotherOwnerClaimAndRenewAfterLossFails) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(*store->claim_shard("t", 0, "worker-a", 150ms));
  EXPECT_FALSE(*store->claim_shard("t", 0, "worker-b", 1h));
  EXPECT_TRUE(store->renew_shard("t", 0, "worker-a", 150ms).is_ok());
  std::this_thread::sleep_for(400ms);
  // Expired but nobody took it: still worker-a's, and renewable.
  EXPECT_TRUE(store->renew_shard("t", 0, "worker-a", 150ms).is_ok());
  std::this_thread::sleep_for(400ms);
  auto b = store->claim_shard("t", 0, "worker-b", 1h);
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  EXPECT_TRUE(*b) << "an expired lease is free to claim";
  Status lost = store->renew_shard("t", 0, "worker-a", 1h);
  EXPECT_TRUE(lost.is_permanent()) << lost.to_string();
  EXPECT_NE(lost.message().find("lost"), std::string::npos) << lost.message();
  EXPECT_NE(lost.message().find("t/0"), std::string::npos) << lost.message();
  EXPECT_FALSE(*store->claim_shard("t", 0, "worker-a", 1h)) << "worker-b holds it now";
  EXPECT_TRUE(store->renew_shard("t", 9, "worker-a", 1h).is_permanent()) << "no such shard";
}

TEST_P(StateStoreConformance, ReleaseFreesTheLeaseOnlyForItsOwner) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(*store->claim_shard("t", 0, "worker-a", 1h));
  EXPECT_TRUE(store->release_shard("t", 0, "worker-b").is_ok()) << "not held: a no-op";
  EXPECT_FALSE(*store->claim_shard("t", 0, "worker-b", 1h));
  EXPECT_TRUE(store->release_shard("t", 0, "worker-a").is_ok());
  auto s = store->get_shard("t", 0);
  EXPECT_EQ((*s)->lease_owner, "");
  EXPECT_EQ((*s)->lease_until, 0);
  EXPECT_TRUE(store->renew_shard("t", 0, "worker-a", 1h).is_permanent()) << "released is lost";
  EXPECT_TRUE(*store->claim_shard("t", 0, "worker-b", 1h));
  EXPECT_TRUE(store->release_shard("t", 7, "worker-a").is_ok()) << "no such shard: a no-op";
}

// Many clients race for the same shards (some already stored, some not): each shard has exactly
// one winner, and only the winner holds it afterwards.
TEST_P(StateStoreConformance, RacingClaimsHaveExactlyOneWinner) {
  constexpr int kClients = 6;
  constexpr int kShards = 20;
  constexpr int kTries = 3;
  std::vector<std::unique_ptr<StateStore>> stores;
  for (int i = 0; i < kClients; ++i) {
    stores.push_back(open());
    ASSERT_NE(stores.back(), nullptr);
  }
  for (int i = 0; i < kShards; i += 2) ASSERT_TRUE(stores[0]->put_shard(shard("t", i)).is_ok());
  std::vector<std::vector<int>> wins(kShards, std::vector<int>(kClients, 0));
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      while (!go) std::this_thread::yield();
      const std::string owner = "worker-" + std::to_string(c);
      for (int i = 0; i < kShards; ++i) {
        for (int k = 0; k < kTries; ++k) {
          auto r = stores[c]->claim_shard("t", i, owner, 1h);
          ASSERT_TRUE(r.is_ok()) << r.status().to_string();
          if (*r) wins[i][c] = 1;
        }
      }
    });
  }
  go = true;
  for (auto& th : threads) th.join();
  for (int i = 0; i < kShards; ++i) {
    int winners = 0, winner = -1;
    for (int c = 0; c < kClients; ++c) {
      if (wins[i][c]) {
        ++winners;
        winner = c;
      }
    }
    ASSERT_EQ(winners, 1) << "shard " << i;
    EXPECT_EQ((*stores[0]->get_shard("t", i))->lease_owner, "worker-" + std::to_string(winner));
  }
}

TEST_P(StateStoreConformance, UpdateTaskIsAtomicAcrossClientsAndSkipsWhenAsked) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 30;
  std::vector<std::unique_ptr<StateStore>> stores;
  for (int i = 0; i < kThreads; ++i) {
    stores.push_back(open());
    ASSERT_NE(stores.back(), nullptr);
  }
  // A missing task stays missing unless the change creates it.
  ASSERT_TRUE(stores[0]
                  ->update_task("t",
                                [](std::optional<TaskRecord>& r) {
                                  EXPECT_FALSE(r.has_value());
                                  return false;
                                })
                  .is_ok());
  ASSERT_FALSE(stores[0]->get_task("t")->has_value());
  ASSERT_TRUE(stores[0]->put_task(task("t", "p", "running", 1)).is_ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Status s = stores[t]->update_task("t", [](std::optional<TaskRecord>& r) {
          if (!r) return false;
          r->rows += 1;
          return true;
        });
        EXPECT_TRUE(s.is_ok()) << s.to_string();
      }
    });
  }
  for (auto& th : threads) th.join();
  auto got = stores[0]->get_task("t");
  ASSERT_TRUE(got.is_ok() && got->has_value());
  EXPECT_EQ((*got)->rows, kThreads * kPerThread) << "an increment was lost";
  EXPECT_EQ((*got)->policy_name, "p");
  // Returning false writes nothing.
  ASSERT_TRUE(stores[1]
                  ->update_task("t",
                                [](std::optional<TaskRecord>& r) {
                                  r->state = "cancelled";
                                  return false;
                                })
                  .is_ok());
  EXPECT_EQ((*stores[0]->get_task("t"))->state, "running");
}

TEST_P(StateStoreConformance, PoolsUpsertListAndRemoveByWorker) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto pool = [](std::string worker, std::string function, int replicas) {
    PoolRecord p;
    p.worker = std::move(worker);
    p.function = std::move(function);
    p.replicas = replicas;
    p.min_replicas = 0;
    p.max_replicas = 4;
    p.backlog = 7;
    p.updated_at = 1000 + replicas;
    return p;
  };
  ASSERT_TRUE(store->put_pool(pool("w2", "split", 1)).is_ok());
  ASSERT_TRUE(store->put_pool(pool("w1", "split", 0)).is_ok());
  ASSERT_TRUE(store->put_pool(pool("w1", "archive-postgres", 2)).is_ok());
  ASSERT_TRUE(store->put_pool(pool("w1", "archive-postgres", 3)).is_ok());  // replaces
  auto pools = store->list_pools();
  ASSERT_TRUE(pools.is_ok()) << pools.status().to_string();
  ASSERT_EQ(pools->size(), 3u);
  EXPECT_EQ((*pools)[0].function, "archive-postgres");
  EXPECT_EQ((*pools)[0].replicas, 3);
  EXPECT_EQ((*pools)[0].max_replicas, 4);
  EXPECT_EQ((*pools)[0].backlog, 7);
  EXPECT_EQ((*pools)[0].updated_at, 1003);
  EXPECT_EQ((*pools)[1].worker, "w1");
  EXPECT_EQ((*pools)[2].worker, "w2");
  ASSERT_TRUE(store->remove_pools("w1").is_ok());
  pools = store->list_pools();
  ASSERT_TRUE(pools.is_ok());
  ASSERT_EQ(pools->size(), 1u);
  EXPECT_EQ((*pools)[0].worker, "w2");
}

TEST_P(StateStoreConformance, AVersion2StoreGainsThePoolsTable) {
  ASSERT_NE(open(), nullptr);
  const std::string versions = backend_->version_table();
  const std::string pools = versions.substr(0, versions.rfind('.') + 1) + "pools";
  backend_->raw_exec("DROP TABLE " + pools);
  backend_->raw_exec("UPDATE " + versions + " SET version = 2");
  auto store = open();
  ASSERT_NE(store, nullptr);
  PoolRecord p;
  p.worker = "w";
  p.function = "purge";
  EXPECT_TRUE(store->put_pool(p).is_ok());
  EXPECT_EQ(store->list_pools()->size(), 1u);
}

TEST_P(StateStoreConformance, RefusesAStoreWithANewerSchema) {
  ASSERT_NE(open(), nullptr);
  backend_->raw_exec("UPDATE " + backend_->version_table() + " SET version = 99");
  auto store = open_state_store(backend_->uri());
  ASSERT_FALSE(store.is_ok());
  EXPECT_TRUE(store.status().is_permanent());
  const std::string& msg = store.status().message();
  EXPECT_NE(msg.find("99"), std::string::npos) << msg;
  EXPECT_NE(msg.find("newer"), std::string::npos) << msg;
}

TEST(StateStoreFactory, UnknownSchemeNamesTheKnownOnes) {
  auto store = open_state_store("mongodb://db/x");
  ASSERT_FALSE(store.is_ok());
  EXPECT_NE(store.status().message().find("sqlite://"), std::string::npos);
  EXPECT_NE(store.status().message().find("postgres://"), std::string::npos);
}

}  // namespace
}  // namespace strata
