#include "cli/progress.h"

#include <cstdio>

#include "core/clock.h"
#include "core/log.h"
#include "core/schema.h"
#include "functions/services.h"

namespace strata {

namespace {

std::string bar(double fraction, int width) {
  fraction = std::max(0.0, std::min(1.0, fraction));
  int full = static_cast<int>(fraction * width);
  std::string s = "[";
  for (int i = 0; i < width; ++i) s += i < full ? "=" : (i == full ? ">" : " ");
  return s + "]";
}

std::string count(int64_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > (n < 0 ? 1 : 0); i -= 3) s.insert(i, ",");
  return s;
}

}  // namespace

Progress::Progress(bool tty, double interval_s) : tty_(tty), interval_s_(interval_s) {}

Progress::~Progress() { stop(); }

Handler Progress::handler() {
  return [this](Context&, const Event& ev) {
    on_event(ev);
    return Status::ok();
  };
}

void Progress::start() {
  started_ = monotonic_seconds();
  thread_ = std::thread([this] { render_loop(); });
}

void Progress::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  draw(true);
}

void Progress::on_event(const Event& ev) {
  std::lock_guard<std::mutex> lock(mu_);
  const Json& d = ev.data;
  if (ev.type == kTaskPlanned) {
    task_id_ = d.value("task_id", "");
    for (const Json& s : d.value("shards", Json::array())) {
      ShardView& v = shards_[s.value("index", 0)];
      v.state = "pending";
      v.estimated = s.value("estimated_rows", int64_t{0});
      estimated_total_ += v.estimated;
    }
    return;
  }
  if (!d.contains("shard") || !d["shard"].is_number()) return;
  ShardView& v = shards_[d["shard"].get<int>()];
  if (ev.type == kShardStarted) {
    v.state = "archiving";
  } else if (ev.type == kBatchArchived) {
    v.rows = d.value("shard_rows", v.rows);
  } else if (ev.type == kShardArchived) {
    v.rows = d.value("rows", v.rows);
    move_ = d.value("move", false);
    v.state = move_ ? "purging" : "done";
  } else if (ev.type == kPurgeProgress) {
    v.state = "purging";
    v.purged = d.value("rows_purged", v.purged);
  } else if (ev.type == kShardPurged) {
    v.purged = d.value("rows_purged", v.purged);
    v.state = "done";
  } else if (ev.type == kShardFailed) {
    v.state = "failed";
  }
}

void Progress::render_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  const auto period = tty_ ? std::chrono::milliseconds(100)
                           : std::chrono::milliseconds(static_cast<int>(interval_s_ * 1000));
  while (!cv_.wait_for(lock, period, [this] { return stopping_; })) draw(false);
}

void Progress::draw(bool final) {
  int64_t rows = 0, purged = 0;
  int done = 0, failed = 0;
  for (const auto& [i, v] : shards_) {
    rows += v.rows;
    purged += v.purged;
    done += v.state == "done";
    failed += v.state == "failed";
  }
  const double elapsed = monotonic_seconds() - started_;
  const double rate = elapsed > 0 ? static_cast<double>(rows) / elapsed : 0;
  if (!tty_) {
    if (final || shards_.empty()) return;
    // Plain lines for logs and pipes, whatever the log level.
    std::string line = fmt::format(
        "{} progress task={} shards_done={}/{} failed={} rows_archived={}{} rows_per_s={:.0f}\n",
        format_timestamp(system_clock().now_micros()).substr(0, 19), task_id_, done, shards_.size(),
        failed, rows, move_ ? fmt::format(" rows_purged={}", purged) : "", rate);
    std::fputs(line.c_str(), stderr);
    return;
  }
  std::string out;
  for (int i = 0; i < lines_drawn_; ++i) out += "\x1b[1A\x1b[2K";
  lines_drawn_ = 0;
  if (!final) {
    for (const auto& [i, v] : shards_) {
      if (v.state != "archiving" && v.state != "purging") continue;
      double f = v.state == "purging"
                     ? (v.rows ? static_cast<double>(v.purged) / v.rows : 1)
                     : (v.estimated ? static_cast<double>(v.rows) / v.estimated : 0);
      char line[256];
      std::snprintf(line, sizeof line, "  shard %-4d %-9s %s %s rows\n", i, v.state.c_str(),
                    bar(f, 30).c_str(), count(v.state == "purging" ? v.purged : v.rows).c_str());
      out += line;
      ++lines_drawn_;
    }
    char line[256];
    double f =
        estimated_total_ ? static_cast<double>(rows) / static_cast<double>(estimated_total_) : 0;
    std::snprintf(line, sizeof line, "  total %d/%zu %s %s rows  %s rows/s\n", done, shards_.size(),
                  bar(f, 30).c_str(), count(rows).c_str(),
                  count(static_cast<int64_t>(rate)).c_str());
    out += line;
    ++lines_drawn_;
  }
  std::fputs(out.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace strata
