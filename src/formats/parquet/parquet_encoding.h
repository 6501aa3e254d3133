// Parquet value encodings used by the writer and reader: the RLE / bit-packed hybrid (definition
// levels, dictionary indices), DELTA_BINARY_PACKED (integer columns whose neighbours are close:
// keys, timestamps), and the hash dictionaries behind dictionary encoding. PLAIN is memcpy-like
// and lives in the writer and reader loops.
//
// Encoders append to caller-owned buffers and keep their capacity across pages: no allocation per
// value. Decoders read from caller-owned bytes, never past `size`, and report corrupt input by
// returning fewer values than asked (the caller names the file, column and page).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace strata::parquet {

// Bits needed to represent `max_value` (0 for 0).
inline int bit_width_of(uint64_t max_value) {
  return max_value == 0 ? 0 : 64 - __builtin_clzll(max_value);
}

inline void append_u32_le(std::string& out, uint32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);  // little-endian hosts only (x86-64, aarch64)
  out.append(b, 4);
}

// RLE / bit-packed hybrid encoder (Parquet Encodings.md, "RLE"), without the length prefix.
// Runs of 8 or more equal values become RLE runs; the rest is bit-packed in groups of 8.
class RleEncoder {
 public:
  // Starts a new encoded stream appended to `out`. bit_width in [0, 32].
  void reset(int bit_width, std::string* out);
  void put(uint32_t value) {
    if (value == current_value_) {
      ++repeat_count_;
      if (repeat_count_ > 8) return;  // continuation of a run: nothing to buffer
    } else {
      if (repeat_count_ >= 8) flush_repeated_run();
      repeat_count_ = 1;
      current_value_ = value;
    }
    buffered_[num_buffered_++] = value;
    if (num_buffered_ == 8) flush_buffered(false);
  }
  // put(value) `count` times, in O(1) once a run is established.
  void put_repeated(uint32_t value, uint64_t count) {
    while (count > 0 && !(value == current_value_ && repeat_count_ >= 8)) {
      put(value);
      --count;
    }
    repeat_count_ += count;
  }
  // Writes everything buffered. The stream is complete afterwards.
  void flush();

 private:
  void flush_buffered(bool done);
  void flush_literal_run(bool update_indicator);
  void flush_repeated_run();
  void pack_buffered();

  std::string* out_ = nullptr;
  int bit_width_ = 0;
  uint32_t buffered_[8] = {};
  int num_buffered_ = 0;
  uint32_t current_value_ = 0;
  uint64_t repeat_count_ = 0;
  uint64_t literal_count_ = 0;
  size_t indicator_pos_ = std::string::npos;
};

// Decoder for the RLE / bit-packed hybrid.
class RleDecoder {
 public:
  void reset(const uint8_t* data, size_t size, int bit_width) {
    p_ = data;
    end_ = data + size;
    bit_width_ = bit_width;
    repeat_left_ = 0;
    literal_left_ = 0;
  }
  // Decodes up to n values into out; returns how many (fewer only when the input ends or is
  // corrupt).
  size_t get(uint32_t* out, size_t n);
  // Bytes not consumed yet (for v1 dictionary-index streams this is the end of the page).
  size_t remaining_bytes() const { return static_cast<size_t>(end_ - p_); }

 private:
  bool next_run();

  const uint8_t* p_ = nullptr;
  const uint8_t* end_ = nullptr;
  int bit_width_ = 0;
  uint64_t repeat_left_ = 0;
  uint32_t repeat_value_ = 0;
  uint64_t literal_left_ = 0;
  const uint8_t* literal_ = nullptr;  // bit-packed values of the current literal run
  uint64_t literal_bit_ = 0;          // bit offset of the next literal value
  uint64_t literal_bits_ = 0;         // bits available in the literal run
};

// DELTA_BINARY_PACKED (Parquet Encodings.md): a header (block size 128, 4 miniblocks, the value
// count, the first value), then per block of 128 deltas their minimum and 4 miniblocks of 32
// deltas above it, each bit-packed LSB-first at its own width. Deltas wrap around in the values'
// width, as the format asks, so every INT32 and INT64 sequence round-trips.
//
// Appends the encoding of `n` little-endian values of `width` bytes (4 or 8) at `values`.
void delta_binary_pack(const char* values, size_t n, size_t width, std::string& out);

// Decodes the stream at [p, end) into little-endian values of `width` bytes (4 or 8) appended to
// `out`, at most `max_values` of them. Returns the first byte after the stream, or nullptr with
// `error` saying what is wrong with the input.
const uint8_t* delta_binary_unpack(const uint8_t* p, const uint8_t* end, size_t width,
                                   size_t max_values, std::vector<uint8_t>& out,
                                   std::string& error);

// Packs `n` booleans (0/1 bytes) LSB-first, as PLAIN BOOLEAN.
void pack_bools(const uint8_t* values, size_t n, std::string& out);

// Dictionary of 64-bit keys (int values or double bit patterns) in first-seen order: open
// addressing with linear probing, kept under half full.
class IntDictionary {
 public:
  IntDictionary() { clear(); }
  // Index of `key`, inserting it if new.
  uint32_t get_or_insert(uint64_t key) {
    size_t slot = hash(key) & mask_;
    for (;;) {
      const int32_t idx = slots_[slot];
      if (idx < 0) break;
      if (values_[static_cast<size_t>(idx)] == key) return static_cast<uint32_t>(idx);
      slot = (slot + 1) & mask_;
    }
    const auto idx = static_cast<uint32_t>(values_.size());
    slots_[slot] = static_cast<int32_t>(idx);
    values_.push_back(key);
    if (values_.size() * 2 > slots_.size()) grow();
    return idx;
  }
  size_t size() const { return values_.size(); }
  const std::vector<uint64_t>& values() const { return values_; }
  // Keeps only the first n entries.
  void truncate(size_t n);
  void clear();

 private:
  static size_t hash(uint64_t key) {
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return static_cast<size_t>(key);
  }
  void grow();
  void rehash(size_t capacity);

  std::vector<int32_t> slots_;
  std::vector<uint64_t> values_;
  size_t mask_ = 0;
};

// Dictionary of byte strings in first-seen order; entries live in one arena.
class BytesDictionary {
 public:
  BytesDictionary() { clear(); }
  // Index of `v`, inserting it if new; `inserted` tells which.
  uint32_t get_or_insert(std::string_view v, bool& inserted);
  size_t size() const { return offsets_.size() - 1; }
  std::string_view at(size_t i) const {
    return std::string_view(chars_.data() + offsets_[i], offsets_[i + 1] - offsets_[i]);
  }
  size_t chars_size() const { return chars_.size(); }
  void truncate(size_t n);
  void clear();

 private:
  struct Slot {
    int32_t index;
    uint32_t hash;
  };
  static uint64_t hash(std::string_view v);
  void rehash(size_t capacity);

  std::vector<Slot> slots_;
  std::vector<uint64_t> offsets_;
  std::string chars_;
  size_t mask_ = 0;
};

}  // namespace strata::parquet
