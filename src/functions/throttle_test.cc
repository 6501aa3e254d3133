#include "functions/throttle.h"

#include <gtest/gtest.h>

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <thread>

#include "core/clock.h"

namespace strata {
namespace {

TEST(Throttle, LimitsRate) {
  Throttle t(10000);
  double start = monotonic_seconds();
  for (int i = 0; i < 15; ++i) t.acquire(1000);  // 15k rows at 10k rows/s
  double elapsed = monotonic_seconds() - start;
  EXPECT_GE(elapsed, 1.3);
  EXPECT_LT(elapsed, 2.5);
}

TEST(Throttle, UnlimitedNeverWaits) {
  Throttle t(0);
  double start = monotonic_seconds();
  t.acquire(1000000000);
  EXPECT_LT(monotonic_seconds() - start, 0.05);
}

// The pause is the coefficient times what the call took: 1 doubles the time, 0 adds nothing.
TEST(Pacer, PausesInProportionToTheCall) {
  for (double coef : {0.0, 1.0, 2.0}) {
    SCOPED_TRACE(coef);
    Pacer pacer(coef);
    const double t0 = monotonic_seconds();
    int calls = 0;
    for (int i = 0; i < 3; ++i) {
      calls += pacer.run([] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        return 1;
      });
    }
    const double took = monotonic_seconds() - t0;
    EXPECT_EQ(calls, 3);
    const double paused = std::chrono::duration<double>(pacer.paused()).count();
    EXPECT_GE(paused, coef * 0.060 - 0.001);
    EXPECT_LE(paused, coef * 0.060 * 4 + 0.005);  // a loaded machine oversleeps
    EXPECT_GE(took, 0.060 + paused - 0.001);
  }
}

// One step far longer than those before it (the process stopped or starved mid-step) pauses as
// if it took 4 times their median; a source that stays slow raises the median, and the pauses
// follow within a few steps.
TEST(Pacer, AnOutlierStepPausesAsIfItTookFourTimesTheMedian) {
  using std::chrono::milliseconds;
  Pacer pacer(1.0);
  auto pause_of = [&](std::chrono::steady_clock::duration step) {
    const auto before = pacer.paused();
    pacer.pause(step);
    return std::chrono::duration_cast<milliseconds>(pacer.paused() - before);
  };
  EXPECT_EQ(pause_of(milliseconds(2)), milliseconds(2));  // nothing before it: as it took
  EXPECT_EQ(pause_of(milliseconds(2)), milliseconds(2));
  EXPECT_EQ(pause_of(milliseconds(2)), milliseconds(2));
  EXPECT_EQ(pause_of(std::chrono::seconds(2)), milliseconds(8));  // stopped for 2 s mid-step
  EXPECT_EQ(pause_of(milliseconds(40)), milliseconds(8));         // slower from now on
  EXPECT_EQ(pause_of(milliseconds(40)), milliseconds(8));
  EXPECT_EQ(pause_of(milliseconds(40)), milliseconds(40));  // the median has followed
}

// Every thread of the process takes the nice value, the ones started before as well as the
// caller (Linux keeps one per thread), and threads started later inherit it.
TEST(LowerPriority, EveryThreadOfTheProcessTakesTheNiceValue) {
  auto nice_of = [](pid_t tid) {
    errno = 0;
    const int n = getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
    EXPECT_EQ(errno, 0);
    return n;
  };
  const int before = nice_of(0);
  if (before >= 5) GTEST_SKIP() << "the test already runs at nice " << before;
  std::atomic<pid_t> other{0};
  std::atomic<bool> stop{false};
  std::thread started_before([&] {
    other = gettid();
    while (!stop) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  while (other == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(nice_of(other), before);
  EXPECT_TRUE(renice_all_threads(5));
  EXPECT_EQ(nice_of(0), 5);
  EXPECT_EQ(nice_of(other), 5);
  int started_after = -100;
  std::thread([&] { started_after = nice_of(0); }).join();
  EXPECT_EQ(started_after, 5);
  EXPECT_TRUE(renice_all_threads(3));  // never raised back
  EXPECT_EQ(nice_of(0), 5);
  stop = true;
  started_before.join();
}

// Steps shrink with the load, never below the floor nor above the configured size.
TEST(Pacer, StepsShrinkWithTheLoadDownToAFloor) {
  Pacer idle(1.0);  // no sensor: no load
  EXPECT_EQ(idle.load(), 0.0);
  EXPECT_EQ(Pacer::step_rows(10000, 1000, idle.load()), 10000u);
  EXPECT_EQ(Pacer::step_rows(10000, 1000, 1.0), 5000u);
  EXPECT_EQ(Pacer::step_rows(10000, 1000, 3.0), 2500u);
  EXPECT_EQ(Pacer::step_rows(10000, 1000, Pacer::kMaxLoad), 1111u);
  EXPECT_EQ(Pacer::step_rows(10000, 2000, Pacer::kMaxLoad), 2000u);
  EXPECT_EQ(Pacer::step_rows(300, 1000, 4.0), 300u);  // configured below the floor: as configured
}

TEST(ThrottleRegistry, SharesPerKey) {
  ThrottleRegistry r;
  EXPECT_EQ(r.get("a", 5).get(), r.get("a", 5).get());
  EXPECT_NE(r.get("a", 5).get(), r.get("b", 5).get());
}

TEST(SessionGate, PurgesWaitForAFreeSessionArchiveNever) {
  SessionGate gate(2);
  SessionGate::Hold a = gate.take();
  std::optional<SessionGate::Hold> p = gate.wait({});
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(gate.taken(), 2);
  // At the limit archive still gets its session; a purge waits until one is given back.
  SessionGate::Hold b = gate.take();
  EXPECT_EQ(gate.taken(), 3);
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    std::optional<SessionGate::Hold> q = gate.wait({});
    got = q.has_value();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_FALSE(got.load());
  b = SessionGate::Hold();  // 2 taken: still the limit
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_FALSE(got.load());
  p.reset();  // 1 taken: the waiting purge goes on
  waiter.join();
  EXPECT_TRUE(got.load());
  EXPECT_EQ(gate.taken(), 1);  // the waiter's session went back when it ended
}

TEST(SessionGate, AWaitingPurgeStopsWhenCancelled) {
  SessionGate gate(1);
  SessionGate::Hold a = gate.take();
  std::atomic<bool> stop{false};
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(120));
    stop = true;
  });
  const auto started = std::chrono::steady_clock::now();
  std::optional<SessionGate::Hold> p = gate.wait([&] { return stop.load(); });
  canceller.join();
  EXPECT_FALSE(p.has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
  EXPECT_EQ(gate.taken(), 1);
}

}  // namespace
}  // namespace strata
