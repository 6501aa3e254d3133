// End to end on real PostgreSQL and MariaDB servers (started by scripts/test-servers): the strata
// binary moves rows into Parquet files and a cold database table; the tests look at the source
// and the cold table through the servers' own command-line clients and at the archive through
// DuckDB. Each test works in its own database, so tests can kill "their" connections and run in
// parallel; tests that restart a server or stall a replica start a private server set.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>
#include <thread>

#include "tests/e2e/e2e_support.h"
#include "tests/e2e/sql_support.h"

namespace strata::e2e {
namespace {

using testing_support::fresh_dir;
using testing_support::run_command;

std::string policy(const Store& s, const std::string& name, const std::string& table,
                   const std::string& extra_targets = "", const std::string& more = "") {
  return "name: " + name + "\nsource: {uri: '" + s.strata_uri() + "', table: " + table +
         ", key: id, time: ts}\n"
         "selection: {older_than: 30d}\n"
         "split: {shard_rows: 1000, parallel: 2}\n"
         "batch: {rows: 500}\n"
         "targets:\n"
         "  - {uri: file://archive, format: parquet}\n" +
         extra_targets + "mode: move\n" + more;
}

// Archive + what is left in the source = the original rows; no id archived twice.
void expect_nothing_lost(const Store& s, const std::string& table, const std::string& dir,
                         const std::vector<std::string>& original) {
  std::vector<std::string> archived = archived_rows(dir + "/archive");
  std::vector<std::string> left = s.rows(table);
  std::set<std::string> ids;
  for (const std::string& r : archived) {
    EXPECT_TRUE(ids.insert(r.substr(0, r.find('|'))).second) << "archived twice: " << r;
  }
  std::vector<std::string> all = archived;
  all.insert(all.end(), left.begin(), left.end());
  std::sort(all.begin(), all.end());
  std::vector<std::string> want = original;
  std::sort(want.begin(), want.end());
  ASSERT_EQ(all.size(), want.size()) << archived.size() << " archived + " << left.size() << " left";
  EXPECT_TRUE(all == want) << "archive + source differ from the original rows";
}

class SqlStore : public ::testing::TestWithParam<const char*> {
 protected:
  std::string db_name(const std::string& what) const {
    return std::string("e2e_") + GetParam() + "_" + what;
  }
};

INSTANTIATE_TEST_SUITE_P(Stores, SqlStore, ::testing::Values("pg", "mysql"),
                         [](const auto& info) { return std::string(info.param); });

TEST_P(SqlStore, MovesToParquetAndAColdTableIdempotently) {
  Store s(GetParam(), server_uri(GetParam()), db_name("move"));
  s.create_database();
  s.create_telemetry("telemetry", 6000);
  const auto original = s.rows("telemetry");
  const auto eligible = s.rows("telemetry", s.older_than_30d());
  ASSERT_GT(eligible.size(), 3000u);
  const std::string cold_table = s.pg() ? "cold.telemetry" : "telemetry_cold";
  std::string dir = fresh_dir(db_name("move"));
  write_file(dir + "/p.yaml",
             policy(s, "move", "telemetry",
                    "  - {uri: '" + s.strata_uri("?table=" + cold_table) + "'}\n"));
  auto r = run_strata({"run", "p.yaml", "--json"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["state"], "succeeded");
  EXPECT_EQ(report["rows"].get<size_t>(), eligible.size());

  EXPECT_EQ(archived_rows(dir + "/archive"), eligible);
  EXPECT_EQ(s.rows(cold_table), eligible) << "the cold table holds other rows than the archive";
  EXPECT_EQ(s.count("telemetry", s.older_than_30d()), 0);
  expect_nothing_lost(s, "telemetry", dir, original);

  // Verify reads the cold table back (and the files); a re-run finds nothing new and the cold
  // table gains no duplicate.
  auto v = run_strata({"verify", s.strata_uri("?table=" + cold_table)}, dir);
  EXPECT_EQ(v.exit_code, 0) << v.err << v.out;
  auto again = run_strata({"run", "p.yaml", "--new", "--json"}, dir);
  ASSERT_EQ(again.exit_code, 0) << again.err << again.out;
  EXPECT_EQ(s.count(cold_table), static_cast<int64_t>(eligible.size()));
  s.drop_database();
}

// Beside a busy source a throttled run lowers its CPU priority (throttle.nice), so that a
// database on the same host gets the CPU first; it still finishes.
TEST_P(SqlStore, ABusySourceLowersTheRunsCpuPriority) {
  Store s(GetParam(), server_uri(GetParam()), db_name("nice"));
  s.create_database();
  s.create_telemetry("telemetry", 3000);
  const auto original = s.rows("telemetry");
  std::string dir = fresh_dir(db_name("nice"));
  write_file(dir + "/p.yaml", policy(s, "nice", "telemetry"));
  // Production: one session busy through the whole run.
  std::thread busy([&] { s.query(s.pg() ? "SELECT pg_sleep(6)" : "SELECT SLEEP(6)"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto r = run_strata({"--log-level", "info", "run", "p.yaml", "--json"}, dir);
  busy.join();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("running at nice 10 from now on"), std::string::npos) << r.err;
  expect_nothing_lost(s, "telemetry", dir, original);
  s.drop_database();
}

TEST_P(SqlStore, ConnectionsKilledMidShardTheTaskStillFinishes) {
  Store s(GetParam(), server_uri(GetParam()), db_name("kill"));
  s.create_database();
  s.create_telemetry("telemetry", 9000);
  const auto original = s.rows("telemetry");
  std::string dir = fresh_dir(db_name("kill"));
  // Slow enough (about 4 s) that the kills land mid-shard.
  write_file(dir + "/p.yaml",
             policy(s, "kill", "telemetry", "", "throttle: {rows_per_second: 1500}\n"));
  pid_t pid = spawn_strata({"run", "p.yaml", "--json"}, dir);
  ASSERT_GT(pid, 0);
  int killed = 0;
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    killed += s.kill_connections();
  }
  int rc = wait_for(pid);
  EXPECT_GT(killed, 0) << "no connection of strata was seen to kill";
  ASSERT_EQ(rc, 0) << read_text(dir + "/.stderr") << read_text(dir + "/.stdout");
  EXPECT_EQ(s.count("telemetry", s.older_than_30d()), 0);
  // A purge attempt cut off counts what it deleted, and the next one adds its own; only a DELETE
  // whose commit's reply was lost with its connection goes uncounted (at most one per kill).
  auto report = nlohmann::json::parse(read_text(dir + "/.stdout"), nullptr, false);
  ASSERT_TRUE(report.is_object()) << read_text(dir + "/.stdout");
  const int64_t eligible = report["rows"].get<int64_t>();
  EXPECT_LE(report["rows_purged"].get<int64_t>(), eligible);
  EXPECT_GE(report["rows_purged"].get<int64_t>(), eligible - 1000 * killed) << report.dump();
  expect_nothing_lost(s, "telemetry", dir, original);
  s.drop_database();
}

TEST_P(SqlStore, RowsInsertedAndUpdatedDuringTheRunAreNotLost) {
  Store s(GetParam(), server_uri(GetParam()), db_name("churn"));
  s.create_database();
  s.create_telemetry("telemetry", 6000);
  const auto before = s.rows("telemetry");
  std::string dir = fresh_dir(db_name("churn"));
  write_file(dir + "/p.yaml",
             policy(s, "churn", "telemetry", "", "throttle: {rows_per_second: 2000}\n"));
  pid_t pid = spawn_strata({"run", "p.yaml", "--json"}, dir);
  ASSERT_GT(pid, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  // Old rows move to the present (no longer selected): they must stay in the source, whether
  // or not they were read before the update. New old rows arrive at the end of the key range.
  const std::string now = s.pg() ? "now() AT TIME ZONE 'UTC'" : "UTC_TIMESTAMP()";
  s.query("UPDATE telemetry SET ts = " + now + ", status = 'updated' WHERE id % 97 = 1 AND " +
          s.older_than_30d());
  const auto updated = s.query("SELECT id FROM telemetry WHERE status = 'updated' ORDER BY id");
  ASSERT_FALSE(updated.empty());
  if (s.pg()) {
    s.query(
        "INSERT INTO telemetry SELECT g, 1, (now() AT TIME ZONE 'UTC') - interval '60 days', "
        "1.5, 'late', 1.00 FROM generate_series(6001, 6200) g");
  } else {
    s.query(
        "INSERT INTO telemetry SELECT seq, 1, UTC_TIMESTAMP() - INTERVAL 60 DAY, 1.5, "
        "'late', 1.00 FROM seq_6001_to_6200");
  }
  int rc = wait_for(pid);
  ASSERT_EQ(rc, 0) << read_text(dir + "/.stderr");

  // Every updated row is still in the source, with its update.
  auto still = s.query("SELECT id FROM telemetry WHERE status = 'updated' ORDER BY id");
  EXPECT_EQ(still, updated);
  // Every id ever inserted is in the archive or the source; none is in the archive twice.
  std::vector<std::string> archived = archived_rows(dir + "/archive");
  std::set<int64_t> ids;
  for (const std::string& r : archived) {
    EXPECT_TRUE(ids.insert(std::stoll(r.substr(0, r.find('|')))).second) << r;
  }
  for (const std::string& id : s.query("SELECT id FROM telemetry")) ids.insert(std::stoll(id));
  EXPECT_EQ(ids.size(), 6200u);
  EXPECT_EQ(*ids.begin(), 1);
  EXPECT_EQ(*ids.rbegin(), 6200);
  s.drop_database();
}

// A private server set: restarting or stalling the shared one would disturb parallel tests.
class PrivateServers {
 public:
  explicit PrivateServers(const std::string& only) : dir_(fresh_dir("servers-" + only)) {
    auto [rc, out] = run_command(std::string(STRATA_SOURCE_DIR) + "/scripts/test-servers start " +
                                 dir_ + " --only " + only + " 2>&1");
    EXPECT_EQ(rc, 0) << out;
    ok_ = rc == 0;
  }
  ~PrivateServers() {
    run_command(std::string(STRATA_SOURCE_DIR) + "/scripts/test-servers stop " + dir_ +
                " >/dev/null 2>&1");
  }
  bool ok() const { return ok_; }
  // A variable of the set's env file.
  std::string env(const std::string& name) const {
    auto [rc, out] =
        run_command("bash -c " + shq("source " + dir_ + "/env && printf %s \"$" + name + "\""));
    return rc == 0 ? out : "";
  }
  void restart(const std::string& which) const {
    auto [rc, out] = run_command(std::string(STRATA_SOURCE_DIR) + "/scripts/test-servers restart " +
                                 dir_ + " " + which + " 2>&1");
    EXPECT_EQ(rc, 0) << out;
  }

 private:
  std::string dir_;
  bool ok_ = false;
};

TEST_P(SqlStore, ServerRestartedMidRunTheTaskFinishesAfterRetries) {
  const std::string kind = GetParam();
  PrivateServers servers(kind);
  ASSERT_TRUE(servers.ok());
  Store s(kind, servers.env(kind == "pg" ? "STRATA_TEST_PG_URI" : "STRATA_TEST_MYSQL_URI"),
          "e2e_restart");
  s.create_database();
  s.create_telemetry("telemetry", 9000);
  const auto original = s.rows("telemetry");
  std::string dir = fresh_dir(db_name("restart"));
  write_file(dir + "/p.yaml",
             policy(s, "restart", "telemetry", "", "throttle: {rows_per_second: 2000}\n"));
  pid_t pid = spawn_strata({"run", "p.yaml", "--json"}, dir);
  ASSERT_GT(pid, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  servers.restart(kind);
  int rc = wait_for(pid);
  ASSERT_EQ(rc, 0) << read_text(dir + "/.stderr");
  EXPECT_EQ(s.count("telemetry", s.older_than_30d()), 0);
  expect_nothing_lost(s, "telemetry", dir, original);
}

// `strata worker` processes on the test Redis (database `db`, flushed first) and `state`.
class Workers {
 public:
  Workers(const std::string& dir, int db, const std::string& state, int n,
          std::vector<std::string> extra = {})
      : dir_(dir), state_(state) {
    const char* redis = std::getenv("STRATA_TEST_REDIS_URI");
    EXPECT_NE(redis, nullptr) << "run through scripts/run-tests (STRATA_TEST_REDIS_URI)";
    if (redis == nullptr) return;
    const std::string base = std::string(redis) + "/" + std::to_string(db);
    bus_ = base + "?visibility_timeout=3s";
    EXPECT_EQ(std::system(("redis-cli -u '" + base + "' FLUSHDB >/dev/null").c_str()), 0);
    // Workers and submit find the state store's password in PGPASSWORD.
    ::setenv("PGPASSWORD", "strata-test", 1);
    for (int i = 0; i < n; ++i) {
      const std::string log = dir + "/worker" + std::to_string(i) + ".log";
      pid_t pid = fork();
      if (pid == 0) {
        if (std::freopen(log.c_str(), "w", stderr) == nullptr || ::chdir(dir.c_str()) != 0) {
          _exit(126);
        }
        const std::string bin = strata_binary();
        std::vector<std::string> args = {bin,  "--log-level", "info", "worker",      "--bus",
                                         bus_, "--state",     state,  "--lease-ttl", "4s"};
        args.insert(args.end(), extra.begin(), extra.end());
        std::vector<char*> argv;
        for (std::string& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        execv(bin.c_str(), argv.data());
        _exit(127);
      }
      EXPECT_GT(pid, 0);
      pids_.push_back(pid);
    }
  }
  ~Workers() {
    for (pid_t pid : pids_) ::kill(pid, SIGKILL);
    for (pid_t pid : pids_) ::waitpid(pid, nullptr, 0);
  }

  const std::string& bus() const { return bus_; }
  const std::vector<pid_t>& pids() const { return pids_; }

  // SIGTERM to every live worker: each must exit 0.
  void stop() {
    for (pid_t pid : pids_) ::kill(pid, SIGTERM);
    for (size_t i = 0; i < pids_.size(); ++i) {
      int st = 0;
      ASSERT_EQ(::waitpid(pids_[i], &st, 0), pids_[i]);
      if (killed_.count(pids_[i])) continue;
      EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0)
          << "worker " << i << ": " << read_text(dir_ + "/worker" + std::to_string(i) + ".log");
    }
    pids_.clear();
  }
  void kill9(pid_t pid) {
    ::kill(pid, SIGKILL);
    killed_.insert(pid);
  }

 private:
  std::string dir_, state_, bus_;
  std::vector<pid_t> pids_;
  std::set<pid_t> killed_;
};

// Worker processes on a shared Redis Streams bus and PostgreSQL state store: `strata submit
// --wait` hands them a task, they share its shards (one lease each) and the task ends with
// nothing lost or archived twice; SIGTERM stops them cleanly.
TEST(SqlWorkers, TwoWorkersOnRedisAndPostgresFinishASubmittedTask) {
  Store s("pg", server_uri("pg"), "e2e_workers");
  s.create_database();
  s.create_telemetry("telemetry", 8000);
  const auto original = s.rows("telemetry");
  const auto eligible = s.rows("telemetry", s.older_than_30d());
  const std::string dir = fresh_dir("e2e_workers");
  write_file(dir + "/p.yaml", policy(s, "workers", "telemetry"));
  const std::string state = s.strata_uri();
  Workers workers(dir, 9, state, 2);
  auto r = run_strata(
      {"submit", "p.yaml", "--bus", workers.bus(), "--state", state, "--wait", "--json"}, dir);
  workers.stop();
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["state"], "succeeded");
  EXPECT_EQ(report["rows"].get<size_t>(), eligible.size());
  EXPECT_EQ(report["rows_purged"].get<size_t>(), eligible.size());
  EXPECT_EQ(archived_rows(dir + "/archive"), eligible);
  expect_nothing_lost(s, "telemetry", dir, original);
  s.drop_database();
}

// kill -9 of the worker holding a shard's lease mid-shard: after its lease and the bus's
// visibility timeout run out, the other worker archives the shard; nothing lost or doubled.
TEST(SqlWorkers, AWorkerKilledMidShardItsShardFinishesElsewhere) {
  Store s("pg", server_uri("pg"), "e2e_workers_kill");
  s.create_database();
  s.create_telemetry("telemetry", 8000);
  const auto original = s.rows("telemetry");
  const auto eligible = s.rows("telemetry", s.older_than_30d());
  const std::string dir = fresh_dir("e2e_workers_kill");
  // Slow enough (about 4 s of reads) to be caught mid-shard.
  write_file(dir + "/p.yaml",
             policy(s, "workers_kill", "telemetry", "", "throttle: {rows_per_second: 1500}\n"));
  const std::string state = s.strata_uri();
  Workers workers(dir, 10, state, 2);
  CommandResult r;
  std::thread submit([&] {
    r = run_strata(
        {"submit", "p.yaml", "--bus", workers.bus(), "--state", state, "--wait", "--json"}, dir);
  });
  // The worker holding a lease on a shard being archived, by the pid in its worker id.
  pid_t victim = 0;
  for (int i = 0; i < 400 && victim == 0; ++i) {
    // The workers create the state schema when they start (slowly under sanitizers).
    if (s.query("SELECT to_regclass('strata.shards') IS NOT NULL") !=
        std::vector<std::string>{"t"}) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    auto owners = s.query(
        "SELECT lease_owner FROM strata.shards WHERE lease_owner <> '' AND state = 'archiving' "
        "LIMIT 1");
    if (!owners.empty()) {
      const pid_t pid = std::atoi(owners[0].substr(owners[0].rfind('-') + 1).c_str());
      for (pid_t p : workers.pids()) {
        if (p == pid) victim = pid;
      }
    }
    if (victim == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_NE(victim, 0) << "no worker was seen holding a shard";
  workers.kill9(victim);
  submit.join();
  workers.stop();
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["state"], "succeeded") << r.out;
  EXPECT_EQ(report["rows_purged"].get<size_t>(), eligible.size());
  expect_nothing_lost(s, "telemetry", dir, original);
  s.drop_database();
}

// Pools scale to zero: an idle worker has 0 replicas after the cool-down (recorded in the state
// store), and a task submitted from another process brings its split pool up within one polling
// interval; the task then runs to the end.
TEST(SqlWorkers, APoolAtZeroComesUpWithinOnePollOfASubmit) {
  Store s("pg", server_uri("pg"), "e2e_workers_zero");
  s.create_database();
  s.create_telemetry("telemetry", 3000);
  const auto eligible = s.rows("telemetry", s.older_than_30d());
  const std::string dir = fresh_dir("e2e_workers_zero");
  write_file(dir + "/p.yaml", policy(s, "workers_zero", "telemetry"));
  const std::string state = s.strata_uri();
  Workers workers(dir, 12, state, 1, {"--poll", "500ms", "--cooldown", "1s"});
  auto replicas = [&](const std::string& function) {
    if (s.query("SELECT to_regclass('strata.pools') IS NOT NULL") !=
        std::vector<std::string>{"t"}) {
      return std::string();
    }
    auto r = s.query("SELECT replicas FROM strata.pools WHERE function = '" + function + "'");
    return r.empty() ? std::string() : r[0];
  };
  std::string split;
  for (int i = 0; i < 200 && split != "0"; ++i) {
    split = replicas("split");
    if (split != "0") std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(split, "0") << read_text(dir + "/worker0.log");
  EXPECT_EQ(replicas("archive-postgres"), "0");
  CommandResult r;
  const auto submitted = std::chrono::steady_clock::now();
  std::thread submit([&] {
    r = run_strata(
        {"submit", "p.yaml", "--bus", workers.bus(), "--state", state, "--wait", "--json"}, dir);
  });
  std::optional<double> up_after;
  for (int i = 0; i < 400 && !up_after; ++i) {
    if (replicas("split") == "1") {
      up_after =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - submitted).count();
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  submit.join();
  workers.stop();
  ASSERT_TRUE(up_after.has_value()) << "the split pool never came up";
  // One polling interval (0.5 s) plus the submit's start and the state store write.
  EXPECT_LT(*up_after, 1.5) << "backlog to first replica";
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["state"], "succeeded");
  EXPECT_EQ(report["rows_purged"].get<size_t>(), eligible.size());
  // A stopped worker removes its pools.
  EXPECT_EQ(s.query("SELECT count(*) FROM strata.pools"), std::vector<std::string>{"0"});
  s.drop_database();
}

// A Node.js function (npm `redis`) joins the chain: it consumes strata.status until it sees the
// first task, then publishes a task request on strata.tasks (the policy as YAML text); the
// workers run that task too.
TEST(SqlWorkers, ANodeJsFunctionOnTheChainRequestsATaskTheWorkersRun) {
  Store s("pg", server_uri("pg"), "e2e_workers_node");
  s.create_database();
  s.create_telemetry("telemetry", 4000);
  s.create_telemetry("other", 3000);
  const auto other_eligible = s.rows("other", s.older_than_30d());
  const size_t first_eligible = s.rows("telemetry", s.older_than_30d()).size();
  const std::string dir = fresh_dir("e2e_workers_node");
  write_file(dir + "/p.yaml", policy(s, "first", "telemetry"));
  const std::string state = s.strata_uri();
  Workers workers(dir, 11, state, 1);
  const std::string redis = workers.bus().substr(0, workers.bus().find('?'));
  auto first =
      run_strata({"submit", "p.yaml", "--bus", workers.bus(), "--state", state, "--json"}, dir);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const std::string first_id = nlohmann::json::parse(first.out)["task_id"];
  const std::string node_id = "node-task-" + std::to_string(getpid());
  auto quote = [](const std::string& v) {
    std::string q = "'";
    for (char c : v) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
  };
  const std::string yaml = policy(s, "from_node", "other");
  auto [rc, out] = testing_support::run_command(
      "node " + quote(std::string(STRATA_SOURCE_DIR) + "/tests/tools/chain_peer.mjs") + " " +
      quote(redis) + " " + quote(first_id) + " " + quote(node_id) + " " + quote(yaml) + " " +
      quote(dir));
  ASSERT_EQ(rc, 0) << "node failed (scripts/setup --test installs tests/tools): " << out;
  auto line = nlohmann::json::parse(out, nullptr, false);
  ASSERT_TRUE(line.is_object()) << out;
  EXPECT_EQ(line["seen"].get<std::string>().rfind("strata.", 0), 0u) << out;
  // The Node-requested task ends, and it moved the other table's old rows.
  std::string state_of_node_task;
  for (int i = 0; i < 300; ++i) {
    auto st = run_strata({"status", node_id, "--state", state, "--json"}, dir);
    if (st.exit_code == 0) {
      state_of_node_task = nlohmann::json::parse(st.out)["state"];
      if (state_of_node_task == "succeeded" || state_of_node_task == "failed") break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  workers.stop();
  EXPECT_EQ(state_of_node_task, "succeeded");
  EXPECT_EQ(s.count("other", s.older_than_30d()), 0);
  // Both tasks archived into the same folder: every old row of both tables is there.
  EXPECT_EQ(archived_rows(dir + "/archive").size(), first_eligible + other_eligible.size());
  s.drop_database();
}

TEST(SqlReplicaLag, PostgresRunPausesWhileTheReplicaLags) {
  PrivateServers servers("pg");
  ASSERT_TRUE(servers.ok());
  Store s("pg", servers.env("STRATA_TEST_PG_URI"), "e2e_lag");
  Store replica("pg", servers.env("STRATA_TEST_PG_REPLICA_URI"), "e2e_lag");
  s.create_database();
  s.create_telemetry("telemetry", 3000);
  const auto original = s.rows("telemetry");
  std::string dir = fresh_dir("pg-lag");
  write_file(dir + "/p.yaml",
             policy(s, "lag", "telemetry", "", "throttle: {max_replication_lag: 1s}\n"));
  // The replica stops replaying; writes on the primary make it fall behind.
  replica.query("SELECT pg_wal_replay_pause()", true);
  s.query("CREATE TABLE filler AS SELECT g FROM generate_series(1, 100000) g");
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  auto t0 = std::chrono::steady_clock::now();
  pid_t pid = spawn_strata({"run", "p.yaml", "--json"}, dir);
  ASSERT_GT(pid, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(4000));
  // Still held back: nothing deleted yet.
  EXPECT_EQ(s.count("telemetry"), static_cast<int64_t>(original.size()));
  replica.query("SELECT pg_wal_replay_resume()", true);
  int rc = wait_for(pid);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(rc, 0) << read_text(dir + "/.stderr");
  EXPECT_GE(secs, 4.0);
  EXPECT_NE(read_text(dir + "/.stderr").find("paused until it catches up"), std::string::npos)
      << read_text(dir + "/.stderr");
  expect_nothing_lost(s, "telemetry", dir, original);
}

TEST(SqlReplicaLag, MariadbRunPausesWhileTheReplicaIsStopped) {
  PrivateServers servers("mysql");
  ASSERT_TRUE(servers.ok());
  Store s("mysql", servers.env("STRATA_TEST_MYSQL_URI"), "e2e_lag");
  Store replica("mysql", servers.env("STRATA_TEST_MYSQL_REPLICA_URI"), "");
  s.create_database();
  s.create_telemetry("telemetry", 3000);
  const auto original = s.rows("telemetry");
  std::string dir = fresh_dir("mysql-lag");
  write_file(dir + "/p.yaml",
             policy(s, "lag", "telemetry", "", "throttle: {max_replication_lag: 1s}\n"));
  // A replica whose SQL thread is stopped counts as lagging without bound.
  replica.query("STOP SLAVE SQL_THREAD", true);
  auto t0 = std::chrono::steady_clock::now();
  pid_t pid = spawn_strata({"run", "p.yaml", "--json"}, dir);
  ASSERT_GT(pid, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(4000));
  EXPECT_EQ(s.count("telemetry"), static_cast<int64_t>(original.size()));
  replica.query("START SLAVE SQL_THREAD", true);
  int rc = wait_for(pid);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(rc, 0) << read_text(dir + "/.stderr");
  EXPECT_GE(secs, 4.0);
  EXPECT_NE(read_text(dir + "/.stderr").find("paused until it catches up"), std::string::npos)
      << read_text(dir + "/.stderr");
  expect_nothing_lost(s, "telemetry", dir, original);
}

}  // namespace
}  // namespace strata::e2e
