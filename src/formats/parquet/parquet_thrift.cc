// Thrift compact protocol for the Parquet footer and page headers (see parquet_thrift.h for why
// this is hand-written). Field ids and types follow parquet_format.thrift.
#include "formats/parquet/parquet_thrift.h"

#include <cstring>
#include <limits>
#include <string_view>

namespace strata::parquet {

namespace {

// Compact protocol type codes.
enum : uint8_t {
  kStop = 0,
  kTrue = 1,
  kFalse = 2,
  kByte = 3,
  kI16 = 4,
  kI32 = 5,
  kI64 = 6,
  kDouble = 7,
  kBinary = 8,
  kList = 9,
  kSet = 10,
  kMap = 11,
  kStruct = 12,
};

constexpr int kMaxDepth = 32;

// ---------------------------------------------------------------------------------------------
// Encoder

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  void begin_struct() {
    stack_[depth_++] = last_id_;
    last_id_ = 0;
  }
  void end_struct() {
    out_.push_back(static_cast<char>(kStop));
    last_id_ = stack_[--depth_];
  }
  void field(int16_t id, uint8_t type) {
    if (id > last_id_ && id - last_id_ <= 15) {
      out_.push_back(static_cast<char>(((id - last_id_) << 4) | type));
    } else {
      out_.push_back(static_cast<char>(type));
      varint(zigzag(id));
    }
    last_id_ = id;
  }
  void i32(int16_t id, int32_t v) {
    field(id, kI32);
    varint(zigzag(v));
  }
  void i64(int16_t id, int64_t v) {
    field(id, kI64);
    varint(zigzag(v));
  }
  void i16(int16_t id, int16_t v) {
    field(id, kI16);
    varint(zigzag(v));
  }
  void byte(int16_t id, int8_t v) {
    field(id, kByte);
    out_.push_back(static_cast<char>(v));
  }
  void boolean(int16_t id, bool v) { field(id, v ? kTrue : kFalse); }
  void binary(int16_t id, std::string_view v) {
    field(id, kBinary);
    raw_binary(v);
  }
  void raw_binary(std::string_view v) {
    varint(v.size());
    out_.append(v.data(), v.size());
  }
  void list(int16_t id, uint8_t elem_type, size_t n) {
    field(id, kList);
    if (n < 15) {
      out_.push_back(static_cast<char>((n << 4) | elem_type));
    } else {
      out_.push_back(static_cast<char>(0xF0 | elem_type));
      varint(n);
    }
  }
  void raw_i32(int32_t v) { varint(zigzag(v)); }
  void empty_struct(int16_t id) {
    field(id, kStruct);
    out_.push_back(static_cast<char>(kStop));
  }

 private:
  static uint64_t zigzag(int64_t v) {
    return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  }
  void varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7F) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }

  std::string& out_;
  int16_t last_id_ = 0;
  int16_t stack_[kMaxDepth] = {};
  int depth_ = 0;
};

void write_statistics(Writer& w, int16_t id, const Statistics& s) {
  w.field(id, kStruct);
  w.begin_struct();
  if (s.max) w.binary(1, *s.max);
  if (s.min) w.binary(2, *s.min);
  if (s.null_count) w.i64(3, *s.null_count);
  if (s.distinct_count) w.i64(4, *s.distinct_count);
  if (s.max_value) w.binary(5, *s.max_value);
  if (s.min_value) w.binary(6, *s.min_value);
  if (s.is_max_value_exact) w.boolean(7, *s.is_max_value_exact);
  if (s.is_min_value_exact) w.boolean(8, *s.is_min_value_exact);
  if (s.nan_count) w.i64(9, *s.nan_count);
  w.end_struct();
}

void write_time_unit(Writer& w, int16_t id, TimeUnit unit) {
  w.field(id, kStruct);
  w.begin_struct();
  w.empty_struct(static_cast<int16_t>(unit));
  w.end_struct();
}

void write_logical_type(Writer& w, int16_t id, const LogicalType& t) {
  w.field(id, kStruct);
  w.begin_struct();
  const auto member = static_cast<int16_t>(t.kind);
  switch (t.kind) {
    case LogicalType::Kind::kDecimal:
      w.field(member, kStruct);
      w.begin_struct();
      w.i32(1, t.scale);
      w.i32(2, t.precision);
      w.end_struct();
      break;
    case LogicalType::Kind::kTime:
    case LogicalType::Kind::kTimestamp:
      w.field(member, kStruct);
      w.begin_struct();
      w.boolean(1, t.is_adjusted_to_utc);
      write_time_unit(w, 2, t.unit);
      w.end_struct();
      break;
    case LogicalType::Kind::kInteger:
      w.field(member, kStruct);
      w.begin_struct();
      w.byte(1, t.bit_width);
      w.boolean(2, t.is_signed);
      w.end_struct();
      break;
    default:
      w.empty_struct(member);
      break;
  }
  w.end_struct();
}

void write_schema_element(Writer& w, const SchemaElement& e) {
  w.begin_struct();
  if (e.type) w.i32(1, static_cast<int32_t>(*e.type));
  if (e.type_length) w.i32(2, *e.type_length);
  if (e.repetition_type) w.i32(3, static_cast<int32_t>(*e.repetition_type));
  w.binary(4, e.name);
  if (e.num_children) w.i32(5, *e.num_children);
  if (e.converted_type) w.i32(6, static_cast<int32_t>(*e.converted_type));
  if (e.scale) w.i32(7, *e.scale);
  if (e.precision) w.i32(8, *e.precision);
  if (e.field_id) w.i32(9, *e.field_id);
  if (e.logical_type) write_logical_type(w, 10, *e.logical_type);
  w.end_struct();
}

void write_key_values(Writer& w, int16_t id, const std::vector<KeyValue>& kvs) {
  w.list(id, kStruct, kvs.size());
  for (const KeyValue& kv : kvs) {
    w.begin_struct();
    w.binary(1, kv.key);
    if (kv.value) w.binary(2, *kv.value);
    w.end_struct();
  }
}

void write_column_meta(Writer& w, int16_t id, const ColumnMetaData& m) {
  w.field(id, kStruct);
  w.begin_struct();
  w.i32(1, static_cast<int32_t>(m.type));
  w.list(2, kI32, m.encodings.size());
  for (Encoding e : m.encodings) w.raw_i32(static_cast<int32_t>(e));
  w.list(3, kBinary, m.path_in_schema.size());
  for (const std::string& p : m.path_in_schema) w.raw_binary(p);
  w.i32(4, static_cast<int32_t>(m.codec));
  w.i64(5, m.num_values);
  w.i64(6, m.total_uncompressed_size);
  w.i64(7, m.total_compressed_size);
  w.i64(9, m.data_page_offset);
  if (m.index_page_offset) w.i64(10, *m.index_page_offset);
  if (m.dictionary_page_offset) w.i64(11, *m.dictionary_page_offset);
  if (m.statistics) write_statistics(w, 12, *m.statistics);
  if (!m.encoding_stats.empty()) {
    w.list(13, kStruct, m.encoding_stats.size());
    for (const PageEncodingStats& s : m.encoding_stats) {
      w.begin_struct();
      w.i32(1, static_cast<int32_t>(s.page_type));
      w.i32(2, static_cast<int32_t>(s.encoding));
      w.i32(3, s.count);
      w.end_struct();
    }
  }
  w.end_struct();
}

void write_row_group(Writer& w, const RowGroup& g) {
  w.begin_struct();
  w.list(1, kStruct, g.columns.size());
  for (const ColumnChunk& c : g.columns) {
    w.begin_struct();
    if (c.file_path) w.binary(1, *c.file_path);
    w.i64(2, c.file_offset);
    if (c.meta_data) write_column_meta(w, 3, *c.meta_data);
    w.end_struct();
  }
  w.i64(2, g.total_byte_size);
  w.i64(3, g.num_rows);
  if (g.file_offset) w.i64(5, *g.file_offset);
  if (g.total_compressed_size) w.i64(6, *g.total_compressed_size);
  if (g.ordinal) w.i16(7, *g.ordinal);
  w.end_struct();
}

// ---------------------------------------------------------------------------------------------
// Decoder. Methods return false once an error is recorded; the first error wins.

class Reader {
 public:
  Reader(const uint8_t* data, size_t size, size_t budget)
      : begin_(data), p_(data), end_(data + size), budget_(budget) {}

  size_t offset() const { return static_cast<size_t>(p_ - begin_); }
  bool truncated() const { return truncated_; }
  const std::string& error() const { return error_; }

  bool fail(const std::string& what) {
    if (error_.empty()) error_ = what + " at byte " + std::to_string(offset());
    return false;
  }
  bool eof() {
    truncated_ = true;
    return fail("metadata ends unexpectedly");
  }
  // Charges `bytes` of decoded objects to the budget.
  bool charge(size_t bytes) {
    if (bytes > budget_) return fail("metadata needs more memory than the reader allows");
    budget_ -= bytes;
    return true;
  }

  bool u8(uint8_t& v) {
    if (p_ >= end_) return eof();
    v = *p_++;
    return true;
  }
  bool varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b = 0;
      if (!u8(b)) return false;
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return fail("varint longer than 10 bytes");
  }
  bool zigzag(int64_t& v) {
    uint64_t u;
    if (!varint(u)) return false;
    v = static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1);
    return true;
  }
  template <typename T>
  bool int_of(uint8_t type, T& out) {
    int64_t v;
    if (type == kByte) {
      uint8_t b = 0;
      if (!u8(b)) return false;
      v = static_cast<int8_t>(b);
    } else if (!zigzag(v)) {
      return false;
    }
    if (v < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
        v > static_cast<int64_t>(std::numeric_limits<T>::max())) {
      return fail("integer " + std::to_string(v) + " out of range");
    }
    out = static_cast<T>(v);
    return true;
  }
  bool binary(std::string& out) {
    uint64_t n;
    if (!varint(n)) return false;
    if (n > static_cast<uint64_t>(end_ - p_)) return eof();
    if (!charge(n)) return false;
    out.assign(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return true;
  }
  bool list_header(uint8_t& elem_type, uint64_t& n) {
    uint8_t b = 0;
    if (!u8(b)) return false;
    elem_type = b & 0x0F;
    n = b >> 4;
    if (n == 15 && !varint(n)) return false;
    // Every element takes at least one byte: a count beyond the bytes left is corrupt.
    if (n > static_cast<uint64_t>(end_ - p_)) {
      return eof();
    }
    return true;
  }
  // Reads a field header; type kStop ends the struct.
  bool field(int16_t& last_id, int16_t& id, uint8_t& type) {
    uint8_t b = 0;
    if (!u8(b)) return false;
    type = b & 0x0F;
    if (type == kStop) return true;
    const int delta = b >> 4;
    if (delta != 0) {
      id = static_cast<int16_t>(last_id + delta);
    } else if (!int_of(kI16, id)) {
      return false;
    }
    last_id = id;
    return true;
  }
  bool enter() {
    if (++depth_ > kMaxDepth) return fail("metadata nested too deeply");
    return true;
  }
  void leave() { --depth_; }

  bool skip(uint8_t type) {
    switch (type) {
      case kTrue:
      case kFalse:
        return true;
      case kByte: {
        uint8_t b = 0;
        return u8(b);
      }
      case kI16:
      case kI32:
      case kI64: {
        uint64_t v;
        return varint(v);
      }
      case kDouble:
        if (end_ - p_ < 8) return eof();
        p_ += 8;
        return true;
      case kBinary: {
        uint64_t n;
        if (!varint(n)) return false;
        if (n > static_cast<uint64_t>(end_ - p_)) return eof();
        p_ += n;
        return true;
      }
      case kList:
      case kSet: {
        uint8_t et = 0;
        uint64_t n;
        if (!list_header(et, n)) return false;
        if (!enter()) return false;
        for (uint64_t i = 0; i < n; ++i) {
          if (et == kTrue || et == kFalse) {
            uint8_t b = 0;
            if (!u8(b)) return false;
          } else if (!skip(et)) {
            return false;
          }
        }
        leave();
        return true;
      }
      case kMap: {
        uint64_t n;
        if (!varint(n)) return false;
        if (n == 0) return true;
        if (n > static_cast<uint64_t>(end_ - p_)) return eof();
        uint8_t kv = 0;
        if (!u8(kv)) return false;
        if (!enter()) return false;
        for (uint64_t i = 0; i < n; ++i) {
          if (!skip(kv >> 4) || !skip(kv & 0x0F)) return false;
        }
        leave();
        return true;
      }
      case kStruct: {
        if (!enter()) return false;
        int16_t last = 0, id;
        for (;;) {
          uint8_t t = 0;
          if (!field(last, id, t)) return false;
          if (t == kStop) break;
          if (!skip(t)) return false;
        }
        leave();
        return true;
      }
      default:
        return fail("unknown thrift type " + std::to_string(type));
    }
  }

  // Reads a struct, calling on_field(id, type) for each field; on_field must consume the value.
  template <typename F>
  bool read_struct(F&& on_field) {
    if (!enter()) return false;
    int16_t last = 0, id = 0;
    for (;;) {
      uint8_t t = 0;
      if (!field(last, id, t)) return false;
      if (t == kStop) break;
      if (!on_field(id, t)) return false;
    }
    leave();
    return true;
  }

 private:
  const uint8_t* begin_;
  const uint8_t* p_;
  const uint8_t* end_;
  size_t budget_;
  int depth_ = 0;
  bool truncated_ = false;
  std::string error_;
};

// Field readers: a value whose wire type does not match the IDL is skipped, as Thrift does, so the
// field counts as absent (required-field checks then report it).
template <typename T>
bool read_int(Reader& r, uint8_t t, T& out, bool& seen) {
  if (t != kI32 && t != kI64 && t != kI16 && t != kByte) return r.skip(t);
  seen = true;
  return r.int_of(t, out);
}
template <typename T>
bool read_int(Reader& r, uint8_t t, std::optional<T>& out) {
  bool seen = false;
  T v{};
  if (!read_int(r, t, v, seen)) return false;
  if (seen) out = v;
  return true;
}
template <typename E>
bool read_enum(Reader& r, uint8_t t, E& out, bool& seen) {
  int32_t v = 0;
  if (!read_int(r, t, v, seen)) return false;
  out = static_cast<E>(v);
  return true;
}
template <typename E>
bool read_enum(Reader& r, uint8_t t, std::optional<E>& out) {
  bool seen = false;
  E v{};
  if (!read_enum(r, t, v, seen)) return false;
  if (seen) out = v;
  return true;
}
bool read_bool(Reader& r, uint8_t t, bool& out, bool& seen) {
  if (t != kTrue && t != kFalse) return r.skip(t);
  out = t == kTrue;
  seen = true;
  return true;
}
bool read_bool(Reader& r, uint8_t t, std::optional<bool>& out) {
  bool v = false, seen = false;
  if (!read_bool(r, t, v, seen)) return false;
  if (seen) out = v;
  return true;
}
bool read_binary(Reader& r, uint8_t t, std::string& out, bool& seen) {
  if (t != kBinary) return r.skip(t);
  seen = true;
  return r.binary(out);
}
bool read_binary(Reader& r, uint8_t t, std::optional<std::string>& out) {
  if (t != kBinary) return r.skip(t);
  out.emplace();
  return r.binary(*out);
}

// Reads a list whose elements are read by `elem(Reader&, uint8_t elem_type, T&)`.
template <typename T, typename F>
bool read_list(Reader& r, uint8_t t, uint8_t want_elem, std::vector<T>& out, bool& seen, F&& elem) {
  if (t != kList && t != kSet) return r.skip(t);
  uint8_t et = 0;
  uint64_t n;
  if (!r.list_header(et, n)) return false;
  if (et != want_elem && n > 0) return r.fail("list of unexpected element type");
  out.clear();
  for (uint64_t i = 0; i < n; ++i) {
    if (!r.charge(sizeof(T))) return false;
    out.emplace_back();
    if (!elem(r, et, out.back())) return false;
  }
  seen = true;
  return true;
}

bool missing(Reader& r, const char* strct, const char* field) {
  return r.fail(std::string("required field ") + strct + "." + field + " is missing");
}

bool read_statistics(Reader& r, Statistics& s) {
  return r.read_struct([&](int16_t id, uint8_t t) {
    switch (id) {
      case 1:
        return read_binary(r, t, s.max);
      case 2:
        return read_binary(r, t, s.min);
      case 3:
        return read_int(r, t, s.null_count);
      case 4:
        return read_int(r, t, s.distinct_count);
      case 5:
        return read_binary(r, t, s.max_value);
      case 6:
        return read_binary(r, t, s.min_value);
      case 7:
        return read_bool(r, t, s.is_max_value_exact);
      case 8:
        return read_bool(r, t, s.is_min_value_exact);
      case 9:
        return read_int(r, t, s.nan_count);
      default:
        return r.skip(t);
    }
  });
}

template <typename T, typename F>
bool read_opt_struct(Reader& r, uint8_t t, std::optional<T>& out, F&& body) {
  if (t != kStruct) return r.skip(t);
  out.emplace();
  return body(r, *out);
}

// A union: exactly one member. `member` receives the member id; empty-struct members are skipped.
bool read_time_unit(Reader& r, TimeUnit& unit, bool& seen) {
  return r.read_struct([&](int16_t id, uint8_t t) {
    if (t == kStruct && id >= 1 && id <= 3) {
      unit = static_cast<TimeUnit>(id);
      seen = true;
    }
    return r.skip(t);
  });
}

bool read_logical_type(Reader& r, LogicalType& lt) {
  bool set = false;
  bool ok = r.read_struct([&](int16_t id, uint8_t t) {
    if (t != kStruct) return r.skip(t);
    set = true;
    lt.kind = static_cast<LogicalType::Kind>(id);
    switch (lt.kind) {
      case LogicalType::Kind::kDecimal: {
        bool has_scale = false, has_precision = false;
        if (!r.read_struct([&](int16_t fid, uint8_t ft) {
              if (fid == 1) return read_int(r, ft, lt.scale, has_scale);
              if (fid == 2) return read_int(r, ft, lt.precision, has_precision);
              return r.skip(ft);
            })) {
          return false;
        }
        if (!has_scale) return missing(r, "DecimalType", "scale");
        if (!has_precision) return missing(r, "DecimalType", "precision");
        return true;
      }
      case LogicalType::Kind::kTime:
      case LogicalType::Kind::kTimestamp: {
        bool has_utc = false, has_unit = false;
        if (!r.read_struct([&](int16_t fid, uint8_t ft) {
              if (fid == 1) return read_bool(r, ft, lt.is_adjusted_to_utc, has_utc);
              if (fid == 2) {
                if (ft != kStruct) return r.skip(ft);
                return read_time_unit(r, lt.unit, has_unit);
              }
              return r.skip(ft);
            })) {
          return false;
        }
        if (!has_utc) return missing(r, "TimestampType", "isAdjustedToUTC");
        if (!has_unit) return missing(r, "TimestampType", "unit");
        return true;
      }
      case LogicalType::Kind::kInteger: {
        bool has_width = false, has_signed = false;
        if (!r.read_struct([&](int16_t fid, uint8_t ft) {
              if (fid == 1) return read_int(r, ft, lt.bit_width, has_width);
              if (fid == 2) return read_bool(r, ft, lt.is_signed, has_signed);
              return r.skip(ft);
            })) {
          return false;
        }
        if (!has_width) return missing(r, "IntType", "bitWidth");
        if (!has_signed) return missing(r, "IntType", "isSigned");
        return true;
      }
      default:
        return r.skip(t);
    }
  });
  if (!ok) return false;
  if (!set) return r.fail("LogicalType union has no member set");
  return true;
}

bool read_schema_element(Reader& r, uint8_t t, SchemaElement& e) {
  if (t != kStruct) return r.fail("schema element is not a struct");
  bool has_name = false;
  if (!r.read_struct([&](int16_t id, uint8_t ft) {
        switch (id) {
          case 1:
            return read_enum(r, ft, e.type);
          case 2:
            return read_int(r, ft, e.type_length);
          case 3:
            return read_enum(r, ft, e.repetition_type);
          case 4:
            return read_binary(r, ft, e.name, has_name);
          case 5:
            return read_int(r, ft, e.num_children);
          case 6:
            return read_enum(r, ft, e.converted_type);
          case 7:
            return read_int(r, ft, e.scale);
          case 8:
            return read_int(r, ft, e.precision);
          case 9:
            return read_int(r, ft, e.field_id);
          case 10:
            return read_opt_struct(r, ft, e.logical_type, read_logical_type);
          default:
            return r.skip(ft);
        }
      })) {
    return false;
  }
  if (!has_name) return missing(r, "SchemaElement", "name");
  return true;
}

bool read_key_value(Reader& r, uint8_t t, KeyValue& kv) {
  if (t != kStruct) return r.fail("key/value is not a struct");
  bool has_key = false;
  if (!r.read_struct([&](int16_t id, uint8_t ft) {
        if (id == 1) return read_binary(r, ft, kv.key, has_key);
        if (id == 2) return read_binary(r, ft, kv.value);
        return r.skip(ft);
      })) {
    return false;
  }
  if (!has_key) return missing(r, "KeyValue", "key");
  return true;
}

bool read_encoding_elem(Reader& r, uint8_t t, Encoding& e) {
  bool seen = false;
  return read_enum(r, t, e, seen);
}

bool read_string_elem(Reader& r, uint8_t t, std::string& s) {
  bool seen = false;
  return read_binary(r, t, s, seen);
}

bool read_encoding_stats(Reader& r, uint8_t t, PageEncodingStats& s) {
  if (t != kStruct) return r.fail("page encoding stats is not a struct");
  bool a = false, b = false, c = false;
  if (!r.read_struct([&](int16_t id, uint8_t ft) {
        if (id == 1) return read_enum(r, ft, s.page_type, a);
        if (id == 2) return read_enum(r, ft, s.encoding, b);
        if (id == 3) return read_int(r, ft, s.count, c);
        return r.skip(ft);
      })) {
    return false;
  }
  if (!a || !b || !c) return missing(r, "PageEncodingStats", "page_type/encoding/count");
  return true;
}

bool read_column_meta(Reader& r, ColumnMetaData& m) {
  bool has[10] = {};
  if (!r.read_struct([&](int16_t id, uint8_t t) {
        switch (id) {
          case 1:
            return read_enum(r, t, m.type, has[1]);
          case 2:
            return read_list(r, t, kI32, m.encodings, has[2], read_encoding_elem);
          case 3:
            return read_list(r, t, kBinary, m.path_in_schema, has[3], read_string_elem);
          case 4:
            return read_enum(r, t, m.codec, has[4]);
          case 5:
            return read_int(r, t, m.num_values, has[5]);
          case 6:
            return read_int(r, t, m.total_uncompressed_size, has[6]);
          case 7:
            return read_int(r, t, m.total_compressed_size, has[7]);
          case 9:
            return read_int(r, t, m.data_page_offset, has[9]);
          case 10:
            return read_int(r, t, m.index_page_offset);
          case 11:
            return read_int(r, t, m.dictionary_page_offset);
          case 12:
            return read_opt_struct(r, t, m.statistics, read_statistics);
          case 13: {
            bool seen = false;
            return read_list(r, t, kStruct, m.encoding_stats, seen, read_encoding_stats);
          }
          default:
            return r.skip(t);
        }
      })) {
    return false;
  }
  static const char* const kNames[] = {"",
                                       "type",
                                       "encodings",
                                       "path_in_schema",
                                       "codec",
                                       "num_values",
                                       "total_uncompressed_size",
                                       "total_compressed_size",
                                       "",
                                       "data_page_offset"};
  for (int i : {1, 2, 3, 4, 5, 6, 7, 9}) {
    if (!has[i]) return missing(r, "ColumnMetaData", kNames[i]);
  }
  return true;
}

bool read_column_chunk(Reader& r, uint8_t t, ColumnChunk& c) {
  if (t != kStruct) return r.fail("column chunk is not a struct");
  bool has_offset = false;
  if (!r.read_struct([&](int16_t id, uint8_t ft) {
        switch (id) {
          case 1:
            return read_binary(r, ft, c.file_path);
          case 2:
            return read_int(r, ft, c.file_offset, has_offset);
          case 3:
            if (ft != kStruct) return r.skip(ft);
            if (!r.charge(sizeof(ColumnMetaData))) return false;
            c.meta_data.emplace();
            return read_column_meta(r, *c.meta_data);
          default:
            return r.skip(ft);
        }
      })) {
    return false;
  }
  if (!has_offset) return missing(r, "ColumnChunk", "file_offset");
  return true;
}

bool read_row_group(Reader& r, uint8_t t, RowGroup& g) {
  if (t != kStruct) return r.fail("row group is not a struct");
  bool has_cols = false, has_bytes = false, has_rows = false;
  if (!r.read_struct([&](int16_t id, uint8_t ft) {
        switch (id) {
          case 1:
            return read_list(r, ft, kStruct, g.columns, has_cols, read_column_chunk);
          case 2:
            return read_int(r, ft, g.total_byte_size, has_bytes);
          case 3:
            return read_int(r, ft, g.num_rows, has_rows);
          case 5:
            return read_int(r, ft, g.file_offset);
          case 6:
            return read_int(r, ft, g.total_compressed_size);
          case 7:
            return read_int(r, ft, g.ordinal);
          default:
            return r.skip(ft);
        }
      })) {
    return false;
  }
  if (!has_cols) return missing(r, "RowGroup", "columns");
  if (!has_bytes) return missing(r, "RowGroup", "total_byte_size");
  if (!has_rows) return missing(r, "RowGroup", "num_rows");
  return true;
}

bool read_column_order(Reader& r, uint8_t t, bool& type_order) {
  if (t != kStruct) return r.fail("column order is not a struct");
  type_order = false;
  return r.read_struct([&](int16_t id, uint8_t ft) {
    if (id == 1 && ft == kStruct) type_order = true;
    return r.skip(ft);
  });
}

bool read_file_meta(Reader& r, FileMetaData& m) {
  bool has_version = false, has_schema = false, has_rows = false, has_groups = false;
  if (!r.read_struct([&](int16_t id, uint8_t t) {
        switch (id) {
          case 1:
            return read_int(r, t, m.version, has_version);
          case 2:
            return read_list(r, t, kStruct, m.schema, has_schema, read_schema_element);
          case 3:
            return read_int(r, t, m.num_rows, has_rows);
          case 4:
            return read_list(r, t, kStruct, m.row_groups, has_groups, read_row_group);
          case 5: {
            bool seen = false;
            return read_list(r, t, kStruct, m.key_value_metadata, seen, read_key_value);
          }
          case 6:
            return read_binary(r, t, m.created_by);
          case 7: {
            if (t != kList) return r.skip(t);
            std::vector<bool> orders;
            uint8_t et = 0;
            uint64_t n;
            if (!r.list_header(et, n)) return false;
            if (et != kStruct && n > 0) return r.fail("column_orders is not a list of structs");
            if (!r.charge(n)) return false;
            for (uint64_t i = 0; i < n; ++i) {
              bool type_order = false;
              if (!read_column_order(r, et, type_order)) return false;
              orders.push_back(type_order);
            }
            m.column_orders = std::move(orders);
            return true;
          }
          case 8:
            m.encrypted = true;
            return r.skip(t);
          default:
            return r.skip(t);
        }
      })) {
    return false;
  }
  if (!has_version) return missing(r, "FileMetaData", "version");
  if (!has_schema) return missing(r, "FileMetaData", "schema");
  if (!has_rows) return missing(r, "FileMetaData", "num_rows");
  if (!has_groups) return missing(r, "FileMetaData", "row_groups");
  return true;
}

bool read_data_page_header(Reader& r, DataPageHeader& h) {
  bool a = false, b = false, c = false, d = false;
  if (!r.read_struct([&](int16_t id, uint8_t t) {
        switch (id) {
          case 1:
            return read_int(r, t, h.num_values, a);
          case 2:
            return read_enum(r, t, h.encoding, b);
          case 3:
            return read_enum(r, t, h.definition_level_encoding, c);
          case 4:
            return read_enum(r, t, h.repetition_level_encoding, d);
          case 5:
            return read_opt_struct(r, t, h.statistics, read_statistics);
          default:
            return r.skip(t);
        }
      })) {
    return false;
  }
  if (!a || !b || !c || !d) return missing(r, "DataPageHeader", "num_values/encodings");
  return true;
}

bool read_dictionary_page_header(Reader& r, DictionaryPageHeader& h) {
  bool a = false, b = false;
  if (!r.read_struct([&](int16_t id, uint8_t t) {
        switch (id) {
          case 1:
            return read_int(r, t, h.num_values, a);
          case 2:
            return read_enum(r, t, h.encoding, b);
          case 3:
            return read_bool(r, t, h.is_sorted);
          default:
            return r.skip(t);
        }
      })) {
    return false;
  }
  if (!a || !b) return missing(r, "DictionaryPageHeader", "num_values/encoding");
  return true;
}

bool read_data_page_header_v2(Reader& r, DataPageHeaderV2& h) {
  bool has[7] = {};
  if (!r.read_struct([&](int16_t id, uint8_t t) {
        switch (id) {
          case 1:
            return read_int(r, t, h.num_values, has[1]);
          case 2:
            return read_int(r, t, h.num_nulls, has[2]);
          case 3:
            return read_int(r, t, h.num_rows, has[3]);
          case 4:
            return read_enum(r, t, h.encoding, has[4]);
          case 5:
            return read_int(r, t, h.definition_levels_byte_length, has[5]);
          case 6:
            return read_int(r, t, h.repetition_levels_byte_length, has[6]);
          case 7: {
            bool seen = false;
            return read_bool(r, t, h.is_compressed, seen);
          }
          case 8:
            return read_opt_struct(r, t, h.statistics, read_statistics);
          default:
            return r.skip(t);
        }
      })) {
    return false;
  }
  for (int i = 1; i <= 6; ++i) {
    if (!has[i]) return missing(r, "DataPageHeaderV2", "counts/encoding/level lengths");
  }
  return true;
}

bool read_page_header(Reader& r, PageHeader& h) {
  bool a = false, b = false, c = false;
  if (!r.read_struct([&](int16_t id, uint8_t t) {
        switch (id) {
          case 1:
            return read_enum(r, t, h.type, a);
          case 2:
            return read_int(r, t, h.uncompressed_page_size, b);
          case 3:
            return read_int(r, t, h.compressed_page_size, c);
          case 4:
            return read_int(r, t, h.crc);
          case 5:
            return read_opt_struct(r, t, h.data_page_header, read_data_page_header);
          case 7:
            return read_opt_struct(r, t, h.dictionary_page_header, read_dictionary_page_header);
          case 8:
            return read_opt_struct(r, t, h.data_page_header_v2, read_data_page_header_v2);
          default:
            return r.skip(t);
        }
      })) {
    return false;
  }
  if (!a) return missing(r, "PageHeader", "type");
  if (!b) return missing(r, "PageHeader", "uncompressed_page_size");
  if (!c) return missing(r, "PageHeader", "compressed_page_size");
  return true;
}

template <typename T, typename F>
Status decode(const uint8_t* data, size_t size, size_t budget, T& out, ThriftDecodeResult& result,
              F&& body) {
  Reader r(data, size, budget);
  out = T{};
  result = ThriftDecodeResult{};
  if (!body(r, out)) {
    result.truncated = r.truncated();
    return Status::permanent(r.error());
  }
  result.consumed = r.offset();
  return Status::ok();
}

}  // namespace

const char* physical_type_name(PhysicalType t) {
  switch (t) {
    case PhysicalType::kBoolean:
      return "BOOLEAN";
    case PhysicalType::kInt32:
      return "INT32";
    case PhysicalType::kInt64:
      return "INT64";
    case PhysicalType::kInt96:
      return "INT96";
    case PhysicalType::kFloat:
      return "FLOAT";
    case PhysicalType::kDouble:
      return "DOUBLE";
    case PhysicalType::kByteArray:
      return "BYTE_ARRAY";
    case PhysicalType::kFixedLenByteArray:
      return "FIXED_LEN_BYTE_ARRAY";
  }
  return "unknown physical type";
}

const char* encoding_name(Encoding e) {
  switch (e) {
    case Encoding::kPlain:
      return "PLAIN";
    case Encoding::kPlainDictionary:
      return "PLAIN_DICTIONARY";
    case Encoding::kRle:
      return "RLE";
    case Encoding::kBitPacked:
      return "BIT_PACKED";
    case Encoding::kDeltaBinaryPacked:
      return "DELTA_BINARY_PACKED";
    case Encoding::kDeltaLengthByteArray:
      return "DELTA_LENGTH_BYTE_ARRAY";
    case Encoding::kDeltaByteArray:
      return "DELTA_BYTE_ARRAY";
    case Encoding::kRleDictionary:
      return "RLE_DICTIONARY";
    case Encoding::kByteStreamSplit:
      return "BYTE_STREAM_SPLIT";
  }
  return "unknown encoding";
}

const char* codec_name(Codec c) {
  switch (c) {
    case Codec::kUncompressed:
      return "UNCOMPRESSED";
    case Codec::kSnappy:
      return "SNAPPY";
    case Codec::kGzip:
      return "GZIP";
    case Codec::kLzo:
      return "LZO";
    case Codec::kBrotli:
      return "BROTLI";
    case Codec::kLz4:
      return "LZ4";
    case Codec::kZstd:
      return "ZSTD";
    case Codec::kLz4Raw:
      return "LZ4_RAW";
  }
  return "unknown codec";
}

void encode_thrift(const FileMetaData& m, std::string& out) {
  Writer w(out);
  w.begin_struct();
  w.i32(1, m.version);
  w.list(2, kStruct, m.schema.size());
  for (const SchemaElement& e : m.schema) write_schema_element(w, e);
  w.i64(3, m.num_rows);
  w.list(4, kStruct, m.row_groups.size());
  for (const RowGroup& g : m.row_groups) write_row_group(w, g);
  if (!m.key_value_metadata.empty()) write_key_values(w, 5, m.key_value_metadata);
  if (m.created_by) w.binary(6, *m.created_by);
  if (m.column_orders) {
    w.list(7, kStruct, m.column_orders->size());
    for (size_t i = 0; i < m.column_orders->size(); ++i) {
      w.begin_struct();
      w.empty_struct(1);  // TYPE_ORDER
      w.end_struct();
    }
  }
  w.end_struct();
}

void encode_thrift(const PageHeader& h, std::string& out) {
  Writer w(out);
  w.begin_struct();
  w.i32(1, static_cast<int32_t>(h.type));
  w.i32(2, h.uncompressed_page_size);
  w.i32(3, h.compressed_page_size);
  if (h.crc) w.i32(4, *h.crc);
  if (h.data_page_header) {
    const DataPageHeader& d = *h.data_page_header;
    w.field(5, kStruct);
    w.begin_struct();
    w.i32(1, d.num_values);
    w.i32(2, static_cast<int32_t>(d.encoding));
    w.i32(3, static_cast<int32_t>(d.definition_level_encoding));
    w.i32(4, static_cast<int32_t>(d.repetition_level_encoding));
    if (d.statistics) write_statistics(w, 5, *d.statistics);
    w.end_struct();
  }
  if (h.dictionary_page_header) {
    const DictionaryPageHeader& d = *h.dictionary_page_header;
    w.field(7, kStruct);
    w.begin_struct();
    w.i32(1, d.num_values);
    w.i32(2, static_cast<int32_t>(d.encoding));
    if (d.is_sorted) w.boolean(3, *d.is_sorted);
    w.end_struct();
  }
  if (h.data_page_header_v2) {
    const DataPageHeaderV2& d = *h.data_page_header_v2;
    w.field(8, kStruct);
    w.begin_struct();
    w.i32(1, d.num_values);
    w.i32(2, d.num_nulls);
    w.i32(3, d.num_rows);
    w.i32(4, static_cast<int32_t>(d.encoding));
    w.i32(5, d.definition_levels_byte_length);
    w.i32(6, d.repetition_levels_byte_length);
    w.boolean(7, d.is_compressed);
    if (d.statistics) write_statistics(w, 8, *d.statistics);
    w.end_struct();
  }
  w.end_struct();
}

Status decode_thrift(const uint8_t* data, size_t size, size_t memory_budget, FileMetaData& out,
                     ThriftDecodeResult& result) {
  return decode(data, size, memory_budget, out, result, read_file_meta);
}

Status decode_thrift(const uint8_t* data, size_t size, size_t memory_budget, PageHeader& out,
                     ThriftDecodeResult& result) {
  return decode(data, size, memory_budget, out, result, read_page_header);
}

}  // namespace strata::parquet
