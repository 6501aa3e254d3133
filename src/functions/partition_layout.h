// Hive-style partition folders from a layout template such as "dt={ts:%Y-%m-%d}" or
// "vehicle={vehicle_id}/day={ts:%d}". A placeholder names a column and, for timestamp and date
// columns, an strftime format (UTC). Values are escaped so a partition is always one folder name
// per segment; NULL becomes __HIVE_DEFAULT_PARTITION__ as Hive and engines expect.
#pragma once

#include <string>
#include <vector>

#include "core/schema.h"
#include "core/status.h"

namespace strata {

class PartitionLayout {
 public:
  // An empty template gives a layout with no partitions. Errors name the placeholder.
  static Result<PartitionLayout> parse(const std::string& layout, const Schema& schema);

  bool empty() const { return segments_.empty(); }
  // Writes the partition path of `row` into `out` (cleared first). Not thread-safe (caches the
  // last formatted time so runs of rows in one day cost one strftime).
  void partition_of(const Batch& batch, size_t row, std::string& out);

 private:
  struct Segment {
    std::string literal;  // text before the placeholder
    int column = -1;      // -1: literal only
    Type type = Type::kString;
    std::string time_format;
    int64_t cached_second = INT64_MIN;
    std::string cached;
  };
  std::vector<Segment> segments_;
  std::string tail_;  // literal after the last placeholder
};

}  // namespace strata
