#include "core/log.h"
#include "functions/services.h"

namespace strata {

CancelWatch::CancelWatch(const Services& svc, std::string task_id)
    : svc_(svc), task_id_(std::move(task_id)) {}

bool CancelWatch::cancelled() {
  if (cancelled_ || svc_.state == nullptr) return cancelled_;
  const double now = monotonic_seconds();
  if (checked_at_ >= 0 && now - checked_at_ < 1.0) return false;
  checked_at_ = now;
  Result<std::optional<TaskRecord>> task = svc_.state->get_task(task_id_);
  if (!task.is_ok()) {
    spdlog::debug("task {}: cannot read whether it was cancelled: {}", task_id_,
                  task.status().message());
    return false;
  }
  cancelled_ = task->has_value() && (*task)->state == "cancelled";
  return cancelled_;
}

}  // namespace strata
