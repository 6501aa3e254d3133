// Live progress of a run, fed by strata.status events: on a terminal, a bar per running shard
// and a total bar, redrawn in place; otherwise a plain log line every few seconds.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "runtime/bus.h"

namespace strata {

class Progress {
 public:
  // `tty`: draw bars on stderr; else log lines every `interval_s` seconds.
  Progress(bool tty, double interval_s = 5.0);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // The handler to subscribe to strata.status.
  Handler handler();
  void start();
  // Stops drawing and clears the bars.
  void stop();

 private:
  struct ShardView {
    std::string state;
    int64_t rows = 0;
    int64_t estimated = 0;
    int64_t purged = 0;
  };
  void on_event(const Event& ev);
  void render_loop();
  void draw(bool final);

  bool tty_;
  double interval_s_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
  std::map<int, ShardView> shards_;
  int64_t estimated_total_ = 0;
  bool move_ = false;
  int lines_drawn_ = 0;
  double started_ = 0;
  std::string task_id_;
};

}  // namespace strata
