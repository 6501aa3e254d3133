// Two overlapping attempts of one shard (a worker that lost its lease still running while another
// took the shard over): each removes only its own files; the first commit wins and the later
// attempt gets the winner's manifest; a new attempt's start() never removes committed files.
#include "functions/shard_writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "connectors/file/file_target.h"
#include "core/fs.h"
#include "tests/support/duckdb.h"

namespace strata {
namespace {

using testing_support::fresh_dir;

class ShardWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    auto uri = parse_uri("file://" + dir_);
    auto t = open_file_target(*uri, "");
    ASSERT_TRUE(t.is_ok()) << t.status().to_string();
    target_ = std::move(t).value();
    schema_ = std::make_shared<const Schema>(
        std::vector<Column>{{"id", Type::kInt64, false}, {"v", Type::kString, true}});
  }

  std::unique_ptr<ShardWriter> writer(Pace pace = {}) {
    ShardWriterOptions o;
    o.pace = std::move(pace);
    o.task_id = "T";
    o.shard = 3;
    o.dataset = "ds";
    o.format = *make_format_spec("ndjson", "none", 0);
    o.key_column = "id";
    auto w = std::make_unique<ShardWriter>(*target_, o, schema_);
    EXPECT_TRUE(w->start().is_ok());
    return w;
  }
  Batch rows(int from, int to) {
    Batch b(schema_);
    for (int i = from; i < to; ++i) {
      b.column(0).append_int(i);
      b.column(1).append_text("v" + std::to_string(i));
    }
    return b;
  }
  ShardManifest base() {
    ShardManifest m;
    m.task_id = "T";
    m.shard = 3;
    m.dataset = "ds";
    m.schema = *schema_;
    return m;
  }
  std::vector<std::string> files() {
    auto l = target_->list("ds/");
    EXPECT_TRUE(l.is_ok());
    std::vector<std::string> out;
    for (const std::string& p : *l) {
      if (p.find("/_strata/") == std::string::npos) out.push_back(p);
    }
    return out;
  }

  std::string dir_;
  std::unique_ptr<Target> target_;
  std::shared_ptr<const Schema> schema_;
};

TEST_F(ShardWriterTest, TheFirstCommitWinsTheLaterAttemptRemovesOnlyItsOwnParts) {
  auto a = writer();
  ASSERT_TRUE(a->write(rows(0, 10)).is_ok());
  auto b = writer();  // takes the shard over while `a` still runs
  EXPECT_NE(a->attempt(), b->attempt());
  ASSERT_TRUE(b->write(rows(0, 10)).is_ok());
  auto won = b->commit(base());
  ASSERT_TRUE(won.is_ok()) << won.status().to_string();
  ASSERT_EQ(won->files.size(), 1u);
  EXPECT_NE(won->files[0].path.find(b->attempt()), std::string::npos);

  auto lost = a->commit(base());
  ASSERT_TRUE(lost.is_ok()) << lost.status().to_string();
  ASSERT_EQ(lost->files.size(), 1u);
  EXPECT_EQ(lost->files[0].path, won->files[0].path) << "the winner's manifest";
  EXPECT_EQ(files(), std::vector<std::string>{won->files[0].path}) << "a's part was left";
  // An abort after the shard was committed by the other attempt removes nothing of it.
  a->abort();
  EXPECT_EQ(files(), std::vector<std::string>{won->files[0].path});
}

// The verification at commit decodes the whole file; beside a busy source it goes in steps the
// throttle paces, like the reads.
TEST_F(ShardWriterTest, TheVerificationAtCommitIsPacedStepByStep) {
  int steps = 0;
  auto w = writer([&](std::chrono::steady_clock::duration took) {
    EXPECT_GE(took.count(), 0);
    ++steps;
  });
  ASSERT_TRUE(w->write(rows(0, 50'000)).is_ok());
  EXPECT_EQ(steps, 0);  // nothing is verified before the commit
  auto m = w->commit(base());
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  EXPECT_EQ(m->rows, 50'000u);
  EXPECT_EQ(steps, 7);  // 50,000 rows in steps of 8,192
}

TEST_F(ShardWriterTest, AnAbortingAttemptNeverRemovesTheOtherAttemptsFiles) {
  auto a = writer();
  ASSERT_TRUE(a->write(rows(0, 10)).is_ok());
  ASSERT_TRUE(a->commit(base()).is_ok());
  const std::vector<std::string> committed = files();
  ASSERT_EQ(committed.size(), 1u);
  // A late attempt (its worker lost the lease) starts, writes, then aborts.
  auto late = writer();
  EXPECT_EQ(files(), committed) << "start() removed committed files";
  ASSERT_TRUE(late->write(rows(0, 10)).is_ok());
  late->abort();
  EXPECT_EQ(files(), committed);
  auto m = load_manifest(*target_, "ds", "T", 3);
  ASSERT_TRUE(m.is_ok() && m->has_value());
  EXPECT_EQ((*m)->files[0].path, committed[0]);
}

TEST_F(ShardWriterTest, StartRemovesWhatAnInterruptedAttemptLeft) {
  auto crashed = writer();
  ASSERT_TRUE(crashed->write(rows(0, 10)).is_ok());
  auto closing = crashed->commit(base());  // commit, then pretend the manifest never landed
  ASSERT_TRUE(closing.is_ok());
  const std::string part = closing->files[0].path;
  ASSERT_TRUE(target_->remove("ds/_strata/manifests/T/3.json").is_ok());
  ASSERT_TRUE(target_
                  ->put("ds/_strata/pending/T/3.deadbeef.json",
                        "{\"task_id\":\"T\",\"shard\":3,\"files\":[\"" + part + "\"]}")
                  .is_ok());
  auto next = writer();
  EXPECT_TRUE(files().empty()) << "the interrupted attempt's part is still there";
  auto left = target_->list("ds/_strata/pending/");
  ASSERT_TRUE(left.is_ok());
  EXPECT_TRUE(left->empty());
}

}  // namespace
}  // namespace strata
