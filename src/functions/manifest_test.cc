#include "functions/manifest.h"

#include <gtest/gtest.h>

#include "functions/task.h"

namespace strata {
namespace {

TEST(Manifest, JsonRoundTrip) {
  ShardManifest m;
  m.task_id = "20261126T120000-abcdef";
  m.shard = 3;
  m.dataset = "telemetry";
  m.source = "sqlite://x.db";
  m.table = "telemetry";
  m.key_columns = {"id"};
  m.time_column = "ts";
  m.range = {Value::of_int(10), Value::of_int(20)};
  m.schema = Schema(
      {{"id", Type::kInt64, false}, {"amount", Type::kDecimal, true, 12, 2, "DECIMAL(12,2)"}});
  ManifestFile f;
  f.path = "telemetry/dt=2026-01-01/part-x-3-0.ndjson.zst";
  f.format = "ndjson";
  f.compression = "zstd";
  f.partition = "dt=2026-01-01";
  f.rows = 11;
  f.bytes = 1234;
  f.sha256 = std::string(64, 'a');
  f.checksum = "11:" + std::string(32, '0');
  f.key_min = Value::of_int(10);
  f.key_max = Value::of_int(20);
  f.time_min = 5;
  m.files.push_back(f);
  m.rows = 11;
  m.checksum = f.checksum;
  auto back = ShardManifest::from_json(m.to_json());
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_EQ(back->to_json(), m.to_json());
  EXPECT_EQ(back->schema, m.schema);
  EXPECT_EQ(back->files[0].time_min, 5);
  EXPECT_FALSE(back->files[0].time_max.has_value());
}

TEST(Manifest, RejectsNewerVersionsAndGarbage) {
  nlohmann::json j = {{"version", 2}};
  auto r = ShardManifest::from_json(j);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("upgrade"), std::string::npos);
  EXPECT_FALSE(ShardManifest::from_json(nlohmann::json::array()).is_ok());
  EXPECT_FALSE(ShardManifest::from_json({{"version", 1}}).is_ok());
}

TEST(Predicate, JsonRoundTrip) {
  Predicate p;
  p.time_before = 1000;
  p.key_from = Value::of_text("k");
  p.where = "a > 1";
  auto back = predicate_from_json(predicate_to_json(p));
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(back->time_before, 1000);
  EXPECT_FALSE(back->time_from.has_value());
  EXPECT_EQ(back->key_from->as_text(), "k");
  EXPECT_EQ(back->where, "a > 1");
}

}  // namespace
}  // namespace strata
