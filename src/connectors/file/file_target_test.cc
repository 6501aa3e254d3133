// The file target against a real filesystem: durable parts, temp files, small documents,
// unwritable roots and a full disk.
#include "connectors/file/file_target.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/checksum.h"
#include "core/fs.h"

namespace strata {
namespace {

namespace fs = std::filesystem;

std::shared_ptr<const Schema> test_schema() {
  return std::make_shared<const Schema>(
      std::vector<Column>{Column{"id", Type::kInt64, false}, Column{"name", Type::kString}});
}

void fill(Batch& batch, int64_t from, int64_t n, size_t name_bytes = 8) {
  batch.clear();
  std::string name(name_bytes, 'x');
  for (int64_t i = from; i < from + n; ++i) {
    batch.column(0).append_int(i);
    if (i % 7 == 0) {
      batch.column(1).append_null();
    } else {
      name[0] = static_cast<char>('a' + i % 26);
      batch.column(1).append_text(name);
    }
  }
}

FormatSpec ndjson() {
  FormatSpec spec;
  spec.name = "ndjson";
  spec.compression = Compression::kNone;
  return spec;
}

std::string shell_sha256(const std::string& path) {
  std::string cmd = "sha256sum '" + path + "'";
  FILE* p = popen(cmd.c_str(), "r");
  char buf[128] = {};
  EXPECT_NE(std::fgets(buf, sizeof buf, p), nullptr);
  pclose(p);
  return std::string(buf).substr(0, 64);
}

// Every entry under `dir`, hidden ones included, relative.
std::vector<std::string> all_entries(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto& e : fs::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), dir).generic_string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class FileTargetTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TempDir() + "/strata_file_target_" + std::to_string(getpid()) + "_" +
           testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Target> open(const std::string& uri) {
    auto parsed = parse_uri(uri);
    EXPECT_TRUE(parsed.is_ok()) << parsed.status().to_string();
    auto t = open_file_target(*parsed, dir_);
    EXPECT_TRUE(t.is_ok()) << t.status().to_string();
    return std::move(t).value();
  }

  std::string dir_;
};

TEST_F(FileTargetTest, CommitWritesADurableHashedPart) {
  auto target = open("file://archive");
  EXPECT_EQ(target->describe(), "file://archive");
  auto schema = test_schema();
  auto part = target->create_part("ds/dt=2026-01-31/part-1.ndjson", ndjson(), schema, {});
  ASSERT_TRUE(part.is_ok()) << part.status().to_string();
  Batch batch(schema);
  RowChecksum expected;
  for (int64_t b = 0; b < 3; ++b) {
    fill(batch, b * 100, 100);
    expected.add_batch(batch);
    ASSERT_TRUE((*part)->write(batch).is_ok());
  }
  EXPECT_EQ((*part)->rows(), 300u);
  // Before commit nothing is visible.
  std::string final_path = dir_ + "/archive/ds/dt=2026-01-31/part-1.ndjson";
  EXPECT_FALSE(path_exists(final_path));
  auto list = target->list("");
  ASSERT_TRUE(list.is_ok());
  EXPECT_TRUE(list->empty());

  auto file = (*part)->commit();
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();
  EXPECT_EQ(file->path, "ds/dt=2026-01-31/part-1.ndjson");
  EXPECT_EQ(file->rows, 300u);
  EXPECT_EQ(file->bytes, fs::file_size(final_path));
  EXPECT_EQ(file->sha256, shell_sha256(final_path));
  EXPECT_EQ(file->checksum, expected.to_string());
  EXPECT_EQ(all_entries(dir_ + "/archive"),
            std::vector<std::string>{"ds/dt=2026-01-31/part-1.ndjson"});  // temp file gone
  EXPECT_FALSE((*part)->commit().is_ok());                                // once only
  EXPECT_FALSE((*part)->write(batch).is_ok());

  // Read back through the target and the format reader.
  auto source = target->open(file->path);
  ASSERT_TRUE(source.is_ok()) << source.status().to_string();
  ReadOptions options;
  options.schema = schema;
  auto reader = open_format_reader(ndjson(), source->get(), options);
  ASSERT_TRUE(reader.is_ok()) << reader.status().to_string();
  RowChecksum read_back;
  Batch in(schema);
  for (;;) {
    auto more = (*reader)->next(in, 128);
    ASSERT_TRUE(more.is_ok()) << more.status().to_string();
    if (!*more) break;
    read_back.add_batch(in);
  }
  EXPECT_EQ(read_back.to_string(), expected.to_string());
}

TEST_F(FileTargetTest, AbortAndDestructionLeaveNothing) {
  auto target = open(dir_ + "/archive");  // a bare absolute path
  auto schema = test_schema();
  Batch batch(schema);
  fill(batch, 0, 1000);
  {
    auto part = target->create_part("a/p1.ndjson", ndjson(), schema, {});
    ASSERT_TRUE(part.is_ok());
    ASSERT_TRUE((*part)->write(batch).is_ok());
    EXPECT_EQ(all_entries(dir_ + "/archive").size(), 1u);  // the hidden temp file
    (*part)->abort();
    EXPECT_FALSE((*part)->commit().is_ok());
  }
  {
    auto part = target->create_part("a/p2.ndjson", ndjson(), schema, {});
    ASSERT_TRUE(part.is_ok());
    ASSERT_TRUE((*part)->write(batch).is_ok());
  }  // dropped without commit
  EXPECT_TRUE(all_entries(dir_ + "/archive").empty());
}

TEST_F(FileTargetTest, ListSkipsTempFilesAndFiltersByPrefix) {
  auto target = open("file://t");
  ASSERT_TRUE(target->put("ds/_strata/catalog.json", "{}").is_ok());
  ASSERT_TRUE(target->put("ds/_strata/manifests/task1/0.json", "{}").is_ok());
  ASSERT_TRUE(target->put("ds/_strata/manifests/task10/0.json", "{}").is_ok());
  ASSERT_TRUE(target->put("ds/dt=1/part-b.ndjson", "x").is_ok());
  ASSERT_TRUE(target->put("ds/dt=1/part-a.ndjson", "x").is_ok());
  ASSERT_TRUE(target->put("other/x", "x").is_ok());
  auto schema = test_schema();
  auto pending = target->create_part("ds/dt=1/part-c.ndjson", ndjson(), schema, {});
  ASSERT_TRUE(pending.is_ok());
  std::ofstream(dir_ + "/t/ds/dt=1/part-d.ndjson.tmp-1234") << "partial put";
  fs::create_directories(dir_ + "/t/ds/.hidden");
  std::ofstream(dir_ + "/t/ds/.hidden/file") << "x";

  auto all = target->list("");
  ASSERT_TRUE(all.is_ok()) << all.status().to_string();
  EXPECT_EQ(*all, (std::vector<std::string>{
                      "ds/_strata/catalog.json", "ds/_strata/manifests/task1/0.json",
                      "ds/_strata/manifests/task10/0.json", "ds/dt=1/part-a.ndjson",
                      "ds/dt=1/part-b.ndjson", "other/x"}));
  auto manifests = target->list("ds/_strata/manifests/task1/");
  ASSERT_TRUE(manifests.is_ok());
  EXPECT_EQ(*manifests, std::vector<std::string>{"ds/_strata/manifests/task1/0.json"});
  auto prefix = target->list("ds/dt=1/part-");
  ASSERT_TRUE(prefix.is_ok());
  EXPECT_EQ(prefix->size(), 2u);
  auto none = target->list("nothing/here/");
  ASSERT_TRUE(none.is_ok());
  EXPECT_TRUE(none->empty());
  EXPECT_FALSE(target->list("../").is_ok());
}

TEST_F(FileTargetTest, PutGetRemove) {
  auto target = open("file://docs");
  auto missing = target->get("a/b.json");
  ASSERT_TRUE(missing.is_ok()) << missing.status().to_string();
  EXPECT_FALSE(missing->has_value());
  ASSERT_TRUE(target->put("a/b.json", "one").is_ok());
  ASSERT_TRUE(target->put("a/b.json", "two").is_ok());
  auto got = target->get("a/b.json");
  ASSERT_TRUE(got.is_ok());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, "two");
  ASSERT_TRUE(target->remove("a/b.json").is_ok());
  ASSERT_TRUE(target->remove("a/b.json").is_ok());
  got = target->get("a/b.json");
  ASSERT_TRUE(got.is_ok());
  EXPECT_FALSE(got->has_value());
  for (const char* bad : {"/etc/passwd", "../escape", "a/../../b", "", "a//b"}) {
    EXPECT_FALSE(target->put(bad, "x").is_ok()) << bad;
    EXPECT_FALSE(target->get(bad).is_ok()) << bad;
  }
  EXPECT_FALSE(path_exists(dir_ + "/escape"));
}

TEST_F(FileTargetTest, CheckWritableCreatesTheRoot) {
  auto target = open("file://new/root");
  ASSERT_TRUE(target->check_writable().is_ok());
  EXPECT_TRUE(fs::is_directory(dir_ + "/new/root"));
  EXPECT_TRUE(all_entries(dir_ + "/new/root").empty());  // the probe is removed
}

TEST_F(FileTargetTest, NotWritableIsAClearError) {
  std::ofstream(dir_ + "/plain-file") << "x";
  auto target = open("file://plain-file/archive");
  Status s = target->check_writable();
  ASSERT_FALSE(s.is_ok());
  EXPECT_TRUE(s.is_permanent());
  EXPECT_EQ(s.message().rfind("target file://plain-file/archive is not writable: ", 0), 0u)
      << s.message();
  auto part = target->create_part("p.ndjson", ndjson(), test_schema(), {});
  EXPECT_FALSE(part.is_ok());
}

TEST_F(FileTargetTest, ExpandsEnvironment) {
  setenv("STRATA_FILE_TARGET_TEST", "from-env", 1);
  auto target = open("file://${STRATA_FILE_TARGET_TEST}/x");
  EXPECT_EQ(target->describe(), "file://${STRATA_FILE_TARGET_TEST}/x");
  ASSERT_TRUE(target->put("a", "1").is_ok());
  EXPECT_TRUE(path_exists(dir_ + "/from-env/x/a"));
  unsetenv("STRATA_FILE_TARGET_TEST");
}

TEST_F(FileTargetTest, ConcurrentWritersOfOnePartBothCommit) {
  auto target = open("file://c");
  auto schema = test_schema();
  std::vector<std::string> hashes(2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      auto part = target->create_part("p.ndjson", ndjson(), schema, {});
      if (!part.is_ok()) return;
      Batch batch(schema);
      for (int b = 0; b < 20; ++b) {
        fill(batch, b * 500, 500);
        if (!(*part)->write(batch).is_ok()) return;
      }
      auto file = (*part)->commit();
      if (file.is_ok()) hashes[static_cast<size_t>(t)] = file->sha256;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_FALSE(hashes[0].empty());
  EXPECT_EQ(hashes[0], hashes[1]);
  EXPECT_EQ(shell_sha256(dir_ + "/c/p.ndjson"), hashes[0]);
  EXPECT_EQ(all_entries(dir_ + "/c"), std::vector<std::string>{"p.ndjson"});
}

TEST_F(FileTargetTest, DiskFullIsPermanentAndLeavesNothing) {
  std::string mnt = dir_ + "/small";
  fs::create_directories(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=1m") != 0) {
    GTEST_SKIP() << "cannot mount a 1 MiB tmpfs here (" << std::strerror(errno)
                 << "); the disk-full path is not exercised";
  }
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{mnt};
  auto target = open("file://small/archive");
  auto schema = test_schema();
  Batch batch(schema);
  auto part = target->create_part("ds/part-1.ndjson", ndjson(), schema, {});
  ASSERT_TRUE(part.is_ok()) << part.status().to_string();
  Status s;
  for (int b = 0; b < 100 && s.is_ok(); ++b) {
    fill(batch, b * 1000, 1000, 64);  // ~80 KiB per batch: 8 MB in all
    s = (*part)->write(batch);
  }
  Result<PartFile> file = s.is_ok() ? (*part)->commit() : Result<PartFile>(s);
  ASSERT_FALSE(file.is_ok());
  EXPECT_TRUE(file.status().is_permanent()) << file.status().to_string();
  EXPECT_NE(file.status().message().find("disk is full"), std::string::npos)
      << file.status().message();
  EXPECT_NE(file.status().message().find("ds/part-1.ndjson"), std::string::npos)
      << file.status().message();
  (*part)->abort();
  EXPECT_TRUE(all_entries(mnt + "/archive").empty());
  // The space is back: a small part commits.
  auto small = target->create_part("ds/part-2.ndjson", ndjson(), schema, {});
  ASSERT_TRUE(small.is_ok());
  fill(batch, 0, 10);
  ASSERT_TRUE((*small)->write(batch).is_ok());
  EXPECT_TRUE((*small)->commit().is_ok());
}

}  // namespace
}  // namespace strata
