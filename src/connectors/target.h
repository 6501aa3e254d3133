// A cold target: where part files, manifests and the catalog live (a local directory, an S3
// prefix). Paths are relative to the target root and use '/'. Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/schema.h"
#include "core/status.h"
#include "formats/format.h"

namespace strata {

// What a committed part file holds.
struct PartFile {
  std::string path;  // relative to the target root
  uint64_t rows = 0;
  uint64_t bytes = 0;
  std::string sha256;
  std::string checksum;  // RowChecksum::to_string() of its rows
};

// One part file being written. Invisible to readers of the target until commit().
// Destroying it without commit() aborts.
class PartWriter {
 public:
  virtual ~PartWriter() = default;
  virtual Status write(const Batch& batch) = 0;
  // Finishes the format, makes the bytes durable (fsync / completed upload) under the final
  // path, and returns its facts (sha256 over the bytes as stored).
  virtual Result<PartFile> commit() = 0;
  virtual void abort() = 0;
  virtual uint64_t rows() const = 0;
  // Encoded bytes so far (approximate before commit); for progress and row-group sizing.
  virtual uint64_t bytes() const = 0;
};

class Target {
 public:
  virtual ~Target() = default;
  // The target's address with secrets redacted, for messages and manifests.
  virtual std::string describe() const = 0;
  // Checks the target is reachable and writable; a clear error otherwise.
  virtual Status check_writable() = 0;
  virtual Result<std::unique_ptr<PartWriter>> create_part(
      const std::string& path, const FormatSpec& format, std::shared_ptr<const Schema> schema,
      const std::map<std::string, std::string>& metadata) = 0;
  // Small documents (manifests, catalog): atomic replace.
  virtual Status put(const std::string& path, std::string_view content) = 0;
  // Creates the document only if `path` does not exist yet (rename-free exclusive create on
  // files, a conditional PUT on objects): true when created, false when it existed. What keeps
  // concurrent catalog writers from losing each other's entries.
  virtual Result<bool> put_if_absent(const std::string& path, std::string_view content) {
    (void)path;
    (void)content;
    return Status::permanent(describe() + " cannot create documents exclusively");
  }
  // Whether the target keeps a catalog of its archive (`strata ls`); database tables do not.
  virtual bool keeps_catalog() const { return true; }
  // nullopt when the object does not exist.
  virtual Result<std::optional<std::string>> get(const std::string& path) = 0;
  // Every object under `prefix` (recursive), relative paths, sorted.
  virtual Result<std::vector<std::string>> list(const std::string& prefix) = 0;
  virtual Status remove(const std::string& path) = 0;  // ok if missing
  // Removes parts that were started under `dir` (recursively) and never committed, whose final
  // file name starts with `name_prefix`: what a process killed mid-part leaves behind.
  virtual Status remove_incomplete(const std::string& dir, const std::string& name_prefix) = 0;
  virtual Result<std::unique_ptr<ByteSource>> open(const std::string& path) = 0;
};

}  // namespace strata
