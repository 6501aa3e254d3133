// End to end: `strata serve` in its own process, driven over HTTP (cpp-httplib's client): health
// without a token, 401/403 without the right one, clear 400/404/413 errors, a submit that waits
// for its task and answers with the report, the task's detail, a conflicting second submit, and a
// clean exit on SIGTERM.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <set>
#include <thread>

#include "tests/e2e/e2e_support.h"

namespace strata::e2e {
namespace {

using testing_support::fresh_dir;

class ServeTest : public ::testing::Test {
 protected:
  // The serve command line after "serve"; a test fixture may read a strata.yaml instead.
  virtual std::vector<std::string> serve_args() {
    return {"--listen",   "127.0.0.1:0", "--token-file", "token",
            "--policies", ".",           "--state",      "sqlite://state/state.db"};
  }
  virtual void before_serve() {}

  void SetUp() override {
    dir_ = fresh_dir("serve");
    auto d = run_strata({"demo", "--rows", "20000", "--dir", dir_, "--no-run"}, dir_);
    ASSERT_EQ(d.exit_code, 0) << d.err;
    write_file(dir_ + "/token", "s3cret-token\n");
    before_serve();
    std::vector<std::string> args = serve_args();
    pid_ = fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      if (std::freopen((dir_ + "/serve.out").c_str(), "w", stdout) == nullptr ||
          std::freopen((dir_ + "/serve.err").c_str(), "w", stderr) == nullptr ||
          ::chdir(dir_.c_str()) != 0) {
        _exit(126);
      }
      const std::string bin = strata_binary();
      std::vector<char*> argv = {const_cast<char*>(bin.c_str()), const_cast<char*>("serve")};
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(bin.c_str(), argv.data());
      _exit(127);
    }
    for (int i = 0; i < 100 && port_ == 0; ++i) {
      const std::string out = read_text(dir_ + "/serve.out");
      if (auto at = out.find("127.0.0.1:"); at != std::string::npos) {
        port_ = std::atoi(out.c_str() + at + 10);
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    ASSERT_GT(port_, 0) << read_text(dir_ + "/serve.err");
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  httplib::Client client(const std::string& token = "s3cret-token") {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(120, 0);
    if (!token.empty()) c.set_bearer_token_auth(token.c_str());
    return c;
  }

  std::string dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

TEST_F(ServeTest, AuthErrorsSubmitWaitDetailConflictAndShutdown) {
  auto none = client("");
  auto health = none.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto ready = none.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  auto anon = none.Get("/v1/tasks");
  ASSERT_TRUE(anon);
  EXPECT_EQ(anon->status, 401);
  EXPECT_NE(anon->body.find("bearer token"), std::string::npos) << anon->body;
  auto wrong = client("not-it").Get("/v1/tasks");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 403);

  auto c = client();
  auto policies = c.Get("/v1/policies");
  ASSERT_TRUE(policies);
  EXPECT_EQ(policies->status, 200);
  EXPECT_EQ(nlohmann::json::parse(policies->body)["policies"][0]["name"], "telemetry");
  // Bad requests: each a 4xx with a message that says what to fix, never echoing the token.
  struct Bad {
    std::string body;
    int status;
    std::string says;
  };
  for (const Bad& b : std::vector<Bad>{
           {"{not json", 400, "not JSON"},
           {"[1]", 400, "JSON object"},
           {"{\"policy\": 7}", 400, "must be a string"},
           {"{\"policy\": \"../etc/passwd\"}", 400, "letters, digits"},
           {"{\"policy\": \"a\", \"inline\": \"b\"}", 400, "exactly one"},
           {"{\"colour\": \"red\"}", 400, "unknown field 'colour'"},
           {"{\"policy\": \"nope\"}", 404, "no policy 'nope'"},
           {"{\"inline\": \"source: {uri: x}\"}", 400, "inline policy"},
           {std::string(2 << 20, 'x'), 413, "over 1 MiB"},
       }) {
    auto r = c.Post("/v1/tasks", b.body, "application/json");
    ASSERT_TRUE(r) << b.body.substr(0, 40);
    EXPECT_EQ(r->status, b.status) << b.body.substr(0, 40) << ": " << r->body;
    EXPECT_NE(r->body.find(b.says), std::string::npos) << r->body;
    EXPECT_EQ(r->body.find("s3cret"), std::string::npos);
  }
  auto bad_wait = c.Post("/v1/tasks?wait=soon", "{\"policy\": \"telemetry\"}", "application/json");
  ASSERT_TRUE(bad_wait);
  EXPECT_EQ(bad_wait->status, 400);

  // The synchronous entry: the answer is the task's final report.
  auto done = c.Post("/v1/tasks?wait=100s", "{\"policy\": \"telemetry\"}", "application/json");
  ASSERT_TRUE(done);
  ASSERT_EQ(done->status, 200) << done->body << read_text(dir_ + "/serve.err");
  auto report = nlohmann::json::parse(done->body);
  EXPECT_EQ(report["state"], "succeeded");
  EXPECT_GT(report["rows"].get<int64_t>(), 10000);
  EXPECT_EQ(report["rows_purged"], report["rows"]);
  const std::string id = report["task_id"];
  auto detail = c.Get("/v1/tasks/" + id);
  ASSERT_TRUE(detail);
  EXPECT_EQ(detail->status, 200);
  auto dj = nlohmann::json::parse(detail->body);
  ASSERT_FALSE(dj["shard_list"].empty()) << detail->body;
  EXPECT_EQ(dj["shard_list"][0]["state"], "done");
  EXPECT_FALSE(dj["shard_list"][0]["batches"].empty());
  auto missing = c.Get("/v1/tasks/no-such-task");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);

  // Two submits of one policy while its task runs (an inline policy, throttled to last a few
  // seconds): the second is a conflict naming the first task.
  const std::string slow =
      nlohmann::json{{"inline",
                      "name: slow\n"
                      "source: {uri: sqlite://telemetry.db, table: telemetry, key: id, time: ts}\n"
                      "selection: {older_than: 1d}\n"
                      "targets: [{uri: file://slow-archive, format: parquet}]\n"
                      "mode: copy\n"
                      "throttle: {rows_per_second: 1000}\n"}}
          .dump();
  auto first = c.Post("/v1/tasks", slow, "application/json");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 202) << first->body;
  auto second = c.Post("/v1/tasks", slow, "application/json");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 409) << second->body;
  EXPECT_EQ(nlohmann::json::parse(second->body)["task_id"],
            nlohmann::json::parse(first->body)["task_id"]);
  // The submitted task shows in the list once the split function has planned it.
  size_t listed = 0;
  for (int i = 0; i < 100 && listed < 2; ++i) {
    auto list = c.Get("/v1/tasks");
    ASSERT_TRUE(list);
    listed = nlohmann::json::parse(list->body)["tasks"].size();
    if (listed < 2) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(listed, 2u);

  // The command line talks to the server too (token from STRATA_TOKEN).
  ::setenv("STRATA_TOKEN", "s3cret-token", 1);
  const std::string url = "http://127.0.0.1:" + std::to_string(port_);
  auto listed_cli = run_strata({"status", "--server", url, "--json"}, dir_);
  ASSERT_EQ(listed_cli.exit_code, 0) << listed_cli.err;
  EXPECT_EQ(nlohmann::json::parse(listed_cli.out)["tasks"].size(), 2u);
  auto one = run_strata({"status", "--server", url, id}, dir_);
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_NE(one.out.find("succeeded"), std::string::npos) << one.out;
  auto unknown = run_strata({"submit", "--server", url, "nope"}, dir_);
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.err.find("no policy 'nope'"), std::string::npos) << unknown.err;
  write_file(dir_ + "/slow.yaml", nlohmann::json::parse(slow)["inline"].get<std::string>());
  auto busy = run_strata({"submit", "--server", url, "slow.yaml"}, dir_);
  EXPECT_NE(busy.exit_code, 0);
  EXPECT_NE(busy.err.find("unfinished task"), std::string::npos) << busy.err;
  ::setenv("STRATA_TOKEN", "wrong", 1);
  auto denied = run_strata({"status", "--server", url}, dir_);
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_NE(denied.err.find("403"), std::string::npos) << denied.err;
  ::unsetenv("STRATA_TOKEN");

  // SIGTERM: the server stops and exits 0.
  ::kill(pid_, SIGTERM);
  int st = 0;
  ASSERT_EQ(::waitpid(pid_, &st, 0), pid_);
  pid_ = -1;
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << read_text(dir_ + "/serve.err");
}

// A policy with a schedule runs by itself: `@every 1s` gives a task, then another once the first
// has ended (never two at once).
TEST_F(ServeTest, ScheduledPoliciesRunByThemselves) {
  write_file(dir_ + "/every.yaml",
             "source: {uri: sqlite://telemetry.db, table: telemetry, key: id, time: ts}\n"
             "selection: {older_than: 60d}\n"
             "targets: [{uri: file://every-archive, format: parquet}]\n"
             "mode: copy\n"
             "schedule: '@every 1s'\n");
  auto c = client();
  int succeeded = 0;
  for (int i = 0; i < 300 && succeeded < 2; ++i) {
    auto list = c.Get("/v1/tasks");
    ASSERT_TRUE(list);
    succeeded = 0;
    int unfinished = 0;
    const auto listed = nlohmann::json::parse(list->body);
    for (const auto& t : listed["tasks"]) {
      if (t["policy"] != "every") continue;
      if (t["state"] == "succeeded") ++succeeded;
      if (t["state"] == "running") ++unfinished;
    }
    EXPECT_LE(unfinished, 1);
    if (succeeded < 2) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_GE(succeeded, 2) << read_text(dir_ + "/serve.err");
  auto bad = client().Post("/v1/tasks",
                           nlohmann::json{{"inline",
                                           "source: {uri: sqlite://telemetry.db, table: t, key: "
                                           "id}\nselection: {key_below: '9'}\ntargets: [{uri: "
                                           "file://x}]\nschedule: 'every day'\n"}}
                               .dump(),
                           "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("schedule"), std::string::npos) << bad->body;
}

// strata serve --config strata.yaml with pools that scale to zero after a short cool-down.
class ServeConfigTest : public ServeTest {
 protected:
  void before_serve() override {
    std::filesystem::create_directories(dir_ + "/conf");
    write_file(dir_ + "/conf/strata.yaml",
               "listen: 127.0.0.1:0\n"
               "token_file: ../token\n"
               "policies: ..\n"
               "state: sqlite://../state/state.db\n"
               "pools:\n"
               "  poll: 200ms\n"
               "  cooldown: 1s\n"
               "  archive: {min: 0, max: 2}\n");
  }
  std::vector<std::string> serve_args() override { return {"--config", "conf/strata.yaml"}; }

  nlohmann::json get(const std::string& path) {
    auto r = client().Get(path);
    EXPECT_TRUE(r);
    if (!r) return nullptr;
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    return nlohmann::json::parse(r->body);
  }
  // Replicas of `function` in GET /v1/pools (-1 if it is not listed).
  int replicas(const std::string& function) {
    const nlohmann::json pools = get("/v1/pools");
    for (const auto& p : pools["pools"]) {
      if (p["function"] == function) return p["replicas"].get<int>();
    }
    return -1;
  }
  template <class Cond>
  bool eventually(Cond cond, int tenths) {
    for (int i = 0; i < tenths; ++i) {
      if (cond()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return cond();
  }
};

TEST_F(ServeConfigTest, PoolsScaleToZeroCancelStopsATaskRetryFinishesIt) {
  // Idle: after the cool-down every pool is at 0 replicas.
  ASSERT_TRUE(eventually(
      [&] {
        auto pools = get("/v1/pools")["pools"];
        if (pools.size() < 4) return false;
        for (const auto& p : pools) {
          if (p["replicas"] != 0) return false;
        }
        return true;
      },
      100))
      << get("/v1/pools").dump() << read_text(dir_ + "/serve.err");
  EXPECT_EQ(replicas("archive-sqlite"), 0);

  // A throttled copy in five shards: 15,000 rows at 3,000 rows/s.
  const std::string slow =
      nlohmann::json{{"inline",
                      "name: slow\n"
                      "source: {uri: sqlite://telemetry.db, table: telemetry, key: id, time: ts}\n"
                      "selection: {key_below: '15000'}\n"
                      "split: {shard_rows: 3000}\n"
                      "batch: {rows: 500}\n"
                      "targets: [{uri: file://slow-archive, format: parquet}]\n"
                      "mode: copy\n"
                      "throttle: {rows_per_second: 3000}\n"}}
          .dump();
  auto c = client();
  auto submitted = c.Post("/v1/tasks", slow, "application/json");
  ASSERT_TRUE(submitted);
  ASSERT_EQ(submitted->status, 202) << submitted->body;
  const std::string id = nlohmann::json::parse(submitted->body)["task_id"];
  // The backlog brings the archive pool up from zero (the publish wakes the scaler at once).
  ASSERT_TRUE(eventually([&] { return replicas("archive-sqlite") >= 1; }, 50))
      << get("/v1/pools").dump();
  ASSERT_TRUE(eventually(
      [&] {
        auto t = get("/v1/tasks/" + id);
        return t.contains("shard_list") && !t["shard_list"].empty() &&
               t["shard_list"][0]["state"] != "pending";
      },
      100));

  auto cancelled = c.Post("/v1/tasks/" + id + "/cancel", "", "application/json");
  ASSERT_TRUE(cancelled);
  ASSERT_EQ(cancelled->status, 202) << cancelled->body;
  EXPECT_EQ(nlohmann::json::parse(cancelled->body)["state"], "cancelled");
  // Every shard ends, none still running, within a few seconds; most never finished.
  int stopped = 0;
  ASSERT_TRUE(eventually(
      [&] {
        auto t = get("/v1/tasks/" + id);
        stopped = 0;
        for (const auto& sh : t["shard_list"]) {
          if (sh["state"] == "cancelled") ++stopped;
          if (sh["state"] != "cancelled" && sh["state"] != "done") return false;
        }
        return t["state"] == "cancelled";
      },
      100))
      << get("/v1/tasks/" + id).dump();
  EXPECT_GE(stopped, 2);
  auto again = c.Post("/v1/tasks/" + id + "/cancel", "", "application/json");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 409) << again->body;
  EXPECT_NE(again->body.find("cancelled"), std::string::npos) << again->body;
  // Nothing half-written was kept: the archive verifies (no stray part files).
  auto verify = run_strata({"verify", "slow-archive"}, dir_);
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;

  // Retry runs the unfinished shards; the archive ends with every selected row exactly once.
  ::setenv("STRATA_TOKEN", "s3cret-token", 1);
  const std::string url = "http://127.0.0.1:" + std::to_string(port_);
  auto retried = run_strata({"retry", id, "--server", url}, dir_);
  ASSERT_EQ(retried.exit_code, 0) << retried.err;
  EXPECT_NE(retried.out.find("retrying"), std::string::npos) << retried.out;
  ASSERT_TRUE(eventually([&] { return get("/v1/tasks/" + id)["state"] == "succeeded"; }, 300))
      << get("/v1/tasks/" + id).dump() << read_text(dir_ + "/serve.err");
  const auto rows = archive_telemetry_rows(dir_ + "/slow-archive", "parquet");
  EXPECT_EQ(static_cast<int64_t>(rows.size()),
            sqlite_count(dir_ + "/telemetry.db", "telemetry", "id < 15000"));
  EXPECT_EQ(std::set<std::string>(rows.begin(), rows.end()).size(), rows.size())
      << "a row was archived twice";
  auto twice = run_strata({"retry", id, "--server", url}, dir_);
  EXPECT_NE(twice.exit_code, 0);
  EXPECT_NE(twice.err.find("succeeded"), std::string::npos) << twice.err;
  auto unknown = c.Post("/v1/tasks/nope/retry", "", "application/json");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  auto anon = client("").Post("/v1/tasks/" + id + "/cancel", "", "application/json");
  ASSERT_TRUE(anon);
  EXPECT_EQ(anon->status, 401);
  ::unsetenv("STRATA_TOKEN");

  // Idle again: back to zero after the cool-down; the status command shows the pools.
  ASSERT_TRUE(eventually([&] { return replicas("archive-sqlite") == 0; }, 100))
      << get("/v1/pools").dump();
  auto status = run_strata({"status", "--state", "state/state.db"}, dir_);
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("worker pools"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("archive-sqlite"), std::string::npos) << status.out;
}

TEST(ServeConfig, ABadConfigIsRefusedWithItsFileAndLine) {
  const std::string dir = testing_support::fresh_dir("serve-config");
  write_file(dir + "/strata.yaml", "listen: 127.0.0.1:0\npools:\n  cooldwn: 5s\n");
  auto r = run_strata({"serve", "--config", "strata.yaml"}, dir);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("strata.yaml:3:3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cooldown"), std::string::npos) << r.err;
  write_file(dir + "/strata.yaml", "pools:\n  archive: {min: 3, max: 2}\n");
  r = run_strata({"serve", "--config", "strata.yaml"}, dir);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("pools.archive.max"), std::string::npos) << r.err;
  auto w = run_strata({"worker", "--bus", "redis://127.0.0.1:1", "--state", "sqlite://s.db",
                       "--functions", "archive,sweep"},
                      dir);
  EXPECT_NE(w.exit_code, 0);
  EXPECT_NE(w.err.find("unknown function 'sweep'"), std::string::npos) << w.err;
  w = run_strata({"worker", "--bus", "redis://127.0.0.1:1", "--state", "sqlite://s.db", "--pool",
                  "archive=4:2"},
                 dir);
  EXPECT_NE(w.exit_code, 0);
  EXPECT_NE(w.err.find("MIN <= MAX"), std::string::npos) << w.err;
}

}  // namespace
}  // namespace strata::e2e
