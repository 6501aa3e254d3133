#include "functions/throttle.h"

#include <gtest/gtest.h>

#include "core/clock.h"

namespace strata {
namespace {

TEST(Throttle, LimitsRate) {
  Throttle t(10000);
  double start = monotonic_seconds();
  for (int i = 0; i < 15; ++i) t.acquire(1000);  // 15k rows at 10k rows/s
  double elapsed = monotonic_seconds() - start;
  EXPECT_GE(elapsed, 1.3);
  EXPECT_LT(elapsed, 2.5);
}

TEST(Throttle, UnlimitedNeverWaits) {
  Throttle t(0);
  double start = monotonic_seconds();
  t.acquire(1000000000);
  EXPECT_LT(monotonic_seconds() - start, 0.05);
}

TEST(ThrottleRegistry, SharesPerKey) {
  ThrottleRegistry r;
  EXPECT_EQ(r.get("a", 5).get(), r.get("a", 5).get());
  EXPECT_NE(r.get("a", 5).get(), r.get("b", 5).get());
}

}  // namespace
}  // namespace strata
