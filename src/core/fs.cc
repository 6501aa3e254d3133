#include "core/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace strata {

Status status_from_errno(int err, const std::string& what) {
  std::string msg = what + ": " + std::strerror(err);
  switch (err) {
    case ENOSPC:
    case EDQUOT:
      return Status::permanent(msg +
                               " (the disk is full: free space or point the target elsewhere)");
    case EACCES:
    case EPERM:
    case EROFS:
      return Status::permanent(msg + " (check the permissions of the path)");
    case ENOENT:
    case ENOTDIR:
    case EISDIR:
    case EEXIST:
      return Status::permanent(msg);
    case EINTR:
    case EAGAIN:
    case EIO:
    default:
      return Status::retryable(msg);
  }
}

Result<FileWriter> FileWriter::create(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return status_from_errno(errno, "cannot create " + path);
  return FileWriter(fd, path);
}

FileWriter::FileWriter(FileWriter&& o) noexcept
    : fd_(o.fd_), path_(std::move(o.path_)), written_(o.written_) {
  o.fd_ = -1;
}

FileWriter& FileWriter::operator=(FileWriter&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    path_ = std::move(o.path_);
    written_ = o.written_;
    o.fd_ = -1;
  }
  return *this;
}

FileWriter::~FileWriter() {
  if (fd_ >= 0) ::close(fd_);
}

Status FileWriter::write(const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return status_from_errno(errno, "cannot write " + path_);
    }
    p += w;
    n -= static_cast<size_t>(w);
    written_ += static_cast<uint64_t>(w);
  }
  return Status::ok();
}

Status FileWriter::sync() {
  if (::fdatasync(fd_) != 0) return status_from_errno(errno, "cannot fsync " + path_);
  return Status::ok();
}

Status FileWriter::close() {
  if (fd_ < 0) return Status::ok();
  int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) return status_from_errno(errno, "cannot close " + path_);
  return Status::ok();
}

Status make_dirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return status_from_errno(ec.value(), "cannot create directory " + path);
  return Status::ok();
}

Status fsync_dir(const std::string& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return status_from_errno(errno, "cannot open directory " + dir);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return status_from_errno(err, "cannot fsync directory " + dir);
  return Status::ok();
}

Status rename_durable(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return status_from_errno(errno, "cannot rename " + from + " to " + to);
  }
  return fsync_dir(parent_dir(to));
}

namespace {
// A temp name beside `path`, unique across the processes and threads writing it at once.
std::string temp_beside(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  return path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}
// Writes `content` durably (fsync) to a fresh temporary name next to `path`; removed on failure.
Result<std::string> write_temp_beside(const std::string& path, std::string_view content) {
  std::string tmp = temp_beside(path);
  STRATA_ASSIGN_OR_RETURN(FileWriter w, FileWriter::create(tmp));
  Status s = w.write(content.data(), content.size());
  if (s.is_ok()) s = w.sync();
  if (s.is_ok()) s = w.close();
  if (!s.is_ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  return tmp;
}
}  // namespace

Status write_file_atomic(const std::string& path, std::string_view content) {
  STRATA_ASSIGN_OR_RETURN(std::string tmp, write_temp_beside(path, content));
  Status s = rename_durable(tmp, path);
  if (!s.is_ok()) ::unlink(tmp.c_str());
  return s;
}

Result<bool> write_file_exclusive(const std::string& path, std::string_view content) {
  STRATA_ASSIGN_OR_RETURN(std::string tmp, write_temp_beside(path, content));
  // link() fails with EEXIST when the name is taken: the complete file appears, or nothing.
  int rc = ::link(tmp.c_str(), path.c_str());
  int err = errno;
  ::unlink(tmp.c_str());
  if (rc != 0) {
    if (err == EEXIST) return false;
    return status_from_errno(err, "cannot create " + path);
  }
  STRATA_TRY(fsync_dir(parent_dir(path)));
  return true;
}

Result<std::string> read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return status_from_errno(errno, "cannot open " + path);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return status_from_errno(err, "cannot read " + path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

Status remove_file(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return status_from_errno(errno, "cannot remove " + path);
  }
  return Status::ok();
}

bool path_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string parent_dir(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string join_path(const std::string& a, const std::string& b) {
  if (a.empty() || (!b.empty() && b[0] == '/')) return b;
  if (a.back() == '/') return a + b;
  return a + "/" + b;
}

std::string resolve_path(const std::string& base_dir, const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  if (base_dir.empty() || base_dir == ".") return path;
  return join_path(base_dir, path);
}

Status check_relative_path(const std::string& owner, const std::string& path, bool prefix) {
  auto bad = [&](const char* why) {
    return Status::permanent(owner + ": invalid path '" + path + "' (" + why + ")");
  };
  if (path.empty()) return bad("empty");
  if (path[0] == '/') return bad("must be relative to the target");
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string_view part(path.data() + start, end - start);
    const bool last = end == path.size();
    if (part == "." || part == "..") return bad("no '.' or '..' components");
    if (part.empty() && !(last && prefix)) return bad("empty component");
    start = end + 1;
  }
  return Status::ok();
}

}  // namespace strata
