// The embedded bus: fan-out, parallel handlers, retries with backoff, dead letters, chains of
// handlers and wait_idle(), stop() while handlers run, concurrent publishers.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "runtime/bus.h"

namespace strata {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

Event event(const std::string& subject = "") {
  return make_event("test.event", "strata/test", subject, Json::object());
}

FunctionSpec function(std::string name, std::string topic, Handler handler, int concurrency = 1,
                      RetryPolicy retry = {}) {
  FunctionSpec spec;
  spec.name = std::move(name);
  spec.topic = std::move(topic);
  spec.handler = std::move(handler);
  spec.concurrency = concurrency;
  spec.retry = retry;
  return spec;
}

RetryPolicy fast_retry(int max_attempts) {
  RetryPolicy r;
  r.max_attempts = max_attempts;
  r.initial_backoff = 1ms;
  r.max_backoff = 2ms;
  return r;
}

// Collects dead letters; thread-safe.
struct DeadLetters {
  std::mutex mu;
  std::vector<DeadLetter> items;
  DeadLetterHandler handler() {
    return [this](const DeadLetter& d) {
      std::lock_guard lock(mu);
      items.push_back(d);
    };
  }
  size_t size() {
    std::lock_guard lock(mu);
    return items.size();
  }
};

TEST(BackoffDelay, GrowsGeometricallyUpToTheCap) {
  RetryPolicy p;
  p.initial_backoff = 200ms;
  p.max_backoff = 1000ms;
  p.multiplier = 2.0;
  EXPECT_EQ(backoff_delay(p, 1), 200ms);
  EXPECT_EQ(backoff_delay(p, 2), 400ms);
  EXPECT_EQ(backoff_delay(p, 3), 800ms);
  EXPECT_EQ(backoff_delay(p, 4), 1000ms);
  EXPECT_EQ(backoff_delay(p, 1000), 1000ms);
  p.multiplier = 1.5;
  EXPECT_EQ(backoff_delay(p, 2), 300ms);
}

TEST(EmbeddedBus, FansOutToEveryFunctionOnATopic) {
  EmbeddedBus bus;
  std::mutex mu;
  std::map<std::string, std::set<std::string>> seen;  // function -> event ids
  auto recorder = [&](const std::string& name) {
    return [&, name](Context&, const Event& e) {
      std::lock_guard lock(mu);
      EXPECT_TRUE(seen[name].insert(e.id).second) << "duplicate delivery to " << name;
      return Status::ok();
    };
  };
  ASSERT_TRUE(bus.subscribe(function("status", "t", recorder("status"))).is_ok());
  ASSERT_TRUE(bus.subscribe(function("audit", "t", recorder("audit"), 2)).is_ok());
  ASSERT_TRUE(bus.subscribe(function("other", "u", recorder("other"))).is_ok());
  ASSERT_TRUE(bus.start().is_ok());

  std::set<std::string> published;
  for (int i = 0; i < 50; ++i) {
    Event e = event();
    published.insert(e.id);
    ASSERT_TRUE(bus.publish("t", std::move(e)).is_ok());
  }
  ASSERT_TRUE(bus.wait_idle(5s));
  std::lock_guard lock(mu);
  EXPECT_EQ(seen["status"], published);
  EXPECT_EQ(seen["audit"], published);
  EXPECT_TRUE(seen["other"].empty());
}

TEST(EmbeddedBus, RunsHandlersInParallelUpToConcurrency) {
  constexpr int kConcurrency = 4;
  EmbeddedBus bus;
  std::mutex mu;
  std::condition_variable cv;
  int active = 0;
  int peak = 0;
  ASSERT_TRUE(bus.subscribe(function(
                                "work", "t",
                                [&](Context&, const Event&) {
                                  std::unique_lock lock(mu);
                                  peak = std::max(peak, ++active);
                                  cv.notify_all();
                                  // Holds until kConcurrency handlers were in flight at once.
                                  cv.wait_for(lock, 5s, [&] { return peak >= kConcurrency; });
                                  --active;
                                  return Status::ok();
                                },
                                kConcurrency))
                  .is_ok());
  ASSERT_TRUE(bus.start().is_ok());
  for (int i = 0; i < 2 * kConcurrency; ++i) ASSERT_TRUE(bus.publish("t", event()).is_ok());
  ASSERT_TRUE(bus.wait_idle(10s));
  EXPECT_EQ(peak, kConcurrency);
}

TEST(EmbeddedBus, RetriesWithBackoffThenSucceeds) {
  EmbeddedBus bus;
  DeadLetters dead;
  bus.on_dead_letter(dead.handler());
  RetryPolicy retry;
  retry.max_attempts = 5;
  retry.initial_backoff = 30ms;
  retry.max_backoff = 1s;
  retry.multiplier = 2.0;
  std::mutex mu;
  std::vector<std::pair<int, SteadyClock::time_point>> calls;  // (ctx.attempt(), when)
  ASSERT_TRUE(bus.subscribe(function(
                                "flaky", "t",
                                [&](Context& ctx, const Event&) {
                                  std::lock_guard lock(mu);
                                  calls.emplace_back(ctx.attempt(), SteadyClock::now());
                                  if (ctx.attempt() < 3) return Status::retryable("not yet");
                                  return Status::ok();
                                },
                                1, retry))
                  .is_ok());
  ASSERT_TRUE(bus.start().is_ok());
  ASSERT_TRUE(bus.publish("t", event()).is_ok());
  ASSERT_TRUE(bus.wait_idle(5s));

  std::lock_guard lock(mu);
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].first, 1);
  EXPECT_EQ(calls[1].first, 2);
  EXPECT_EQ(calls[2].first, 3);
  // 30ms then 60ms, each -20% at worst.
  EXPECT_GE(calls[1].second - calls[0].second, 24ms);
  EXPECT_GE(calls[2].second - calls[1].second, 48ms);
  EXPECT_EQ(dead.size(), 0u);
}

TEST(EmbeddedBus, WaitingRetryDoesNotBlockTheWorker) {
  EmbeddedBus bus;
  RetryPolicy retry;
  retry.initial_backoff = 200ms;
  std::mutex mu;
  std::vector<std::string> order;  // "<subject>#<attempt>"
  ASSERT_TRUE(bus.subscribe(function(
                                "one", "t",
                                [&](Context& ctx, const Event& e) {
                                  std::lock_guard lock(mu);
                                  order.push_back(e.subject + "#" + std::to_string(ctx.attempt()));
                                  if (e.subject == "slow" && ctx.attempt() == 1) {
                                    return Status::retryable("later");
                                  }
                                  return Status::ok();
                                },
                                /*concurrency=*/1, retry))
                  .is_ok());
  ASSERT_TRUE(bus.start().is_ok());
  ASSERT_TRUE(bus.publish("t", event("slow")).is_ok());
  ASSERT_TRUE(bus.publish("t", event("fast")).is_ok());
  ASSERT_TRUE(bus.wait_idle(5s));
  std::lock_guard lock(mu);
  EXPECT_EQ(order, (std::vector<std::string>{"slow#1", "fast#1", "slow#2"}));
}

TEST(EmbeddedBus, DeadLettersAfterMaxAttempts) {
  EmbeddedBus bus;
  DeadLetters dead;
  bus.on_dead_letter(dead.handler());
  std::atomic<int> calls{0};
  ASSERT_TRUE(bus.subscribe(function(
                                "doomed", "t",
                                [&](Context&, const Event&) {
                                  ++calls;
                                  return Status::retryable("connection refused");
                                },
                                2, fast_retry(4)))
                  .is_ok());
  ASSERT_TRUE(bus.start().is_ok());
  Event e = event("t1/0");
  const std::string id = e.id;
  ASSERT_TRUE(bus.publish("t", std::move(e)).is_ok());
  ASSERT_TRUE(bus.wait_idle(5s));

  EXPECT_EQ(calls.load(), 4);
  ASSERT_EQ(dead.size(), 1u);
  const DeadLetter& d = dead.items[0];
  EXPECT_EQ(d.function, "doomed");
  EXPECT_EQ(d.topic, "t");
  EXPECT_EQ(d.event.id, id);
  EXPECT_EQ(d.event.subject, "t1/0");
  EXPECT_EQ(d.attempts, 4);
  EXPECT_TRUE(d.error.is_retryable());
  EXPECT_EQ(d.error.message(), "connection refused");
}

TEST(EmbeddedBus, PermanentErrorDeadLettersAfterOneAttempt) {
  EmbeddedBus bus;
  DeadLetters dead;
  bus.on_dead_letter(dead.handler());
  std::atomic<int> calls{0};
  ASSERT_TRUE(bus.subscribe(function(
                                "strict", "t",
                                [&](Context&, const Event&) {
                                  ++calls;
                                  return Status::permanent("table telemetry does not exist");
                                },
                                1, fast_retry(5)))
                  .is_ok());
  ASSERT_TRUE(bus.start().is_ok());
  ASSERT_TRUE(bus.publish("t", event()).is_ok());
  ASSERT_TRUE(bus.wait_idle(5s));
  EXPECT_EQ(calls.load(), 1);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead.items[0].attempts, 1);
  EXPECT_TRUE(dead.items[0].error.is_permanent());
}

TEST(EmbeddedBus, ThrowingHandlerIsAPermanentError) {
  EmbeddedBus bus;
  DeadLetters dead;
  bus.on_dead_letter(dead.handler());
  ASSERT_TRUE(bus.subscribe(function("thrower", "t",
                                     [](Context&, const Event&) -> Status {
                                       throw std::runtime_error("boom in handler");
                                     }))
                  .is_ok());
  ASSERT_TRUE(bus.start().is_ok());
  ASSERT_TRUE(bus.publish("t", event()).is_ok());
  ASSERT_TRUE(bus.wait_idle(5s));
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_TRUE(dead.items[0].error.is_permanent());
  EXPECT_NE(dead.items[0].error.message().find("boom in handler"), std::string::npos);
  EXPECT_NE(dead.items[0].error.message().find("thrower"), std::string::npos);
}

TEST(EmbeddedBus, CancelledIsNeitherRetriedNorDeadLettered) {
  EmbeddedBus bus;
  DeadLetters dead;
  bus.on_dead_letter(dead.handler());
  std::atomic<int> calls{0};
  ASSERT_TRUE(bus.subscribe(function(
                                "quitter", "t",
                                [&](Context&, const Event&) {
                                  ++calls;
                                  return Status::cancelled("task cancelled by the user");
                                },
                                1, fast_retry(5)))
                  .is_ok());
  ASSERT_TRUE(bus.start().is_ok());
  ASSERT_TRUE(bus.publish("t", event()).is_ok());
  ASSERT_TRUE(bus.wait_idle(5s));
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(dead.size(), 0u);
}

TEST(EmbeddedBus, DeadLetterHandlerMayPublishAndWaitIdleCoversIt) {
  EmbeddedBus bus;
  std::atomic<int> reported{0};
  bus.on_dead_letter([&](const DeadLetter& d) {
    Event report =
        make_event("strata.dead_letter", "strata/bus", d.event.subject, Json::object(), &d.event);
    EXPECT_TRUE(bus.publish("status", std::move(report)).is_ok());
  });
  ASSERT_TRUE(
      bus.subscribe(
             function("bad", "t", [](Context&, const Event&) { return Status::permanent("no"); }))
          .is_ok());
  ASSERT_TRUE(bus.subscribe(function("status", "status",
                                     [&](Context&, const Event&) {
                                       ++reported;
                                       return Status::ok();
                                     }))
                  .is_ok());
  ASSERT_TRUE(bus.start().is_ok());
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(bus.publish("t", event()).is_ok());
  ASSERT_TRUE(bus.wait_idle(5s));
  EXPECT_EQ(reported.load(), 20);
}

// split -> archive -> purge: each stage sends one follow-up event per event it handles.
// wait_idle() must not return between a handler's send and the follow-up's delivery.
TEST(EmbeddedBus, WaitIdleCoversAChainOfHandlers) {
  constexpr int kEvents = 1000;
  EmbeddedBus bus;
  std::atomic<int> split{0}, archive{0}, purge{0};
  std::atomic<int> broken_traces{0};
  auto forward = [&](std::atomic<int>& counter, const char* next) -> Handler {
    return [&counter, next, &broken_traces](Context& ctx, const Event& e) {
      ++counter;
      Event child = make_event("test.next", "strata/test", e.subject, e.data, &e);
      if (child.traceparent.substr(3, 32) != e.traceparent.substr(3, 32)) ++broken_traces;
      return ctx.send(next, std::move(child));
    };
  };
  ASSERT_TRUE(bus.subscribe(function("split", "tasks", forward(split, "shards"), 2)).is_ok());
  ASSERT_TRUE(bus.subscribe(function("archive", "shards", forward(archive, "purge"), 3)).is_ok());
  ASSERT_TRUE(bus.subscribe(function(
                                "purge", "purge",
                                [&](Context&, const Event&) {
                                  ++purge;
                                  return Status::ok();
                                },
                                2))
                  .is_ok());
  ASSERT_TRUE(bus.start().is_ok());
  for (int i = 0; i < kEvents; ++i) ASSERT_TRUE(bus.publish("tasks", event()).is_ok());
  ASSERT_TRUE(bus.wait_idle(10s));
  EXPECT_EQ(split.load(), kEvents);
  EXPECT_EQ(archive.load(), kEvents);
  EXPECT_EQ(purge.load(), kEvents);
  EXPECT_EQ(broken_traces.load(), 0);
}

TEST(EmbeddedBus, StopLetsRunningHandlersFinishAndDropsTheRest) {
  EmbeddedBus bus;
  std::mutex mu;
  std::condition_variable cv;
  int started = 0;
  std::atomic<int> saw_cancel{0};
  std::atomic<int> finished{0};
  ASSERT_TRUE(bus.subscribe(function(
                                "long", "t",
                                [&](Context& ctx, const Event&) {
                                  {
                                    std::lock_guard lock(mu);
                                    ++started;
                                    cv.notify_all();
                                  }
                                  auto deadline = SteadyClock::now() + 5s;
                                  while (!ctx.cancelled() && SteadyClock::now() < deadline) {
                                    std::this_thread::sleep_for(1ms);
                                  }
                                  if (ctx.cancelled()) ++saw_cancel;
                                  // A send during stop is refused, not lost silently.
                                  Status s = ctx.send("t", event());
                                  EXPECT_TRUE(s.is_cancelled()) << s.to_string();
                                  ++finished;
                                  return Status::ok();
                                },
                                /*concurrency=*/2))
                  .is_ok());
  ASSERT_TRUE(bus.start().is_ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(bus.publish("t", event()).is_ok());
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return started == 2; }));
  }
  EXPECT_FALSE(bus.wait_idle(0ms));
  bus.stop();
  EXPECT_EQ(finished.load(), 2);
  EXPECT_EQ(saw_cancel.load(), 2);
  EXPECT_EQ(started, 2);  // the 8 queued events were dropped, not run
  EXPECT_TRUE(bus.wait_idle(0ms));
  EXPECT_TRUE(bus.publish("t", event()).is_cancelled());
  bus.stop();  // idempotent
  EXPECT_FALSE(bus.start().is_ok());
}

TEST(EmbeddedBus, StopFromInsideAHandlerDoesNotDeadlock) {
  EmbeddedBus bus;
  std::atomic<bool> handled{false};
  ASSERT_TRUE(bus.subscribe(function("stopper", "t",
                                     [&](Context& ctx, const Event&) {
                                       bus.stop();
                                       EXPECT_TRUE(ctx.cancelled());
                                       handled = true;
                                       return Status::ok();
                                     }))
                  .is_ok());
  ASSERT_TRUE(bus.start().is_ok());
  ASSERT_TRUE(bus.publish("t", event()).is_ok());
  ASSERT_TRUE(bus.wait_idle(5s));
  EXPECT_TRUE(handled.load());
  EXPECT_TRUE(bus.publish("t", event()).is_cancelled());
  bus.stop();  // joins the worker that began the stop
}

TEST(EmbeddedBus, NoEventLostUnderConcurrentPublishers) {
  constexpr int kPublishers = 4;
  constexpr int kPerPublisher = 2500;
  EmbeddedBus bus;
  std::mutex mu;
  std::multiset<std::string> received;
  ASSERT_TRUE(bus.subscribe(function(
                                "sink", "t",
                                [&](Context&, const Event& e) {
                                  std::lock_guard lock(mu);
                                  received.insert(e.id);
                                  return Status::ok();
                                },
                                3))
                  .is_ok());
  ASSERT_TRUE(bus.start().is_ok());
  std::vector<std::vector<std::string>> sent(kPublishers);
  std::vector<std::thread> publishers;
  for (int p = 0; p < kPublishers; ++p) {
    publishers.emplace_back([&, p] {
      for (int i = 0; i < kPerPublisher; ++i) {
        Event e = event();
        sent[p].push_back(e.id);
        EXPECT_TRUE(bus.publish("t", std::move(e)).is_ok());
      }
    });
  }
  for (auto& t : publishers) t.join();
  ASSERT_TRUE(bus.wait_idle(10s));
  std::lock_guard lock(mu);
  EXPECT_EQ(received.size(), static_cast<size_t>(kPublishers * kPerPublisher));
  for (const auto& ids : sent) {
    for (const auto& id : ids) ASSERT_EQ(received.count(id), 1u) << id;
  }
}

TEST(EmbeddedBus, WaitIdleTimesOutWhileAHandlerRuns) {
  EmbeddedBus bus;
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  ASSERT_TRUE(bus.subscribe(function("blocked", "t",
                                     [&](Context&, const Event&) {
                                       std::unique_lock lock(mu);
                                       cv.wait_for(lock, 5s, [&] { return release; });
                                       return Status::ok();
                                     }))
                  .is_ok());
  ASSERT_TRUE(bus.start().is_ok());
  ASSERT_TRUE(bus.publish("t", event()).is_ok());
  EXPECT_FALSE(bus.wait_idle(30ms));
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  EXPECT_TRUE(bus.wait_idle(5s));
}

TEST(EmbeddedBus, EventsPublishedBeforeStartAreDeliveredAfter) {
  EmbeddedBus bus;
  std::atomic<int> calls{0};
  ASSERT_TRUE(bus.subscribe(function("late", "t",
                                     [&](Context&, const Event&) {
                                       ++calls;
                                       return Status::ok();
                                     }))
                  .is_ok());
  ASSERT_TRUE(bus.publish("t", event()).is_ok());
  ASSERT_TRUE(bus.publish("nobody-listens", event()).is_ok());  // dropped, not an error
  EXPECT_FALSE(bus.wait_idle(0ms));
  ASSERT_TRUE(bus.start().is_ok());
  ASSERT_TRUE(bus.wait_idle(5s));
  EXPECT_EQ(calls.load(), 1);
}

TEST(EmbeddedBus, RejectsBadSubscriptions) {
  EmbeddedBus bus;
  auto ok = [](Context&, const Event&) { return Status::ok(); };
  EXPECT_FALSE(bus.subscribe(function("", "t", ok)).is_ok());
  EXPECT_FALSE(bus.subscribe(function("f", "", ok)).is_ok());
  EXPECT_FALSE(bus.subscribe(function("f", "t", nullptr)).is_ok());
  EXPECT_FALSE(bus.subscribe(function("f", "t", ok, 0)).is_ok());
  EXPECT_FALSE(bus.subscribe(function("f", "t", ok, 1, fast_retry(0))).is_ok());
  ASSERT_TRUE(bus.subscribe(function("f", "t", ok)).is_ok());
  Status dup = bus.subscribe(function("f", "other", ok));
  ASSERT_FALSE(dup.is_ok());
  EXPECT_NE(dup.message().find("already subscribed"), std::string::npos);
  EXPECT_FALSE(bus.publish("t", Event{}).is_ok()) << "events need an id and a type";
  ASSERT_TRUE(bus.start().is_ok());
  EXPECT_FALSE(bus.start().is_ok());
  EXPECT_FALSE(bus.subscribe(function("g", "t", ok)).is_ok()) << "subscribe after start";
}

}  // namespace
}  // namespace strata
