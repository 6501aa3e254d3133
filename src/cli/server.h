// `strata serve`: the HTTP API (JSON) in front of the chain, which it also runs in-process.
//
//   GET  /healthz                 200 while the process runs (no token)
//   GET  /readyz                  200 when the state store answers, else 503 (no token)
//   GET  /v1/policies             the policies in the policy directory
//   GET  /v1/pools                every worker's pools: function, replicas, min, max, backlog
//   POST /v1/tasks                {"policy": "NAME"} or {"inline": "<policy YAML>"}: 202 with
//                                 the task id; ?wait=60s holds the request until the task ends
//                                 and answers 200 with its report (202 if it has not ended)
//   GET  /v1/tasks                the latest tasks
//   GET  /v1/tasks/{id}           a task with its shards and batches
//
// Every /v1 route wants `Authorization: Bearer TOKEN`: 401 without it, 403 with another one.
// Errors are JSON {"error": "..."} naming what is wrong (never a stack trace or a secret).
// Bodies over 1 MiB get 413. A submit while a task of the same policy is unfinished gets 409
// with that task's id. Policies in the directory with a `schedule` (policy/schedule.h) run by
// themselves, under the same one-at-a-time rule. HTTP from cpp-httplib (libcpp-httplib-dev).
#pragma once

#include <atomic>
#include <string>

#include "cli/service.h"
#include "core/status.h"

namespace strata {

struct ServeOptions {
  std::string listen = "127.0.0.1:8470";  // HOST:PORT; port 0 picks a free one
  std::string token;                      // required
  std::string policies_dir = ".";
  ChainConfig chain;  // bus "" = the in-process bus; worker_id is set here when the bus is shared
  const std::atomic<bool>* interrupted = nullptr;  // SIGTERM: stop taking requests, then exit
};

// Serves until interrupted. Prints "listening on http://HOST:PORT" on stdout once it accepts.
Status serve(const ServeOptions& options);

}  // namespace strata
