#include "core/fs.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace strata {
namespace {

TEST(Fs, AtomicWriteAndRead) {
  std::string dir = testing::TempDir() + "/strata_fs_test_" + std::to_string(getpid());
  ASSERT_TRUE(make_dirs(dir + "/a/b").is_ok());
  std::string p = dir + "/a/b/f.txt";
  ASSERT_TRUE(write_file_atomic(p, "one").is_ok());
  ASSERT_TRUE(write_file_atomic(p, "two").is_ok());
  EXPECT_EQ(*read_file(p), "two");
  EXPECT_TRUE(remove_file(p).is_ok());
  EXPECT_TRUE(remove_file(p).is_ok());
  auto missing = read_file(p);
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find(p), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(Fs, Paths) {
  EXPECT_EQ(parent_dir("a/b/c"), "a/b");
  EXPECT_EQ(parent_dir("c"), ".");
  EXPECT_EQ(join_path("a/", "b"), "a/b");
  EXPECT_EQ(resolve_path("/etc", "x"), "/etc/x");
  EXPECT_EQ(resolve_path("/etc", "/x"), "/x");
}

TEST(Fs, DiskFullIsPermanentAndSaysSo) {
  Status s = status_from_errno(ENOSPC, "cannot write /x");
  EXPECT_TRUE(s.is_permanent());
  EXPECT_NE(s.message().find("disk is full"), std::string::npos);
}

}  // namespace
}  // namespace strata
