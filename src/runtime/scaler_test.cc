// The pool scaler on the embedded bus: desired counts, up on backlog at once, down to zero
// only after the cool-down, replica counts respected by the bus, bad pools refused.
#include "runtime/scaler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

namespace strata {
namespace {

using namespace std::chrono_literals;

TEST(DesiredReplicas, CeilOfBacklogClampedToTheBounds) {
  EXPECT_EQ(desired_replicas(0, {0, 4, 1}), 0);
  EXPECT_EQ(desired_replicas(0, {1, 4, 1}), 1);
  EXPECT_EQ(desired_replicas(3, {0, 4, 1}), 3);
  EXPECT_EQ(desired_replicas(30, {0, 4, 1}), 4);
  EXPECT_EQ(desired_replicas(5, {0, 8, 2}), 3);
  EXPECT_EQ(desired_replicas(-1, {0, 8, 2}), 0);
}

// Waits up to `limit` for `cond`; true if it held.
template <class Cond>
bool eventually(Cond cond, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (cond()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return cond();
}

struct Fixture {
  // Before the bus: its handlers use them until it stops.
  std::atomic<int> running{0}, peak{0}, handled{0};
  std::atomic<bool> release{false};
  EmbeddedBus bus;

  explicit Fixture(int max_replicas) {
    FunctionSpec spec;
    spec.name = "archive-test";
    spec.topic = "t";
    spec.concurrency = 0;
    spec.max_replicas = max_replicas;
    spec.handler = [this](Context&, const Event&) {
      const int now = ++running;
      int p = peak.load();
      while (now > p && !peak.compare_exchange_weak(p, now)) {
      }
      while (!release.load()) std::this_thread::sleep_for(2ms);
      --running;
      ++handled;
      return Status::ok();
    };
    EXPECT_TRUE(bus.subscribe(spec).is_ok());
    EXPECT_TRUE(bus.start().is_ok());
  }
  // A failed assertion must not leave handlers waiting forever.
  ~Fixture() {
    release = true;
    bus.stop();
  }
};

TEST(Scaler, APublishToAPoolAtZeroWakesTheScalerAtOnce) {
  Fixture f(3);
  ScalerOptions o;
  o.poll = std::chrono::seconds(30);  // only the publish hook can wake it in time
  o.cooldown = 300ms;
  o.pools["archive-test"] = PoolBounds{0, 3, 1};
  Scaler scaler(f.bus, o);
  ASSERT_TRUE(scaler.start().is_ok());
  EXPECT_EQ(f.bus.load("archive-test")->replicas, 0);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(f.running.load(), 0) << "a handler ran at zero replicas";
  ASSERT_TRUE(f.bus.publish("t", make_event("e", "s", "x", {})).is_ok());
  ASSERT_TRUE(eventually([&] { return f.running.load() == 1; }, 10s));
  EXPECT_GE(scaler.pools()[0].replicas, 1);
  f.release = true;
  ASSERT_TRUE(f.bus.wait_idle(10s));
  EXPECT_EQ(f.handled.load(), 1);
}

TEST(Scaler, ABacklogBringsReplicasUpToMaxAndTheCooldownBringsThemDownToZero) {
  Fixture f(3);
  ScalerOptions o;
  o.poll = 50ms;
  o.cooldown = 500ms;
  o.pools["archive-test"] = PoolBounds{0, 3, 1};
  Scaler scaler(f.bus, o);
  ASSERT_TRUE(scaler.start().is_ok());
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(f.bus.publish("t", make_event("e", "s", "x", {})).is_ok());
  ASSERT_TRUE(eventually([&] { return f.running.load() == 3; }, 10s))
      << "running " << f.running.load();
  EXPECT_EQ(scaler.pools()[0].replicas, 3);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(f.peak.load(), 3) << "more handlers ran than the pool's max";
  // Until now the backlog kept all 3 replicas wanted: the cool-down counts from about here.
  const auto released_at = std::chrono::steady_clock::now();
  f.release = true;
  ASSERT_TRUE(f.bus.wait_idle(10s));
  EXPECT_EQ(f.handled.load(), 5);
  ASSERT_TRUE(eventually([&] { return scaler.pools()[0].replicas == 0; }, 10s));
  EXPECT_GE(std::chrono::steady_clock::now() - released_at, 400ms)
      << "scaled down before the cool-down";
  EXPECT_EQ(f.bus.load("archive-test")->replicas, 0);
  EXPECT_EQ(f.bus.load("archive-test")->backlog, 0);
}

TEST(Scaler, PollsTheBacklogAndReportsEveryPool) {
  Fixture f(2);
  std::mutex mu;
  std::vector<PoolState> last;
  int reports = 0;
  ScalerOptions o;
  o.poll = 50ms;
  o.cooldown = 10s;
  o.pools["archive-test"] = PoolBounds{1, 2, 1};
  o.report = [&](const std::vector<PoolState>& pools) {
    std::lock_guard lock(mu);
    last = pools;
    ++reports;
  };
  auto reported = [&](auto cond) {
    return eventually(
        [&] {
          std::lock_guard lock(mu);
          return last.size() == 1 && last[0].function == "archive-test" &&
                 last[0].bounds.min == 1 && last[0].bounds.max == 2 && cond(last[0]);
        },
        5s);
  };
  auto describe = [&] {
    std::lock_guard lock(mu);
    if (last.empty()) return std::string("no report");
    return "last report: replicas " + std::to_string(last[0].replicas) + ", backlog " +
           std::to_string(last[0].backlog);
  };
  Scaler scaler(f.bus, o);
  ASSERT_TRUE(scaler.start().is_ok());
  EXPECT_EQ(f.bus.load("archive-test")->replicas, 1);  // min
  ASSERT_TRUE(reported([](const PoolState& p) { return p.replicas == 1 && p.backlog == 0; }));
  // Four events held by their handlers: the report shows them all as backlog (two running,
  // two queued) and the pool at its max.
  for (int i = 0; i < 4; ++i)
    ASSERT_TRUE(f.bus.publish("t", make_event("e", "s", "x", {})).is_ok());
  ASSERT_TRUE(reported([](const PoolState& p) { return p.replicas == 2 && p.backlog == 4; }))
      << describe();
  EXPECT_EQ(f.running.load(), 2);
  f.release = true;
  ASSERT_TRUE(f.bus.wait_idle(5s));
  EXPECT_EQ(f.handled.load(), 4);
  // Polling goes on after the backlog drains, and reports it empty; the cool-down (10 s) keeps
  // both replicas meanwhile.
  int before = 0;
  {
    std::lock_guard lock(mu);
    before = reports;
  }
  ASSERT_TRUE(reported([](const PoolState& p) { return p.backlog == 0; }));
  ASSERT_TRUE(eventually(
      [&] {
        std::lock_guard lock(mu);
        return reports >= before + 3;
      },
      5s));
  std::lock_guard lock(mu);
  EXPECT_EQ(last[0].replicas, 2);
  EXPECT_EQ(last[0].backlog, 0);
}

TEST(Scaler, RefusesAnUnknownFunctionAndBadBounds) {
  Fixture f(2);
  f.release = true;
  ScalerOptions o;
  o.pools["archive-nope"] = PoolBounds{0, 1, 1};
  Scaler unknown(f.bus, o);
  Status s = unknown.start();
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("archive-nope"), std::string::npos) << s.message();

  o.pools.clear();
  o.pools["archive-test"] = PoolBounds{3, 2, 1};
  Scaler bad(f.bus, o);
  s = bad.start();
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("min <= max"), std::string::npos) << s.message();
}

TEST(EmbeddedBusReplicas, SetReplicasIsClampedToTheRoomAndUnknownNamesAreErrors) {
  Fixture f(2);
  f.release = true;
  ASSERT_TRUE(f.bus.set_replicas("archive-test", 7).is_ok());
  EXPECT_EQ(f.bus.load("archive-test")->replicas, 2);
  EXPECT_EQ(f.bus.load("archive-test")->max_replicas, 2);
  ASSERT_TRUE(f.bus.set_replicas("archive-test", -1).is_ok());
  EXPECT_EQ(f.bus.load("archive-test")->replicas, 0);
  EXPECT_FALSE(f.bus.set_replicas("nope", 1).is_ok());
  EXPECT_FALSE(f.bus.load("nope").is_ok());
  EXPECT_EQ(f.bus.function_names(), std::vector<std::string>{"archive-test"});
}

}  // namespace
}  // namespace strata
