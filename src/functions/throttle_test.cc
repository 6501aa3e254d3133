#include "functions/throttle.h"

#include <gtest/gtest.h>

#include "core/clock.h"

namespace strata {
namespace {

TEST(Throttle, LimitsRate) {
  Throttle t(10000);  // one second of burst, then 10k rows/s
  double start = monotonic_seconds();
  for (int i = 0; i < 15; ++i) t.acquire(1000);  // 15k rows: 10k burst + 5k at 10k/s
  double elapsed = monotonic_seconds() - start;
  EXPECT_GE(elapsed, 0.4);
  EXPECT_LT(elapsed, 2.0);
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
