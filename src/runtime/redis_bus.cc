// The Redis Streams bus (contract and layout in redis_bus.h). hiredis contexts are not
// thread-safe: each handler thread owns one connection, publishing shares one under a mutex, and
// the keep-fresh thread owns one. Per function, one mutex guards the bookkeeping the threads
// share: entries this worker holds (running or waiting for a retry), retries by due time, acks
// still to send, and the XAUTOCLAIM cursor. Handlers run outside every lock.
#include "runtime/redis_bus.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>

#include "core/duration.h"
#include "core/env.h"
#include "core/log.h"
#include "core/uri.h"
#include "runtime/event.h"

namespace strata {

namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;

SteadyClock::duration with_jitter(milliseconds delay) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> factor(0.8, 1.2);
  return std::chrono::duration_cast<SteadyClock::duration>(
      std::chrono::duration<double, std::milli>(static_cast<double>(delay.count()) * factor(rng)));
}

void name_this_thread(const std::string& name) {
  std::string short_name = ("r:" + name).substr(0, 15);
  pthread_setname_np(pthread_self(), short_name.c_str());
}

thread_local const void* tls_owner_bus = nullptr;

timeval to_timeval(milliseconds d) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(d.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
  return tv;
}

// Where and how to connect. The password stays unexpanded until connect().
struct ConnectSettings {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string user;
  std::string password;
  milliseconds connect_timeout{5000};
  milliseconds read_timeout{15000};
  std::string where;  // "redis redis://host:port" (redacted) for messages
};

bool contains(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

std::string reply_text(const redisReply* r) {
  if (r == nullptr) return "";
  if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
      r->type == REDIS_REPLY_ERROR) {
    return std::string(r->str, r->len);
  }
  if (r->type == REDIS_REPLY_INTEGER) return std::to_string(r->integer);
  return "";
}

// One connection, used by one thread at a time. Reconnects lazily on the next command after a
// failure; every transport failure is retryable.
class RedisConnection {
 public:
  explicit RedisConnection(const ConnectSettings& settings) : s_(settings) {}

  bool connected() const { return ctx_ != nullptr; }
  void close() { ctx_.reset(); }

  Status connect() {
    ctx_.reset();
    ContextPtr c(redisConnectWithTimeout(s_.host.c_str(), s_.port, to_timeval(s_.connect_timeout)));
    if (c == nullptr) return Status::retryable(s_.where + ": out of memory connecting");
    if (c->err != 0) {
      return Status::retryable(s_.where + ": cannot connect: " + c->errstr +
                               " (is redis-server running there? check the host and port; will "
                               "retry)");
    }
    if (redisSetTimeout(c.get(), to_timeval(s_.read_timeout)) != REDIS_OK) {
      return Status::retryable(s_.where + ": cannot set the socket timeout: " + c->errstr);
    }
    ctx_ = std::move(c);
    if (!s_.password.empty()) {
      Result<std::string> password = expand_env(s_.password);
      if (!password.is_ok()) {
        ctx_.reset();
        return password.status().with_context(s_.where);
      }
      std::vector<std::string> auth = {"AUTH"};
      if (!s_.user.empty()) auth.push_back(s_.user);
      auth.push_back(*password);
      Result<ReplyPtr> r = command(auth, "authenticate");
      std::fill(auth.back().begin(), auth.back().end(), '\0');
      if (!r.is_ok()) {
        ctx_.reset();
        return r.status();
      }
    }
    if (s_.db != 0) {
      Result<ReplyPtr> r = command({"SELECT", std::to_string(s_.db)}, "select the database");
      if (!r.is_ok()) {
        ctx_.reset();
        return r.status();
      }
    }
    return Status::ok();
  }

  // Runs one command (connecting first when needed). An error reply comes back as a Status:
  // retryable for a server loading or failing over, permanent otherwise (the text keeps Redis'
  // error code first, e.g. "NOGROUP ...", for callers that look for it).
  Result<ReplyPtr> command(const std::vector<std::string>& args, std::string_view op) {
    if (!ctx_) STRATA_TRY(connect());
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const std::string& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    ReplyPtr r(static_cast<redisReply*>(
        redisCommandArgv(ctx_.get(), static_cast<int>(argv.size()), argv.data(), lens.data())));
    if (r == nullptr) {
      std::string err = ctx_->errstr;
      ctx_.reset();
      return Status::retryable(s_.where + ": " + std::string(op) + ": connection lost (" + err +
                               "); will reconnect and retry");
    }
    if (r->type == REDIS_REPLY_ERROR) {
      std::string text = reply_text(r.get());
      std::string msg = s_.where + ": " + std::string(op) + ": " + text;
      if (text.rfind("LOADING", 0) == 0 || text.rfind("BUSY ", 0) == 0 ||
          text.rfind("MASTERDOWN", 0) == 0 || text.rfind("TRYAGAIN", 0) == 0 ||
          text.rfind("READONLY", 0) == 0) {
        return Status::retryable(msg + " (the server is starting or failing over; will retry)");
      }
      if (text.rfind("WRONGPASS", 0) == 0 || text.rfind("NOAUTH", 0) == 0 ||
          contains(text, "invalid password")) {
        return Status::permanent(msg +
                                 " (check the user and password in the URI: put ${VAR} in it "
                                 "and export the variable)");
      }
      return Status::permanent(msg);
    }
    return r;
  }

 private:
  const ConnectSettings& s_;
  ContextPtr ctx_;
};

// A stream entry: id and field/value pairs.
struct Entry {
  std::string id;
  std::vector<std::pair<std::string, std::string>> fields;
  const std::string* field(std::string_view name) const {
    for (const auto& [k, v] : fields) {
      if (k == name) return &v;
    }
    return nullptr;
  }
};

// [id, [field, value, ...]]; nullopt for a nil (deleted) entry.
std::optional<Entry> parse_entry(const redisReply* r) {
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements < 2) return std::nullopt;
  Entry e;
  e.id = reply_text(r->element[0]);
  const redisReply* f = r->element[1];
  if (f != nullptr && f->type == REDIS_REPLY_ARRAY) {
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
      e.fields.emplace_back(reply_text(f->element[i]), reply_text(f->element[i + 1]));
    }
  }
  return e;
}

// An array of entries.
std::vector<Entry> parse_entries(const redisReply* r) {
  std::vector<Entry> out;
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY) return out;
  for (size_t i = 0; i < r->elements; ++i) {
    if (auto e = parse_entry(r->element[i])) out.push_back(std::move(*e));
  }
  return out;
}

Result<int64_t> parse_ms_option(const Uri& uri, const std::string& key, int64_t current) {
  auto it = uri.query.find(key);
  if (it == uri.query.end()) return current;
  Result<Micros> d = parse_duration(it->second);
  if (!d.is_ok() || d->count() <= 0) {
    return Status::permanent("redis " + uri.redacted() + ": " + key +
                             " must be a positive duration like 30s or 500ms, got '" + it->second +
                             "'");
  }
  return std::max<int64_t>(1, d->count() / 1000);
}

std::string default_worker_id() {
  static std::atomic<int> counter{0};
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "host");
  return std::string(host) + "-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
}

}  // namespace

struct RedisBus::Impl {
  struct Function {
    FunctionSpec spec;
    std::string dead_letter_topic;
    std::mutex mu;               // guards the fields below
    std::set<std::string> held;  // running or waiting for a retry here: kept fresh
    std::multimap<SteadyClock::time_point, std::string> retries;  // due -> entry id
    std::unordered_map<std::string, Status> last_error;           // of entries in `retries`
    std::vector<std::string> acks_to_send;  // acks that failed on a lost connection
    std::string autoclaim_cursor = "0-0";
    SteadyClock::time_point next_autoclaim{};
    std::vector<std::thread> threads;  // one per replica of room; thread i runs if i < replicas
    std::atomic<int> replicas{0};
    std::condition_variable replicas_changed;  // with mu: wakes parked threads
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

  RedisBusOptions options;
  ConnectSettings settings;
  std::string worker_id;

  std::mutex publish_mu;  // guards publisher
  std::unique_ptr<RedisConnection> publisher;

  std::mutex mu;  // guards functions (before start), started, dead_letter_handler
  std::vector<std::unique_ptr<Function>> functions;
  bool started = false;
  DeadLetterHandler dead_letter_handler;
  std::function<void()> idle_backlog_hook;  // set before start()
  std::atomic<bool> started_flag{false};    // functions no longer change

  std::atomic<bool> stopping{false};
  std::mutex stop_mu;  // with stop_cv: interruptible sleeps
  std::condition_variable stop_cv;
  std::mutex join_mu;  // serializes the joining part of stop()
  std::thread keeper;

  milliseconds keep_fresh_interval() const {
    return std::max(milliseconds(10), options.visibility_timeout / 3);
  }
  milliseconds autoclaim_interval() const {
    return std::clamp(options.visibility_timeout / 4, milliseconds(20), milliseconds(5000));
  }

  // Sleeps `d` unless the bus stops first; false when stopping.
  bool sleep_for(SteadyClock::duration d) {
    std::unique_lock lock(stop_mu);
    return !stop_cv.wait_for(lock, d, [&] { return stopping.load(); });
  }

  std::vector<std::string> xadd_args(const std::string& topic) const {
    std::vector<std::string> args = {"XADD", topic};
    if (options.maxlen > 0) {
      args.insert(args.end(), {"MAXLEN", "~", std::to_string(options.maxlen)});
    }
    args.push_back("*");
    return args;
  }

  Status publish(const std::string& topic, Event event) {
    if (event.id.empty() || event.type.empty()) {
      return Status::permanent("cannot publish on topic " + topic +
                               ": the event has no id or type (build events with make_event)");
    }
    if (topic.empty()) return Status::permanent("cannot publish event " + event.id + ": no topic");
    std::vector<std::string> args = xadd_args(topic);
    args.push_back("data");
    args.push_back(event.to_string());
    {
      std::lock_guard lock(publish_mu);
      Result<ReplyPtr> r = publisher->command(args, "publish on " + topic);
      if (!r.is_ok()) {
        return r.status().with_context("event " + event.id + " (" + event.type + ") not published");
      }
    }
    if (idle_backlog_hook && started_flag.load()) {
      for (const auto& fn : functions) {
        if (fn->spec.topic == topic && fn->replicas.load() == 0) {
          idle_backlog_hook();
          break;
        }
      }
    }
    return Status::ok();
  }

  // The group's lag (entries not yet delivered to any consumer) plus its pending entries
  // (delivered, not acked: in flight or waiting for a retry, on any worker).
  Result<int64_t> backlog(const Function& fn) {
    std::lock_guard lock(publish_mu);
    STRATA_ASSIGN_OR_RETURN(ReplyPtr r, publisher->command({"XINFO", "GROUPS", fn.spec.topic},
                                                           "read the backlog of " + fn.spec.name));
    if (r->type != REDIS_REPLY_ARRAY) return int64_t{0};
    for (size_t g = 0; g < r->elements; ++g) {
      const redisReply* group = r->element[g];
      if (group->type != REDIS_REPLY_ARRAY) continue;
      std::string name, last_delivered;
      int64_t pending = 0, lag = -1;
      for (size_t i = 0; i + 1 < group->elements; i += 2) {
        const std::string key = reply_text(group->element[i]);
        const redisReply* v = group->element[i + 1];
        if (key == "name") name = reply_text(v);
        if (key == "pending" && v->type == REDIS_REPLY_INTEGER) pending = v->integer;
        if (key == "lag" && v->type == REDIS_REPLY_INTEGER) lag = v->integer;
        if (key == "last-delivered-id") last_delivered = reply_text(v);
      }
      if (name != fn.spec.name) continue;
      // Redis answers no lag when it cannot tell (entries deleted or trimmed mid-stream): then
      // 0 if the group has seen the stream's newest entry, else at least 1.
      if (lag < 0) {
        STRATA_ASSIGN_OR_RETURN(
            ReplyPtr last, publisher->command({"XREVRANGE", fn.spec.topic, "+", "-", "COUNT", "1"},
                                              "read the newest entry of " + fn.spec.topic));
        std::string newest;
        if (last->type == REDIS_REPLY_ARRAY && last->elements > 0 &&
            last->element[0]->type == REDIS_REPLY_ARRAY && last->element[0]->elements > 0) {
          newest = reply_text(last->element[0]->element[0]);
        }
        lag = newest.empty() || newest == last_delivered ? 0 : 1;
      }
      return pending + lag;
    }
    return int64_t{0};  // no group yet: nothing was ever published for it
  }

  // Creates the function's group from id 0 (and the stream), unless it exists.
  Status create_group(RedisConnection& conn, const Function& fn) {
    Result<ReplyPtr> r =
        conn.command({"XGROUP", "CREATE", fn.spec.topic, fn.spec.name, "0", "MKSTREAM"},
                     "create consumer group " + fn.spec.name + " on " + fn.spec.topic);
    if (!r.is_ok() && !contains(r.status().message(), "BUSYGROUP")) return r.status();
    return Status::ok();
  }

  Status invoke(Function& fn, const Event& event, int attempt) {
    DeliveryContext ctx(*this, attempt);
    try {
      return fn.spec.handler(ctx, event);
    } catch (const std::exception& e) {
      return Status::permanent("function " + fn.spec.name + " threw on event " + event.id + ": " +
                               e.what());
    } catch (...) {
      return Status::permanent("function " + fn.spec.name +
                               " threw a non-standard exception on event " + event.id);
    }
  }

  // Acks `id`, or queues the ack for after a reconnect.
  void ack(RedisConnection& conn, Function& fn, const std::string& id) {
    Result<ReplyPtr> r = conn.command({"XACK", fn.spec.topic, fn.spec.name, id}, "ack entry " + id);
    std::lock_guard lock(fn.mu);
    if (!r.is_ok()) {
      spdlog::warn("function {}: {}; the ack is sent again after reconnecting", fn.spec.name,
                   r.status().message());
      fn.acks_to_send.push_back(id);
      return;  // still held: kept fresh until acked
    }
    fn.held.erase(id);
  }

  void send_queued_acks(RedisConnection& conn, Function& fn) {
    std::vector<std::string> ids;
    {
      std::lock_guard lock(fn.mu);
      ids.swap(fn.acks_to_send);
    }
    for (const std::string& id : ids) ack(conn, fn, id);
  }

  // Adds the entry to "<topic>.deadletter", calls the handler, acks. When the dead letter cannot
  // be written the entry stays pending and comes back (past max_attempts: dead-lettered then).
  void dead_letter(RedisConnection& conn, Function& fn, const Entry& entry, const std::string& data,
                   const Event* event, int attempts, const Status& error) {
    spdlog::error(
        "function {} dead-lettered entry {} (event {}) from topic {} after {} attempt(s): {}",
        fn.spec.name, entry.id, event ? event->id : "?", fn.spec.topic, attempts,
        error.to_string());
    std::vector<std::string> args = xadd_args(fn.dead_letter_topic);
    args.insert(args.end(), {"data", data, "function", fn.spec.name, "topic", fn.spec.topic,
                             "attempts", std::to_string(attempts), "error", error.to_string()});
    Result<ReplyPtr> r = conn.command(args, "dead-letter entry " + entry.id);
    if (!r.is_ok()) {
      spdlog::warn(
          "function {}: {}; the entry stays pending and is dead-lettered when it comes "
          "back",
          fn.spec.name, r.status().message());
      std::lock_guard lock(fn.mu);
      fn.held.erase(entry.id);  // not kept fresh: re-claimed after the visibility timeout
      return;
    }
    DeadLetterHandler handler;
    {
      std::lock_guard lock(mu);
      handler = dead_letter_handler;
    }
    if (handler) {
      Event copy = event ? *event : Event{};
      if (!event) {
        copy.id = entry.id;
        copy.data = Json{{"raw", data}};
      }
      try {
        handler(DeadLetter{fn.spec.name, fn.spec.topic, std::move(copy), attempts, error});
      } catch (const std::exception& e) {
        spdlog::error("dead-letter handler threw for entry {}: {}", entry.id, e.what());
      } catch (...) {
        spdlog::error("dead-letter handler threw for entry {}", entry.id);
      }
    }
    ack(conn, fn, entry.id);
  }

  // Runs the handler on `entry`, delivered for the `attempt`-th time, and acts on the outcome.
  void deliver(RedisConnection& conn, Function& fn, const Entry& entry, int attempt,
               std::optional<Status> earlier_error = std::nullopt) {
    {
      std::lock_guard lock(fn.mu);
      fn.held.insert(entry.id);
    }
    const RetryPolicy& retry = fn.spec.retry;
    const std::string* data = entry.field("data");
    if (data == nullptr) {
      dead_letter(conn, fn, entry, "", nullptr, attempt,
                  Status::permanent("entry " + entry.id + " on stream " + fn.spec.topic +
                                    " has no field 'data' (expected a CloudEvent JSON there, "
                                    "Dapr's pubsub.redis layout)"));
      return;
    }
    Result<Event> event = Event::parse(*data);
    if (!event.is_ok()) {
      dead_letter(conn, fn, entry, *data, nullptr, attempt,
                  event.status().with_context("entry " + entry.id + " on stream " + fn.spec.topic +
                                              " is not a CloudEvent"));
      return;
    }
    if (attempt > retry.max_attempts) {
      Status why = earlier_error.value_or(Status::permanent(
          "delivered " + std::to_string(attempt) + " times, more than retry.max_attempts (" +
          std::to_string(retry.max_attempts) +
          "), without an outcome: a worker probably died while handling it each time"));
      dead_letter(conn, fn, entry, *data, &*event, attempt - 1, why);
      return;
    }

    Status s = invoke(fn, *event, attempt);
    if (s.is_ok()) {
      ack(conn, fn, entry.id);
      return;
    }
    const bool retry_later = s.is_retryable() && attempt < retry.max_attempts;
    if (s.is_permanent() || (s.is_retryable() && !retry_later)) {
      dead_letter(conn, fn, entry, *data, &*event, attempt, s);
      return;
    }
    std::lock_guard lock(fn.mu);
    if (s.is_cancelled() || stopping) {
      // Left pending: another worker (or this one, restarted) takes it over after the
      // visibility timeout.
      spdlog::info("function {}: event {} ({}) left pending on attempt {}: {}", fn.spec.name,
                   event->id, event->type, attempt, s.message());
      fn.held.erase(entry.id);
      return;
    }
    auto delay = with_jitter(backoff_delay(retry, attempt));
    spdlog::warn("function {}: event {} ({}) failed on attempt {}/{}, retrying in {}ms: {}",
                 fn.spec.name, event->id, event->type, attempt, retry.max_attempts,
                 std::chrono::duration_cast<milliseconds>(delay).count(), s.message());
    fn.retries.emplace(SteadyClock::now() + delay, entry.id);
    fn.last_error[entry.id] = s;
  }

  // [id, consumer, idle, deliveries] of a pending entry, if it is pending.
  struct PendingInfo {
    std::string consumer;
    int64_t deliveries = 0;
  };
  Result<std::optional<PendingInfo>> pending_info(RedisConnection& conn, const Function& fn,
                                                  const std::string& id) {
    STRATA_ASSIGN_OR_RETURN(ReplyPtr r,
                            conn.command({"XPENDING", fn.spec.topic, fn.spec.name, id, id, "1"},
                                         "read the delivery count of " + id));
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) return std::optional<PendingInfo>();
    const redisReply* e = r->element[0];
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 4) return std::optional<PendingInfo>();
    return std::optional<PendingInfo>(
        PendingInfo{reply_text(e->element[1]), e->element[3]->integer});
  }

  // A due retry of this worker: claimed back (if still ours) and delivered again.
  Status run_retry(RedisConnection& conn, Function& fn, const std::string& id) {
    Status earlier;
    {
      std::lock_guard lock(fn.mu);
      auto it = fn.last_error.find(id);
      if (it != fn.last_error.end()) {
        earlier = it->second;
        fn.last_error.erase(it);
      }
    }
    auto give_back = [&](const Status& s) {
      std::lock_guard lock(fn.mu);
      fn.retries.emplace(SteadyClock::now() + milliseconds(100), id);
      fn.last_error[id] = earlier;
      return s;
    };
    Result<std::optional<PendingInfo>> info = pending_info(conn, fn, id);
    if (!info.is_ok()) return give_back(info.status());
    if (!*info || (*info)->consumer != worker_id) {
      spdlog::info(
          "function {}: entry {} was acked or taken over by another worker before its "
          "retry; not retried here",
          fn.spec.name, id);
      std::lock_guard lock(fn.mu);
      fn.held.erase(id);
      return Status::ok();
    }
    Result<ReplyPtr> claimed =
        conn.command({"XCLAIM", fn.spec.topic, fn.spec.name, worker_id, "0", id},
                     "claim entry " + id + " for its retry");
    if (!claimed.is_ok()) return give_back(claimed.status());
    std::vector<Entry> entries = parse_entries(claimed->get());
    if (entries.empty()) {  // trimmed from the stream meanwhile
      std::lock_guard lock(fn.mu);
      fn.held.erase(id);
      return Status::ok();
    }
    deliver(conn, fn, entries[0], static_cast<int>((*info)->deliveries + 1),
            earlier.is_ok() ? std::nullopt : std::optional<Status>(earlier));
    return Status::ok();
  }

  // Takes over one entry pending longer than the visibility timeout; true when one was run.
  Result<bool> run_autoclaim(RedisConnection& conn, Function& fn) {
    std::string cursor;
    {
      std::lock_guard lock(fn.mu);
      const auto now = SteadyClock::now();
      if (now < fn.next_autoclaim) return false;
      fn.next_autoclaim = now + autoclaim_interval();
      cursor = fn.autoclaim_cursor;
    }
    STRATA_ASSIGN_OR_RETURN(
        ReplyPtr r,
        conn.command({"XAUTOCLAIM", fn.spec.topic, fn.spec.name, worker_id,
                      std::to_string(options.visibility_timeout.count()), cursor, "COUNT", "1"},
                     "take over pending entries of " + fn.spec.topic));
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2) return false;
    std::vector<Entry> entries = parse_entries(r->element[1]);
    {
      std::lock_guard lock(fn.mu);
      fn.autoclaim_cursor = reply_text(r->element[0]);
      if (!entries.empty() || fn.autoclaim_cursor != "0-0") fn.next_autoclaim = SteadyClock::now();
    }
    if (entries.empty()) return false;
    const Entry& e = entries[0];
    STRATA_ASSIGN_OR_RETURN(std::optional<PendingInfo> info, pending_info(conn, fn, e.id));
    const int attempt = info ? static_cast<int>(info->deliveries) : 2;
    spdlog::warn(
        "function {}: took over entry {} of {} (pending over {}ms: its worker died or "
        "lost its connection); delivery {}",
        fn.spec.name, e.id, fn.spec.topic, options.visibility_timeout.count(), attempt);
    deliver(conn, fn, e, attempt);
    return true;
  }

  // Reads one new entry (blocking at most `block`); true when one was run.
  Result<bool> run_new(RedisConnection& conn, Function& fn, milliseconds block) {
    Result<ReplyPtr> r = conn.command(
        {"XREADGROUP", "GROUP", fn.spec.name, worker_id, "COUNT", "1", "BLOCK",
         std::to_string(std::max<int64_t>(1, block.count())), "STREAMS", fn.spec.topic, ">"},
        "read " + fn.spec.topic);
    if (!r.is_ok() && contains(r.status().message(), "NOGROUP")) {
      spdlog::warn(
          "function {}: consumer group missing on {} (Redis restarted without "
          "persistence, or the stream was deleted): creating it again",
          fn.spec.name, fn.spec.topic);
      STRATA_TRY(create_group(conn, fn));
      return false;
    }
    if (!r.is_ok()) return r.status();
    const redisReply* top = r->get();
    if (top->type != REDIS_REPLY_ARRAY || top->elements == 0) return false;  // timed out
    const redisReply* stream = top->element[0];
    if (stream->type != REDIS_REPLY_ARRAY || stream->elements < 2) return false;
    std::vector<Entry> entries = parse_entries(stream->element[1]);
    if (entries.empty()) return false;
    deliver(conn, fn, entries[0], 1);
    return true;
  }

  void worker_loop(Function& fn, int index) {
    tls_owner_bus = this;
    name_this_thread(fn.spec.name);
    RedisConnection conn(settings);
    milliseconds reconnect_delay{100};
    bool reported = false;
    while (!stopping) {
      if (index >= fn.replicas.load()) {
        // Parked: this replica is scaled away. It holds no connection while it waits.
        conn.close();
        std::unique_lock lock(fn.mu);
        fn.replicas_changed.wait(lock, [&] { return stopping || index < fn.replicas.load(); });
        continue;
      }
      Status s = work_once(conn, fn);
      if (s.is_ok()) {
        if (reported) {
          spdlog::info("function {}: {} reachable again", fn.spec.name, settings.where);
          reported = false;
        }
        reconnect_delay = milliseconds(100);
        continue;
      }
      if (!reported) {
        spdlog::warn("function {}: {} (retrying every 2s at most until it works)", fn.spec.name,
                     s.message());
        reported = true;
      } else {
        spdlog::debug("function {}: {}", fn.spec.name, s.message());
      }
      conn.close();
      if (!sleep_for(with_jitter(reconnect_delay))) break;
      reconnect_delay = std::min(reconnect_delay * 2, milliseconds(2000));
    }
  }

  // One step: queued acks, then a due retry, a take-over, or a new entry.
  Status work_once(RedisConnection& conn, Function& fn) {
    if (!conn.connected()) STRATA_TRY(conn.connect());
    send_queued_acks(conn, fn);
    std::optional<std::string> due;
    milliseconds block = options.block;
    {
      std::lock_guard lock(fn.mu);
      const auto now = SteadyClock::now();
      if (!fn.retries.empty()) {
        if (fn.retries.begin()->first <= now) {
          due = fn.retries.begin()->second;
          fn.retries.erase(fn.retries.begin());
        } else {
          block = std::min(block, std::chrono::ceil<milliseconds>(fn.retries.begin()->first - now));
        }
      }
    }
    if (due) return run_retry(conn, fn, *due);
    STRATA_ASSIGN_OR_RETURN(bool took_over, run_autoclaim(conn, fn));
    if (took_over || stopping) return Status::ok();
    STRATA_ASSIGN_OR_RETURN(bool got, run_new(conn, fn, block));
    (void)got;
    return Status::ok();
  }

  // Every third of the visibility timeout: resets the idle time of the entries this worker
  // holds (and still owns), so no other worker takes them over.
  void keeper_loop() {
    tls_owner_bus = this;
    name_this_thread("redis-keeper");
    RedisConnection conn(settings);
    while (sleep_for(keep_fresh_interval())) {
      for (auto& fp : functions) {
        Function& fn = *fp;
        std::set<std::string> held;
        {
          std::lock_guard lock(fn.mu);
          held = fn.held;
        }
        if (held.empty()) continue;
        Status s = keep_fresh(conn, fn, held);
        if (!s.is_ok()) {
          spdlog::debug("function {}: keeping entries fresh failed: {}", fn.spec.name, s.message());
          conn.close();
        }
      }
    }
  }

  Status keep_fresh(RedisConnection& conn, Function& fn, const std::set<std::string>& held) {
    STRATA_ASSIGN_OR_RETURN(
        ReplyPtr r,
        conn.command({"XPENDING", fn.spec.topic, fn.spec.name, "-", "+",
                      std::to_string(std::max<size_t>(held.size() * 4, 100)), worker_id},
                     "list the entries this worker holds"));
    std::vector<std::string> args = {"XCLAIM", fn.spec.topic, fn.spec.name, worker_id, "0"};
    if (r->type == REDIS_REPLY_ARRAY) {
      for (size_t i = 0; i < r->elements; ++i) {
        const redisReply* e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 1) continue;
        std::string id = reply_text(e->element[0]);
        if (held.count(id)) args.push_back(std::move(id));
      }
    }
    if (args.size() == 5) return Status::ok();
    args.push_back("JUSTID");
    Result<ReplyPtr> claimed = conn.command(args, "keep held entries fresh");
    return claimed.is_ok() ? Status::ok() : claimed.status();
  }

  void stop() {
    {
      std::lock_guard lock(stop_mu);
      stopping = true;
    }
    stop_cv.notify_all();
    for (auto& fn : functions) {
      std::lock_guard lock(fn->mu);
      fn->replicas_changed.notify_all();
    }
    if (tls_owner_bus == this) return;  // from a handler: the destructor or a later stop() joins
    std::lock_guard join_lock(join_mu);
    for (auto& fn : functions) {
      for (auto& t : fn->threads) {
        if (t.joinable()) t.join();
      }
    }
    if (keeper.joinable()) keeper.join();
  }
};

RedisBus::RedisBus(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RedisBus::~RedisBus() { impl_->stop(); }

const std::string& RedisBus::worker_id() const { return impl_->worker_id; }

Result<std::unique_ptr<RedisBus>> RedisBus::open(RedisBusOptions options) {
  STRATA_ASSIGN_OR_RETURN(Uri uri, parse_uri(options.uri));
  const std::string where = "redis " + uri.redacted();
  if (uri.scheme == "rediss") {
    return Status::permanent(where +
                             ": TLS (rediss://) is not supported by this build's hiredis; "
                             "use redis:// through a TLS tunnel (stunnel, a sidecar)");
  }
  if (uri.scheme != "redis") {
    return Status::permanent(where + ": not a redis:// URI (expected redis://host:port[/db])");
  }
  for (const auto& [key, value] : uri.query) {
    if (key != "visibility_timeout" && key != "block" && key != "connect_timeout" &&
        key != "maxlen") {
      return Status::permanent(where + ": unknown URI option '" + key +
                               "' (known: visibility_timeout, block, connect_timeout, maxlen)");
    }
  }
  STRATA_ASSIGN_OR_RETURN(int64_t visibility, parse_ms_option(uri, "visibility_timeout",
                                                              options.visibility_timeout.count()));
  STRATA_ASSIGN_OR_RETURN(int64_t block, parse_ms_option(uri, "block", options.block.count()));
  STRATA_ASSIGN_OR_RETURN(int64_t connect,
                          parse_ms_option(uri, "connect_timeout", options.connect_timeout.count()));
  options.visibility_timeout = milliseconds(visibility);
  options.block = milliseconds(block);
  options.connect_timeout = milliseconds(connect);
  if (auto it = uri.query.find("maxlen"); it != uri.query.end()) {
    try {
      size_t used = 0;
      options.maxlen = std::stoll(it->second, &used);
      if (used != it->second.size() || options.maxlen < 0) throw std::invalid_argument("");
    } catch (const std::exception&) {
      return Status::permanent(where +
                               ": maxlen must be a number of entries (0: no trimming), "
                               "got '" +
                               it->second + "'");
    }
  }
  if (options.block >= options.visibility_timeout) {
    return Status::permanent(where + ": block (" + std::to_string(options.block.count()) +
                             "ms) must be shorter than visibility_timeout (" +
                             std::to_string(options.visibility_timeout.count()) + "ms)");
  }

  auto impl = std::make_unique<Impl>();
  ConnectSettings& s = impl->settings;
  if (!uri.host.empty()) s.host = uri.host;
  if (uri.port != 0) s.port = uri.port;
  s.user = uri.user;
  s.password = uri.password;
  if (uri.path.size() > 1) {
    const std::string db = uri.path.substr(1);
    if (db.empty() || !std::all_of(db.begin(), db.end(), ::isdigit)) {
      return Status::permanent(where +
                               ": the path must be a database number (redis://host/0), "
                               "got '" +
                               db + "'");
    }
    s.db = std::stoi(db);
  }
  s.connect_timeout = options.connect_timeout;
  s.read_timeout = options.block + milliseconds(10000);
  s.where = where;
  impl->worker_id = options.worker_id.empty() ? default_worker_id() : options.worker_id;
  impl->options = std::move(options);
  impl->publisher = std::make_unique<RedisConnection>(impl->settings);

  STRATA_ASSIGN_OR_RETURN(ReplyPtr info,
                          impl->publisher->command({"INFO", "server"}, "read the server version"));
  const std::string text = reply_text(info.get());
  const size_t at = text.find("redis_version:");
  const int major = at == std::string::npos ? 0 : std::atoi(text.c_str() + at + 14);
  if (major < 7) {
    return Status::permanent(
        where + ": Redis " +
        (at == std::string::npos ? std::string("of unknown version") : text.substr(at + 14, 8)) +
        " is too old: the Redis Streams bus needs Redis 7 or newer");
  }
  return std::unique_ptr<RedisBus>(new RedisBus(std::move(impl)));
}

Status RedisBus::publish(const std::string& topic, Event event) {
  return impl_->publish(topic, std::move(event));
}

Status RedisBus::subscribe(FunctionSpec spec) {
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
  fn->dead_letter_topic = spec.topic + ".deadletter";
  fn->spec = std::move(spec);
  impl_->functions.push_back(std::move(fn));
  return Status::ok();
}

void RedisBus::on_dead_letter(DeadLetterHandler handler) {
  std::lock_guard lock(impl_->mu);
  impl_->dead_letter_handler = std::move(handler);
}

Status RedisBus::start() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping) return Status::permanent(impl_->settings.where + ": start() after stop()");
    if (impl_->started) return Status::permanent(impl_->settings.where + ": start() called twice");
    impl_->started = true;
  }
  {
    std::lock_guard lock(impl_->publish_mu);
    for (auto& fn : impl_->functions) STRATA_TRY(impl_->create_group(*impl_->publisher, *fn));
  }
  try {
    for (auto& fn : impl_->functions) {
      Impl::Function* f = fn.get();
      f->replicas = f->spec.concurrency;
      for (int i = 0; i < f->room(); ++i) {
        f->threads.emplace_back([this, f, i] { impl_->worker_loop(*f, i); });
      }
    }
    impl_->keeper = std::thread([this] { impl_->keeper_loop(); });
    impl_->started_flag = true;
  } catch (const std::system_error& e) {
    impl_->stop();
    return Status::permanent(impl_->settings.where + ": cannot start worker threads: " + e.what());
  }
  spdlog::info("redis bus {} started as worker {}: {} function(s)", impl_->settings.where,
               impl_->worker_id, impl_->functions.size());
  return Status::ok();
}

void RedisBus::stop() { impl_->stop(); }

std::vector<std::string> RedisBus::function_names() const {
  std::lock_guard lock(impl_->mu);
  std::vector<std::string> names;
  for (const auto& fn : impl_->functions) names.push_back(fn->spec.name);
  return names;
}

Result<FunctionLoad> RedisBus::load(const std::string& function) {
  for (const auto& fn : impl_->functions) {
    if (fn->spec.name != function) continue;
    FunctionLoad load;
    load.replicas = fn->replicas.load();
    load.max_replicas = fn->room();
    STRATA_ASSIGN_OR_RETURN(load.backlog, impl_->backlog(*fn));
    return load;
  }
  return Status::permanent(impl_->settings.where + ": no function \"" + function +
                           "\" is subscribed");
}

Status RedisBus::set_replicas(const std::string& function, int replicas) {
  for (const auto& fn : impl_->functions) {
    if (fn->spec.name != function) continue;
    std::lock_guard lock(fn->mu);
    fn->replicas = std::clamp(replicas, 0, fn->room());
    fn->replicas_changed.notify_all();
    return Status::ok();
  }
  return Status::permanent(impl_->settings.where + ": no function \"" + function +
                           "\" is subscribed");
}

void RedisBus::on_idle_backlog(std::function<void()> hook) {
  std::lock_guard lock(impl_->mu);
  impl_->idle_backlog_hook = std::move(hook);
}

}  // namespace strata
