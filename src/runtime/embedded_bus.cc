// The in-process bus. One mutex guards every queue, the delayed (retry) queue and the
// outstanding-event count: control events are small and few, and a single lock keeps the idle
// accounting exact. Handlers always run outside the lock.
//
// Accounting: `outstanding` counts deliveries that are queued, delayed for retry or in flight.
// publish() adds one per subscribed function before it returns, so an event a handler sends is
// counted before the handler's own delivery is released, and wait_idle() never sees a false zero.
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

#include "core/log.h"
#include "runtime/bus.h"

namespace strata {

std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int attempt) {
  const double cap = static_cast<double>(std::max<int64_t>(policy.max_backoff.count(), 0));
  const double multiplier = std::max(policy.multiplier, 1.0);
  double ms = std::max(static_cast<double>(policy.initial_backoff.count()), 0.0);
  for (int i = 1; i < attempt && ms < cap; ++i) ms *= multiplier;
  return std::chrono::milliseconds(std::llround(std::min(ms, cap)));
}

namespace {

using SteadyClock = std::chrono::steady_clock;

// +/-20% around `delay`, from a per-thread generator (no shared state).
SteadyClock::duration with_jitter(std::chrono::milliseconds delay) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> factor(0.8, 1.2);
  return std::chrono::duration_cast<SteadyClock::duration>(
      std::chrono::duration<double, std::milli>(static_cast<double>(delay.count()) * factor(rng)));
}

// Thread names show up in gdb, top -H and perf: "s:archive-sqli".
void name_this_thread(const std::string& name) {
  std::string short_name = ("s:" + name).substr(0, 15);
  pthread_setname_np(pthread_self(), short_name.c_str());
}

// Set on worker and timer threads to the bus they belong to, so stop() called from a handler
// does not try to join its own thread.
thread_local const void* tls_owner_bus = nullptr;

}  // namespace

struct EmbeddedBus::Impl {
  struct Function;

  struct Delivery {
    Function* function = nullptr;
    std::shared_ptr<const Event> event;  // shared by the fan-out copies
    int attempt = 1;
  };

  struct Function {
    FunctionSpec spec;
    std::deque<Delivery> queue;        // guarded by Impl::mu
    std::condition_variable ready;     // queue not empty, replicas changed, or stopping
    std::vector<std::thread> workers;  // one per replica of room; worker i runs if i < replicas
    int replicas = 0;                  // guarded by Impl::mu
    int busy = 0;                      // handler calls running, guarded by Impl::mu
    int room() const { return std::max(spec.concurrency, spec.max_replicas); }
  };

  class DeliveryContext final : public Context {
   public:
    DeliveryContext(Impl& bus, int attempt) : bus_(bus), attempt_(attempt) {}
    Status send(const std::string& topic, Event event) override {
      return bus_.publish(topic, std::move(event));
    }
    int attempt() const override { return attempt_; }
    bool cancelled() const override { return bus_.stopping.load(std::memory_order_acquire); }

   private:
    Impl& bus_;
    int attempt_;
  };

  std::mutex mu;
  std::vector<std::unique_ptr<Function>> functions;
  std::unordered_map<std::string, std::vector<Function*>> by_topic;
  std::multimap<SteadyClock::time_point, Delivery> delayed;  // retries, by due time
  std::condition_variable timer_wake;                        // delayed changed, or stopping
  std::condition_variable idle;                              // outstanding reached 0
  int64_t outstanding = 0;
  bool started = false;
  std::atomic<bool> stopping{false};  // written under mu; read lock-free by Context::cancelled
  DeadLetterHandler dead_letter_handler;
  std::function<void()> idle_backlog_hook;  // set before start()
  std::thread timer;

  std::mutex stop_mu;  // serializes the joining part of stop()

  Status publish(const std::string& topic, Event event) {
    if (event.id.empty() || event.type.empty()) {
      return Status::permanent("cannot publish on topic " + topic +
                               ": the event has no id or type (build events with make_event)");
    }
    auto shared = std::make_shared<const Event>(std::move(event));
    bool wake_scaler = false;
    {
      std::lock_guard lock(mu);
      STRATA_TRY(publish_locked(topic, shared, wake_scaler));
    }
    if (wake_scaler && idle_backlog_hook) idle_backlog_hook();
    return Status::ok();
  }

  Status publish_locked(const std::string& topic, const std::shared_ptr<const Event>& shared,
                        bool& wake_scaler) {
    if (stopping) {
      return Status::cancelled("bus is stopping: event " + shared->id + " (" + shared->type +
                               ") on topic " + topic + " was not published");
    }
    auto it = by_topic.find(topic);
    if (it == by_topic.end()) {
      spdlog::debug("no function subscribes to topic {}: event {} ({}) dropped", topic, shared->id,
                    shared->type);
      return Status::ok();
    }
    for (Function* fn : it->second) {
      fn->queue.push_back(Delivery{fn, shared, 1});
      ++outstanding;
      notify(*fn);
      if (fn->replicas == 0) wake_scaler = true;
    }
    return Status::ok();
  }

  // Wakes a worker of `fn` for a new event. Caller holds mu. Parked workers (index >= replicas)
  // wait on the same condition, so with any of them parked every worker is woken.
  static void notify(Function& fn) {
    if (fn.replicas < static_cast<int>(fn.workers.size())) {
      fn.ready.notify_all();
    } else {
      fn.ready.notify_one();
    }
  }

  // Caller holds mu.
  void release_one() {
    if (--outstanding == 0) idle.notify_all();
  }

  Status invoke(Function& fn, const Delivery& d) {
    DeliveryContext ctx(*this, d.attempt);
    try {
      return fn.spec.handler(ctx, *d.event);
    } catch (const std::exception& e) {
      return Status::permanent("function " + fn.spec.name + " threw on event " + d.event->id +
                               ": " + e.what());
    } catch (...) {
      return Status::permanent("function " + fn.spec.name +
                               " threw a non-standard exception on "
                               "event " +
                               d.event->id);
    }
  }

  void dead_letter(Function& fn, const Delivery& d, const Status& error) {
    spdlog::error(
        "function {} dead-lettered event {} ({}, subject {}) from topic {} after {} "
        "attempt(s): {}",
        fn.spec.name, d.event->id, d.event->type, d.event->subject, fn.spec.topic, d.attempt,
        error.to_string());
    DeadLetterHandler handler;
    {
      std::lock_guard lock(mu);
      handler = dead_letter_handler;
    }
    if (!handler) return;
    try {
      handler(DeadLetter{fn.spec.name, fn.spec.topic, *d.event, d.attempt, error});
    } catch (const std::exception& e) {
      spdlog::error("dead-letter handler threw for event {}: {}", d.event->id, e.what());
    } catch (...) {
      spdlog::error("dead-letter handler threw for event {}", d.event->id);
    }
  }

  void worker_loop(Function& fn, int index) {
    tls_owner_bus = this;
    name_this_thread(fn.spec.name);
    const RetryPolicy& retry = fn.spec.retry;
    std::unique_lock lock(mu);
    for (;;) {
      fn.ready.wait(lock, [&] { return stopping || (index < fn.replicas && !fn.queue.empty()); });
      if (stopping) return;
      Delivery d = std::move(fn.queue.front());
      fn.queue.pop_front();
      ++fn.busy;
      lock.unlock();

      Status s = invoke(fn, d);
      const bool retry_later = s.is_retryable() && d.attempt < retry.max_attempts;
      if (s.is_permanent() || (s.is_retryable() && !retry_later)) {
        // Before the release below, so wait_idle() covers the dead-letter handler too.
        dead_letter(fn, d, s);
      } else if (s.is_cancelled()) {
        spdlog::info("function {}: event {} ({}) cancelled on attempt {}: {}", fn.spec.name,
                     d.event->id, d.event->type, d.attempt, s.message());
      }

      lock.lock();
      --fn.busy;
      if (retry_later && !stopping) {
        auto delay = with_jitter(backoff_delay(retry, d.attempt));
        spdlog::warn("function {}: event {} ({}) failed on attempt {}/{}, retrying in {}ms: {}",
                     fn.spec.name, d.event->id, d.event->type, d.attempt, retry.max_attempts,
                     std::chrono::duration_cast<std::chrono::milliseconds>(delay).count(),
                     s.message());
        ++d.attempt;
        delayed.emplace(SteadyClock::now() + delay, std::move(d));
        timer_wake.notify_one();
      } else {
        if (retry_later) {
          spdlog::info("function {}: event {} not retried, the bus is stopping: {}", fn.spec.name,
                       d.event->id, s.message());
        }
        release_one();
      }
    }
  }

  // Moves due retries back onto their function's queue. Never runs handlers.
  void timer_loop() {
    tls_owner_bus = this;
    name_this_thread("bus-timer");
    std::unique_lock lock(mu);
    while (!stopping) {
      if (delayed.empty()) {
        timer_wake.wait(lock, [&] { return stopping || !delayed.empty(); });
        continue;
      }
      auto due = delayed.begin()->first;
      if (SteadyClock::now() < due) {
        timer_wake.wait_until(lock, due);
        continue;
      }
      const auto now = SteadyClock::now();
      while (!delayed.empty() && delayed.begin()->first <= now) {
        auto node = delayed.extract(delayed.begin());
        Function* fn = node.mapped().function;
        fn->queue.push_back(std::move(node.mapped()));
        notify(*fn);
      }
    }
  }

  // Refuses new events and drops queued and delayed ones (a resumed task re-plans them).
  void begin_stop() {
    std::lock_guard lock(mu);
    if (stopping) return;
    stopping = true;
    size_t dropped = delayed.size();
    delayed.clear();
    for (auto& fn : functions) {
      dropped += fn->queue.size();
      fn->queue.clear();
      fn->ready.notify_all();
    }
    outstanding -= static_cast<int64_t>(dropped);
    timer_wake.notify_all();
    if (outstanding == 0) idle.notify_all();
    if (dropped > 0) {
      spdlog::info("embedded bus stopping: {} queued or delayed deliveries dropped", dropped);
    }
  }

  void stop() {
    begin_stop();
    if (tls_owner_bus == this) {
      // Called from a handler: joining our own thread would deadlock. The workers exit after
      // their current handler; the next stop() from outside (or the destructor) joins them.
      return;
    }
    std::lock_guard stop_lock(stop_mu);
    for (auto& fn : functions) {
      for (auto& t : fn->workers) {
        if (t.joinable()) t.join();
      }
    }
    if (timer.joinable()) timer.join();
  }
};

Status check_function_spec(const FunctionSpec& spec) {
  const std::string what = "cannot subscribe function \"" + spec.name + "\"";
  if (spec.name.empty()) return Status::permanent("cannot subscribe: the function has no name");
  if (spec.topic.empty()) return Status::permanent(what + ": no topic");
  if (!spec.handler) return Status::permanent(what + ": no handler");
  if (spec.concurrency < 0 || spec.max_replicas < 0) {
    return Status::permanent(what + ": concurrency and max_replicas must be at least 0, got " +
                             std::to_string(spec.concurrency) + " and " +
                             std::to_string(spec.max_replicas));
  }
  if (std::max(spec.concurrency, spec.max_replicas) < 1) {
    return Status::permanent(what +
                             ": concurrency (or max_replicas) must be at least 1: the "
                             "function needs room for one replica");
  }
  if (spec.retry.max_attempts < 1) {
    return Status::permanent(what + ": retry.max_attempts must be at least 1, got " +
                             std::to_string(spec.retry.max_attempts));
  }
  return Status::ok();
}

EmbeddedBus::EmbeddedBus() : impl_(std::make_unique<Impl>()) {}

EmbeddedBus::~EmbeddedBus() { stop(); }

Status EmbeddedBus::publish(const std::string& topic, Event event) {
  return impl_->publish(topic, std::move(event));
}

Status EmbeddedBus::subscribe(FunctionSpec spec) {
  const std::string what = "cannot subscribe function \"" + spec.name + "\"";
  STRATA_TRY(check_function_spec(spec));
  std::lock_guard lock(impl_->mu);
  if (impl_->started || impl_->stopping) {
    return Status::permanent(what + ": subscribe before start()");
  }
  for (const auto& fn : impl_->functions) {
    if (fn->spec.name == spec.name) {
      return Status::permanent(what +
                               ": a function of that name is already subscribed (names "
                               "are consumer groups and must be unique)");
    }
  }
  auto fn = std::make_unique<Impl::Function>();
  fn->spec = std::move(spec);
  impl_->by_topic[fn->spec.topic].push_back(fn.get());
  impl_->functions.push_back(std::move(fn));
  return Status::ok();
}

void EmbeddedBus::on_dead_letter(DeadLetterHandler handler) {
  std::lock_guard lock(impl_->mu);
  impl_->dead_letter_handler = std::move(handler);
}

Status EmbeddedBus::start() {
  std::string error;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping) return Status::permanent("embedded bus: start() after stop()");
    if (impl_->started) return Status::permanent("embedded bus: start() called twice");
    impl_->started = true;
    try {
      for (auto& fn : impl_->functions) {
        Impl::Function* f = fn.get();
        f->replicas = f->spec.concurrency;
        for (int i = 0; i < f->room(); ++i) {
          f->workers.emplace_back([this, f, i] { impl_->worker_loop(*f, i); });
        }
      }
      impl_->timer = std::thread([this] { impl_->timer_loop(); });
    } catch (const std::system_error& e) {
      error = std::string("embedded bus: cannot start worker threads: ") + e.what();
    }
  }
  if (!error.empty()) {
    impl_->stop();  // the threads already started exit at once and are joined
    return Status::permanent(error);
  }
  spdlog::debug("embedded bus started: {} function(s)", impl_->functions.size());
  return Status::ok();
}

void EmbeddedBus::stop() { impl_->stop(); }

std::vector<std::string> EmbeddedBus::function_names() const {
  std::lock_guard lock(impl_->mu);
  std::vector<std::string> names;
  for (const auto& fn : impl_->functions) names.push_back(fn->spec.name);
  return names;
}

Result<FunctionLoad> EmbeddedBus::load(const std::string& function) {
  std::lock_guard lock(impl_->mu);
  for (const auto& fn : impl_->functions) {
    if (fn->spec.name != function) continue;
    FunctionLoad load;
    load.replicas = fn->replicas;
    load.max_replicas = fn->room();
    load.backlog = static_cast<int64_t>(fn->queue.size()) + fn->busy;
    for (const auto& [due, d] : impl_->delayed) load.backlog += d.function == fn.get() ? 1 : 0;
    return load;
  }
  return Status::permanent("embedded bus: no function \"" + function + "\" is subscribed");
}

Status EmbeddedBus::set_replicas(const std::string& function, int replicas) {
  std::lock_guard lock(impl_->mu);
  for (const auto& fn : impl_->functions) {
    if (fn->spec.name != function) continue;
    fn->replicas = std::clamp(replicas, 0, fn->room());
    fn->ready.notify_all();
    return Status::ok();
  }
  return Status::permanent("embedded bus: no function \"" + function + "\" is subscribed");
}

void EmbeddedBus::on_idle_backlog(std::function<void()> hook) {
  std::lock_guard lock(impl_->mu);
  impl_->idle_backlog_hook = std::move(hook);
}

bool EmbeddedBus::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mu);
  return impl_->idle.wait_for(lock, timeout, [&] { return impl_->outstanding == 0; });
}

}  // namespace strata
