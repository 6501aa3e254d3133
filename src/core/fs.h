// Durable local file operations. Every error names the path and the OS reason; ENOSPC and EDQUOT
// are permanent ("disk full") so the runtime fails the batch instead of spinning.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace strata {

Status status_from_errno(int err, const std::string& what);

// An open file written sequentially. RAII: closes (without syncing) if not closed.
class FileWriter {
 public:
  static Result<FileWriter> create(const std::string& path);  // truncates
  FileWriter(FileWriter&& o) noexcept;
  FileWriter& operator=(FileWriter&& o) noexcept;
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;
  ~FileWriter();

  Status write(const void* data, size_t n);
  Status sync();   // fdatasync
  Status close();  // reports close() errors
  const std::string& path() const { return path_; }
  uint64_t bytes_written() const { return written_; }

 private:
  FileWriter(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
  uint64_t written_ = 0;
};

Status make_dirs(const std::string& path);  // mkdir -p
Status fsync_dir(const std::string& dir);
Status rename_durable(const std::string& from, const std::string& to);  // rename + fsync parent
// Writes to "<path>.tmp-<pid>", fsyncs, renames over `path`, fsyncs the directory.
Status write_file_atomic(const std::string& path, std::string_view content);
// Creates `path` with `content` (durably) only if it does not exist: true when created, false
// when another writer had created it. Never leaves a partial file under `path`.
Result<bool> write_file_exclusive(const std::string& path, std::string_view content);
// Checks a path inside a store (a target's part or document): relative, '/'-separated, no "."
// or ".." component, no empty component (but a trailing '/' when `prefix`). The error starts with
// `owner` ("target s3://b/p").
Status check_relative_path(const std::string& owner, const std::string& path, bool prefix);

Result<std::string> read_file(const std::string& path);
Status remove_file(const std::string& path);  // ok if missing
bool path_exists(const std::string& path);
std::string parent_dir(const std::string& path);
std::string join_path(const std::string& a, const std::string& b);
// Relative `path` resolved against `base_dir`; absolute paths unchanged.
std::string resolve_path(const std::string& base_dir, const std::string& path);

}  // namespace strata
