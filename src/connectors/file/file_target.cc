// The local-filesystem target: durable part files via temp file + fsync + rename.
#include "connectors/file/file_target.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <vector>

#include "core/checksum.h"
#include "core/env.h"
#include "core/fs.h"

namespace strata {

namespace {

constexpr size_t kSinkBuffer = 256 * 1024;

std::atomic<uint64_t> g_temp_sequence{0};

// A process-unique suffix, so that two writers of the same part (a redelivered event racing
// the original) never share a temp file; the last rename wins with identical content.
std::string unique_suffix() {
  return std::to_string(::getpid()) + "-" + std::to_string(g_temp_sequence.fetch_add(1));
}

// Temp files of create_part (".<name>.<unique>.tmp", and every other hidden file) and of
// write_file_atomic / write_file_exclusive ("<name>.tmp-<pid>-<n>") are not objects of the target.
bool is_temp_name(std::string_view name) {
  if (name.empty() || name[0] == '.') return true;
  size_t tmp = name.rfind(".tmp-");
  if (tmp == std::string_view::npos || tmp + 5 == name.size()) return false;
  return std::all_of(name.begin() + static_cast<std::ptrdiff_t>(tmp + 5), name.end(),
                     [](char c) { return (c >= '0' && c <= '9') || c == '-'; });
}

// mkdir -p, then fsync the parent of every directory it created, so that a committed part's
// directory entries survive a crash along with the part itself.
Status make_dirs_durable(const std::string& dir) {
  std::vector<std::string> missing;
  for (std::string d = dir; !d.empty() && d != "." && d != "/" && !path_exists(d);
       d = parent_dir(d)) {
    missing.push_back(d);
  }
  if (missing.empty()) return Status::ok();
  STRATA_TRY(make_dirs(dir));
  for (auto it = missing.rbegin(); it != missing.rend(); ++it)
    STRATA_TRY(fsync_dir(parent_dir(*it)));
  return Status::ok();
}

// Writes through to a FileWriter in large chunks, hashing and counting the bytes on the way.
class HashingFileSink final : public ByteSink {
 public:
  explicit HashingFileSink(FileWriter file) : file_(std::move(file)) { buf_.reserve(kSinkBuffer); }

  Status write(const void* data, size_t n) override {
    sha_.update(data, n);
    bytes_ += n;
    if (buf_.size() + n <= kSinkBuffer) {
      buf_.append(static_cast<const char*>(data), n);
      return Status::ok();
    }
    STRATA_TRY(flush());
    if (n >= kSinkBuffer) return file_.write(data, n);
    buf_.append(static_cast<const char*>(data), n);
    return Status::ok();
  }

  Status flush() {
    if (buf_.empty()) return Status::ok();
    Status s = file_.write(buf_.data(), buf_.size());
    buf_.clear();
    return s;
  }

  // Flushes, fdatasyncs and closes the file.
  Status finish() {
    STRATA_TRY(flush());
    STRATA_TRY(file_.sync());
    return file_.close();
  }

  uint64_t bytes() const { return bytes_; }
  std::string hex_digest() { return sha_.hex_digest(); }

 private:
  FileWriter file_;
  Sha256 sha_;
  uint64_t bytes_ = 0;
  std::string buf_;
};

class FilePartWriter final : public PartWriter {
 public:
  FilePartWriter(std::string rel_path, std::string final_path, std::string temp_path,
                 std::unique_ptr<HashingFileSink> sink)
      : rel_path_(std::move(rel_path)),
        final_path_(std::move(final_path)),
        temp_path_(std::move(temp_path)),
        sink_(std::move(sink)) {}
  FilePartWriter(const FilePartWriter&) = delete;
  FilePartWriter& operator=(const FilePartWriter&) = delete;
  ~FilePartWriter() override { abort(); }

  Status open_format(const FormatSpec& format, std::shared_ptr<const Schema> schema,
                     const std::map<std::string, std::string>& metadata) {
    STRATA_ASSIGN_OR_RETURN(format_,
                            open_format_writer(format, std::move(schema), sink_.get(), metadata));
    return Status::ok();
  }

  Status write(const Batch& batch) override {
    if (done_) return Status::permanent("part " + final_path_ + " is already " + state());
    if (!failed_.is_ok()) return failed_;
    Status s = format_->write(batch);
    if (!s.is_ok()) {
      failed_ = s.with_context("writing part " + final_path_);
      return failed_;
    }
    checksum_.add_batch(batch);
    rows_ += batch.num_rows();
    return Status::ok();
  }

  Result<PartFile> commit() override {
    if (done_) return Status::permanent("part " + final_path_ + " is already " + state());
    if (!failed_.is_ok()) {
      abort();
      return failed_;
    }
    Status s = format_->finish();
    if (s.is_ok()) s = sink_->finish();
    if (s.is_ok()) s = rename_durable(temp_path_, final_path_);
    if (!s.is_ok()) {
      abort();
      return s.with_context("committing part " + final_path_);
    }
    done_ = true;
    committed_ = true;
    committed_bytes_ = sink_->bytes();
    PartFile part;
    part.path = rel_path_;
    part.rows = rows_;
    part.bytes = committed_bytes_;
    part.sha256 = sink_->hex_digest();
    part.checksum = checksum_.to_string();
    format_.reset();
    sink_.reset();
    return part;
  }

  void abort() override {
    if (done_) return;
    done_ = true;
    format_.reset();  // before the sink it writes to
    sink_.reset();    // closes the file
    (void)remove_file(temp_path_);
  }

  uint64_t rows() const override { return rows_; }
  uint64_t bytes() const override { return sink_ ? sink_->bytes() : committed_bytes_; }

 private:
  const char* state() const { return committed_ ? "committed" : "aborted"; }

  const std::string rel_path_;
  const std::string final_path_;
  const std::string temp_path_;
  std::unique_ptr<HashingFileSink> sink_;
  std::unique_ptr<FormatWriter> format_;  // writes into *sink_
  RowChecksum checksum_;
  uint64_t rows_ = 0;
  uint64_t committed_bytes_ = 0;
  Status failed_;
  bool done_ = false;
  bool committed_ = false;
};

class FileTarget final : public Target {
 public:
  FileTarget(std::string given, std::string root)
      : given_(std::move(given)), root_(std::move(root)) {}

  std::string describe() const override { return "file://" + given_; }

  Status check_writable() override {
    Status s = make_dirs(root_);
    if (s.is_ok()) {
      std::string probe = join_path(root_, ".strata-probe-" + unique_suffix());
      Result<FileWriter> w = FileWriter::create(probe);
      s = w.status();
      if (s.is_ok()) {
        s = w->write("probe", 5);
        Status closed = w->close();
        if (s.is_ok()) s = closed;
        Status removed = remove_file(probe);
        if (s.is_ok()) s = removed;
      }
    }
    if (!s.is_ok()) {
      return Status::permanent("target " + describe() + " is not writable: " + s.message());
    }
    return Status::ok();
  }

  Result<std::unique_ptr<PartWriter>> create_part(
      const std::string& path, const FormatSpec& format, std::shared_ptr<const Schema> schema,
      const std::map<std::string, std::string>& metadata) override {
    STRATA_ASSIGN_OR_RETURN(std::string final_path, full_path(path));
    std::string dir = parent_dir(final_path);
    std::string name = final_path.substr(final_path.rfind('/') + 1);
    STRATA_TRY(make_dirs_durable(dir));
    std::string temp_path = join_path(dir, "." + name + "." + unique_suffix() + ".tmp");
    STRATA_ASSIGN_OR_RETURN(FileWriter file, FileWriter::create(temp_path));
    auto writer = std::make_unique<FilePartWriter>(
        path, final_path, temp_path, std::make_unique<HashingFileSink>(std::move(file)));
    // On error the writer is dropped, which removes the temp file.
    STRATA_TRY(writer->open_format(format, std::move(schema), metadata)
                   .with_context("part " + final_path));
    return std::unique_ptr<PartWriter>(std::move(writer));
  }

  Status put(const std::string& path, std::string_view content) override {
    STRATA_ASSIGN_OR_RETURN(std::string full, full_path(path));
    STRATA_TRY(make_dirs_durable(parent_dir(full)));
    return write_file_atomic(full, content);
  }

  Result<bool> put_if_absent(const std::string& path, std::string_view content) override {
    STRATA_ASSIGN_OR_RETURN(std::string full, full_path(path));
    STRATA_TRY(make_dirs_durable(parent_dir(full)));
    return write_file_exclusive(full, content);
  }

  Result<std::optional<std::string>> get(const std::string& path) override {
    STRATA_ASSIGN_OR_RETURN(std::string full, full_path(path));
    if (!path_exists(full)) return std::optional<std::string>();
    Result<std::string> content = read_file(full);
    if (!content.is_ok()) {
      if (!path_exists(full)) return std::optional<std::string>();  // removed meanwhile
      return content.status();
    }
    return std::optional<std::string>(std::move(content).value());
  }

  Result<std::vector<std::string>> list(const std::string& prefix) override {
    if (!prefix.empty()) STRATA_TRY(check_relative(prefix, true));
    namespace fs = std::filesystem;
    size_t slash = prefix.rfind('/');
    std::string dir =
        slash == std::string::npos ? root_ : join_path(root_, prefix.substr(0, slash));
    std::vector<std::string> out;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return out;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      std::string name = it->path().filename().string();
      if (it->is_directory(ec)) {
        if (!name.empty() && name[0] == '.') it.disable_recursion_pending();
        continue;
      }
      if (!it->is_regular_file(ec) || is_temp_name(name)) continue;
      std::string rel = it->path().lexically_relative(root_).generic_string();
      if (rel.compare(0, prefix.size(), prefix) == 0) out.push_back(std::move(rel));
    }
    if (ec) return status_from_errno(ec.value(), "cannot list " + dir);
    std::sort(out.begin(), out.end());
    return out;
  }

  Status remove(const std::string& path) override {
    STRATA_ASSIGN_OR_RETURN(std::string full, full_path(path));
    return remove_file(full);
  }

  Result<std::unique_ptr<ByteSource>> open(const std::string& path) override {
    STRATA_ASSIGN_OR_RETURN(std::string full, full_path(path));
    return open_file_source(full);
  }

  // Temp files of create_part are ".<final name>.<unique>.tmp" beside the final path.
  Status remove_incomplete(const std::string& dir, const std::string& name_prefix) override {
    namespace fs = std::filesystem;
    STRATA_ASSIGN_OR_RETURN(std::string root, full_path(dir));
    std::error_code ec;
    if (!fs::is_directory(root, ec)) return Status::ok();
    const std::string hidden = "." + name_prefix;
    std::vector<std::string> doomed;
    for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
      std::string name = it->path().filename().string();
      if (it->is_regular_file(ec) && name.compare(0, hidden.size(), hidden) == 0 &&
          name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0) {
        doomed.push_back(it->path().string());
      }
    }
    if (ec) return status_from_errno(ec.value(), "cannot list " + root);
    for (const std::string& f : doomed) STRATA_TRY(remove_file(f));
    return Status::ok();
  }

 private:
  Status check_relative(const std::string& path, bool prefix) const {
    return check_relative_path("target " + describe(), path, prefix);
  }

  Result<std::string> full_path(const std::string& path) const {
    STRATA_TRY(check_relative(path, false));
    return join_path(root_, path);
  }

  const std::string given_;
  const std::string root_;
};

}  // namespace

Result<std::unique_ptr<Target>> open_file_target(const Uri& uri, const std::string& base_dir) {
  if (uri.scheme != "file") {
    return Status::permanent("target scheme '" + uri.scheme +
                             "' is not file (expected file://PATH or a path)");
  }
  if (uri.path.empty()) return Status::permanent("target file:// has no path");
  for (const auto& [key, value] : uri.query) {
    return Status::permanent("target file://" + uri.path + ": unknown URI option '" + key + "'");
  }
  STRATA_ASSIGN_OR_RETURN(std::string path, expand_env(uri.path));
  std::string root = resolve_path(base_dir, path);
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  return std::unique_ptr<Target>(std::make_unique<FileTarget>(uri.path, std::move(root)));
}

}  // namespace strata
