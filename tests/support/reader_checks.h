// Test support: checks any source's BatchReader must pass, shared by the connector tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "connectors/prefetch_reader.h"
#include "connectors/source.h"

namespace strata::testing_support {

// `reader` streams a table whose first column holds the ids 1..rows in order, in batches of
// 1,000: after the first batch the batch size drops to 300 (through the read-ahead, as the
// archive does it). Later batches must hold at most 300 rows (one read ahead at the old size
// excepted), and every row must come once, in order.
inline void expect_batch_size_shrinks_mid_stream(std::unique_ptr<BatchReader> inner,
                                                 std::shared_ptr<const Schema> schema,
                                                 int64_t rows) {
  std::unique_ptr<BatchReader> reader = prefetching(std::move(inner), schema);
  Batch batch(schema);
  std::vector<size_t> sizes;
  int64_t next_id = 1;
  for (;;) {
    auto more = reader->next(batch);
    ASSERT_TRUE(more.is_ok()) << more.status().to_string();
    if (!*more) break;
    sizes.push_back(batch.num_rows());
    for (size_t i = 0; i < batch.num_rows(); ++i) ASSERT_EQ(batch.column(0).int_at(i), next_id++);
    if (sizes.size() == 1) reader->set_batch_rows(300);
  }
  EXPECT_EQ(next_id, rows + 1);
  ASSERT_GE(sizes.size(), 3u);
  EXPECT_EQ(sizes[0], 1000u);
  for (size_t i = 2; i < sizes.size(); ++i) EXPECT_LE(sizes[i], 300u) << i;
}

}  // namespace strata::testing_support
