// The S3 target against a real S3 server (s3rver, started by scripts/test-servers): documents,
// listings past 1000 keys, single-PUT and multipart parts, abort and cleanup of unfinished
// uploads, ranged reads, Parquet read back through open(), conditional PUT, bad credentials,
// a missing bucket and a stopped server. Each test works under its own key prefix.
#include "connectors/s3/s3_target.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include "connectors/s3/s3_client.h"
#include "core/checksum.h"

namespace strata {
namespace {

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

std::shared_ptr<const Schema> test_schema() {
  return std::make_shared<const Schema>(
      std::vector<Column>{Column{"id", Type::kInt64, false}, Column{"name", Type::kString}});
}

// Rows with hard-to-compress names, so byte counts follow row counts.
void fill(Batch& batch, int64_t from, int64_t n, size_t name_bytes = 16) {
  batch.clear();
  std::mt19937_64 rng(static_cast<uint64_t>(from));
  std::string name(name_bytes, 'x');
  for (int64_t i = from; i < from + n; ++i) {
    batch.column(0).append_int(i);
    if (i % 7 == 0) {
      batch.column(1).append_null();
    } else {
      for (char& c : name) c = static_cast<char>('a' + rng() % 26);
      batch.column(1).append_text(name);
    }
  }
}

FormatSpec spec(const char* name) {
  FormatSpec s;
  s.name = name;
  s.compression = Compression::kNone;
  return s;
}

std::string sha256_of(std::string_view bytes) {
  Sha256 sha;
  sha.update(bytes.data(), bytes.size());
  return sha.hex_digest();
}

class S3TargetTest : public testing::Test {
 protected:
  void SetUp() override {
    endpoint_ = env_or_fail("STRATA_TEST_S3_ENDPOINT");
    bucket_ = env_or_fail("STRATA_TEST_S3_BUCKET");
    access_key_ = env_or_fail("STRATA_TEST_S3_ACCESS_KEY");
    secret_key_ = env_or_fail("STRATA_TEST_S3_SECRET_KEY");
    if (HasFailure()) GTEST_FAIL() << "no S3 test server";
    setenv("AWS_ACCESS_KEY_ID", access_key_.c_str(), 1);
    setenv("AWS_SECRET_ACCESS_KEY", secret_key_.c_str(), 1);
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_PROFILE");
    prefix_ = std::string("t-") + testing::UnitTest::GetInstance()->current_test_info()->name() +
              "-" + std::to_string(getpid());
    auto config = s3::resolve_config(bucket_, overrides());
    ASSERT_TRUE(config.is_ok()) << config.status().to_string();
    auto client = s3::S3Client::create(*config);
    ASSERT_TRUE(client.is_ok()) << client.status().to_string();
    client_ = std::move(client).value();
  }

  void TearDown() override {
    if (!client_) return;
    auto left = client_->list_objects(bucket_, prefix_ + "/");
    if (left.is_ok()) {
      for (const auto& o : *left) (void)client_->delete_object(bucket_, o.key);
    }
  }

  s3::ConfigOverrides overrides() const {
    s3::ConfigOverrides o;
    o.endpoint = endpoint_;
    return o;
  }

  std::string uri(const std::string& options = "") const {
    return "s3://" + bucket_ + "/" + prefix_ + "?endpoint=" + endpoint_ + options;
  }

  std::unique_ptr<Target> open(const std::string& options = "") {
    auto parsed = parse_uri(uri(options));
    EXPECT_TRUE(parsed.is_ok()) << parsed.status().to_string();
    auto t = open_s3_target(*parsed, "/nowhere");
    EXPECT_TRUE(t.is_ok()) << t.status().to_string();
    return t.is_ok() ? std::move(t).value() : nullptr;
  }

  // In-progress multipart uploads under this test's prefix.
  std::vector<s3::MultipartUpload> uploads() {
    auto u = client_->list_multipart_uploads(bucket_, prefix_ + "/");
    EXPECT_TRUE(u.is_ok()) << u.status().to_string();
    if (!u.is_ok()) return {};
    EXPECT_TRUE(u->has_value()) << "the test server should implement ListMultipartUploads";
    return u->value_or(std::vector<s3::MultipartUpload>{});
  }

  std::string object(const std::string& rel) {
    auto got = client_->get_object(bucket_, prefix_ + "/" + rel);
    EXPECT_TRUE(got.is_ok()) << got.status().to_string();
    return got.is_ok() && got->has_value() ? **got : "";
  }

  RowChecksum read_back(Target& target, const std::string& path, const FormatSpec& format,
                        std::shared_ptr<const Schema> schema) {
    RowChecksum sum;
    auto source = target.open(path);
    EXPECT_TRUE(source.is_ok()) << source.status().to_string();
    if (!source.is_ok()) return sum;
    ReadOptions options;
    options.schema = schema;
    auto reader = open_format_reader(format, source->get(), options);
    EXPECT_TRUE(reader.is_ok()) << reader.status().to_string();
    if (!reader.is_ok()) return sum;
    Batch in((*reader)->schema_ptr());
    for (;;) {
      auto more = (*reader)->next(in, 4096);
      EXPECT_TRUE(more.is_ok()) << more.status().to_string();
      if (!more.is_ok() || !*more) break;
      sum.add_batch(in);
    }
    return sum;
  }

  std::string endpoint_, bucket_, access_key_, secret_key_, prefix_;
  std::unique_ptr<s3::S3Client> client_;
};

TEST_F(S3TargetTest, DocumentsPutGetRemove) {
  auto target = open();
  ASSERT_TRUE(target);
  EXPECT_EQ(target->describe(), "s3://" + bucket_ + "/" + prefix_);
  auto missing = target->get("a/b.json");
  ASSERT_TRUE(missing.is_ok()) << missing.status().to_string();
  EXPECT_FALSE(missing->has_value());
  ASSERT_TRUE(target->put("a/b.json", "one").is_ok());
  ASSERT_TRUE(target->put("a/b.json", "two").is_ok());
  auto got = target->get("a/b.json");
  ASSERT_TRUE(got.is_ok());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, "two");
  EXPECT_EQ(object("a/b.json"), "two");  // under the prefix, by the client's own view
  ASSERT_TRUE(target->put("odd names/a b+c=d&e.json", "x").is_ok());
  auto odd = target->get("odd names/a b+c=d&e.json");
  ASSERT_TRUE(odd.is_ok() && odd->has_value()) << odd.status().to_string();
  EXPECT_EQ(**odd, "x");
  ASSERT_TRUE(target->remove("a/b.json").is_ok());
  ASSERT_TRUE(target->remove("a/b.json").is_ok());  // missing is fine
  got = target->get("a/b.json");
  ASSERT_TRUE(got.is_ok());
  EXPECT_FALSE(got->has_value());
  for (const char* bad : {"/etc/passwd", "../escape", "a/../../b", "", "a//b"}) {
    EXPECT_FALSE(target->put(bad, "x").is_ok()) << bad;
    EXPECT_FALSE(target->get(bad).is_ok()) << bad;
  }
}

TEST_F(S3TargetTest, ListFollowsContinuationPastAThousandKeys) {
  auto target = open();
  ASSERT_TRUE(target);
  constexpr int kKeys = 1105;
  std::vector<std::string> expected;
  for (int i = 0; i < kKeys; ++i) expected.push_back("ds/dt=1/part-" + std::to_string(i) + ".json");
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = static_cast<size_t>(t); i < expected.size(); i += 8)
        if (!target->put(expected[i], "x").is_ok()) ++failures;
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0);
  ASSERT_TRUE(target->put("ds/_strata/manifests/task1/0.json", "{}").is_ok());
  ASSERT_TRUE(target->put("ds/_strata/manifests/task10/0.json", "{}").is_ok());
  ASSERT_TRUE(target->put("other/x", "x").is_ok());
  std::sort(expected.begin(), expected.end());

  auto parts = target->list("ds/dt=1/");
  ASSERT_TRUE(parts.is_ok()) << parts.status().to_string();
  EXPECT_EQ(*parts, expected);
  auto all = target->list("");
  ASSERT_TRUE(all.is_ok());
  EXPECT_EQ(all->size(), expected.size() + 3);
  EXPECT_TRUE(std::is_sorted(all->begin(), all->end()));
  EXPECT_EQ(all->front(), "ds/_strata/manifests/task1/0.json");
  EXPECT_EQ(all->back(), "other/x");
  auto manifests = target->list("ds/_strata/manifests/task1/");
  ASSERT_TRUE(manifests.is_ok());
  EXPECT_EQ(*manifests, std::vector<std::string>{"ds/_strata/manifests/task1/0.json"});
  auto none = target->list("nothing/here/");
  ASSERT_TRUE(none.is_ok());
  EXPECT_TRUE(none->empty());
  EXPECT_FALSE(target->list("../").is_ok());
}

TEST_F(S3TargetTest, SmallPartIsOnePutAndReadsBackInRanges) {
  auto target = open();
  ASSERT_TRUE(target);
  auto schema = test_schema();
  auto part = target->create_part("ds/dt=2026-01-31/part-1.ndjson", spec("ndjson"), schema, {});
  ASSERT_TRUE(part.is_ok()) << part.status().to_string();
  Batch batch(schema);
  RowChecksum expected;
  for (int64_t b = 0; b < 5; ++b) {
    fill(batch, b * 1000, 1000);
    expected.add_batch(batch);
    ASSERT_TRUE((*part)->write(batch).is_ok());
  }
  EXPECT_EQ((*part)->rows(), 5000u);

  auto listed = target->list("");
  ASSERT_TRUE(listed.is_ok());
  EXPECT_TRUE(listed->empty());    // nothing visible before commit
  EXPECT_TRUE(uploads().empty());  // small: no multipart upload

  auto file = (*part)->commit();
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();
  EXPECT_EQ(file->path, "ds/dt=2026-01-31/part-1.ndjson");
  EXPECT_EQ(file->rows, 5000u);
  const std::string bytes = object(file->path);
  EXPECT_EQ(file->bytes, bytes.size());
  EXPECT_EQ(file->sha256, sha256_of(bytes));
  EXPECT_EQ(file->checksum, expected.to_string());
  EXPECT_FALSE((*part)->commit().is_ok());  // once only
  EXPECT_FALSE((*part)->write(batch).is_ok());
  EXPECT_EQ(read_back(*target, file->path, spec("ndjson"), schema).to_string(),
            expected.to_string());

  // Ranged reads at arbitrary offsets give the object's bytes.
  auto source = target->open(file->path);
  ASSERT_TRUE(source.is_ok()) << source.status().to_string();
  auto size = (*source)->size();
  ASSERT_TRUE(size.is_ok());
  EXPECT_EQ(*size, bytes.size());
  std::mt19937_64 rng(7);
  for (int i = 0; i < 50; ++i) {
    uint64_t off = rng() % bytes.size();
    size_t n = static_cast<size_t>(rng() % std::min<uint64_t>(bytes.size() - off, 70000)) + 1;
    if (off + n > bytes.size()) n = bytes.size() - off;
    std::string got(n, '\0');
    ASSERT_TRUE((*source)->read_at(off, n, got.data()).is_ok()) << off << "+" << n;
    ASSERT_EQ(got, bytes.substr(off, n)) << off << "+" << n;
  }
  std::string tail(10, '\0');
  Status past = (*source)->read_at(bytes.size() - 5, 10, tail.data());
  EXPECT_FALSE(past.is_ok());
  EXPECT_TRUE(past.is_permanent()) << past.to_string();
  EXPECT_FALSE(target->open("ds/missing.ndjson").is_ok());
}

TEST_F(S3TargetTest, LargePartStreamsAsAMultipartUploadOfThreeParts) {
  auto target = open("&part_size_mb=5");
  ASSERT_TRUE(target);
  auto schema = test_schema();
  const std::string path = "ds/dt=1/part-big.ndjson";
  auto part = target->create_part(path, spec("ndjson"), schema, {});
  ASSERT_TRUE(part.is_ok()) << part.status().to_string();
  Batch batch(schema);
  RowChecksum expected;
  // ~80 bytes per row: 150,000 rows ~ 12 MiB = two full 5 MiB parts and a last one.
  for (int64_t b = 0; b < 30; ++b) {
    fill(batch, b * 5000, 5000, 56);
    expected.add_batch(batch);
    ASSERT_TRUE((*part)->write(batch).is_ok());
  }
  ASSERT_GT((*part)->bytes(), 10u << 20);
  ASSERT_LT((*part)->bytes(), 15u << 20);
  // Under way: one multipart upload, no object.
  auto in_progress = uploads();
  ASSERT_EQ(in_progress.size(), 1u);
  EXPECT_EQ(in_progress[0].key, prefix_ + "/" + path);
  auto listed = target->list("");
  ASSERT_TRUE(listed.is_ok());
  EXPECT_TRUE(listed->empty());

  auto file = (*part)->commit();
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();
  const std::string bytes = object(path);
  EXPECT_EQ(file->bytes, bytes.size());
  EXPECT_EQ(file->sha256, sha256_of(bytes));
  EXPECT_EQ(file->rows, 150000u);
  EXPECT_EQ(file->checksum, expected.to_string());
  EXPECT_TRUE(uploads().empty());  // completed
  EXPECT_EQ(read_back(*target, path, spec("ndjson"), schema).to_string(), expected.to_string());
}

TEST_F(S3TargetTest, AbortAndDestructionLeaveNothing) {
  auto target = open("&part_size_mb=5");
  ASSERT_TRUE(target);
  auto schema = test_schema();
  Batch batch(schema);
  {
    auto part = target->create_part("a/p1.ndjson", spec("ndjson"), schema, {});
    ASSERT_TRUE(part.is_ok());
    for (int64_t b = 0; b < 20; ++b) {  // ~8 MiB: the upload has started
      fill(batch, b * 5000, 5000, 56);
      ASSERT_TRUE((*part)->write(batch).is_ok());
    }
    EXPECT_EQ(uploads().size(), 1u);
    (*part)->abort();
    EXPECT_FALSE((*part)->commit().is_ok());
  }
  EXPECT_TRUE(uploads().empty());
  {
    auto part = target->create_part("a/p2.ndjson", spec("ndjson"), schema, {});
    ASSERT_TRUE(part.is_ok());
    for (int64_t b = 0; b < 20; ++b) {
      fill(batch, b * 5000, 5000, 56);
      ASSERT_TRUE((*part)->write(batch).is_ok());
    }
    EXPECT_EQ(uploads().size(), 1u);
  }  // dropped without commit
  EXPECT_TRUE(uploads().empty());
  {
    auto part = target->create_part("a/p3.ndjson", spec("ndjson"), schema, {});
    ASSERT_TRUE(part.is_ok());
    fill(batch, 0, 100);
    ASSERT_TRUE((*part)->write(batch).is_ok());
  }  // small, dropped: nothing was ever sent
  auto listed = target->list("");
  ASSERT_TRUE(listed.is_ok());
  EXPECT_TRUE(listed->empty());
  EXPECT_TRUE(uploads().empty());
}

TEST_F(S3TargetTest, RemoveIncompleteAbortsWhatAKilledRunLeft) {
  auto target = open();
  ASSERT_TRUE(target);
  // What a process killed mid-part leaves: started uploads with a part or two.
  const std::string part(5 << 20, 'p');
  const std::string part_sha = sha256_of(part);
  std::vector<std::string> keys = {
      prefix_ + "/ds/dt=1/part-T-3-0.ndjson", prefix_ + "/ds/dt=2/part-T-3-1.ndjson",
      prefix_ + "/ds/dt=1/part-T-4-0.ndjson", prefix_ + "/other/part-T-3-0.ndjson"};
  for (const std::string& key : keys) {
    auto id = client_->create_multipart_upload(bucket_, key);
    ASSERT_TRUE(id.is_ok()) << id.status().to_string();
    auto etag = client_->upload_part(bucket_, key, *id, 1, part, part_sha);
    ASSERT_TRUE(etag.is_ok()) << etag.status().to_string();
  }
  ASSERT_EQ(uploads().size(), 4u);
  ASSERT_TRUE(target->remove_incomplete("ds", "part-T-3-").is_ok());
  auto left = uploads();
  std::vector<std::string> left_keys;
  for (const auto& u : left) left_keys.push_back(u.key);
  std::sort(left_keys.begin(), left_keys.end());
  EXPECT_EQ(left_keys, (std::vector<std::string>{prefix_ + "/ds/dt=1/part-T-4-0.ndjson",
                                                 prefix_ + "/other/part-T-3-0.ndjson"}));
  ASSERT_TRUE(target->remove_incomplete("ds", "part-T-3-").is_ok());  // again: nothing to do
  // Clean up the rest for the next run.
  for (const auto& u : left)
    ASSERT_TRUE(client_->abort_multipart_upload(bucket_, u.key, u.upload_id).is_ok());
  EXPECT_TRUE(uploads().empty());
  auto listed = target->list("");
  ASSERT_TRUE(listed.is_ok());
  EXPECT_TRUE(listed->empty());
}

TEST_F(S3TargetTest, ParquetPartReadsBackThroughOpen) {
  auto target = open();
  ASSERT_TRUE(target);
  auto schema = test_schema();
  FormatSpec parquet = spec("parquet");
  parquet.compression = Compression::kZstd;
  parquet.row_group_bytes = 256 * 1024;  // several row groups: reads jump around the file
  auto part = target->create_part("ds/part-1.parquet", parquet, schema, {{"strata.task", "t1"}});
  ASSERT_TRUE(part.is_ok()) << part.status().to_string();
  Batch batch(schema);
  RowChecksum expected;
  for (int64_t b = 0; b < 20; ++b) {
    fill(batch, b * 5000, 5000, 24);
    expected.add_batch(batch);
    ASSERT_TRUE((*part)->write(batch).is_ok());
  }
  auto file = (*part)->commit();
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();
  EXPECT_EQ(file->sha256, sha256_of(object("ds/part-1.parquet")));
  EXPECT_EQ(read_back(*target, "ds/part-1.parquet", parquet, nullptr).to_string(),
            expected.to_string());
  // One column only: the reader skips the others' byte ranges.
  auto source = target->open("ds/part-1.parquet");
  ASSERT_TRUE(source.is_ok());
  ReadOptions ids;
  ids.columns = {"id"};
  auto reader = open_format_reader(parquet, source->get(), ids);
  ASSERT_TRUE(reader.is_ok()) << reader.status().to_string();
  Batch in((*reader)->schema_ptr());
  uint64_t rows = 0;
  for (;;) {
    auto more = (*reader)->next(in, 8192);
    ASSERT_TRUE(more.is_ok()) << more.status().to_string();
    if (!*more) break;
    rows += in.num_rows();
  }
  EXPECT_EQ(rows, 100000u);
}

// Concurrent creates of one key: exactly one wins (the catalog and the shard manifests rely on
// it when several workers commit at once).
TEST_F(S3TargetTest, ConcurrentPutIfAbsentHasOneWinner) {
  constexpr int kThreads = 8;
  for (int round = 0; round < 5; ++round) {
    const std::string path = "ds/_strata/manifests/T/" + std::to_string(round) + ".json";
    std::vector<std::unique_ptr<Target>> targets;
    for (int i = 0; i < kThreads; ++i) {
      targets.push_back(open());
      ASSERT_TRUE(targets.back());
    }
    std::atomic<int> created{0}, failed{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        auto r = targets[i]->put_if_absent(path, "writer " + std::to_string(i));
        if (!r.is_ok()) {
          ++failed;
        } else if (*r) {
          ++created;
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(failed.load(), 0);
    EXPECT_EQ(created.load(), 1) << "round " << round;
  }
}

TEST_F(S3TargetTest, PutIfAbsentCreatesOnce) {
  auto target = open();
  ASSERT_TRUE(target);
  auto first = target->put_if_absent("ds/_strata/catalog/0001.json", "first");
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  EXPECT_TRUE(*first);
  auto second = target->put_if_absent("ds/_strata/catalog/0001.json", "second");
  ASSERT_TRUE(second.is_ok()) << second.status().to_string();
  EXPECT_FALSE(*second);
  EXPECT_EQ(object("ds/_strata/catalog/0001.json"), "first");

  // If-Match through the client: replace only the version we saw.
  const std::string key = prefix_ + "/ds/_strata/catalog/head.json";
  auto v1 = client_->put_object(bucket_, key, "v1");
  ASSERT_TRUE(v1.is_ok());
  s3::PutOptions stale;
  stale.if_match = "0123456789abcdef0123456789abcdef";
  auto refused = client_->put_object(bucket_, key, "v2", stale);
  ASSERT_TRUE(refused.is_ok()) << refused.status().to_string();
  EXPECT_FALSE(refused->written);
  s3::PutOptions current;
  current.if_match = v1->etag;
  auto replaced = client_->put_object(bucket_, key, "v2", current);
  ASSERT_TRUE(replaced.is_ok()) << replaced.status().to_string();
  EXPECT_TRUE(replaced->written);
  EXPECT_EQ(object("ds/_strata/catalog/head.json"), "v2");
}

TEST_F(S3TargetTest, CheckWritableLeavesNothing) {
  auto target = open();
  ASSERT_TRUE(target);
  ASSERT_TRUE(target->check_writable().is_ok());
  auto left = client_->list_objects(bucket_, prefix_ + "/");
  ASSERT_TRUE(left.is_ok());
  EXPECT_TRUE(left->empty());
}

TEST_F(S3TargetTest, MissingBucketIsPermanentAndNamed) {
  const std::string bucket = "strata-missing-" + std::to_string(getpid());
  auto parsed = parse_uri("s3://" + bucket + "/p?endpoint=" + endpoint_);
  ASSERT_TRUE(parsed.is_ok());
  auto target = open_s3_target(*parsed, "");
  ASSERT_TRUE(target.is_ok()) << target.status().to_string();
  Status s = (*target)->check_writable();
  ASSERT_FALSE(s.is_ok());
  EXPECT_TRUE(s.is_permanent()) << s.to_string();
  EXPECT_NE(s.message().find("bucket '" + bucket + "' does not exist"), std::string::npos)
      << s.message();
  auto got = (*target)->get("x");
  ASSERT_FALSE(got.is_ok());
  EXPECT_TRUE(got.status().is_permanent());
  auto listed = (*target)->list("");
  ASSERT_FALSE(listed.is_ok());
  EXPECT_TRUE(listed.status().is_permanent());
}

TEST_F(S3TargetTest, WrongCredentialsArePermanentAndKeepSecretsOut) {
  const std::string secret = "a-secret-that-must-not-leak-" + std::to_string(getpid());
  setenv("AWS_ACCESS_KEY_ID", "AKIANOTAKEY", 1);
  setenv("AWS_SECRET_ACCESS_KEY", secret.c_str(), 1);
  auto target = open();
  ASSERT_TRUE(target);
  EXPECT_EQ(target->describe().find(secret), std::string::npos);
  Status s = target->check_writable();
  ASSERT_FALSE(s.is_ok());
  EXPECT_TRUE(s.is_permanent()) << s.to_string();
  EXPECT_NE(s.message().find("InvalidAccessKeyId"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("check AWS_ACCESS_KEY_ID"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(bucket_), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find(secret), std::string::npos) << s.message();
  auto got = target->get("a.json");
  ASSERT_FALSE(got.is_ok());
  EXPECT_TRUE(got.status().is_permanent());
  EXPECT_EQ(got.status().message().find(secret), std::string::npos);
}

TEST_F(S3TargetTest, OptionsAreChecked) {
  for (const char* bad : {"&part_size_mb=4", "&part_size_mb=65", "&part_size_mb=x", "&colour=blue",
                          "&addressing=sideways"}) {
    auto parsed = parse_uri(uri(bad));
    ASSERT_TRUE(parsed.is_ok());
    auto t = open_s3_target(*parsed, "");
    ASSERT_FALSE(t.is_ok()) << bad;
    EXPECT_TRUE(t.status().is_permanent());
    EXPECT_NE(t.status().message().find("s3://" + bucket_), std::string::npos)
        << t.status().message();
  }
  auto with_password = parse_uri("s3://key:secret@" + bucket_ + "/p");
  ASSERT_TRUE(with_password.is_ok());
  auto t = open_s3_target(*with_password, "");
  ASSERT_FALSE(t.is_ok());
  EXPECT_EQ(t.status().message().find("secret"), std::string::npos) << t.status().message();
  auto no_bucket = parse_uri("s3:///p");
  ASSERT_TRUE(no_bucket.is_ok());
  EXPECT_FALSE(open_s3_target(*no_bucket, "").is_ok());
}

// A private server, stopped under the target: retryable errors naming the endpoint.
TEST_F(S3TargetTest, StoppedServerIsRetryable) {
  const std::string dir = testing::TempDir() + "/s3_stopped_" + std::to_string(getpid());
  const std::string script = std::string(STRATA_SOURCE_DIR) + "/scripts/test-servers";
  ASSERT_EQ(std::system((script + " start " + dir + " --only s3 >/dev/null").c_str()), 0);
  struct Stop {
    std::string cmd;
    ~Stop() { (void)std::system(cmd.c_str()); }
  } stop{script + " stop " + dir + " >/dev/null; rm -rf " + dir};
  std::string port;
  {
    FILE* f = std::fopen((dir + "/env").c_str(), "r");
    ASSERT_NE(f, nullptr);
    char line[512];
    while (std::fgets(line, sizeof line, f)) {
      std::string l(line);
      const std::string key = "export STRATA_TEST_S3_PORT=";
      if (l.rfind(key, 0) == 0) port = l.substr(key.size(), l.find_first_of("\r\n") - key.size());
    }
    std::fclose(f);
  }
  ASSERT_FALSE(port.empty());
  const std::string private_endpoint = "http://127.0.0.1:" + port;
  auto parsed = parse_uri("s3://" + bucket_ + "/" + prefix_ + "?endpoint=" + private_endpoint);
  ASSERT_TRUE(parsed.is_ok());
  auto target = open_s3_target(*parsed, "");
  ASSERT_TRUE(target.is_ok()) << target.status().to_string();
  ASSERT_TRUE((*target)->put("a.json", "1").is_ok());

  ASSERT_EQ(std::system((script + " stop " + dir + " >/dev/null").c_str()), 0);
  Status s = (*target)->put("b.json", "2");
  ASSERT_FALSE(s.is_ok());
  EXPECT_TRUE(s.is_retryable()) << s.to_string();
  EXPECT_NE(s.message().find(private_endpoint), std::string::npos) << s.message();
  auto got = (*target)->get("a.json");
  ASSERT_FALSE(got.is_ok());
  EXPECT_TRUE(got.status().is_retryable()) << got.status().to_string();
  auto listed = (*target)->list("");
  EXPECT_TRUE(!listed.is_ok() && listed.status().is_retryable());
}

}  // namespace
}  // namespace strata
