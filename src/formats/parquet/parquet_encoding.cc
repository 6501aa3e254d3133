// RLE / bit-packed hybrid and hash dictionaries (see parquet_encoding.h).
#include "formats/parquet/parquet_encoding.h"

#include <xxhash.h>

namespace strata::parquet {

namespace {

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

}  // namespace

void RleEncoder::reset(int bit_width, std::string* out) {
  out_ = out;
  bit_width_ = bit_width;
  num_buffered_ = 0;
  current_value_ = 0;
  repeat_count_ = 0;
  literal_count_ = 0;
  indicator_pos_ = std::string::npos;
}

void RleEncoder::pack_buffered() {
  // 8 values of bit_width_ bits take exactly bit_width_ bytes.
  uint64_t acc = 0;
  int bits = 0;
  for (int i = 0; i < num_buffered_; ++i) {
    acc |= static_cast<uint64_t>(buffered_[i]) << bits;
    bits += bit_width_;
    while (bits >= 8) {
      out_->push_back(static_cast<char>(acc & 0xFF));
      acc >>= 8;
      bits -= 8;
    }
  }
  if (bits > 0) out_->push_back(static_cast<char>(acc & 0xFF));
}

void RleEncoder::flush_literal_run(bool update_indicator) {
  if (indicator_pos_ == std::string::npos) {
    indicator_pos_ = out_->size();
    out_->push_back('\0');  // reserved; at most 63 groups so one byte suffices
  }
  pack_buffered();
  num_buffered_ = 0;
  if (update_indicator) {
    const uint64_t groups = literal_count_ / 8;
    (*out_)[indicator_pos_] = static_cast<char>((groups << 1) | 1);
    indicator_pos_ = std::string::npos;
    literal_count_ = 0;
  }
}

void RleEncoder::flush_repeated_run() {
  put_varint(*out_, repeat_count_ << 1);
  uint32_t v = current_value_;
  for (int i = 0; i < (bit_width_ + 7) / 8; ++i) {
    out_->push_back(static_cast<char>(v & 0xFF));
    v >>= 8;
  }
  num_buffered_ = 0;
  repeat_count_ = 0;
}

void RleEncoder::flush_buffered(bool done) {
  if (repeat_count_ >= 8) {
    // The buffered values belong to a repeated run now.
    num_buffered_ = 0;
    if (literal_count_ != 0) flush_literal_run(true);
    return;
  }
  literal_count_ += static_cast<uint64_t>(num_buffered_);
  const uint64_t groups = literal_count_ / 8;
  flush_literal_run(done || groups + 1 >= 64);
  repeat_count_ = 0;
}

void RleEncoder::flush() {
  if (literal_count_ > 0 || repeat_count_ > 0 || num_buffered_ > 0) {
    const bool all_repeat =
        literal_count_ == 0 &&
        (repeat_count_ == static_cast<uint64_t>(num_buffered_) || num_buffered_ == 0);
    if (repeat_count_ > 0 && all_repeat) {
      flush_repeated_run();
    } else {
      while (num_buffered_ != 0 && num_buffered_ < 8) buffered_[num_buffered_++] = 0;
      literal_count_ += static_cast<uint64_t>(num_buffered_);
      flush_literal_run(true);
      repeat_count_ = 0;
    }
  }
  num_buffered_ = 0;
  repeat_count_ = 0;
  literal_count_ = 0;
  current_value_ = 0;
  indicator_pos_ = std::string::npos;
}

bool RleDecoder::next_run() {
  uint64_t header = 0;
  for (int shift = 0;; shift += 7) {
    if (p_ >= end_ || shift > 28) return false;
    const uint8_t b = *p_++;
    header |= static_cast<uint64_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) break;
  }
  if (header & 1) {
    const uint64_t groups = header >> 1;
    const uint64_t bytes = groups * static_cast<uint64_t>(bit_width_);
    const auto available = static_cast<uint64_t>(end_ - p_);
    // A last run may be cut short by writers that omit the padding: decode what is there.
    const uint64_t take = bytes < available ? bytes : available;
    literal_ = p_;
    literal_bit_ = 0;
    literal_bits_ = take * 8;
    literal_left_ =
        bit_width_ == 0 ? groups * 8 : literal_bits_ / static_cast<uint64_t>(bit_width_);
    if (literal_left_ > groups * 8) literal_left_ = groups * 8;
    p_ += take;
    return literal_left_ > 0 || groups == 0;
  }
  repeat_left_ = header >> 1;
  const int nbytes = (bit_width_ + 7) / 8;
  if (end_ - p_ < nbytes) return false;
  uint32_t v = 0;
  for (int i = 0; i < nbytes; ++i) v |= static_cast<uint32_t>(p_[i]) << (8 * i);
  p_ += nbytes;
  repeat_value_ = v;
  return true;
}

size_t RleDecoder::get(uint32_t* out, size_t n) {
  size_t done = 0;
  const uint64_t mask = bit_width_ >= 32 ? 0xFFFFFFFFull : ((1ull << bit_width_) - 1);
  while (done < n) {
    if (repeat_left_ > 0) {
      uint64_t k = repeat_left_ < n - done ? repeat_left_ : n - done;
      for (uint64_t i = 0; i < k; ++i) out[done + i] = repeat_value_;
      done += k;
      repeat_left_ -= k;
      continue;
    }
    if (literal_left_ > 0) {
      uint64_t k = literal_left_ < n - done ? literal_left_ : n - done;
      for (uint64_t i = 0; i < k; ++i) {
        const uint64_t bit = literal_bit_;
        const uint64_t byte = bit >> 3;
        const unsigned shift = static_cast<unsigned>(bit & 7);
        // Gather up to 5 bytes covering the value, never past the run.
        uint64_t word = 0;
        const uint64_t avail = literal_bits_ >> 3;
        if (byte + 8 <= avail) {
          std::memcpy(&word, literal_ + byte, 8);
        } else {
          const uint64_t last = (bit + static_cast<uint64_t>(bit_width_) + 7) >> 3;
          for (uint64_t b = byte; b < last && b < avail; ++b) {
            word |= static_cast<uint64_t>(literal_[b]) << (8 * (b - byte));
          }
        }
        out[done + i] = static_cast<uint32_t>((word >> shift) & mask);
        literal_bit_ += static_cast<uint64_t>(bit_width_);
      }
      done += k;
      literal_left_ -= k;
      continue;
    }
    if (!next_run()) break;
  }
  return done;
}

void pack_bools(const uint8_t* values, size_t n, std::string& out) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint8_t b = 0;
    for (int j = 0; j < 8; ++j) b |= static_cast<uint8_t>((values[i + j] != 0) << j);
    out.push_back(static_cast<char>(b));
  }
  if (i < n) {
    uint8_t b = 0;
    for (int j = 0; i + j < n; ++j) b |= static_cast<uint8_t>((values[i + j] != 0) << j);
    out.push_back(static_cast<char>(b));
  }
}

// ---- IntDictionary ----

void IntDictionary::clear() {
  values_.clear();
  slots_.assign(1024, -1);
  mask_ = slots_.size() - 1;
}

void IntDictionary::rehash(size_t capacity) {
  slots_.assign(capacity, -1);
  mask_ = capacity - 1;
  for (size_t i = 0; i < values_.size(); ++i) {
    size_t slot = hash(values_[i]) & mask_;
    while (slots_[slot] >= 0) slot = (slot + 1) & mask_;
    slots_[slot] = static_cast<int32_t>(i);
  }
}

void IntDictionary::grow() { rehash(slots_.size() * 2); }

void IntDictionary::truncate(size_t n) {
  if (n >= values_.size()) return;
  values_.resize(n);
  rehash(slots_.size());
}

// ---- BytesDictionary ----

uint64_t BytesDictionary::hash(std::string_view v) { return XXH3_64bits(v.data(), v.size()); }

void BytesDictionary::clear() {
  offsets_.assign(1, 0);
  chars_.clear();
  slots_.assign(1024, Slot{-1, 0});
  mask_ = slots_.size() - 1;
}

uint32_t BytesDictionary::get_or_insert(std::string_view v, bool& inserted) {
  const uint64_t h = hash(v);
  const auto h32 = static_cast<uint32_t>(h >> 32);
  size_t slot = static_cast<size_t>(h) & mask_;
  for (;;) {
    const Slot& s = slots_[slot];
    if (s.index < 0) break;
    if (s.hash == h32 && at(static_cast<size_t>(s.index)) == v) {
      inserted = false;
      return static_cast<uint32_t>(s.index);
    }
    slot = (slot + 1) & mask_;
  }
  const auto idx = static_cast<uint32_t>(size());
  slots_[slot] = Slot{static_cast<int32_t>(idx), h32};
  chars_.append(v.data(), v.size());
  offsets_.push_back(chars_.size());
  inserted = true;
  if (size() * 2 > slots_.size()) rehash(slots_.size() * 2);
  return idx;
}

void BytesDictionary::rehash(size_t capacity) {
  slots_.assign(capacity, Slot{-1, 0});
  mask_ = capacity - 1;
  for (size_t i = 0; i < size(); ++i) {
    const uint64_t h = hash(at(i));
    size_t slot = static_cast<size_t>(h) & mask_;
    while (slots_[slot].index >= 0) slot = (slot + 1) & mask_;
    slots_[slot] = Slot{static_cast<int32_t>(i), static_cast<uint32_t>(h >> 32)};
  }
}

void BytesDictionary::truncate(size_t n) {
  if (n >= size()) return;
  offsets_.resize(n + 1);
  chars_.resize(offsets_.back());
  rehash(slots_.size());
}

}  // namespace strata::parquet
