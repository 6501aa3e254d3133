// The S3 target: parts as single PUTs or streamed multipart uploads, documents as single PUTs,
// reads as ranged GETs with read-ahead.
#include "connectors/s3/s3_target.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "connectors/s3/s3_client.h"
#include "core/checksum.h"
#include "core/env.h"
#include "core/fs.h"
#include "core/log.h"

namespace strata {

namespace {

using s3::S3Client;

constexpr uint64_t kMiB = 1024 * 1024;
constexpr size_t kReadAhead = 4 * kMiB;
constexpr int kMaxParts = 10000;  // S3's limit
constexpr int kMaxQueued = 2;     // part buffers queued or uploading at once

std::atomic<uint64_t> g_sequence{0};

std::string unique_suffix() {
  return std::to_string(::getpid()) + "-" + std::to_string(g_sequence.fetch_add(1));
}

std::string base_name(const std::string& key) {
  size_t slash = key.rfind('/');
  return slash == std::string::npos ? key : key.substr(slash + 1);
}

// Where a target's objects live, shared by the target and its writers and sources.
struct Location {
  std::shared_ptr<S3Client> client;
  std::string bucket;
  std::string prefix;  // no leading or trailing '/'; may be empty
  std::string name;    // "s3://bucket/prefix", for messages

  std::string key(const std::string& path) const {
    return prefix.empty() ? path : prefix + "/" + path;
  }
  std::string url(const std::string& path) const { return "s3://" + bucket + "/" + key(path); }
};

// Collects the encoded bytes of one part: hashes them, and ships every full buffer to a
// background uploader (multipart), or keeps a small part whole for a single PUT at finish().
class UploadSink final : public ByteSink {
 public:
  UploadSink(Location loc, std::string key, size_t part_size)
      : loc_(std::move(loc)), key_(std::move(key)), part_size_(part_size) {
    buf_.reserve(std::min<size_t>(part_size_, 1 << 20));
  }
  UploadSink(const UploadSink&) = delete;
  UploadSink& operator=(const UploadSink&) = delete;
  ~UploadSink() override { abort(); }

  Status write(const void* data, size_t n) override {
    STRATA_TRY(failure());
    sha_.update(data, n);
    bytes_ += n;
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      // A full buffer is shipped only when more bytes follow, so a part of exactly one part
      // size still goes as a single PUT.
      if (buf_.size() == part_size_) STRATA_TRY(ship());
      size_t take = std::min(n, part_size_ - buf_.size());
      buf_.append(p, take);
      p += take;
      n -= take;
    }
    return Status::ok();
  }

  struct Stored {
    std::string etag;
    uint64_t bytes = 0;
    std::string sha256;
  };

  // Uploads what is left and makes the object visible.
  Result<Stored> finish() {
    STRATA_TRY(failure());
    Stored out;
    out.bytes = bytes_;
    out.sha256 = sha_.hex_digest();
    if (upload_id_.empty()) {
      STRATA_ASSIGN_OR_RETURN(s3::PutOutcome put, loc_.client->put_object(loc_.bucket, key_, buf_));
      out.etag = put.etag;
      std::string().swap(buf_);
      done_ = true;
      return out;
    }
    if (!buf_.empty()) STRATA_TRY(ship());
    {
      std::unique_lock<std::mutex> lock(mu_);
      idle_.wait(lock, [&] { return queue_.empty() && uploading_ == 0; });
      if (!failure_.is_ok()) return failure_;
    }
    stop_uploader();
    std::vector<s3::CompletedPart> parts;
    for (size_t i = 0; i < etags_.size(); ++i)
      parts.push_back(s3::CompletedPart{static_cast<int>(i + 1), etags_[i]});
    STRATA_ASSIGN_OR_RETURN(
        out.etag, loc_.client->complete_multipart_upload(loc_.bucket, key_, upload_id_, parts));
    done_ = true;
    return out;
  }

  // Stops uploading and aborts the multipart upload, if any. Safe to call more than once.
  void abort() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.clear();
      if (failure_.is_ok()) failure_ = Status::cancelled("part " + loc_.url(key_) + " aborted");
    }
    space_.notify_all();
    stop_uploader();
    if (!done_ && !upload_id_.empty()) {
      Status s = loc_.client->abort_multipart_upload(loc_.bucket, key_, upload_id_);
      if (!s.is_ok()) {
        spdlog::warn(
            "cannot abort the upload of s3://{}/{}: {} (it stays invisible; the next run "
            "of the shard removes it)",
            loc_.bucket, key_, s.message());
      }
    }
    done_ = true;
  }

  uint64_t bytes() const { return bytes_; }
  bool multipart() const { return !upload_id_.empty(); }

 private:
  Status failure() {
    std::lock_guard<std::mutex> lock(mu_);
    return failure_;
  }

  // Hands the full buffer to the uploader, starting the multipart upload on the first one.
  Status ship() {
    if (upload_id_.empty()) {
      STRATA_ASSIGN_OR_RETURN(upload_id_, loc_.client->create_multipart_upload(loc_.bucket, key_));
      uploader_ = std::thread([this] { upload_loop(); });
    }
    std::unique_lock<std::mutex> lock(mu_);
    space_.wait(lock, [&] {
      return !failure_.is_ok() || static_cast<int>(queue_.size()) + uploading_ < kMaxQueued;
    });
    if (!failure_.is_ok()) return failure_;
    if (next_part_ > kMaxParts) {
      failure_ = Status::permanent("part " + loc_.url(key_) + " needs more than 10000 upload " +
                                   "parts; raise part_size_mb in the target URI");
      return failure_;
    }
    queue_.emplace_back(next_part_++, std::move(buf_));
    etags_.emplace_back();
    buf_ = std::string();
    buf_.reserve(part_size_);
    work_.notify_one();
    return Status::ok();
  }

  void upload_loop() {
    for (;;) {
      std::pair<int, std::string> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        work_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        job = std::move(queue_.front());
        queue_.pop_front();
        ++uploading_;
      }
      Sha256 sha;
      sha.update(job.second.data(), job.second.size());
      Result<std::string> etag = loc_.client->upload_part(loc_.bucket, key_, upload_id_, job.first,
                                                          job.second, sha.hex_digest());
      {
        std::lock_guard<std::mutex> lock(mu_);
        --uploading_;
        if (etag.is_ok()) {
          etags_[static_cast<size_t>(job.first - 1)] = *etag;
        } else if (failure_.is_ok()) {
          failure_ = etag.status();
          queue_.clear();
        }
      }
      space_.notify_all();
      idle_.notify_all();
    }
  }

  void stop_uploader() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    work_.notify_all();
    if (uploader_.joinable()) uploader_.join();
  }

  const Location loc_;
  const std::string key_;
  const size_t part_size_;
  Sha256 sha_;
  uint64_t bytes_ = 0;
  std::string buf_;
  std::string upload_id_;
  int next_part_ = 1;
  bool done_ = false;

  std::mutex mu_;
  std::condition_variable work_;   // the uploader waits for a job
  std::condition_variable space_;  // the writer waits for room in the queue
  std::condition_variable idle_;   // finish() waits for the queue to drain
  std::deque<std::pair<int, std::string>> queue_;
  std::vector<std::string> etags_;  // by part number - 1
  int uploading_ = 0;
  bool stopping_ = false;
  Status failure_;
  std::thread uploader_;
};

// Reads an uploaded object's facts back: the bytes S3 holds are the bytes that were hashed.
Status check_stored(const Location& loc, const std::string& rel_path,
                    const UploadSink::Stored& stored) {
  STRATA_ASSIGN_OR_RETURN(std::optional<s3::ObjectInfo> info,
                          loc.client->head_object(loc.bucket, loc.key(rel_path)));
  if (!info) {
    return Status::retryable("part " + loc.url(rel_path) +
                             " is missing right after its upload completed");
  }
  if (info->size != stored.bytes) {
    return Status::retryable("part " + loc.url(rel_path) + " holds " +
                             std::to_string(info->size) + " bytes after upload, not " +
                             std::to_string(stored.bytes) + " as written");
  }
  if (!stored.etag.empty() && !info->etag.empty() && stored.etag != info->etag) {
    return Status::retryable("part " + loc.url(rel_path) + " has ETag " + info->etag +
                             " after upload, not " + stored.etag +
                             " (another writer replaced it?)");
  }
  return Status::ok();
}

class S3PartWriter final : public PartWriter {
 public:
  S3PartWriter(Location loc, std::string rel_path, size_t part_size)
      : loc_(std::move(loc)),
        rel_path_(std::move(rel_path)),
        sink_(std::make_unique<UploadSink>(loc_, loc_.key(rel_path_), part_size)) {}
  S3PartWriter(const S3PartWriter&) = delete;
  S3PartWriter& operator=(const S3PartWriter&) = delete;
  ~S3PartWriter() override { abort(); }

  Status open_format(const FormatSpec& format, std::shared_ptr<const Schema> schema,
                     const std::map<std::string, std::string>& metadata) {
    STRATA_ASSIGN_OR_RETURN(format_,
                            open_format_writer(format, std::move(schema), sink_.get(), metadata));
    return Status::ok();
  }

  Status write(const Batch& batch) override {
    if (done_) return Status::permanent("part " + loc_.url(rel_path_) + " is already " + state());
    if (!failed_.is_ok()) return failed_;
    Status s = format_->write(batch);
    if (!s.is_ok()) {
      failed_ = s.with_context("writing part " + loc_.url(rel_path_));
      return failed_;
    }
    checksum_.add_batch(batch);
    rows_ += batch.num_rows();
    return Status::ok();
  }

  Result<PartFile> commit() override {
    if (done_) return Status::permanent("part " + loc_.url(rel_path_) + " is already " + state());
    if (!failed_.is_ok()) {
      abort();
      return failed_;
    }
    Result<PartFile> part = finish();
    if (!part.is_ok()) {
      abort();
      return part.status().with_context("committing part " + loc_.url(rel_path_));
    }
    done_ = true;
    committed_ = true;
    return part;
  }

  void abort() override {
    if (done_) return;
    done_ = true;
    format_.reset();  // before the sink it writes to
    if (sink_) sink_->abort();
    sink_.reset();
  }

  uint64_t rows() const override { return rows_; }
  uint64_t bytes() const override { return sink_ ? sink_->bytes() : committed_bytes_; }

 private:
  const char* state() const { return committed_ ? "committed" : "aborted"; }

  Result<PartFile> finish() {
    STRATA_TRY(format_->finish());
    STRATA_ASSIGN_OR_RETURN(UploadSink::Stored stored, sink_->finish());
    STRATA_TRY(check_stored(loc_, rel_path_, stored));
    format_.reset();
    sink_.reset();
    committed_bytes_ = stored.bytes;
    PartFile part;
    part.path = rel_path_;
    part.rows = rows_;
    part.bytes = stored.bytes;
    part.sha256 = stored.sha256;
    part.checksum = checksum_.to_string();
    return part;
  }

  const Location loc_;
  const std::string rel_path_;
  std::unique_ptr<UploadSink> sink_;
  std::unique_ptr<FormatWriter> format_;  // writes into *sink_
  RowChecksum checksum_;
  uint64_t rows_ = 0;
  uint64_t committed_bytes_ = 0;
  Status failed_;
  bool done_ = false;
  bool committed_ = false;
};

// Ranged GETs through a read-ahead buffer, pinned to the ETag seen when opened.
class S3ByteSource final : public ByteSource {
 public:
  S3ByteSource(std::shared_ptr<S3Client> client, std::string bucket, std::string key,
               s3::ObjectInfo info)
      : client_(std::move(client)),
        bucket_(std::move(bucket)),
        key_(std::move(key)),
        info_(std::move(info)) {}

  Result<uint64_t> size() override { return info_.size; }

  Status read_at(uint64_t offset, size_t n, void* out) override {
    if (n == 0) return Status::ok();
    if (offset > info_.size || n > info_.size - offset) {
      return Status::permanent(name() + ": cannot read " + std::to_string(n) + " bytes at offset " +
                               std::to_string(offset) + " of a " + std::to_string(info_.size) +
                               "-byte object");
    }
    if (offset >= buf_offset_ && offset + n <= buf_offset_ + buf_.size()) {
      std::memcpy(out, buf_.data() + (offset - buf_offset_), n);
      return Status::ok();
    }
    if (n >= kReadAhead) {
      return client_->get_range(bucket_, key_, offset, n, static_cast<char*>(out), info_.etag);
    }
    size_t want = static_cast<size_t>(std::min<uint64_t>(kReadAhead, info_.size - offset));
    buf_.resize(want);
    Status s = client_->get_range(bucket_, key_, offset, want, buf_.data(), info_.etag);
    if (!s.is_ok()) {
      buf_.clear();
      return s;
    }
    buf_offset_ = offset;
    std::memcpy(out, buf_.data(), n);
    return Status::ok();
  }

  std::string name() const override { return "s3://" + bucket_ + "/" + key_; }

 private:
  std::shared_ptr<S3Client> client_;
  const std::string bucket_;
  const std::string key_;
  const s3::ObjectInfo info_;
  std::string buf_;
  uint64_t buf_offset_ = 0;
};

class S3Target final : public Target {
 public:
  S3Target(Location loc, size_t part_size) : loc_(std::move(loc)), part_size_(part_size) {}

  Result<uint64_t> upload_file(const std::string& local, const std::string& path) {
    STRATA_TRY(check_relative(path, false));
    FILE* f = std::fopen(local.c_str(), "rb");
    if (f == nullptr) {
      return Status::permanent("cannot open " + local + ": " + std::strerror(errno));
    }
    UploadSink sink(loc_, loc_.key(path), part_size_);
    std::string buf(1 << 20, '\0');
    Status s;
    for (;;) {
      const size_t n = std::fread(buf.data(), 1, buf.size(), f);
      if (n > 0) s = sink.write(buf.data(), n);
      if (!s.is_ok() || n < buf.size()) break;
    }
    if (s.is_ok() && std::ferror(f)) s = Status::permanent("cannot read " + local);
    std::fclose(f);
    STRATA_TRY(s);
    STRATA_ASSIGN_OR_RETURN(UploadSink::Stored stored, sink.finish());
    STRATA_TRY(check_stored(loc_, path, stored));
    return stored.bytes;
  }

  // The bare address: callers append "/<path>" to it. Errors name the endpoint themselves.
  std::string describe() const override { return loc_.name; }

  Status check_writable() override {
    const std::string probe = loc_.key(".strata-probe-" + unique_suffix());
    Status s = loc_.client->put_object(loc_.bucket, probe, "probe").status();
    if (s.is_ok()) s = loc_.client->delete_object(loc_.bucket, probe);
    if (!s.is_ok()) {
      std::string msg = "target " + loc_.name + " at " + loc_.client->endpoint() +
                        " is not writable: " + s.message();
      return s.is_retryable() ? Status::retryable(msg) : Status::permanent(msg);
    }
    return Status::ok();
  }

  Result<std::unique_ptr<PartWriter>> create_part(
      const std::string& path, const FormatSpec& format, std::shared_ptr<const Schema> schema,
      const std::map<std::string, std::string>& metadata) override {
    STRATA_TRY(check_relative(path, false));
    auto writer = std::make_unique<S3PartWriter>(loc_, path, part_size_);
    STRATA_TRY(writer->open_format(format, std::move(schema), metadata)
                   .with_context("part " + loc_.url(path)));
    return std::unique_ptr<PartWriter>(std::move(writer));
  }

  Status put(const std::string& path, std::string_view content) override {
    STRATA_TRY(check_relative(path, false));
    return loc_.client->put_object(loc_.bucket, loc_.key(path), content).status();
  }

  // A conditional PUT (If-None-Match: *): S3 creates the object only if no object has the key.
  Result<bool> put_if_absent(const std::string& path, std::string_view content) override {
    STRATA_TRY(check_relative(path, false));
    s3::PutOptions options;
    options.if_none_match = "*";
    STRATA_ASSIGN_OR_RETURN(s3::PutOutcome outcome,
                            loc_.client->put_object(loc_.bucket, loc_.key(path), content, options));
    return outcome.written;
  }

  Result<std::optional<std::string>> get(const std::string& path) override {
    STRATA_TRY(check_relative(path, false));
    return loc_.client->get_object(loc_.bucket, loc_.key(path));
  }

  Result<std::vector<std::string>> list(const std::string& prefix) override {
    if (!prefix.empty()) STRATA_TRY(check_relative(prefix, true));
    const std::string root = loc_.prefix.empty() ? "" : loc_.prefix + "/";
    STRATA_ASSIGN_OR_RETURN(std::vector<s3::ListedObject> objects,
                            loc_.client->list_objects(loc_.bucket, root + prefix));
    std::vector<std::string> out;
    out.reserve(objects.size());
    for (s3::ListedObject& o : objects) {
      if (o.key.size() <= root.size() || o.key.back() == '/') continue;  // folder markers
      std::string rel = o.key.substr(root.size());
      if (base_name(rel).rfind(".strata-probe-", 0) == 0) continue;
      out.push_back(std::move(rel));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  Status remove(const std::string& path) override {
    STRATA_TRY(check_relative(path, false));
    return loc_.client->delete_object(loc_.bucket, loc_.key(path));
  }

  Status remove_incomplete(const std::string& dir, const std::string& name_prefix) override {
    STRATA_TRY(check_relative(dir, true));
    std::string key_prefix = loc_.key(dir);
    if (key_prefix.back() != '/') key_prefix += '/';
    STRATA_ASSIGN_OR_RETURN(std::optional<std::vector<s3::MultipartUpload>> uploads,
                            loc_.client->list_multipart_uploads(loc_.bucket, key_prefix));
    if (!uploads) {
      spdlog::warn(
          "S3 endpoint {} does not implement ListMultipartUploads: uploads a killed run "
          "left under {} cannot be aborted (they are invisible, but take space)",
          loc_.client->endpoint(), "s3://" + loc_.bucket + "/" + key_prefix);
      return Status::ok();
    }
    for (const s3::MultipartUpload& u : *uploads) {
      if (u.key.compare(0, key_prefix.size(), key_prefix) != 0) continue;
      if (base_name(u.key).rfind(name_prefix, 0) != 0) continue;
      spdlog::info("aborting the unfinished upload of s3://{}/{}", loc_.bucket, u.key);
      STRATA_TRY(loc_.client->abort_multipart_upload(loc_.bucket, u.key, u.upload_id));
    }
    return Status::ok();
  }

  Result<std::unique_ptr<ByteSource>> open(const std::string& path) override {
    STRATA_TRY(check_relative(path, false));
    const std::string key = loc_.key(path);
    STRATA_ASSIGN_OR_RETURN(std::optional<s3::ObjectInfo> info,
                            loc_.client->head_object(loc_.bucket, key));
    if (!info) {
      return Status::permanent("cannot open " + loc_.url(path) + ": no such object");
    }
    return std::unique_ptr<ByteSource>(
        std::make_unique<S3ByteSource>(loc_.client, loc_.bucket, key, std::move(*info)));
  }

 private:
  Status check_relative(const std::string& path, bool prefix) const {
    return check_relative_path("target " + loc_.name, path, prefix);
  }

  const Location loc_;
  const size_t part_size_;
};

}  // namespace

Result<uint64_t> s3_upload_file(Target& target, const std::string& local,
                                const std::string& path) {
  auto* s3 = dynamic_cast<S3Target*>(&target);
  if (s3 == nullptr) return Status::permanent(target.describe() + " is not an S3 target");
  Result<uint64_t> bytes = s3->upload_file(local, path);
  if (!bytes.is_ok()) return bytes.status().with_context("upload " + local);
  return bytes;
}

Result<std::unique_ptr<Target>> open_s3_target(const Uri& uri, const std::string& /*base_dir*/) {
  if (uri.scheme != "s3") {
    return Status::permanent("target scheme '" + uri.scheme + "' is not s3 (expected " +
                             "s3://bucket/prefix)");
  }
  if (!uri.user.empty() || !uri.password.empty()) {
    return Status::permanent("target s3://" + uri.host + uri.path +
                             ": credentials do not go in the URI; set AWS_ACCESS_KEY_ID and "
                             "AWS_SECRET_ACCESS_KEY, or name a profile with ?profile=");
  }
  STRATA_ASSIGN_OR_RETURN(std::string bucket, expand_env(uri.host));
  STRATA_ASSIGN_OR_RETURN(std::string prefix, expand_env(uri.path));
  if (bucket.empty()) {
    return Status::permanent("target " + uri.redacted() +
                             " names no bucket (expected s3://bucket/prefix)");
  }
  while (!prefix.empty() && prefix.front() == '/') prefix.erase(prefix.begin());
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  const std::string name = "s3://" + bucket + (prefix.empty() ? "" : "/" + prefix);

  s3::ConfigOverrides overrides;
  uint64_t part_mb = 16;
  for (const auto& [key, raw] : uri.query) {
    STRATA_ASSIGN_OR_RETURN(std::string value, expand_env(raw));
    if (key == "region") {
      overrides.region = value;
    } else if (key == "endpoint") {
      overrides.endpoint = value;
    } else if (key == "addressing") {
      overrides.addressing = value;
    } else if (key == "profile") {
      overrides.profile = value;
    } else if (key == "part_size_mb") {
      char* end = nullptr;
      part_mb = std::strtoull(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || part_mb < 5 || part_mb > 64) {
        return Status::permanent("target " + name + ": part_size_mb '" + value +
                                 "' must be a whole number from 5 (S3's minimum) to 64");
      }
    } else {
      return Status::permanent("target " + name + ": unknown URI option '" + key +
                               "' (known: region, endpoint, addressing, profile, part_size_mb)");
    }
  }
  STRATA_ASSIGN_OR_RETURN(s3::ClientConfig config, s3::resolve_config(bucket, overrides));
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<S3Client> client, S3Client::create(std::move(config)));
  Location loc;
  loc.client = std::shared_ptr<S3Client>(std::move(client));
  loc.bucket = std::move(bucket);
  loc.prefix = std::move(prefix);
  loc.name = name;
  return std::unique_ptr<Target>(std::make_unique<S3Target>(std::move(loc), part_mb * kMiB));
}

}  // namespace strata
