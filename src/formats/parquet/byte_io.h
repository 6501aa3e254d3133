// In-memory ByteSink / ByteSource for the Parquet tests, benchmarks and fuzz target. Production
// code reads and writes through the sources and sinks of format.h and the connectors.
#pragma once

#include <cstring>
#include <string>
#include <string_view>

#include "formats/format.h"

namespace strata::parquet {

class StringSink final : public ByteSink {
 public:
  Status write(const void* data, size_t n) override {
    bytes_.append(static_cast<const char*>(data), n);
    return Status::ok();
  }
  const std::string& bytes() const { return bytes_; }
  std::string take() { return std::move(bytes_); }

 private:
  std::string bytes_;
};

// Reads from bytes it does not own.
class StringSource final : public ByteSource {
 public:
  StringSource(std::string_view bytes, std::string name = "memory")
      : bytes_(bytes), name_(std::move(name)) {}
  Result<uint64_t> size() override { return static_cast<uint64_t>(bytes_.size()); }
  Status read_at(uint64_t offset, size_t n, void* out) override {
    if (offset > bytes_.size() || n > bytes_.size() - offset) {
      return Status::permanent(name_ + ": read of " + std::to_string(n) + " bytes at " +
                               std::to_string(offset) + " past the end (" +
                               std::to_string(bytes_.size()) + " bytes)");
    }
    if (n > 0) std::memcpy(out, bytes_.data() + offset, n);
    ++reads_;
    return Status::ok();
  }
  std::string name() const override { return name_; }
  size_t reads() const { return reads_; }

 private:
  std::string_view bytes_;
  std::string name_;
  size_t reads_ = 0;
};

}  // namespace strata::parquet
