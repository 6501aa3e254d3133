#include "cli/server.h"

#include <httplib.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "cli/report.h"
#include "cli/service.h"
#include "core/clock.h"
#include "core/duration.h"
#include "core/log.h"
#include "functions/functions.h"
#include "functions/task.h"
#include "policy/policy.h"
#include "policy/schedule.h"
#include "runtime/redis_bus.h"
#include "runtime/state_store.h"

namespace strata {

namespace {

constexpr size_t kMaxBody = 1 << 20;
constexpr int kMaxTasksListed = 100;

void reply(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void error(httplib::Response& res, int status, const std::string& message) {
  reply(res, status, Json{{"error", message}});
}

bool valid_policy_name(const std::string& name) {
  if (name.empty() || name.size() > 200 || name[0] == '.') return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') {
      return false;
    }
  }
  return true;
}

// Constant-time comparison of the presented token with the expected one.
bool same_token(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return diff == 0;
}

class Server {
 public:
  Server(const ServeOptions& options, StateStore& state, Bus& bus)
      : options_(options), state_(state), bus_(bus) {}

  struct Enqueued {
    int status = 202;     // 202 queued, 409 an unfinished task of the policy, 503 store or bus
    std::string task_id;  // the new task, or the unfinished one
    std::string error;
  };

  // Queues a task of `policy` unless one of its tasks is unfinished (one at a time per policy).
  Enqueued enqueue(const Policy& policy) {
    std::lock_guard lock(mu_);
    std::string running;
    if (auto it = submitted_.find(policy.name); it != submitted_.end()) {
      auto t = state_.get_task(it->second);
      if (!t.is_ok()) return {503, "", t.status().message()};
      if (!*t || !task_finished((*t)->state)) running = it->second;
    }
    if (running.empty()) {
      auto t = state_.latest_unfinished(policy.name);
      if (!t.is_ok()) return {503, "", t.status().message()};
      if (*t) running = (*t)->id;
    }
    if (!running.empty()) return {409, running, ""};
    const std::string task_id = new_task_id(system_clock());
    Status s = bus_.publish(kTopicTasks, make_task_request(task_id, policy));
    if (!s.is_ok()) return {503, "", "cannot queue the task: " + s.message()};
    submitted_[policy.name] = task_id;
    return {202, task_id, ""};
  }

  // Runs the policies of the policy directory that have a `schedule`, until `stop`: cron ones in
  // the minutes they match (once per minute), @every ones each interval after the server started.
  void schedule_loop(const std::atomic<bool>& stop) {
    std::map<std::string, int64_t> last;  // policy file -> last minute (cron) or µs (@every)
    const int64_t started = system_clock().now_micros();
    while (!stop.load()) {
      const int64_t now = system_clock().now_micros();
      std::error_code ec;
      for (const auto& entry : std::filesystem::directory_iterator(options_.policies_dir, ec)) {
        const std::string ext = entry.path().extension().string();
        if (ext != ".yaml" && ext != ".yml") continue;
        auto policy = load_policy(entry.path().string());
        if (!policy.is_ok() || policy->schedule.empty()) continue;
        auto when = parse_schedule(policy->schedule);
        if (!when.is_ok()) continue;
        const std::string key = entry.path().string();
        bool due = false;
        if (when->every) {
          const int64_t since = last.count(key) ? last[key] : started;
          due = now - since >= when->every->count();
          if (due) last[key] = now;
        } else if (when->matches(now) && (!last.count(key) || last[key] != now / 60000000)) {
          due = true;
          last[key] = now / 60000000;
        }
        if (!due) continue;
        Enqueued q = enqueue(*policy);
        if (q.status == 202) {
          spdlog::info("schedule '{}' of policy {}: task {} queued", policy->schedule, policy->name,
                       q.task_id);
        } else if (q.status == 409) {
          spdlog::info("schedule '{}' of policy {}: skipped, task {} is unfinished",
                       policy->schedule, policy->name, q.task_id);
        } else {
          spdlog::warn("schedule of policy {}: {}", policy->name, q.error);
        }
      }
      for (int i = 0; i < 10 && !stop.load(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  }

  void routes(httplib::Server& http) {
    http.set_payload_max_length(kMaxBody);
    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (req.path == "/healthz" || req.path == "/readyz") {
        return httplib::Server::HandlerResponse::Unhandled;
      }
      const std::string auth = req.get_header_value("Authorization");
      const std::string prefix = "Bearer ";
      if (auth.rfind(prefix, 0) != 0) {
        error(res, 401, "missing bearer token: send Authorization: Bearer <token>");
        return httplib::Server::HandlerResponse::Handled;
      }
      if (!same_token(auth.substr(prefix.size()), options_.token)) {
        error(res, 403, "the bearer token is not this server's");
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    http.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
      reply(res, 200, Json{{"ok", true}});
    });
    http.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
      auto tasks = state_.list_tasks(1);
      if (tasks.is_ok()) {
        reply(res, 200, Json{{"ok", true}});
      } else {
        error(res, 503, "the state store does not answer: " + tasks.status().message());
      }
    });
    http.Get("/v1/policies",
             [this](const httplib::Request&, httplib::Response& res) { list_policies(res); });
    http.Get("/v1/pools", [this](const httplib::Request&, httplib::Response& res) {
      auto pools = state_.list_pools();
      if (!pools.is_ok()) return error(res, 503, pools.status().message());
      reply(res, 200, Json{{"pools", pools_json(*pools, system_clock().now_micros())}});
    });
    http.Post("/v1/tasks",
              [this](const httplib::Request& req, httplib::Response& res) { submit(req, res); });
    http.Get("/v1/tasks", [this](const httplib::Request&, httplib::Response& res) {
      auto tasks = state_.list_tasks(kMaxTasksListed);
      if (!tasks.is_ok()) return error(res, 503, tasks.status().message());
      Json arr = Json::array();
      for (const TaskRecord& t : *tasks) arr.push_back(task_json(t));
      reply(res, 200, Json{{"tasks", arr}});
    });
    http.Get(R"(/v1/tasks/([A-Za-z0-9_.-]+))",
             [this](const httplib::Request& req, httplib::Response& res) {
               task_detail(req.matches[1], res);
             });
    http.Post(R"(/v1/tasks/([A-Za-z0-9_.-]+)/cancel)",
              [this](const httplib::Request& req, httplib::Response& res) {
                answer(res, cancel_task(state_, req.matches[1]));
              });
    http.Post(R"(/v1/tasks/([A-Za-z0-9_.-]+)/retry)",
              [this](const httplib::Request& req, httplib::Response& res) {
                TaskAction a = retry_task(state_, bus_, req.matches[1]);
                if (a.code == 202) a.task.state = "retrying";
                answer(res, a);
              });
    http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      if (res.status == 413) return error(res, 413, "request body over 1 MiB");
      if (res.status == 404) return error(res, 404, "no route " + req.method + " " + req.path);
      error(res, res.status, "HTTP " + std::to_string(res.status));
    });
    http.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
          error(res, 500, "internal error (see the server's log)");
        });
  }

 private:
  void list_policies(httplib::Response& res) {
    Json arr = Json::array();
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(options_.policies_dir, ec)) {
      const std::string ext = entry.path().extension().string();
      if (ext != ".yaml" && ext != ".yml") continue;
      auto p = load_policy(entry.path().string());
      if (p.is_ok()) {
        arr.push_back(Json{{"name", entry.path().stem().string()},
                           {"table", p->source.table},
                           {"mode", mode_name(p->mode)}});
      } else {
        arr.push_back(
            Json{{"name", entry.path().stem().string()}, {"error", p.status().message()}});
      }
    }
    if (ec) return error(res, 500, "cannot list the policy directory " + options_.policies_dir);
    reply(res, 200, Json{{"policies", arr}});
  }

  Result<Policy> policy_of(const Json& body, int& status) {
    status = 400;
    if (!body.is_object()) {
      return Status::permanent(
          "the body must be a JSON object: {\"policy\": \"NAME\"} or {\"inline\": \"YAML\"}");
    }
    for (const auto& [key, value] : body.items()) {
      if (key != "policy" && key != "inline") {
        return Status::permanent("unknown field '" + key + "' (fields: policy, inline)");
      }
    }
    const bool named = body.contains("policy"), inline_text = body.contains("inline");
    if (named == inline_text) {
      return Status::permanent("give exactly one of \"policy\" (a name) and \"inline\" (YAML)");
    }
    if (inline_text) {
      if (!body["inline"].is_string()) return Status::permanent("\"inline\" must be a string");
      return parse_policy(body["inline"].get<std::string>(), "inline policy",
                          std::filesystem::absolute(options_.policies_dir).string());
    }
    if (!body["policy"].is_string()) return Status::permanent("\"policy\" must be a string");
    const std::string name = body["policy"].get<std::string>();
    if (!valid_policy_name(name)) {
      return Status::permanent("policy name '" + name +
                               "' may hold letters, digits, '_', '-' and '.' only");
    }
    for (const char* ext : {".yaml", ".yml"}) {
      const std::string path = options_.policies_dir + "/" + name + ext;
      if (std::filesystem::exists(path)) return load_policy(path);
    }
    status = 404;
    return Status::permanent("no policy '" + name + "' in " + options_.policies_dir +
                             " (GET /v1/policies lists them)");
  }

  void submit(const httplib::Request& req, httplib::Response& res) {
    std::optional<Micros> wait;
    if (req.has_param("wait")) {
      auto d = parse_duration(req.get_param_value("wait"));
      if (!d.is_ok() || d->count() < 0 || *d > std::chrono::hours(1)) {
        return error(res, 400,
                     "wait='" + req.get_param_value("wait") +
                         "' is not a duration up to 1h (e.g. wait=60s)");
      }
      wait = *d;
    }
    Json body = Json::parse(req.body, nullptr, false);
    if (body.is_discarded()) return error(res, 400, "the body is not JSON");
    int status = 400;
    auto policy = policy_of(body, status);
    if (!policy.is_ok()) return error(res, status, policy.status().message());

    Enqueued q = enqueue(*policy);
    if (q.status == 409) {
      return reply(
          res, 409,
          Json{{"error", "policy '" + policy->name + "' has an unfinished task " + q.task_id +
                             "; wait for it (GET /v1/tasks/" + q.task_id + ")"},
               {"task_id", q.task_id}});
    }
    if (q.status != 202) return error(res, q.status, q.error);
    const std::string task_id = q.task_id;
    Json accepted{{"task_id", task_id},
                  {"policy", policy->name},
                  {"state", "submitted"},
                  {"status_url", "/v1/tasks/" + task_id}};
    if (!wait) return reply(res, 202, accepted);
    const auto deadline = std::chrono::steady_clock::now() + *wait;
    for (;;) {
      auto t = state_.get_task(task_id);
      if (t.is_ok() && *t && task_finished((*t)->state)) {
        return reply(res, 200, task_json(**t));
      }
      if (std::chrono::steady_clock::now() >= deadline ||
          (options_.interrupted != nullptr && options_.interrupted->load())) {
        if (t.is_ok() && *t) accepted["state"] = (*t)->state;
        return reply(res, 202, accepted);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  static void answer(httplib::Response& res, const TaskAction& a) {
    if (a.code != 202) {
      Json body{{"error", a.error}};
      if (!a.task.id.empty()) body["state"] = a.task.state;
      return reply(res, a.code, body);
    }
    reply(res, 202, task_json(a.task));
  }

  void task_detail(const std::string& id, httplib::Response& res) {
    auto task = state_.get_task(id);
    if (!task.is_ok()) return error(res, 503, task.status().message());
    if (!*task) return error(res, 404, "no task " + id);
    auto shards = state_.list_shards(id);
    if (!shards.is_ok()) return error(res, 503, shards.status().message());
    std::vector<std::vector<BatchRecord>> batches;
    for (const ShardRecord& s : *shards) {
      auto b = state_.list_batches(id, s.index);
      if (!b.is_ok()) return error(res, 503, b.status().message());
      batches.push_back(std::move(*b));
    }
    reply(res, 200, task_detail_json(**task, *shards, batches));
  }

  const ServeOptions& options_;
  StateStore& state_;
  Bus& bus_;
  std::mutex mu_;
  std::map<std::string, std::string> submitted_;  // policy name -> latest task id submitted
};

}  // namespace

Status serve(const ServeOptions& options) {
  if (options.token.empty()) {
    return Status::permanent(
        "strata serve needs a token: set STRATA_TOKEN or pass --token-file FILE");
  }
  const size_t colon = options.listen.rfind(':');
  if (colon == std::string::npos) {
    return Status::permanent("--listen '" + options.listen + "': expected HOST:PORT");
  }
  const std::string host = options.listen.substr(0, colon);
  auto port = parse_int(options.listen.substr(colon + 1));
  if (!port.is_ok() || *port < 0 || *port > 65535) {
    return Status::permanent("--listen '" + options.listen + "': the port must be 0..65535");
  }
  if (!std::filesystem::is_directory(options.policies_dir)) {
    return Status::permanent("--policies " + options.policies_dir + " is not a directory");
  }
  ChainConfig config = options.chain;
  if (config.state_uri.rfind("sqlite://", 0) == 0) {
    const std::filesystem::path file = config.state_uri.substr(9);
    if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path());
  }
  // Beside workers on a shared bus, this process is one more worker (with leases).
  if (!config.bus_uri.empty() && config.worker_id.empty()) config.worker_id = worker_name();
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<RunningChain> chain, start_chain(config));
  StateStore* state = chain->state.get();
  Bus* bus = chain->bus.get();

  Server server(options, *state, *bus);
  httplib::Server http;
  server.routes(http);
  int bound = 0;
  if (*port == 0) {
    bound = http.bind_to_any_port(host);
  } else {
    bound = http.bind_to_port(host, static_cast<int>(*port)) ? static_cast<int>(*port) : -1;
  }
  if (bound <= 0) {
    chain->stop();
    return Status::permanent("cannot listen on " + options.listen +
                             " (in use, or not an address of this machine)");
  }
  std::printf("listening on http://%s:%d\n", host.c_str(), bound);
  std::fflush(stdout);
  std::thread listener([&] { http.listen_after_bind(); });
  std::atomic<bool> stop_scheduling{false};
  std::thread scheduler([&] { server.schedule_loop(stop_scheduling); });
  while (options.interrupted == nullptr || !options.interrupted->load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  spdlog::info("stopping: no new requests; in-flight events finish, the rest stay queued");
  stop_scheduling = true;
  scheduler.join();
  http.stop();
  listener.join();
  chain->stop();
  return Status::ok();
}

}  // namespace strata
