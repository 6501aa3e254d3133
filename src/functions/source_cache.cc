#include "functions/source_cache.h"

#include "functions/services.h"

#include <utility>
#include <vector>

namespace strata {
namespace {

// Everything that makes two specs open different sources, with the task first so that
// forget() finds a task's entries as one range.
std::string entry_key(const std::string& task_id, const SourceSpec& spec) {
  std::string k = task_id;
  auto add = [&](const std::string& part) {
    k += '\0';
    k += part;
  };
  add(spec.uri);
  add(spec.table);
  add(spec.time_column);
  add(spec.where);
  add(spec.base_dir);
  for (const std::string& c : spec.key_columns) add("k:" + c);
  for (const std::string& c : spec.exclude_columns) add("x:" + c);
  return k;
}

}  // namespace

SourceCache::SourceCache(std::chrono::milliseconds idle)
    : idle_(idle), sweeper_([this] { sweep_loop(); }) {}

SourceCache::~SourceCache() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  sweeper_.join();
}

Result<std::shared_ptr<Source>> SourceCache::open(const Registry& registry,
                                                  const std::string& task_id,
                                                  const SourceSpec& spec) {
  const std::string key = entry_key(task_id, spec);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      it->second.used = std::chrono::steady_clock::now();
      return it->second.source;
    }
  }
  // Opened outside the lock (opening connects to nothing yet, but a factory may check a file).
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Source> opened, registry.open_source(spec));
  std::shared_ptr<Source> source(std::move(opened));
  std::lock_guard<std::mutex> lock(mu_);
  // Two functions of a task may open at once: the first one cached serves both from now on.
  auto [it, inserted] = entries_.try_emplace(key, Entry{source, {}});
  it->second.used = std::chrono::steady_clock::now();
  return it->second.source;
}

void SourceCache::forget(const std::string& task_id) {
  std::vector<std::shared_ptr<Source>> dropped;  // closed after the lock is released
  {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string prefix = task_id + '\0';
    for (auto it = entries_.lower_bound(prefix);
         it != entries_.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
      dropped.push_back(std::move(it->second.source));
      it = entries_.erase(it);
    }
  }
}

size_t SourceCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

void SourceCache::sweep_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    wake_.wait_for(lock, std::min<std::chrono::milliseconds>(idle_, std::chrono::seconds(1)));
    std::vector<std::shared_ptr<Source>> dropped;
    const auto now = std::chrono::steady_clock::now();
    for (auto it = entries_.begin(); it != entries_.end();) {
      // In use (a function holds it) counts as used now.
      if (it->second.source.use_count() > 1) it->second.used = now;
      if (now - it->second.used >= idle_) {
        dropped.push_back(std::move(it->second.source));
        it = entries_.erase(it);
      } else {
        ++it;
      }
    }
    lock.unlock();
    dropped.clear();  // closes their sessions outside the lock
    lock.lock();
  }
  entries_.clear();
}

Result<std::shared_ptr<Source>> open_task_source(const Services& svc, const std::string& task_id,
                                                 const SourceSpec& spec) {
  if (svc.sources != nullptr) return svc.sources->open(*svc.registry, task_id, spec);
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Source> source, svc.registry->open_source(spec));
  return std::shared_ptr<Source>(std::move(source));
}

Status forget_source_on_failure(const Services& svc, const Json& event_data, Status s) {
  if (!s.is_ok() && svc.sources != nullptr && event_data.is_object() &&
      event_data.contains("task_id") && event_data["task_id"].is_string()) {
    svc.sources->forget(event_data["task_id"].get<std::string>());
  }
  return s;
}

}  // namespace strata
