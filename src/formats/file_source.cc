// open_file_source: a ByteSource over a local file, read with pread so that concurrent readers of
// one source need no shared offset.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "core/fs.h"
#include "formats/format.h"

namespace strata {

namespace {

class FileSource final : public ByteSource {
 public:
  FileSource(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;
  ~FileSource() override { ::close(fd_); }

  Result<uint64_t> size() override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return status_from_errno(errno, "cannot stat " + path_);
    return static_cast<uint64_t>(st.st_size);
  }

  Status read_at(uint64_t offset, size_t n, void* out) override {
    char* p = static_cast<char*>(out);
    const uint64_t start = offset;
    while (n > 0) {
      ssize_t got = ::pread(fd_, p, n, static_cast<off_t>(offset));
      if (got < 0) {
        if (errno == EINTR) continue;
        return status_from_errno(errno,
                                 "cannot read " + path_ + " at offset " + std::to_string(offset));
      }
      if (got == 0) {
        return Status::permanent(path_ + ": unexpected end of file: wanted " +
                                 std::to_string(n + (offset - start)) + " bytes at offset " +
                                 std::to_string(start) + ", the file ends at offset " +
                                 std::to_string(offset));
      }
      p += got;
      n -= static_cast<size_t>(got);
      offset += static_cast<uint64_t>(got);
    }
    return Status::ok();
  }

  std::string name() const override { return path_; }

 private:
  int fd_;
  std::string path_;
};

}  // namespace

Result<std::unique_ptr<ByteSource>> open_file_source(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return status_from_errno(errno, "cannot open " + path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return status_from_errno(err, "cannot stat " + path);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::permanent("cannot open " + path + ": not a regular file");
  }
  return std::unique_ptr<ByteSource>(std::make_unique<FileSource>(fd, path));
}

}  // namespace strata
