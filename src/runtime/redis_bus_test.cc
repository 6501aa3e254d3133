// The Redis Streams bus against real Redis servers: the shared one of scripts/test-servers
// (STRATA_TEST_REDIS_URI; every test uses its own topics) and, for the restart test, a private
// redis-server on a free port. Publish/consume in Dapr's layout, fan-out to two functions, two
// workers sharing one function's entries, take-over of a dead or stopped worker's entries after
// the visibility timeout (and no take-over of a long handler that is alive), retries then dead
// letter, permanent failures and foreign garbage dead-lettered at once, Redis killed and
// restarted mid-stream, a Node.js (npm `redis`) peer reading and writing the same streams, and
// errors that name the server without its password.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "runtime/redis_bus.h"
#include "tests/support/duckdb.h"

namespace strata {
namespace {

using namespace std::chrono_literals;
using testing_support::run_command;

std::string server_uri() {
  const char* uri = std::getenv("STRATA_TEST_REDIS_URI");
  if (uri == nullptr || *uri == '\0') {
    ADD_FAILURE() << "STRATA_TEST_REDIS_URI is not set: run the Redis bus tests through "
                     "`make test` or scripts/run-tests, which start the test servers and "
                     "export it";
    return "";
  }
  return uri;
}

int port_of(const std::string& uri) { return std::stoi(uri.substr(uri.rfind(':') + 1)); }

// A plain hiredis connection for looking at the streams independently of the bus.
class Raw {
 public:
  explicit Raw(int port) : c_(redisConnect("127.0.0.1", port)) {
    EXPECT_TRUE(c_ != nullptr && c_->err == 0) << (c_ ? c_->errstr : "no context");
  }
  ~Raw() { redisFree(c_); }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;

  struct Reply {
    Reply() = default;
    Reply(const Reply&) = delete;
    Reply& operator=(const Reply&) = delete;
    redisReply* r = nullptr;
    ~Reply() {
      if (r) freeReplyObject(r);
    }
  };
  std::unique_ptr<Reply> cmd(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto r = std::make_unique<Reply>();
    r->r = static_cast<redisReply*>(
        redisCommandArgv(c_, static_cast<int>(argv.size()), argv.data(), lens.data()));
    EXPECT_NE(r->r, nullptr) << args[0] << ": " << c_->errstr;
    if (r->r && r->r->type == REDIS_REPLY_ERROR) ADD_FAILURE() << args[0] << ": " << r->r->str;
    return r;
  }
  // Entries of `stream` as (id, fields).
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> range(
      const std::string& stream) {
    std::vector<std::pair<std::string, std::map<std::string, std::string>>> out;
    auto r = cmd({"XRANGE", stream, "-", "+"});
    if (!r->r || r->r->type != REDIS_REPLY_ARRAY) return out;
    for (size_t i = 0; i < r->r->elements; ++i) {
      redisReply* e = r->r->element[i];
      std::map<std::string, std::string> fields;
      redisReply* f = e->element[1];
      for (size_t k = 0; k + 1 < f->elements; k += 2) {
        fields[std::string(f->element[k]->str, f->element[k]->len)] =
            std::string(f->element[k + 1]->str, f->element[k + 1]->len);
      }
      out.emplace_back(e->element[0]->str, std::move(fields));
    }
    return out;
  }
  // Entries pending in `group` of `stream`.
  int64_t pending(const std::string& stream, const std::string& group) {
    auto r = cmd({"XPENDING", stream, group});
    if (!r->r || r->r->type != REDIS_REPLY_ARRAY || r->r->elements == 0) return -1;
    return r->r->element[0]->integer;
  }

 private:
  redisContext* c_;
};

// Polls `done` every 20ms until it holds or `timeout` passes.
template <typename Pred>
bool wait_until(Pred done, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return done();
}

// Event ids a handler saw, with their attempts, thread-safe.
struct Seen {
  std::mutex mu;
  std::map<std::string, std::vector<int>> attempts;  // event id -> attempts seen
  std::map<std::string, int> by_worker;
  void add(const Event& e, int attempt, const std::string& worker = "") {
    std::lock_guard lock(mu);
    attempts[e.id].push_back(attempt);
    if (!worker.empty()) ++by_worker[worker];
  }
  size_t distinct() {
    std::lock_guard lock(mu);
    return attempts.size();
  }
  std::vector<int> of(const std::string& id) {
    std::lock_guard lock(mu);
    return attempts[id];
  }
};

class RedisBusTest : public testing::Test {
 protected:
  void SetUp() override {
    uri_ = server_uri();
    ASSERT_FALSE(uri_.empty());
    std::string name = testing::UnitTest::GetInstance()->current_test_info()->name();
    prefix_ = "t." + name + "." + std::to_string(getpid()) + ".";
    raw_ = std::make_unique<Raw>(port_of(uri_));
  }
  void TearDown() override {
    if (!raw_) return;
    for (const std::string& t : topics_) raw_->cmd({"DEL", t, t + ".deadletter"});
  }

  std::string topic(const std::string& name) {
    topics_.push_back(prefix_ + name);
    return topics_.back();
  }
  std::unique_ptr<RedisBus> open(const std::string& query = "block=100ms",
                                 const std::string& uri = "") {
    RedisBusOptions o;
    o.uri = (uri.empty() ? uri_ : uri) + "?" + query;
    auto bus = RedisBus::open(o);
    EXPECT_TRUE(bus.is_ok()) << bus.status().to_string();
    return bus.is_ok() ? std::move(bus).value() : nullptr;
  }
  static Event event(const std::string& subject, Json data = Json::object()) {
    return make_event("strata.test.ping", "strata/test", subject, std::move(data));
  }
  static FunctionSpec spec(std::string name, std::string topic, Handler h, int concurrency = 1) {
    FunctionSpec s;
    s.name = std::move(name);
    s.topic = std::move(topic);
    s.handler = std::move(h);
    s.concurrency = concurrency;
    s.retry.max_attempts = 3;
    s.retry.initial_backoff = 50ms;
    s.retry.max_backoff = 200ms;
    return s;
  }

  std::string uri_;
  std::string prefix_;
  std::vector<std::string> topics_;
  std::unique_ptr<Raw> raw_;
};

TEST_F(RedisBusTest, PublishesInDaprLayoutAndConsumesEventsFromBeforeAndAfterStart) {
  const std::string t = topic("tasks");
  auto bus = open();
  ASSERT_NE(bus, nullptr);
  Seen seen;
  std::vector<std::string> ids;
  ASSERT_TRUE(bus->subscribe(spec("split", t,
                                  [&](Context& ctx, const Event& e) {
                                    seen.add(e, ctx.attempt());
                                    return Status::ok();
                                  }))
                  .is_ok());
  for (int i = 0; i < 5; ++i) {  // before the group exists: delivered all the same
    Event e = event("before-" + std::to_string(i), Json{{"n", i}});
    ids.push_back(e.id);
    ASSERT_TRUE(bus->publish(t, e).is_ok());
  }
  ASSERT_TRUE(bus->start().is_ok());
  for (int i = 0; i < 5; ++i) {
    Event e = event("after-" + std::to_string(i), Json{{"n", i}});
    ids.push_back(e.id);
    ASSERT_TRUE(bus->publish(t, e).is_ok());
  }
  ASSERT_TRUE(wait_until([&] { return seen.distinct() == 10; }, 10s)) << seen.distinct();
  for (const auto& id : ids) EXPECT_EQ(seen.of(id), (std::vector<int>{1})) << id;
  ASSERT_TRUE(wait_until([&] { return raw_->pending(t, "split") == 0; }, 5s));

  // The stream: key = topic, one field `data` = the CloudEvent JSON.
  auto entries = raw_->range(t);
  ASSERT_EQ(entries.size(), 10u);
  for (const auto& [id, fields] : entries) {
    ASSERT_EQ(fields.size(), 1u) << id;
    ASSERT_TRUE(fields.count("data")) << id;
    Json j = Json::parse(fields.at("data"));
    EXPECT_EQ(j["specversion"], "1.0");
    EXPECT_EQ(j["type"], "strata.test.ping");
    EXPECT_TRUE(Event::parse(fields.at("data")).is_ok());
  }
  EXPECT_TRUE(bus->publish(t, Event{}).is_permanent()) << "no id or type";
  bus->stop();
}

TEST_F(RedisBusTest, TwoFunctionsOnOneTopicBothReceiveEveryEvent) {
  const std::string t = topic("status");
  auto bus = open();
  ASSERT_NE(bus, nullptr);
  Seen a, b;
  ASSERT_TRUE(bus->subscribe(spec("status", t,
                                  [&](Context& ctx, const Event& e) {
                                    a.add(e, ctx.attempt());
                                    return Status::ok();
                                  }))
                  .is_ok());
  ASSERT_TRUE(bus->subscribe(spec("progress", t,
                                  [&](Context& ctx, const Event& e) {
                                    b.add(e, ctx.attempt());
                                    return Status::ok();
                                  }))
                  .is_ok());
  EXPECT_TRUE(bus->subscribe(spec("status", t, [](Context&, const Event&) { return Status::ok(); }))
                  .is_permanent())
      << "a name is a consumer group: unique";
  ASSERT_TRUE(bus->start().is_ok());
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(bus->publish(t, event("s")).is_ok());
  ASSERT_TRUE(wait_until([&] { return a.distinct() == 8 && b.distinct() == 8; }, 10s));
}

TEST_F(RedisBusTest, TwoWorkersOfOneFunctionShareTheEntriesEachHandledOnce) {
  const std::string t = topic("shards");
  auto w1 = open();
  auto w2 = open();
  ASSERT_NE(w1, nullptr);
  ASSERT_NE(w2, nullptr);
  EXPECT_NE(w1->worker_id(), w2->worker_id());
  Seen seen;
  for (RedisBus* w : {w1.get(), w2.get()}) {
    const std::string id = w->worker_id();
    ASSERT_TRUE(w->subscribe(spec(
                                 "archive", t,
                                 [&, id](Context& ctx, const Event& e) {
                                   seen.add(e, ctx.attempt(), id);
                                   std::this_thread::sleep_for(10ms);
                                   return Status::ok();
                                 },
                                 2))
                    .is_ok());
  }
  ASSERT_TRUE(w1->start().is_ok());
  ASSERT_TRUE(w2->start().is_ok());
  constexpr int kEvents = 60;
  for (int i = 0; i < kEvents; ++i) ASSERT_TRUE(w1->publish(t, event("s")).is_ok());
  ASSERT_TRUE(wait_until([&] { return seen.distinct() == kEvents; }, 20s)) << seen.distinct();
  std::this_thread::sleep_for(300ms);  // any duplicate would show up by now
  std::lock_guard lock(seen.mu);
  for (const auto& [id, attempts] : seen.attempts) {
    EXPECT_EQ(attempts.size(), 1u) << id << " handled more than once";
  }
  EXPECT_GT(seen.by_worker[w1->worker_id()], 0);
  EXPECT_GT(seen.by_worker[w2->worker_id()], 0);
}

// A worker read the entry and died without acking: another worker takes it over once it has
// been pending longer than the visibility timeout, as its second delivery.
TEST_F(RedisBusTest, ADeadWorkersEntryIsTakenOverAfterTheVisibilityTimeout) {
  const std::string t = topic("dead");
  raw_->cmd({"XGROUP", "CREATE", t, "purge", "0", "MKSTREAM"});
  Event e = event("orphan");
  raw_->cmd({"XADD", t, "*", "data", e.to_string()});
  auto taken =
      raw_->cmd({"XREADGROUP", "GROUP", "purge", "dead-worker", "COUNT", "1", "STREAMS", t, ">"});
  ASSERT_EQ(taken->r->type, REDIS_REPLY_ARRAY) << "the dead worker got the entry";
  const auto read_at = std::chrono::steady_clock::now();

  auto bus = open("block=50ms&visibility_timeout=700ms");
  ASSERT_NE(bus, nullptr);
  Seen seen;
  std::atomic<int64_t> handled_after_ms{-1};
  ASSERT_TRUE(bus->subscribe(spec("purge", t,
                                  [&](Context& ctx, const Event& ev) {
                                    handled_after_ms =
                                        std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::steady_clock::now() - read_at)
                                            .count();
                                    seen.add(ev, ctx.attempt());
                                    return Status::ok();
                                  }))
                  .is_ok());
  ASSERT_TRUE(bus->start().is_ok());
  ASSERT_TRUE(wait_until([&] { return seen.distinct() == 1; }, 10s));
  EXPECT_EQ(seen.of(e.id), (std::vector<int>{2})) << "the dead worker's delivery counts";
  EXPECT_GE(handled_after_ms.load(), 650) << "not before the visibility timeout";
  ASSERT_TRUE(wait_until([&] { return raw_->pending(t, "purge") == 0; }, 5s));
}

// A handler that sees the bus stopping returns `cancelled`: its entry stays pending and another
// worker of the function handles it after the visibility timeout.
TEST_F(RedisBusTest, AnEntryLeftByAStoppingWorkerIsHandledByAnother) {
  const std::string t = topic("stopping");
  auto first = open("block=50ms&visibility_timeout=600ms");
  ASSERT_NE(first, nullptr);
  std::atomic<bool> started{false};
  ASSERT_TRUE(first
                  ->subscribe(spec("archive", t,
                                   [&](Context& ctx, const Event&) {
                                     started = true;
                                     while (!ctx.cancelled()) std::this_thread::sleep_for(5ms);
                                     return Status::cancelled("stopping mid-shard");
                                   }))
                  .is_ok());
  ASSERT_TRUE(first->start().is_ok());
  Event e = event("shard-7");
  ASSERT_TRUE(first->publish(t, e).is_ok());
  ASSERT_TRUE(wait_until([&] { return started.load(); }, 10s));
  first.reset();  // stop + destroy mid-handler
  EXPECT_EQ(raw_->pending(t, "archive"), 1);

  auto second = open("block=50ms&visibility_timeout=600ms");
  ASSERT_NE(second, nullptr);
  Seen seen;
  ASSERT_TRUE(second
                  ->subscribe(spec("archive", t,
                                   [&](Context& ctx, const Event& ev) {
                                     seen.add(ev, ctx.attempt());
                                     return Status::ok();
                                   }))
                  .is_ok());
  ASSERT_TRUE(second->start().is_ok());
  ASSERT_TRUE(wait_until([&] { return seen.distinct() == 1; }, 10s));
  EXPECT_EQ(seen.of(e.id), (std::vector<int>{2}));
  ASSERT_TRUE(wait_until([&] { return raw_->pending(t, "archive") == 0; }, 5s));
}

// A handler running longer than the visibility timeout on a live worker is kept fresh, so the
// other worker of the function does not take it over.
TEST_F(RedisBusTest, ALongHandlerOnALiveWorkerIsNotTakenOver) {
  const std::string t = topic("long");
  Seen seen;
  auto handler = [&](Context& ctx, const Event& e) {
    seen.add(e, ctx.attempt());
    std::this_thread::sleep_for(1500ms);
    return Status::ok();
  };
  auto w1 = open("block=50ms&visibility_timeout=400ms");
  auto w2 = open("block=50ms&visibility_timeout=400ms");
  ASSERT_NE(w1, nullptr);
  ASSERT_NE(w2, nullptr);
  ASSERT_TRUE(w1->subscribe(spec("archive", t, handler)).is_ok());
  ASSERT_TRUE(w2->subscribe(spec("archive", t, handler)).is_ok());
  ASSERT_TRUE(w1->start().is_ok());
  ASSERT_TRUE(w2->start().is_ok());
  Event e = event("big-shard");
  ASSERT_TRUE(w1->publish(t, e).is_ok());
  ASSERT_TRUE(wait_until([&] { return seen.distinct() == 1; }, 10s));
  ASSERT_TRUE(wait_until([&] { return raw_->pending(t, "archive") == 0; }, 10s));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(seen.of(e.id), (std::vector<int>{1})) << "handled once, never taken over";
}

TEST_F(RedisBusTest, RetryableFailuresAreRetriedWithBackoffThenDeadLettered) {
  const std::string t = topic("retry");
  auto bus = open();
  ASSERT_NE(bus, nullptr);
  Seen seen;
  std::mutex mu;
  std::vector<DeadLetter> letters;
  std::vector<std::chrono::steady_clock::time_point> times;
  bus->on_dead_letter([&](const DeadLetter& d) {
    std::lock_guard lock(mu);
    letters.push_back(d);
  });
  ASSERT_TRUE(bus->subscribe(spec("archive", t,
                                  [&](Context& ctx, const Event& e) {
                                    seen.add(e, ctx.attempt());
                                    {
                                      std::lock_guard lock(mu);
                                      times.push_back(std::chrono::steady_clock::now());
                                    }
                                    if (e.subject == "flaky" && ctx.attempt() == 2)
                                      return Status::ok();
                                    return Status::retryable("connection refused");
                                  }))
                  .is_ok());
  ASSERT_TRUE(bus->start().is_ok());
  Event doomed = event("doomed");
  ASSERT_TRUE(bus->publish(t, doomed).is_ok());
  ASSERT_TRUE(wait_until(
      [&] {
        std::lock_guard lock(mu);
        return letters.size() == 1;
      },
      10s));
  EXPECT_EQ(seen.of(doomed.id), (std::vector<int>{1, 2, 3}));
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(times.size(), 3u);
    EXPECT_GE(times[1] - times[0], 35ms) << "backoff 50ms -20%";
    EXPECT_GE(times[2] - times[1], 75ms) << "backoff 100ms -20%";
    EXPECT_EQ(letters[0].function, "archive");
    EXPECT_EQ(letters[0].topic, t);
    EXPECT_EQ(letters[0].attempts, 3);
    EXPECT_EQ(letters[0].event.id, doomed.id);
    EXPECT_TRUE(letters[0].error.is_retryable());
  }
  ASSERT_TRUE(wait_until([&] { return raw_->pending(t, "archive") == 0; }, 5s));
  auto dl = raw_->range(t + ".deadletter");
  ASSERT_EQ(dl.size(), 1u);
  const auto& f = dl[0].second;
  EXPECT_EQ(Json::parse(f.at("data"))["id"], doomed.id);
  EXPECT_EQ(f.at("function"), "archive");
  EXPECT_EQ(f.at("topic"), t);
  EXPECT_EQ(f.at("attempts"), "3");
  EXPECT_NE(f.at("error").find("connection refused"), std::string::npos);

  Event flaky = event("flaky");
  ASSERT_TRUE(bus->publish(t, flaky).is_ok());
  ASSERT_TRUE(wait_until([&] { return seen.of(flaky.id).size() == 2; }, 10s));
  ASSERT_TRUE(wait_until([&] { return raw_->pending(t, "archive") == 0; }, 5s));
  EXPECT_EQ(raw_->range(t + ".deadletter").size(), 1u) << "a retry that succeeds is not dead";
}

TEST_F(RedisBusTest, PermanentFailuresAndForeignGarbageAreDeadLetteredAtOnce) {
  const std::string t = topic("permanent");
  auto bus = open();
  ASSERT_NE(bus, nullptr);
  Seen seen;
  std::atomic<int> letters{0};
  bus->on_dead_letter([&](const DeadLetter&) { ++letters; });
  ASSERT_TRUE(bus->subscribe(spec("split", t,
                                  [&](Context& ctx, const Event& e) {
                                    seen.add(e, ctx.attempt());
                                    if (e.subject == "throws") throw std::runtime_error("bug");
                                    return Status::permanent("table telemetry does not exist");
                                  }))
                  .is_ok());
  ASSERT_TRUE(bus->start().is_ok());
  Event bad = event("bad");
  ASSERT_TRUE(bus->publish(t, bad).is_ok());
  ASSERT_TRUE(bus->publish(t, event("throws")).is_ok());
  raw_->cmd({"XADD", t, "*", "data", "this is not a cloud event"});
  raw_->cmd({"XADD", t, "*", "payload", "{}"});
  ASSERT_TRUE(wait_until([&] { return letters == 4; }, 10s)) << letters;
  EXPECT_EQ(seen.of(bad.id), (std::vector<int>{1}));
  EXPECT_EQ(seen.distinct(), 2u) << "garbage never reaches the handler";
  ASSERT_TRUE(wait_until([&] { return raw_->pending(t, "split") == 0; }, 5s));
  auto dl = raw_->range(t + ".deadletter");
  ASSERT_EQ(dl.size(), 4u);
  EXPECT_EQ(dl[0].second.at("attempts"), "1");
  EXPECT_NE(dl[0].second.at("error").find("does not exist"), std::string::npos);
  EXPECT_NE(dl[1].second.at("error").find("threw"), std::string::npos);
  EXPECT_EQ(dl[2].second.at("data"), "this is not a cloud event");
  EXPECT_NE(dl[3].second.at("error").find("no field 'data'"), std::string::npos);
}

// A private redis-server (append-only file, fsync always) on a free port, killed with SIGKILL
// and started again on the same port and directory.
class PrivateRedis {
 public:
  PrivateRedis() {
    dir_ = testing_support::fresh_dir("redis");
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof(a);
    EXPECT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len), 0);
    port_ = ntohs(a.sin_port);
    ::close(s);
  }
  ~PrivateRedis() { kill(); }
  int port() const { return port_; }
  std::string uri() const { return "redis://127.0.0.1:" + std::to_string(port_); }

  bool start() {
    std::string cmd = "redis-server --bind 127.0.0.1 --port " + std::to_string(port_) + " --dir " +
                      dir_ +
                      " --appendonly yes --appendfsync always --save '' --daemonize yes"
                      " --pidfile " +
                      dir_ + "/redis.pid --logfile " + dir_ + "/redis.log";
    if (run_command(cmd).first != 0) return false;
    return wait_until(
        [&] {
          redisContext* c = redisConnect("127.0.0.1", port_);
          bool ok = c && c->err == 0;
          if (ok) {
            auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
            ok = r && r->type == REDIS_REPLY_STATUS;
            if (r) freeReplyObject(r);
          }
          redisFree(c);
          return ok;
        },
        10s);
  }
  void kill() {
    std::ifstream f(dir_ + "/redis.pid");
    pid_t pid = 0;
    if (!(f >> pid) || pid <= 0) return;
    ::kill(pid, SIGKILL);
    wait_until([&] { return ::kill(pid, 0) != 0; }, 5s);
    std::filesystem::remove(dir_ + "/redis.pid");
  }

 private:
  std::string dir_;
  int port_ = 0;
};

TEST_F(RedisBusTest, RedisKilledAndRestartedMidStreamLosesNothing) {
  PrivateRedis redis;
  ASSERT_TRUE(redis.start()) << "redis-server did not start (is it installed? scripts/setup "
                                "--test)";
  const std::string t = prefix_ + "restart";
  auto bus = open("block=100ms&visibility_timeout=2s&connect_timeout=500ms", redis.uri());
  ASSERT_NE(bus, nullptr);
  Seen seen;
  ASSERT_TRUE(bus->subscribe(spec(
                                 "archive", t,
                                 [&](Context& ctx, const Event& e) {
                                   seen.add(e, ctx.attempt());
                                   std::this_thread::sleep_for(15ms);
                                   return Status::ok();
                                 },
                                 2))
                  .is_ok());
  ASSERT_TRUE(bus->start().is_ok());
  std::set<std::string> ids;
  auto publish = [&](int n) {
    for (int i = 0; i < n; ++i) {
      Event e = event("e" + std::to_string(i));
      bool ok = wait_until([&] { return bus->publish(t, e).is_ok(); }, 15s);
      ASSERT_TRUE(ok) << "publish never succeeded again";
      ids.insert(e.id);
    }
  };
  publish(40);
  ASSERT_TRUE(wait_until([&] { return seen.distinct() >= 8; }, 10s));
  redis.kill();  // mid-stream: handlers running, entries unread
  std::this_thread::sleep_for(500ms);
  ASSERT_TRUE(redis.start());
  publish(40);
  ASSERT_TRUE(wait_until([&] { return seen.distinct() == ids.size(); }, 30s))
      << seen.distinct() << " of " << ids.size();
  {
    std::lock_guard lock(seen.mu);
    for (const std::string& id : ids) EXPECT_TRUE(seen.attempts.count(id)) << id << " lost";
  }
  Raw raw(redis.port());
  ASSERT_TRUE(wait_until([&] { return raw.pending(t, "archive") == 0; }, 15s))
      << raw.pending(t, "archive") << " entries left un-acked";
  bus->stop();
}

// A Node.js program (npm `redis`, the client any Dapr-less function would use) publishes a
// CloudEvent into Strata's topic as field `data`; a Strata function answers on another topic;
// the program reads the answer with its own consumer group.
TEST_F(RedisBusTest, ANodeJsPeerSharesTheStreams) {
  const std::string in = topic("node.in");
  const std::string out = topic("node.out");
  auto bus = open();
  ASSERT_NE(bus, nullptr);
  std::atomic<bool> got{false};
  ASSERT_TRUE(bus->subscribe(spec("relay", in,
                                  [&](Context& ctx, const Event& e) {
                                    if (e.type != "com.example.node.greeting") {
                                      return Status::permanent("unexpected type " + e.type);
                                    }
                                    got = true;
                                    return ctx.send(
                                        out, make_event("strata.test.reply", "strata/relay",
                                                        e.subject, Json{{"got", e.data}}, &e));
                                  }))
                  .is_ok());
  ASSERT_TRUE(bus->start().is_ok());
  Json node_event = {{"specversion", "1.0"},
                     {"id", "node-" + std::to_string(getpid())},
                     {"source", "node/interop"},
                     {"type", "com.example.node.greeting"},
                     {"subject", "hello"},
                     {"datacontenttype", "application/json"},
                     {"data", {{"from", "node"}, {"n", 42}}}};
  auto quote = [](const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
  };
  const std::string cmd =
      "node " + quote(std::string(STRATA_SOURCE_DIR) + "/tests/tools/redis_interop.mjs") + " " +
      quote(uri_) + " " + quote(in) + " " + quote(out) + " " + quote(node_event.dump());
  auto [rc, stdout_text] = run_command(cmd);
  ASSERT_EQ(rc, 0) << "node failed (is tests/tools installed? scripts/setup --test): "
                   << stdout_text;
  EXPECT_TRUE(got);
  Json line = Json::parse(stdout_text, nullptr, false);
  ASSERT_TRUE(line.is_object()) << stdout_text;
  ASSERT_EQ(line["fields"].size(), 1u) << "one field: " << line.dump();
  auto reply = Event::parse(line["fields"]["data"].get<std::string>());
  ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
  EXPECT_EQ(reply->type, "strata.test.reply");
  EXPECT_EQ(reply->subject, "hello");
  EXPECT_EQ(reply->data["got"], node_event["data"]);
  EXPECT_EQ(Json::parse(line["fields"]["data"].get<std::string>())["specversion"], "1.0");
}

TEST_F(RedisBusTest, ErrorsNameTheServerButNeverThePassword) {
  RedisBusOptions nobody;
  nobody.uri = "redis://127.0.0.1:1?connect_timeout=1s";
  auto down = RedisBus::open(nobody);
  ASSERT_FALSE(down.is_ok());
  EXPECT_TRUE(down.status().is_retryable()) << down.status().to_string();
  EXPECT_NE(down.status().message().find("redis redis://127.0.0.1:1"), std::string::npos)
      << down.status().message();

  // The shared test server has no password: AUTH fails, permanently.
  RedisBusOptions wrong;
  wrong.uri = "redis://:sup3r-secret@127.0.0.1:" + std::to_string(port_of(uri_));
  auto denied = RedisBus::open(wrong);
  ASSERT_FALSE(denied.is_ok());
  EXPECT_TRUE(denied.status().is_permanent()) << denied.status().to_string();
  EXPECT_EQ(denied.status().message().find("sup3r-secret"), std::string::npos)
      << denied.status().message();
  EXPECT_NE(denied.status().message().find("***"), std::string::npos) << denied.status().message();

  RedisBusOptions unknown;
  unknown.uri = uri_ + "?visibility=3s";
  auto bad = RedisBus::open(unknown);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("visibility_timeout"), std::string::npos);

  auto by_uri = open_bus(uri_ + "?block=100ms");
  ASSERT_TRUE(by_uri.is_ok()) << by_uri.status().to_string();
  EXPECT_TRUE(open_bus("embedded").is_ok());
  EXPECT_FALSE(open_bus("kafka://broker:9092").is_ok());
}

}  // namespace
}  // namespace strata
