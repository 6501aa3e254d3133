// End to end into object storage: the strata binary moves the demo's old rows into Parquet parts
// on the S3 server of scripts/test-servers (s3rver), `strata verify` re-reads them, and the test
// reads every part back through the S3 target (its own Parquet reader; DuckDB's httpfs would need
// a download) to check that archive + remaining source = the original rows, no key twice.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>

#include "connectors/s3/s3_client.h"
#include "connectors/s3/s3_target.h"
#include "tests/e2e/e2e_support.h"

namespace strata::e2e {
namespace {

using testing_support::fresh_dir;

std::string env_or_fail(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) {
    ADD_FAILURE() << name
                  << " is not set: run the tests through `make test` or scripts/run-tests, which "
                     "start the S3 server (scripts/test-servers)";
    return "";
  }
  return v;
}

std::set<int64_t> source_ids(const std::string& db) {
  std::set<int64_t> out;
  for (const auto& row : sqlite_rows(db, "SELECT id FROM telemetry"))
    out.insert(std::stoll(*row[0]));
  return out;
}

TEST(S3EndToEnd, MovesTheDemoIntoParquetOnS3) {
  const std::string endpoint = env_or_fail("STRATA_TEST_S3_ENDPOINT");
  const std::string bucket = env_or_fail("STRATA_TEST_S3_BUCKET");
  const std::string access_key = env_or_fail("STRATA_TEST_S3_ACCESS_KEY");
  const std::string secret_key = env_or_fail("STRATA_TEST_S3_SECRET_KEY");
  ASSERT_FALSE(HasFailure());
  setenv("AWS_ACCESS_KEY_ID", access_key.c_str(), 1);  // inherited by the strata process
  setenv("AWS_SECRET_ACCESS_KEY", secret_key.c_str(), 1);
  unsetenv("AWS_SESSION_TOKEN");
  unsetenv("AWS_PROFILE");

  const std::string dir = fresh_dir("s3-e2e");
  auto demo = run_strata({"demo", "--rows", "20000", "--dir", dir, "--no-run"}, dir);
  ASSERT_EQ(demo.exit_code, 0) << demo.err;
  const std::string db = dir + "/telemetry.db";
  const std::set<int64_t> original = source_ids(db);
  const int64_t eligible = sqlite_count(db, "telemetry", "ts < datetime('now', '-30 days')");
  ASSERT_GT(eligible, 10000);

  const std::string prefix = "e2e-" + std::to_string(getpid());
  const std::string target_uri = "s3://" + bucket + "/" + prefix + "?endpoint=" + endpoint;
  write_file(dir + "/p.yaml",
             "name: telemetry\n"
             "source: {uri: sqlite://telemetry.db, table: telemetry, key: id, "
             "time: ts}\n"
             "selection: {older_than: 30d}\n"
             "split: {shard_rows: 4000, parallel: 2}\n"
             "batch: {rows: 1000}\n"
             "targets:\n"
             "  - uri: " +
                 target_uri +
                 "\n"
                 "    format: parquet\n"
                 "    layout: 'dt={ts:%Y-%m-%d}'\n"
                 "mode: move\n");
  auto r = run_strata({"run", "p.yaml", "--json"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["state"], "succeeded");
  EXPECT_NEAR(report["rows"].get<double>(), static_cast<double>(eligible), 5);
  EXPECT_EQ(report["rows_purged"], report["rows"]);

  auto v = run_strata({"verify", target_uri}, dir);
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_NE(v.out.find("all good"), std::string::npos) << v.out;
  auto deep = run_strata({"verify", target_uri, "--deep"}, dir);
  EXPECT_EQ(deep.exit_code, 0) << deep.out << deep.err;

  // The catalog on S3 lists what was archived; a restore from S3 brings every row back.
  auto ls = run_strata({"ls", target_uri, "--json"}, dir);
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  auto lj = nlohmann::json::parse(ls.out);
  ASSERT_EQ(lj["datasets"].size(), 1u) << ls.out;
  EXPECT_EQ(lj["datasets"][0]["rows"], report["rows"]);
  auto back = run_strata({"restore", target_uri, "--dataset", "telemetry", "--into",
                          "sqlite://back.db?table=t", "--json"},
                         dir);
  ASSERT_EQ(back.exit_code, 0) << back.err << back.out;
  EXPECT_EQ(sqlite_count(dir + "/back.db", "t"), report["rows"].get<int64_t>());

  // Every part, read back through the target: archive + source = original, no key twice.
  auto parsed = parse_uri(target_uri);
  ASSERT_TRUE(parsed.is_ok());
  auto target = open_s3_target(*parsed, dir);
  ASSERT_TRUE(target.is_ok()) << target.status().to_string();
  auto objects = (*target)->list("telemetry/");
  ASSERT_TRUE(objects.is_ok()) << objects.status().to_string();
  std::set<int64_t> archived;
  int parts = 0, manifests = 0;
  for (const std::string& path : *objects) {
    if (path.find("/_strata/") != std::string::npos) {
      EXPECT_EQ(path.find("/_strata/pending/"), std::string::npos) << path;
      if (path.find("/_strata/manifests/") != std::string::npos) ++manifests;
      continue;
    }
    ASSERT_NE(path.find("telemetry/dt=20"), std::string::npos) << path;
    ASSERT_EQ(path.substr(path.size() - 8), ".parquet") << path;
    ++parts;
    auto source = (*target)->open(path);
    ASSERT_TRUE(source.is_ok()) << source.status().to_string();
    auto format = format_spec_from_path(path);
    ASSERT_TRUE(format.is_ok());
    ReadOptions options;
    options.columns = {"id"};
    auto reader = open_format_reader(*format, source->get(), options);
    ASSERT_TRUE(reader.is_ok()) << reader.status().to_string();
    Batch batch((*reader)->schema_ptr());
    for (;;) {
      auto more = (*reader)->next(batch, 8192);
      ASSERT_TRUE(more.is_ok()) << more.status().to_string();
      if (!*more) break;
      for (size_t i = 0; i < batch.num_rows(); ++i) {
        EXPECT_TRUE(archived.insert(batch.column(0).int_at(i)).second)
            << "key " << batch.column(0).int_at(i) << " archived twice";
      }
    }
  }
  EXPECT_GT(parts, 20);
  EXPECT_EQ(manifests, report["shards"]["total"].get<int>());  // one per shard
  EXPECT_EQ(static_cast<int64_t>(archived.size()), report["rows"].get<int64_t>());
  std::set<int64_t> remaining = source_ids(db);
  std::set<int64_t> all = archived;
  for (int64_t id : remaining) EXPECT_TRUE(all.insert(id).second) << "key " << id << " in both";
  EXPECT_EQ(all, original);

  // Nothing half-uploaded is left behind.
  s3::ConfigOverrides o;
  o.endpoint = endpoint;
  auto config = s3::resolve_config(bucket, o);
  ASSERT_TRUE(config.is_ok());
  auto client = s3::S3Client::create(*config);
  ASSERT_TRUE(client.is_ok());
  auto uploads = (*client)->list_multipart_uploads(bucket, prefix + "/");
  ASSERT_TRUE(uploads.is_ok() && uploads->has_value());
  EXPECT_TRUE((*uploads)->empty());

  // A second run finds nothing more to move.
  auto again = run_strata({"run", "p.yaml", "--json"}, dir);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(nlohmann::json::parse(again.out)["rows"], 0);

  auto all_objects = (*client)->list_objects(bucket, prefix + "/");
  if (all_objects.is_ok()) {
    for (const auto& obj : *all_objects) (void)(*client)->delete_object(bucket, obj.key);
  }
}

}  // namespace
}  // namespace strata::e2e
