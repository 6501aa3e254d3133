// One open source per task in this process, shared by the task's functions.
//
// A source holds a pool of sessions and what it read from the catalog about the table. Opened
// anew by every function, each shard would log in (PostgreSQL: a SCRAM exchange and a new
// backend; MySQL: a handshake) and describe the table again (a dozen catalog queries) before its
// first row. Kept here, the split's planning sessions and the description serve every archive
// and purge of the task instead.
//
// An entry is closed when no function has used it for `idle` (a background sweep once a second),
// and dropped at once when a function of its task fails, so that a retry starts from new
// sessions and a new description (the table may have changed, the server restarted).
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "connectors/registry.h"
#include "connectors/source.h"
#include "core/status.h"

namespace strata {

class SourceCache {
 public:
  explicit SourceCache(std::chrono::milliseconds idle = std::chrono::seconds(5));
  ~SourceCache();
  SourceCache(const SourceCache&) = delete;
  SourceCache& operator=(const SourceCache&) = delete;

  // The task's source for `spec`: the cached one, or one opened now and cached.
  Result<std::shared_ptr<Source>> open(const Registry& registry, const std::string& task_id,
                                       const SourceSpec& spec);
  // Drops the task's sources (the functions using one keep it until they return).
  void forget(const std::string& task_id);
  size_t size() const;

 private:
  struct Entry {
    std::shared_ptr<Source> source;
    std::chrono::steady_clock::time_point used;
  };
  void sweep_loop();

  const std::chrono::milliseconds idle_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::map<std::string, Entry> entries_;  // by task id, then the spec
  std::thread sweeper_;
};

}  // namespace strata
