// RLE / bit-packed hybrid, DELTA_BINARY_PACKED and hash dictionaries (see parquet_encoding.h).
#include "formats/parquet/parquet_encoding.h"

#include <xxhash.h>

#include <algorithm>

namespace strata::parquet {

namespace {

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

constexpr size_t kDeltaBlock = 128;     // values per block
constexpr size_t kDeltaMiniblocks = 4;  // miniblocks per block
constexpr size_t kDeltaMini = kDeltaBlock / kDeltaMiniblocks;

uint64_t zigzag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t unzigzag(uint64_t u) { return static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1); }

// Reads one ULEB128 varint of at most 10 bytes; false when the input ends or it is longer.
bool get_varint(const uint8_t*& p, const uint8_t* end, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (p == end) return false;
    const uint8_t b = *p++;
    v |= static_cast<uint64_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

// Appends `n` values of `bw` bits each, LSB-first, as the format bit-packs them (the hybrid's
// literal runs, DELTA_BINARY_PACKED's miniblocks); a partial last byte is padded with zeros.
// `Acc` holds up to 7 pending bits plus one value: uint64_t for widths up to 32, unsigned
// __int128 up to 64.
template <typename Acc, typename T>
void bit_pack(const T* v, size_t n, int bw, std::string& out) {
  Acc acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; ++i) {
    acc |= static_cast<Acc>(v[i]) << bits;
    bits += bw;
    while (bits >= 8) {
      out.push_back(static_cast<char>(acc & 0xFF));
      acc >>= 8;
      bits -= 8;
    }
  }
  if (bits > 0) out.push_back(static_cast<char>(acc & 0xFF));
}

uint64_t low_bits(int bw) { return bw >= 64 ? ~uint64_t{0} : (uint64_t{1} << bw) - 1; }

// read_bits for a value that straddles 8 bytes (widths over 57) or ends within 8 bytes of the end.
[[gnu::noinline]] uint64_t read_bits_near_end(const uint8_t* src, size_t size, uint64_t bit,
                                              int bw) {
  const uint64_t byte = bit >> 3;
  unsigned __int128 w = 0;
  const uint64_t last = (bit + static_cast<uint64_t>(bw) + 7) >> 3;
  for (uint64_t b = byte; b < last && b < size; ++b) {
    w |= static_cast<unsigned __int128>(src[b]) << (8 * (b - byte));
  }
  return static_cast<uint64_t>(w >> (bit & 7)) & low_bits(bw);
}

// The `bw`-bit value (0-64) at bit offset `bit` of LSB-first packed bytes [src, src + size),
// never reading past them (bytes beyond read as 0).
inline uint64_t read_bits(const uint8_t* src, size_t size, uint64_t bit, int bw) {
  const uint64_t byte = bit >> 3;
  const unsigned shift = static_cast<unsigned>(bit & 7);
  if (shift + static_cast<unsigned>(bw) <= 64 && byte + 8 <= size) [[likely]] {
    uint64_t word;
    std::memcpy(&word, src + byte, 8);
    return (word >> shift) & low_bits(bw);
  }
  return read_bits_near_end(src, size, bit, bw);
}

// Value i of `values` (width 4 or 8) as the unsigned pattern the deltas wrap in.
uint64_t load_value(const char* values, size_t i, size_t width) {
  if (width == 4) {
    uint32_t u;
    std::memcpy(&u, values + i * 4, 4);
    return u;
  }
  uint64_t u;
  std::memcpy(&u, values + i * 8, 8);
  return u;
}

// The signed value of a width-bit pattern.
int64_t as_signed(uint64_t u, size_t width) {
  return width == 4 ? static_cast<int32_t>(static_cast<uint32_t>(u)) : static_cast<int64_t>(u);
}

}  // namespace

void delta_binary_pack(const char* values, size_t n, size_t width, std::string& out) {
  const uint64_t mask = width == 4 ? 0xFFFFFFFFull : ~uint64_t{0};
  put_varint(out, kDeltaBlock);
  put_varint(out, kDeltaMiniblocks);
  put_varint(out, n);
  uint64_t prev = n > 0 ? load_value(values, 0, width) : 0;
  put_varint(out, zigzag(as_signed(prev, width)));
  int64_t deltas[kDeltaBlock];
  uint64_t adjusted[kDeltaBlock];
  for (size_t i = 1; i < n; i += kDeltaBlock) {
    const size_t m = std::min(kDeltaBlock, n - i);
    int64_t min_delta = 0;
    for (size_t j = 0; j < m; ++j) {
      const uint64_t v = load_value(values, i + j, width);
      deltas[j] = as_signed((v - prev) & mask, width);
      prev = v;
      min_delta = j == 0 ? deltas[j] : std::min(min_delta, deltas[j]);
    }
    for (size_t j = 0; j < kDeltaBlock; ++j) {
      adjusted[j] =
          j < m ? (static_cast<uint64_t>(deltas[j]) - static_cast<uint64_t>(min_delta)) & mask : 0;
    }
    put_varint(out, zigzag(min_delta));
    const size_t minis = (m + kDeltaMini - 1) / kDeltaMini;
    int widths[kDeltaMiniblocks] = {};
    for (size_t k = 0; k < minis; ++k) {
      uint64_t all = 0;
      for (size_t j = k * kDeltaMini; j < (k + 1) * kDeltaMini; ++j) all |= adjusted[j];
      widths[k] = bit_width_of(all);
    }
    for (int w : widths) out.push_back(static_cast<char>(w));
    for (size_t k = 0; k < minis; ++k) {
      bit_pack<unsigned __int128>(adjusted + k * kDeltaMini, kDeltaMini, widths[k], out);
    }
  }
}

const uint8_t* delta_binary_unpack(const uint8_t* p, const uint8_t* end, size_t width,
                                   size_t max_values, std::vector<uint8_t>& out,
                                   std::string& error) {
  const uint64_t mask = width == 4 ? 0xFFFFFFFFull : ~uint64_t{0};
  uint64_t block = 0, minis = 0, total = 0, first = 0;
  if (!get_varint(p, end, block) || !get_varint(p, end, minis) || !get_varint(p, end, total) ||
      !get_varint(p, end, first)) {
    error = "DELTA_BINARY_PACKED header is cut short";
    return nullptr;
  }
  if (block == 0 || block % 128 != 0 || block > (1u << 16) || minis == 0 || block % minis != 0 ||
      (block / minis) % 32 != 0) {
    error = "DELTA_BINARY_PACKED block of " + std::to_string(block) + " values in " +
            std::to_string(minis) + " miniblocks (the format asks for multiples of 128 and 32)";
    return nullptr;
  }
  if (total > max_values) {
    error = "DELTA_BINARY_PACKED claims " + std::to_string(total) + " values, the page has " +
            std::to_string(max_values);
    return nullptr;
  }
  const size_t per_mini = block / minis;
  if (total == 0) return p;
  const size_t at = out.size();
  out.resize(at + total * width);
  uint8_t* dst = out.data() + at;
  auto put = [&](uint64_t v) {
    std::memcpy(dst, &v, width);  // little-endian hosts only (x86-64, aarch64)
    dst += width;
  };
  uint64_t prev = static_cast<uint64_t>(unzigzag(first)) & mask;
  put(prev);
  uint64_t left = total - 1;
  while (left > 0) {
    uint64_t zz = 0;
    if (!get_varint(p, end, zz)) {
      error = "DELTA_BINARY_PACKED block header is cut short";
      return nullptr;
    }
    const auto min_delta = static_cast<uint64_t>(unzigzag(zz));
    if (static_cast<uint64_t>(end - p) < minis) {
      error = "DELTA_BINARY_PACKED miniblock widths are cut short";
      return nullptr;
    }
    const uint8_t* widths = p;
    p += minis;
    for (uint64_t k = 0; k < minis && left > 0; ++k) {
      const int bw = widths[k];
      if (bw > static_cast<int>(width * 8)) {
        error = "DELTA_BINARY_PACKED miniblock of " + std::to_string(bw) + "-bit deltas";
        return nullptr;
      }
      const size_t bytes = per_mini * static_cast<size_t>(bw) / 8;
      if (static_cast<size_t>(end - p) < bytes) {
        error = "DELTA_BINARY_PACKED miniblock is cut short";
        return nullptr;
      }
      const uint64_t take = std::min<uint64_t>(per_mini, left);
      for (uint64_t j = 0; j < take; ++j) {
        const uint64_t adj = read_bits(p, bytes, j * static_cast<uint64_t>(bw), bw);
        prev = (prev + min_delta + adj) & mask;
        put(prev);
      }
      p += bytes;
      left -= take;
    }
  }
  return p;
}

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
  bit_pack<uint64_t>(buffered_, static_cast<size_t>(num_buffered_), bit_width_, *out_);
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
      // The gather of read_bits, specialised for widths up to 32 with the mask hoisted: this
      // loop decodes every dictionary index and definition level (read_bits here costs 20-25%
      // of the decoder's speed, parquet_encoders_bench BM_RleDecodeIndices).
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
