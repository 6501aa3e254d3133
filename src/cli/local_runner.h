// Runs tasks on one machine with embedded defaults: the SQLite state store, the in-process bus
// and the whole chain of functions in this process.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "functions/functions.h"
#include "runtime/bus.h"
#include "runtime/state_store.h"

namespace strata {

struct LocalRunOptions {
  std::string state_path = ".strata/state.db";
  std::string resume_task;  // empty: resume the latest unfinished task of the policy, or start one
  bool no_resume = false;   // always start a new task
  // Stops the run (Ctrl-C); checked while waiting.
  const std::atomic<bool>* interrupted = nullptr;
  // Extra subscriber to strata.status (progress display); may be empty.
  Handler on_status;
};

struct LocalRunResult {
  TaskRecord task;
  bool resumed = false;
  bool interrupted = false;
  double seconds = 0;  // wall time of this run
};

// Runs `policy` to completion (or until interrupted). Errors are about the run itself (state
// store unusable, unknown task id); a failed task is a result with task.state == "failed".
Result<LocalRunResult> run_locally(const Policy& policy, const LocalRunOptions& options);

}  // namespace strata
