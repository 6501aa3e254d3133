// Errors as values. A Status carries a verdict the runtime acts on (retry, fail, stop) and a
// message that names the thing that failed and says what to do about it.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace strata {

enum class StatusCode {
  kOk,
  kRetryable,  // transient: connection lost, lock timeout, 5xx. Back off and try again.
  kPermanent,  // bad config, missing table, corrupt file. Retrying will not help.
  kCancelled,  // the task or process is stopping.
};

const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status ok() { return Status(); }
  static Status retryable(std::string message) {
    return Status(StatusCode::kRetryable, std::move(message));
  }
  static Status permanent(std::string message) {
    return Status(StatusCode::kPermanent, std::move(message));
  }
  static Status cancelled(std::string message) {
    return Status(StatusCode::kCancelled, std::move(message));
  }

  bool is_ok() const { return code_ == StatusCode::kOk; }
  bool is_retryable() const { return code_ == StatusCode::kRetryable; }
  bool is_permanent() const { return code_ == StatusCode::kPermanent; }
  bool is_cancelled() const { return code_ == StatusCode::kCancelled; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns a copy whose message is "<context>: <message>", same verdict.
  Status with_context(const std::string& context) const;
  // "ok", or "retryable: <message>" etc.
  std::string to_string() const;

 private:
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).is_ok() && "Result built from an ok Status");
  }

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return is_ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace strata

#define STRATA_CONCAT_INNER(a, b) a##b
#define STRATA_CONCAT(a, b) STRATA_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function if `expr` (a Status) is not ok.
#define STRATA_TRY(expr)                                        \
  do {                                                          \
    ::strata::Status strata_try_status_ = (expr);               \
    if (!strata_try_status_.is_ok()) return strata_try_status_; \
  } while (0)

// `lhs` = value of `rexpr` (a Result<T>), or return its Status.
#define STRATA_ASSIGN_OR_RETURN(lhs, rexpr) \
  STRATA_ASSIGN_OR_RETURN_IMPL(STRATA_CONCAT(strata_result_, __LINE__), lhs, rexpr)
#define STRATA_ASSIGN_OR_RETURN_IMPL(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                 \
  if (!tmp.is_ok()) return tmp.status();              \
  lhs = std::move(tmp).value()
