// In-memory ByteSink and ByteSource: for tests, and for small documents built or checked in
// memory. Not thread-safe.
#pragma once

#include <string>

#include "formats/format.h"

namespace strata {

// Appends everything written to a string.
class StringSink final : public ByteSink {
 public:
  Status write(const void* data, size_t n) override {
    data_.append(static_cast<const char*>(data), n);
    return Status::ok();
  }
  const std::string& data() const { return data_; }
  std::string& data() { return data_; }

 private:
  std::string data_;
};

// Serves the bytes of a string; `name` appears in messages.
class StringSource final : public ByteSource {
 public:
  explicit StringSource(std::string data, std::string name = "<memory>")
      : data_(std::move(data)), name_(std::move(name)) {}
  Result<uint64_t> size() override { return static_cast<uint64_t>(data_.size()); }
  Status read_at(uint64_t offset, size_t n, void* out) override {
    if (offset > data_.size() || n > data_.size() - offset) {
      return Status::permanent(name_ + ": read of " + std::to_string(n) + " bytes at offset " +
                               std::to_string(offset) + " is past the end (" +
                               std::to_string(data_.size()) + " bytes)");
    }
    data_.copy(static_cast<char*>(out), n, static_cast<size_t>(offset));
    return Status::ok();
  }
  std::string name() const override { return name_; }

 private:
  std::string data_;
  std::string name_;
};

}  // namespace strata
