#include "connectors/prefetch_reader.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace strata {

namespace {

class PrefetchReader final : public BatchReader {
 public:
  PrefetchReader(std::unique_ptr<BatchReader> inner, std::shared_ptr<const Schema> schema,
                 size_t depth)
      : inner_(std::move(inner)), schema_(std::move(schema)), depth_(std::max<size_t>(depth, 1)) {
    thread_ = std::thread([this] { run(); });
  }

  ~PrefetchReader() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  void set_batch_rows(size_t rows) override { inner_->set_batch_rows(rows); }

  Result<bool> next(Batch& batch) override {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !ready_.empty(); });
    Item item = std::move(ready_.front());
    ready_.pop_front();
    if (!item.status.is_ok()) return item.status;
    if (!item.more) return false;
    std::swap(batch, item.batch);
    // The caller's previous buffer is reused for a later read.
    if (item.batch.schema_ptr() == schema_) spare_.push_back(std::move(item.batch));
    lock.unlock();
    cv_.notify_all();
    return true;
  }

 private:
  struct Item {
    Status status;
    bool more = false;
    Batch batch;
  };

  void run() {
    for (;;) {
      Batch b;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || ready_.size() < depth_; });
        if (stop_) return;
        if (!spare_.empty()) {
          b = std::move(spare_.back());
          spare_.pop_back();
        }
      }
      if (b.schema_ptr() != schema_) b = Batch(schema_);
      Result<bool> more = inner_->next(b);
      Item item;
      if (!more.is_ok()) {
        item.status = more.status();
      } else {
        item.more = *more;
        item.batch = std::move(b);
      }
      const bool last = !more.is_ok() || !*more;
      {
        std::lock_guard<std::mutex> lock(mu_);
        ready_.push_back(std::move(item));
      }
      cv_.notify_all();
      if (last) return;
    }
  }

  std::unique_ptr<BatchReader> inner_;
  std::shared_ptr<const Schema> schema_;
  const size_t depth_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> ready_;
  std::vector<Batch> spare_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<BatchReader> prefetching(std::unique_ptr<BatchReader> inner,
                                         std::shared_ptr<const Schema> schema, size_t depth) {
  return std::make_unique<PrefetchReader>(std::move(inner), std::move(schema), depth);
}

}  // namespace strata
