// Three `strata worker` processes on three "machines": each runs in its own network namespace
// with its own address (a veth pair into a bridge the test creates), against one Redis (the bus)
// and one PostgreSQL (the source table and the state store) that this test starts itself on the
// bridge's host address. A 50-shard move task is submitted from the host and must end complete
// in four situations: undisturbed, a worker killed with SIGKILL mid-shard, Redis restarted
// mid-task, and one worker's link cut (longer than the shard lease) and restored. Each time the
// archive, read back by DuckDB, holds every selected row once, the source holds exactly the rows
// that were not selected, and every deleted row is in the archive.
//
// Needs root (CAP_NET_ADMIN for `ip netns` and links, and runuser for PostgreSQL); skips itself
// with the reason when a namespace cannot be created. Everything it creates (namespaces, links,
// servers, directories) carries this process's pid and is removed in TearDown.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "tests/e2e/e2e_support.h"
#include "tests/e2e/sql_support.h"

namespace strata::e2e {
namespace {

using testing_support::fresh_dir;
using testing_support::run_command;
using Clock = std::chrono::steady_clock;

constexpr int kWorkers = 3;
constexpr int kShards = 50;
constexpr int kTableRows = 150000;  // about 100,000 of them older than 30 days
constexpr const char* kPgBin = "/usr/lib/postgresql/15/bin";
constexpr const char* kPgUser = "strata";
constexpr const char* kPgPassword = "strata-test";
// Shard leases and the bus's visibility timeout: short, so that a dead or cut-off worker's
// shards move on within seconds.
constexpr const char* kLeaseTtl = "5s";
constexpr const char* kVisibility = "3s";
// How long a task may take before the test gives up on it (and reports where it stands).
constexpr auto kTaskDeadline = std::chrono::seconds(150);

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// Runs a shell command (stderr folded into the output); a failure is a test failure.
bool sh(const std::string& command, std::string* out = nullptr) {
  auto [rc, text] = run_command("(" + command + ") 2>&1");
  if (out != nullptr) *out = text;
  EXPECT_EQ(rc, 0) << command << "\n" << text;
  return rc == 0;
}

// Runs a shell command whose failure is expected or harmless (clean-up).
std::string sh_quiet(const std::string& command) {
  return run_command("(" + command + ") 2>&1").second;
}

bool pid_alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

std::string ip_binary() {
  for (const char* p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return "";
}

// A port with no socket of any state on it, below the ephemeral range.
int free_port() {
  static std::mt19937 random(static_cast<unsigned>(::getpid()) ^
                             static_cast<unsigned>(Clock::now().time_since_epoch().count()));
  for (;;) {
    const int p = 10000 + static_cast<int>(random() % 22000);
    auto [rc, out] = run_command("ss -Htan 'sport = :" + std::to_string(p) + "' 2>/dev/null");
    if (rc == 0 && out.empty()) return p;
  }
}

// The bridge `stbr<pid>` with 10.<n>.0.1/24 on the host, and per worker a namespace
// `st<pid>w<i>` holding one end of a veth pair (10.<n>.0.<i+2>/24, and loopback up) whose other
// end, `st<pid>h<i>`, is a port of the bridge.
class Network {
 public:
  // "" when made; otherwise why not (the caller skips the test when namespaces are refused).
  std::string create(int workers) {
    ip_ = ip_binary();
    if (ip_.empty()) return "the `ip` command (iproute2) is not installed";
    tag_ = std::to_string(::getpid());
    // Can this process make namespaces and links at all (CAP_SYS_ADMIN and CAP_NET_ADMIN)?
    const std::string probe = "st" + tag_ + "p";
    auto [rc, out] = run_command(ip_ + " netns add " + probe + " 2>&1 && " + ip_ + " link add " +
                                 probe + " type bridge 2>&1");
    sh_quiet(ip_ + " link del " + probe + "; " + ip_ + " netns del " + probe);
    if (rc != 0) {
      return "creating a network namespace and a link failed (this needs CAP_SYS_ADMIN and "
             "CAP_NET_ADMIN, e.g. root): " +
             out;
    }
    {
      // One process at a time picks a free subnet and claims it with its bridge.
      const int lock = ::open("/tmp/strata-netns-test.lock", O_CREAT | O_RDWR, 0666);
      if (lock >= 0) ::flock(lock, LOCK_EX);
      remove_stale();
      const std::string used = "\n" + sh_quiet(ip_ + " -4 addr; " + ip_ + " -4 route");
      for (int k = 0; k < 200 && prefix_.empty(); ++k) {
        const int n = 20 + (::getpid() + k) % 200;
        const std::string candidate = "10." + std::to_string(n) + ".0.";
        if (used.find(" " + candidate) == std::string::npos &&
            used.find("\n" + candidate) == std::string::npos) {
          prefix_ = candidate;
        }
      }
      bool made = !prefix_.empty() && sh(ip_ + " link add " + bridge() + " type bridge && " + ip_ +
                                         " addr add " + host_addr() + "/24 dev " + bridge() +
                                         " && " + ip_ + " link set " + bridge() + " up");
      if (lock >= 0) ::close(lock);
      if (!made) return "no free 10.x.0.0/24 subnet for the bridge, or the bridge failed";
    }
    created_bridge_ = true;
    for (int i = 0; i < workers; ++i) {
      namespaces_.push_back(ns(i));
      const std::string inner = "st" + tag_ + "n" + std::to_string(i);
      if (!sh(ip_ + " netns add " + ns(i) + " && " + ip_ + " link add " + host_veth(i) +
              " type veth peer name " + inner + " && " + ip_ + " link set " + inner + " netns " +
              ns(i) + " && " + ip_ + " link set " + host_veth(i) + " master " + bridge() + " && " +
              ip_ + " link set " + host_veth(i) + " up && " + ip_ + " -n " + ns(i) + " addr add " +
              worker_addr(i) + "/24 dev " + inner + " && " + ip_ + " -n " + ns(i) + " link set " +
              inner + " up && " + ip_ + " -n " + ns(i) + " link set lo up")) {
        return "creating namespace " + ns(i) + " failed";
      }
    }
    return "";
  }

  // Safe to call twice and after a partial create().
  void destroy() {
    for (const std::string& n : namespaces_) sh_quiet(ip_ + " netns del " + n);
    for (size_t i = 0; i < namespaces_.size(); ++i) {
      sh_quiet(ip_ + " link del " + host_veth(static_cast<int>(i)) + " 2>/dev/null");
    }
    namespaces_.clear();
    if (created_bridge_) sh_quiet(ip_ + " link del " + bridge());
    created_bridge_ = false;
  }

  const std::string& ip() const { return ip_; }
  std::string bridge() const { return "stbr" + tag_; }
  std::string ns(int i) const { return "st" + tag_ + "w" + std::to_string(i); }
  std::string host_veth(int i) const { return "st" + tag_ + "h" + std::to_string(i); }
  std::string host_addr() const { return prefix_ + "1"; }
  std::string worker_addr(int i) const { return prefix_ + std::to_string(i + 2); }
  std::string subnet() const { return prefix_ + "0/24"; }

  // Takes worker i's link down at the host end (its packets are dropped, its sockets stay
  // open), or brings it back.
  void set_link(int i, bool up) { sh(ip_ + " link set " + host_veth(i) + (up ? " up" : " down")); }

 private:
  // Bridges and namespaces left by a test process that no longer exists (it was killed before
  // its TearDown).
  void remove_stale() {
    auto dead = [](const std::string& name, size_t from) {
      size_t end = from;
      while (end < name.size() && std::isdigit(static_cast<unsigned char>(name[end]))) ++end;
      if (end == from) return false;
      const pid_t pid = static_cast<pid_t>(std::atol(name.substr(from, end - from).c_str()));
      return pid != ::getpid() && !pid_alive(pid);
    };
    std::istringstream links(sh_quiet(ip_ + " -o link show type bridge"));
    for (std::string line; std::getline(links, line);) {
      const size_t at = line.find(": stbr");
      if (at == std::string::npos) continue;
      const std::string name = line.substr(at + 2, line.find(':', at + 2) - at - 2);
      if (dead(name, 4)) sh_quiet(ip_ + " link del " + name);
    }
    std::istringstream nss(sh_quiet(ip_ + " netns list"));
    for (std::string line; std::getline(nss, line);) {
      const std::string name = line.substr(0, line.find(' '));
      if (name.rfind("st", 0) == 0 && name.find_first_of("wp", 2) != std::string::npos &&
          dead(name, 2)) {
        sh_quiet(ip_ + " netns del " + name);
      }
    }
  }

  std::string ip_, tag_, prefix_;
  bool created_bridge_ = false;
  std::vector<std::string> namespaces_;
};

// This test's own PostgreSQL 15, listening on `addr` only, password logins from `subnet`.
// Durability off (nothing restarts it); runs as the postgres user, as scripts/test-servers does.
class PgServer {
 public:
  bool start(const std::string& dir, const std::string& addr, const std::string& subnet) {
    dir_ = dir;
    addr_ = addr;
    port_ = free_port();
    const std::string data = dir + "/pg", run = dir + "/pg-run";
    std::filesystem::create_directories(data);
    std::filesystem::create_directories(run);
    ::chmod(data.c_str(), 0700);
    if (::getuid() == 0 && !sh("chown postgres " + shq(data) + " " + shq(run))) return false;
    started_ = true;  // stop() copes with a half-made server
    if (!sh(as_pg() + kPgBin + "/initdb -D " + shq(data) +
            " -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8"
            " >" +
            shq(dir + "/pg-initdb.log"))) {
      return false;
    }
    std::ofstream(data + "/postgresql.conf", std::ios::app)
        << "listen_addresses = '" << addr << "'\n"
        << "port = " << port_ << "\n"
        << "unix_socket_directories = '" << run << "'\n"
        << "max_connections = 200\n"
        << "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n";
    std::ofstream(data + "/pg_hba.conf", std::ios::app)
        << "host all all " << subnet << " scram-sha-256\n";
    return sh(as_pg() + kPgBin + "/pg_ctl -D " + shq(data) + " -l " + shq(log()) +
              " -w -t 60 start >/dev/null") &&
           sh(as_pg() + kPgBin + "/psql -h " + shq(run) + " -p " + std::to_string(port_) +
              " -U postgres -q -v ON_ERROR_STOP=1 -c " +
              shq(std::string("CREATE ROLE ") + kPgUser + " LOGIN SUPERUSER PASSWORD '" +
                  kPgPassword + "'") +
              " -c " + shq(std::string("CREATE DATABASE ") + kPgUser + " OWNER " + kPgUser) +
              " >/dev/null");
  }
  void stop() {
    if (!started_) return;
    sh_quiet(as_pg() + kPgBin + "/pg_ctl -D " + shq(dir_ + "/pg") + " -m immediate -w -t 30 stop");
    started_ = false;
  }
  std::string uri() const {
    return std::string("postgres://") + kPgUser + ":" + kPgPassword + "@" + addr_ + ":" +
           std::to_string(port_) + "/" + kPgUser;
  }
  std::string log() const { return dir_ + "/pg-run/pg.log"; }

 private:
  // PostgreSQL refuses to run as root: as root, its commands run as the postgres user.
  static std::string as_pg() { return ::getuid() == 0 ? "runuser -u postgres -- " : ""; }

  std::string dir_, addr_;
  int port_ = 0;
  bool started_ = false;
};

// A child process that gets SIGKILL when this test process dies, whatever the way.
pid_t spawn(const std::vector<std::string>& argv, const std::string& log, const std::string& cwd) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0 || ::dup2(fd, 1) < 0 || ::dup2(fd, 2) < 0 || ::chdir(cwd.c_str()) != 0) _exit(126);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execvp(args[0], args.data());
  _exit(127);
}

// Waits up to `seconds` for a child; true when it ended (its wait status in *status).
bool wait_child(pid_t pid, double seconds, int* status) {
  const auto t0 = Clock::now();
  for (;;) {
    const pid_t r = ::waitpid(pid, status, WNOHANG);
    if (r == pid || r < 0) return true;
    if (seconds_since(t0) > seconds) return false;
    sleep_ms(50);
  }
}

// This test's own Redis, listening on `addr` only, with every write fsynced to its append-only
// file so that the streams, groups and pending entries survive a restart.
class RedisServer {
 public:
  bool start(const std::string& dir, const std::string& addr) {
    dir_ = dir;
    addr_ = addr;
    port_ = free_port();
    return run();
  }
  // SIGTERM (Redis writes and fsyncs what it has) and wait for the process to end.
  void stop() {
    if (pid_ <= 0) return;
    int status = 0;
    ::kill(pid_, SIGTERM);
    if (!wait_child(pid_, 30, &status)) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
    pid_ = -1;
  }
  // Stopped, down for `down_ms`, started again on the same port and data directory.
  bool restart(int down_ms) {
    stop();
    sleep_ms(down_ms);
    return run();
  }
  std::string uri() const { return "redis://" + addr_ + ":" + std::to_string(port_); }
  std::string cli() const { return "redis-cli -h " + addr_ + " -p " + std::to_string(port_) + " "; }
  std::string log() const { return dir_ + "/redis.log"; }

 private:
  bool run() {
    pid_ = spawn(
        {"redis-server", "--bind", addr_, "--port", std::to_string(port_), "--dir", dir_,
         "--protected-mode", "no", "--save", "", "--appendonly", "yes", "--appendfsync", "always"},
        log(), dir_);
    if (pid_ <= 0) return false;
    for (int i = 0; i < 200; ++i) {
      auto [rc, out] = run_command(cli() + "ping 2>/dev/null");
      if (rc == 0 && out.find("PONG") != std::string::npos) return true;
      sleep_ms(100);
    }
    ADD_FAILURE() << "redis did not come up: " << read_text(log());
    return false;
  }

  std::string dir_, addr_;
  int port_ = 0;
  pid_t pid_ = -1;
};

class NetnsWorkers : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string why = net_.create(kWorkers);
    if (!why.empty()) {
      net_.destroy();
      if (why.find("CAP_NET_ADMIN") != std::string::npos ||
          why.find("iproute2") != std::string::npos) {
        GTEST_SKIP() << "network namespaces are not available here, so this test cannot run: "
                     << why;
      }
      FAIL() << why;
    }
    dir_ = fresh_dir("netns");
    // PostgreSQL runs as another user: it must be able to reach its directory.
    for (std::filesystem::path d = dir_; d != d.root_path(); d = d.parent_path()) {
      struct stat st {};
      if (::stat(d.c_str(), &st) == 0) ::chmod(d.c_str(), (st.st_mode & 07777) | S_IXOTH);
    }
    std::filesystem::create_directories(dir_ + "/pg-server");
    std::filesystem::create_directories(dir_ + "/redis");
    std::filesystem::create_directories(dir_ + "/work");
    ASSERT_TRUE(pg_.start(dir_ + "/pg-server", net_.host_addr(), net_.subnet()));
    ASSERT_TRUE(redis_.start(dir_ + "/redis", net_.host_addr()));
    store_ = std::make_unique<Store>("pg", pg_.uri(), "netns");
    store_->create_database();
    // The workers and submit find the state store's password in the environment.
    state_ = store_->strata_uri();
    ::setenv("PGPASSWORD", kPgPassword, 1);
    bus_ = redis_.uri() + "?visibility_timeout=" + kVisibility;
  }

  void TearDown() override {
    for (pid_t pid : workers_) {
      if (pid > 0) ::kill(pid, SIGKILL);
    }
    for (pid_t pid : workers_) {
      if (pid > 0) ::waitpid(pid, nullptr, 0);
    }
    workers_.clear();
    if (submit_ > 0) {
      ::kill(submit_, SIGKILL);
      ::waitpid(submit_, nullptr, 0);
      submit_ = -1;
    }
    redis_.stop();
    pg_.stop();
    net_.destroy();
    // Keep the logs of a failed test (or of any, with STRATA_TEST_KEEP=1) for a look.
    if (!dir_.empty() && !HasFailure() && std::getenv("STRATA_TEST_KEEP") == nullptr) {
      std::filesystem::remove_all(dir_);
    }
  }

  std::string work() const { return dir_ + "/work"; }
  std::string worker_log(int i) const { return work() + "/worker" + std::to_string(i) + ".log"; }

  // The source table, a copy of it as it was, the keys selected at start, and the policy: a
  // move of every row older than 30 days in exactly kShards shards, at `rows_per_second` per
  // worker.
  void prepare(int rows_per_second) {
    Store& s = *store_;
    s.create_telemetry("telemetry", kTableRows);
    s.query("CREATE TABLE original AS SELECT * FROM telemetry");
    s.query("CREATE TABLE selected AS SELECT id FROM telemetry WHERE " + s.older_than_30d());
    s.query("ANALYZE telemetry");
    selected_ = s.count("selected");
    ASSERT_GT(selected_, 90000);
    const int64_t shard_rows = (selected_ + kShards - 1) / kShards;
    ASSERT_EQ((selected_ + shard_rows - 1) / shard_rows, kShards);
    std::string yaml = "name: netns\n";
    yaml += "source: {uri: '" + s.strata_uri() + "', table: telemetry, key: id, time: ts}\n";
    yaml += "selection: {older_than: 30d}\n";
    yaml += "split: {shard_rows: " + std::to_string(shard_rows) + "}\n";
    yaml += "batch: {rows: 500}\n";
    yaml += "targets:\n  - {uri: file://archive, format: parquet}\n";
    yaml += "mode: move\n";
    yaml += "throttle: {rows_per_second: " + std::to_string(rows_per_second) + "}\n";
    write_file(work() + "/p.yaml", yaml);
  }

  // Worker i: `ip netns exec <ns i> strata worker ...`, its output in worker<i>.log. `ip netns
  // exec` execs strata in place, so the pid is strata's (and in its worker id).
  void start_workers() {
    for (int i = 0; i < kWorkers; ++i) {
      const pid_t pid =
          spawn({net_.ip(), "netns", "exec", net_.ns(i), strata_binary(), "--log-level", "info",
                 "worker", "--bus", bus_, "--state", state_, "--lease-ttl", kLeaseTtl},
                worker_log(i), work());
      ASSERT_GT(pid, 0);
      workers_.push_back(pid);
    }
    // Up ("worker <id> on <bus> with state <uri>: <functions>"): subscribed on the bus, the
    // state schema made.
    for (int i = 0; i < kWorkers; ++i) {
      bool up = false;
      for (int t = 0; t < 300 && !up; ++t) {
        up = read_text(worker_log(i)).find(" with state ") != std::string::npos;
        if (!up) sleep_ms(100);
      }
      ASSERT_TRUE(up) << "worker " << i << " did not start:\n" << read_text(worker_log(i));
    }
  }

  int worker_index(pid_t pid) const {
    for (size_t i = 0; i < workers_.size(); ++i) {
      if (workers_[i] == pid) return static_cast<int>(i);
    }
    return -1;
  }

  // A worker archiving a shard under a live lease, or -1.
  int lease_holder() const {
    auto rows = store_->query(
        "SELECT lease_owner FROM strata.shards WHERE lease_owner <> '' AND state = 'archiving' "
        "AND lease_until > (extract(epoch FROM now()) * 1000000)::bigint ORDER BY shard_index "
        "LIMIT 1");
    if (rows.empty()) return -1;
    // Worker ids are "<hostname>-<pid>".
    return worker_index(
        static_cast<pid_t>(std::atol(rows[0].substr(rows[0].rfind('-') + 1).c_str())));
  }

  // The shards whose lease worker i holds (or held last, if it expired and nobody claimed it).
  std::vector<int> leased_by(int i) const {
    std::vector<int> out;
    for (const std::string& r : store_->query(
             "SELECT shard_index FROM strata.shards WHERE lease_owner LIKE '%-" +
             std::to_string(workers_[static_cast<size_t>(i)]) + "' ORDER BY shard_index")) {
      out.push_back(std::atoi(r.c_str()));
    }
    return out;
  }

  int shards_done() const {
    auto r = store_->query("SELECT coalesce(max(shards_done), 0) FROM strata.tasks");
    return r.empty() ? -1 : std::atoi(r[0].c_str());
  }

  // Submits the task from the host and waits for its report, calling `tick(seconds since the
  // submit)` about ten times a second meanwhile; also records the addresses PostgreSQL sees
  // the workers connect from.
  nlohmann::json run_task(const std::function<void(double)>& tick) {
    const auto t0 = Clock::now();
    submit_ = spawn_strata(
        {"submit", "p.yaml", "--bus", bus_, "--state", state_, "--wait", "--json"}, work());
    EXPECT_GT(submit_, 0);
    if (submit_ <= 0) return nullptr;
    int status = 0;
    double sampled = -1;
    for (;;) {
      const pid_t r = ::waitpid(submit_, &status, WNOHANG);
      if (r == submit_) break;
      const double secs = seconds_since(t0);
      if (secs > std::chrono::duration<double>(kTaskDeadline).count()) {
        ADD_FAILURE() << "the task did not end within " << kTaskDeadline.count() << " s\n"
                      << diagnostics();
        ::kill(submit_, SIGKILL);
        ::waitpid(submit_, nullptr, 0);
        submit_ = -1;
        return nullptr;
      }
      if (secs - sampled >= 0.5) {
        sampled = secs;
        for (const std::string& a : store_->query(
                 "SELECT DISTINCT host(client_addr) FROM pg_stat_activity WHERE client_addr IS "
                 "NOT NULL")) {
          pg_clients_.insert(a);
        }
      }
      tick(secs);
      sleep_ms(100);
    }
    submit_ = -1;
    task_seconds_ = seconds_since(t0);
    const std::string out = read_text(work() + "/.stdout");
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "strata submit: " << out << read_text(work() + "/.stderr") << "\n"
        << diagnostics();
    auto report = nlohmann::json::parse(out, nullptr, false);
    EXPECT_TRUE(report.is_object()) << out;
    return report.is_object() ? report : nlohmann::json(nullptr);
  }

  // SIGTERM to every live worker: each must exit 0 within 30 s (in-flight events finish).
  void stop_workers(const std::set<int>& killed = {}) {
    for (size_t i = 0; i < workers_.size(); ++i) {
      if (!killed.count(static_cast<int>(i))) ::kill(workers_[i], SIGTERM);
    }
    for (size_t i = 0; i < workers_.size(); ++i) {
      int st = 0;
      if (!wait_child(workers_[i], 30, &st)) {
        ADD_FAILURE() << "worker " << i << " did not stop within 30 s of SIGTERM:\n"
                      << tail(worker_log(static_cast<int>(i)), 40);
        ::kill(workers_[i], SIGKILL);
        ::waitpid(workers_[i], &st, 0);
      } else if (!killed.count(static_cast<int>(i))) {
        EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0)
            << "worker " << i << ":\n"
            << tail(worker_log(static_cast<int>(i)), 40);
      }
      workers_[i] = -1;
    }
    workers_.clear();
  }

  // The report says succeeded, with every selected row archived in kShards shards and purged.
  // `exact_purge_count`: the report's rows_purged must equal the rows selected. Not asked after
  // a disturbance: a purge attempt cut off reports what it deleted and the next one adds its own,
  // but a DELETE whose commit's reply was lost (or an attempt killed before it could report) goes
  // uncounted. The report only; what was really deleted is checked against the database by
  // expect_archive_complete().
  void expect_succeeded(const nlohmann::json& report, bool exact_purge_count) {
    ASSERT_TRUE(report.is_object());
    EXPECT_EQ(report.value("state", ""), "succeeded") << report.dump() << "\n" << diagnostics();
    EXPECT_EQ(report["shards"]["total"], kShards) << report.dump();
    EXPECT_EQ(report["shards"]["done"], kShards) << report.dump();
    EXPECT_EQ(report["rows"].get<int64_t>(), selected_) << report.dump();
    const int64_t purged = report["rows_purged"].get<int64_t>();
    if (exact_purge_count) {
      EXPECT_EQ(purged, selected_) << report.dump();
    } else {
      EXPECT_GT(purged, 0) << report.dump();
      EXPECT_LE(purged, selected_) << report.dump();
      if (purged != selected_) {
        std::printf(
            "[ netns ] the report's rows_purged is %lld, %lld rows were purged (deletions "
            "of a purge attempt cut off before it could report them)\n",
            static_cast<long long>(purged), static_cast<long long>(selected_));
      }
    }
  }

  // Every worker connected to PostgreSQL from its own namespace's address.
  void expect_workers_came_from_their_namespaces() {
    for (int i = 0; i < kWorkers; ++i) {
      EXPECT_TRUE(pg_clients_.count(net_.worker_addr(i)))
          << "no connection from worker " << i << "'s address " << net_.worker_addr(i);
    }
  }

  // The archive (read by DuckDB) against the source: complete, no key twice, nothing else gone.
  void expect_archive_complete() {
    const std::string archive = work() + "/archive";
    Store& s = *store_;
    // Strata's own check first: every file its manifests list is there and reads back.
    auto verify = run_strata({"verify", "--deep", "archive"}, work());
    EXPECT_EQ(verify.exit_code, 0) << "strata verify --deep:\n" << verify.out << verify.err;
    // Archived row count = rows selected at start; no key twice.
    auto counts = duckdb_rows(archive, {"count(*)", "count(DISTINCT id)"}, "");
    ASSERT_EQ(counts.size(), 1u);
    EXPECT_EQ(counts[0], std::to_string(selected_) + "|" + std::to_string(selected_))
        << "archived rows|distinct keys, want " << selected_ << " of each";
    // Every archived row is a selected row as it was, and every selected row is archived.
    const std::vector<std::string> archived = archived_rows(archive);
    const std::vector<std::string> want = s.rows("original", "id IN (SELECT id FROM selected)");
    EXPECT_EQ(archived.size(), want.size());
    EXPECT_TRUE(archived == want) << "the archive differs from the selected rows";
    // The source holds exactly the rows not selected, unchanged.
    EXPECT_EQ(s.count("telemetry", "id IN (SELECT id FROM selected)"), 0)
        << "selected rows were left in the source";
    EXPECT_TRUE(s.rows("telemetry") == s.rows("original", "id NOT IN (SELECT id FROM selected)"))
        << "the source no longer holds exactly the rows that were not selected";
    // Every deleted key is in the archive.
    const std::vector<std::string> deleted =
        s.query("SELECT id FROM original EXCEPT SELECT id FROM telemetry ORDER BY 1");
    const std::vector<std::string> archived_keys = duckdb_rows(archive, {"id"}, "ORDER BY id");
    EXPECT_EQ(deleted.size(), static_cast<size_t>(selected_));
    EXPECT_TRUE(deleted == archived_keys) << "deleted keys and archived keys differ";
  }

  // How many shards each worker's log says it archived.
  std::vector<int> shards_archived_by_worker() const {
    std::vector<int> n;
    for (int i = 0; i < kWorkers; ++i) {
      const std::string log = read_text(worker_log(i));
      int c = 0;
      for (size_t at = log.find("rows archived to"); at != std::string::npos;
           at = log.find("rows archived to", at + 1)) {
        ++c;
      }
      n.push_back(c);
    }
    return n;
  }

  // Does a worker other than `except` say it archived shard `index` of the task?
  bool shard_archived_elsewhere(const std::string& task_id, int index, int except) const {
    const std::string needle = "shard " + task_id + "/" + std::to_string(index) + ": ";
    for (int i = 0; i < kWorkers; ++i) {
      if (i == except) continue;
      std::istringstream log(read_text(worker_log(i)));
      for (std::string line; std::getline(log, line);) {
        if (line.find(needle) != std::string::npos &&
            line.find("rows archived to") != std::string::npos) {
          return true;
        }
      }
    }
    return false;
  }

  // Every line of the workers' logs about shard `index` of the task.
  std::string shard_log(const std::string& task_id, int index) const {
    const std::string needle = task_id + "/" + std::to_string(index) + ":";
    std::string out;
    for (int i = 0; i < kWorkers; ++i) {
      std::istringstream log(read_text(worker_log(i)));
      for (std::string line; std::getline(log, line);) {
        if (line.find(needle) != std::string::npos) {
          out += "worker " + std::to_string(i) + ": " + line.substr(0, 400) + "\n";
        }
      }
    }
    return out;
  }

  static std::string tail(const std::string& path, int lines) {
    const std::string text = read_text(path);
    size_t at = text.size();
    for (int i = 0; i <= lines && at != std::string::npos && at > 0; ++i) {
      at = text.rfind('\n', at - 1);
    }
    return at == std::string::npos ? text : text.substr(at + 1);
  }

  // Where the task stands, for failure messages.
  std::string diagnostics() const {
    std::string out = "-- shards not done (index|state|attempts|lease_owner|error):\n";
    for (const std::string& r :
         store_->query("SELECT shard_index, state, attempts, lease_owner, left(error, 300) FROM "
                       "strata.shards WHERE state <> 'done' ORDER BY shard_index")) {
      out += r + "\n";
    }
    out += "-- dead letters:\n";
    for (const std::string& r :
         store_->query("SELECT function, attempts, left(error, 300) FROM strata.dead_letters")) {
      out += r + "\n";
    }
    for (int i = 0; i < kWorkers; ++i) {
      out += "-- worker " + std::to_string(i) + " (" + net_.ns(i) + "), last lines:\n" +
             tail(worker_log(i), 25);
    }
    return out;
  }

  Network net_;
  PgServer pg_;
  RedisServer redis_;
  std::string dir_, state_, bus_;
  std::unique_ptr<Store> store_;
  std::vector<pid_t> workers_;
  pid_t submit_ = -1;
  int64_t selected_ = 0;
  std::set<std::string> pg_clients_;
  double task_seconds_ = 0;
};

// Undisturbed: the three workers share the 50 shards; each archives some.
TEST_F(NetnsWorkers, ThreeWorkersShareA50ShardTask) {
  ASSERT_NO_FATAL_FAILURE(prepare(2500));
  ASSERT_NO_FATAL_FAILURE(start_workers());
  auto report = run_task([](double) {});
  stop_workers();
  expect_succeeded(report, true);
  std::vector<int> by_worker = shards_archived_by_worker();
  for (int i = 0; i < kWorkers; ++i) {
    EXPECT_GE(by_worker[static_cast<size_t>(i)], 1) << "worker " << i << " archived no shard:\n"
                                                    << tail(worker_log(i), 20);
  }
  expect_workers_came_from_their_namespaces();
  expect_archive_complete();
  std::printf("[ netns ] %.1f s for the task; shards archived per worker: %d %d %d\n",
              task_seconds_, by_worker[0], by_worker[1], by_worker[2]);
}

// kill -9 of a worker while it holds shard leases: those shards are archived by the other workers
// once the leases and the bus's visibility timeout have run out.
TEST_F(NetnsWorkers, AWorkerKilledMidShardItsShardsFinishElsewhere) {
  ASSERT_NO_FATAL_FAILURE(prepare(2000));
  ASSERT_NO_FATAL_FAILURE(start_workers());
  int victim = -1;
  std::vector<int> held;  // the shards whose lease the victim held when it died
  auto report = run_task([&](double secs) {
    if (victim >= 0 || secs < 2) return;
    const int w = lease_holder();
    if (w < 0) return;
    ::kill(workers_[static_cast<size_t>(w)], SIGKILL);
    victim = w;
    held = leased_by(w);
  });
  ASSERT_GE(victim, 0) << "no worker was seen holding a shard";
  stop_workers({victim});
  expect_succeeded(report, false);
  const std::string task_id = report.value("task_id", "");
  EXPECT_FALSE(held.empty()) << "worker " << victim << " held no lease when it was killed";
  std::string shards;
  for (int shard : held) {
    shards += " " + std::to_string(shard);
    EXPECT_TRUE(shard_archived_elsewhere(task_id, shard, victim))
        << "shard " << shard << " of the killed worker " << victim
        << " was not archived by another worker\n"
        << shard_log(task_id, shard) << diagnostics();
  }
  expect_archive_complete();
  std::printf("[ netns ] %.1f s for the task; worker %d killed holding shard(s)%s\n", task_seconds_,
              victim, shards.c_str());
}

// Redis (the bus) stopped and started again on the same port while shards are in flight: with
// its append-only file the streams and consumer groups come back, and the workers reconnect.
TEST_F(NetnsWorkers, RedisRestartedMidTaskTheTaskCompletes) {
  ASSERT_NO_FATAL_FAILURE(prepare(2500));
  ASSERT_NO_FATAL_FAILURE(start_workers());
  bool restarted = false;
  int done_at_restart = -1;
  std::string run_id_before;
  auto report = run_task([&](double) {
    if (restarted) return;
    const int done = shards_done();
    if (done < 8) return;
    done_at_restart = done;
    run_id_before = run_command(redis_.cli() + "INFO server | grep run_id").second;
    EXPECT_TRUE(redis_.restart(3000));
    restarted = true;
  });
  ASSERT_TRUE(restarted) << "the task ended before Redis could be restarted";
  EXPECT_LT(done_at_restart, kShards) << "Redis was restarted after the task was done";
  EXPECT_NE(run_command(redis_.cli() + "INFO server | grep run_id").second, run_id_before)
      << "Redis did not restart";
  // The task request survived the restart (the append-only file).
  EXPECT_EQ(run_command(redis_.cli() + "XLEN strata.tasks").second, "1\n");
  stop_workers();
  expect_succeeded(report, false);
  int reconnected = 0;
  for (int i = 0; i < kWorkers; ++i) {
    const std::string log = read_text(worker_log(i));
    if (log.find("connection lost") != std::string::npos ||
        log.find("cannot connect") != std::string::npos ||
        log.find("reachable again") != std::string::npos) {
      ++reconnected;
    }
  }
  EXPECT_GT(reconnected, 0) << "no worker noticed the restart";
  expect_archive_complete();
  std::printf("[ netns ] %.1f s for the task; Redis restarted with %d of %d shards done\n",
              task_seconds_, done_at_restart, kShards);
}

// One worker's link goes down (its sockets stay open; packets are dropped) while it holds shard
// leases, for longer than a lease; then it comes back. Meanwhile the others take its shards over
// and go on with the task.
TEST_F(NetnsWorkers, AWorkersLinkCutMidShardTheTaskCompletes) {
  ASSERT_NO_FATAL_FAILURE(prepare(2000));
  ASSERT_NO_FATAL_FAILURE(start_workers());
  constexpr double kCutSeconds = 12;
  int victim = -1, done_at_cut = -1, done_at_restore = -1;
  std::vector<int> held;  // the shards whose lease the victim held when its link went down
  double cut_at = 0;
  bool restored = false;
  auto report = run_task([&](double secs) {
    if (victim < 0) {
      if (secs < 2) return;
      const int w = lease_holder();
      if (w < 0) return;
      net_.set_link(w, false);
      victim = w;
      cut_at = secs;
      held = leased_by(w);
      done_at_cut = shards_done();
    } else if (!restored && secs - cut_at >= kCutSeconds) {
      done_at_restore = shards_done();
      net_.set_link(victim, true);
      restored = true;
    }
  });
  if (victim >= 0 && !restored) net_.set_link(victim, true);
  ASSERT_GE(victim, 0) << "no worker was seen holding a shard";
  EXPECT_TRUE(restored) << "the task ended while the link was still down";
  stop_workers();
  expect_succeeded(report, false);
  EXPECT_GT(done_at_restore, done_at_cut)
      << "no shard finished while worker " << victim << "'s link was down";
  const std::string task_id = report.value("task_id", "");
  EXPECT_FALSE(held.empty()) << "worker " << victim << " held no lease when its link went down";
  std::string shards;
  for (int shard : held) {
    shards += " " + std::to_string(shard);
    EXPECT_TRUE(shard_archived_elsewhere(task_id, shard, victim))
        << "shard " << shard << " of the cut-off worker " << victim
        << " was not archived by another worker\n"
        << shard_log(task_id, shard) << diagnostics();
  }
  expect_archive_complete();
  if (HasFailure()) {
    for (int shard : held) {
      std::printf("[ netns ] what the workers logged about shard %d:\n%s", shard,
                  shard_log(task_id, shard).c_str());
    }
  }
  std::printf(
      "[ netns ] %.1f s for the task; worker %d cut off for %.0f s holding shard(s)%s (%d -> %d "
      "shards done meanwhile)\n",
      task_seconds_, victim, kCutSeconds, shards.c_str(), done_at_cut, done_at_restore);
}

}  // namespace
}  // namespace strata::e2e
