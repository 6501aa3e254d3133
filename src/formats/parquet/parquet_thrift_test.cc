// The hand-written compact-protocol codec: round trips, conformance of what it writes to
// parquet_format.thrift (rendered to JSON by thrift-compiler at build time), and bounded decoding
// of hostile input.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "formats/parquet/parquet_test_util.h"
#include "formats/parquet/parquet_thrift.h"

namespace strata::parquet {
namespace {

// Walks compact-protocol bytes as struct `name` of the IDL, checking every field id exists with
// the wire type the IDL declares and that required fields are present.
class IdlChecker {
 public:
  explicit IdlChecker(const nlohmann::json& idl) {
    for (const auto& s : idl["structs"]) structs_[s["name"].get<std::string>()] = s;
  }
  std::string check(const std::string& bytes, const std::string& name) {
    p_ = reinterpret_cast<const uint8_t*>(bytes.data());
    end_ = p_ + bytes.size();
    error_.clear();
    walk_struct(name);
    if (error_.empty() && p_ != end_) error_ = "trailing bytes";
    return error_;
  }

 private:
  static int wire_type(const std::string& t) {
    if (t == "bool") return 1;
    if (t == "i8" || t == "byte") return 3;
    if (t == "i16") return 4;
    if (t == "i32") return 5;
    if (t == "i64") return 6;
    if (t == "double") return 7;
    if (t == "string" || t == "binary") return 8;
    if (t == "list") return 9;
    if (t == "struct" || t == "union") return 12;
    return -1;
  }
  uint64_t varint() {
    uint64_t v = 0;
    for (int s = 0; p_ < end_; s += 7) {
      const uint8_t b = *p_++;
      v |= static_cast<uint64_t>(b & 0x7F) << s;
      if (!(b & 0x80)) return v;
    }
    error_ = "varint past the end";
    return 0;
  }
  void walk_value(int wire, const nlohmann::json& type) {
    switch (wire) {
      case 1:
      case 2:
        return;
      case 3:
        ++p_;
        return;
      case 4:
      case 5:
      case 6:
        varint();
        return;
      case 8:
        p_ += varint();
        return;
      case 9: {
        const uint8_t h = *p_++;
        uint64_t n = h >> 4;
        if (n == 15) n = varint();
        const int elem = h & 0x0F;
        const std::string et = type["elemTypeId"].get<std::string>();
        if (elem != wire_type(et) && !(et == "bool" && elem == 2)) error_ = "list element type";
        for (uint64_t i = 0; i < n && error_.empty(); ++i) {
          if (elem == 12)
            walk_struct(type["elemType"]["class"].get<std::string>());
          else
            walk_value(elem, nlohmann::json::object());
        }
        return;
      }
      case 12:
        walk_struct(type["class"].get<std::string>());
        return;
      default:
        error_ = "unexpected wire type " + std::to_string(wire);
    }
  }
  void walk_struct(const std::string& name) {
    const auto it = structs_.find(name);
    if (it == structs_.end()) {
      error_ = "struct " + name + " not in the IDL";
      return;
    }
    const nlohmann::json& def = it->second;
    std::set<int> seen;
    int last = 0;
    while (error_.empty()) {
      if (p_ >= end_) {
        error_ = name + ": ends without STOP";
        return;
      }
      const uint8_t b = *p_++;
      const int wire = b & 0x0F;
      if (wire == 0) break;
      const int id = (b >> 4) ? last + (b >> 4) : static_cast<int>((varint() >> 1));
      last = id;
      const nlohmann::json* field = nullptr;
      for (const auto& f : def["fields"]) {
        if (f["key"].get<int>() == id) field = &f;
      }
      if (!field) {
        error_ = name + ": field id " + std::to_string(id) + " is not in the IDL";
        return;
      }
      const int want = wire_type((*field)["typeId"].get<std::string>());
      if (wire != want && !(want == 1 && wire == 2)) {
        error_ = name + "." + (*field)["name"].get<std::string>() + ": wire type " +
                 std::to_string(wire) + ", IDL says " + (*field)["typeId"].get<std::string>();
        return;
      }
      seen.insert(id);
      walk_value(wire, field->contains("type") ? (*field)["type"] : nlohmann::json::object());
    }
    if (!error_.empty()) return;
    for (const auto& f : def["fields"]) {
      if (f["required"] == "required" && !seen.count(f["key"].get<int>())) {
        error_ = name + "." + f["name"].get<std::string>() + " (required) is missing";
      }
    }
    if (def["isUnion"].get<bool>() && seen.size() != 1)
      error_ = name + ": union with " + std::to_string(seen.size()) + " members";
  }

  std::map<std::string, nlohmann::json> structs_;
  const uint8_t* p_ = nullptr;
  const uint8_t* end_ = nullptr;
  std::string error_;
};

nlohmann::json load_idl() {
  std::ifstream in(PARQUET_IDL_JSON);
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str());
}

std::string footer_of(const std::string& file) {
  uint32_t len;
  std::memcpy(&len, file.data() + file.size() - 8, 4);
  return file.substr(file.size() - 8 - len, len);
}

TEST(ParquetThrift, WrittenFilesConformToTheIdl) {
  IdlChecker checker(load_idl());
  auto schema = testing::all_types_schema();
  Batch b(schema);
  testing::fill_all_types(b);
  auto bytes = testing::write_parquet(schema, {&b}, testing::parquet_spec(), {{"k", "v"}});
  ASSERT_TRUE(bytes.is_ok());
  EXPECT_EQ(checker.check(footer_of(*bytes), "FileMetaData"), "");

  // Every page header of the first column chunks.
  FileMetaData meta;
  ThriftDecodeResult r;
  const std::string footer = footer_of(*bytes);
  ASSERT_TRUE(decode_thrift(reinterpret_cast<const uint8_t*>(footer.data()), footer.size(), 1 << 20,
                            meta, r)
                  .is_ok());
  ASSERT_EQ(meta.row_groups.size(), 1u);
  for (const ColumnChunk& c : meta.row_groups[0].columns) {
    const ColumnMetaData& m = *c.meta_data;
    int64_t pos = m.dictionary_page_offset.value_or(m.data_page_offset);
    const int64_t end = pos + m.total_compressed_size;
    while (pos < end) {
      PageHeader h;
      ASSERT_TRUE(decode_thrift(reinterpret_cast<const uint8_t*>(bytes->data()) + pos,
                                static_cast<size_t>(end - pos), 1 << 20, h, r)
                      .is_ok());
      EXPECT_EQ(checker.check(bytes->substr(static_cast<size_t>(pos), r.consumed), "PageHeader"),
                "");
      pos += static_cast<int64_t>(r.consumed) + h.compressed_page_size;
    }
    EXPECT_EQ(pos, end);
  }
}

TEST(ParquetThrift, RoundTripKeepsEveryField) {
  FileMetaData m;
  m.version = 2;
  SchemaElement root;
  root.name = "schema";
  root.num_children = 1;
  SchemaElement leaf;
  leaf.name = "x";
  leaf.type = PhysicalType::kFixedLenByteArray;
  leaf.type_length = 16;
  leaf.repetition_type = Repetition::kOptional;
  leaf.logical_type = LogicalType{LogicalType::Kind::kDecimal, 3, 30};
  leaf.field_id = 300;  // needs the long field-header form in no struct, a large value here
  m.schema = {root, leaf};
  m.num_rows = 1LL << 40;
  RowGroup g;
  g.num_rows = 5;
  g.total_byte_size = 99;
  g.ordinal = 3;
  ColumnChunk c;
  c.meta_data.emplace();
  c.meta_data->encodings = {Encoding::kPlain, Encoding::kRleDictionary};
  c.meta_data->path_in_schema = {"x"};
  c.meta_data->statistics.emplace();
  c.meta_data->statistics->min_value = std::string("\0\1", 2);
  c.meta_data->statistics->is_min_value_exact = false;
  c.meta_data->encoding_stats.push_back({PageType::kDictionaryPage, Encoding::kPlain, 1});
  g.columns = std::vector<ColumnChunk>(20, c);  // a list longer than 14: long list header
  m.row_groups = {g};
  m.key_value_metadata = {{"a", "b"}, {"c", std::nullopt}};
  m.created_by = "me";
  m.column_orders = std::vector<bool>{true};
  std::string bytes;
  encode_thrift(m, bytes);

  FileMetaData back;
  ThriftDecodeResult r;
  ASSERT_TRUE(
      decode_thrift(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), 1 << 20, back, r)
          .is_ok());
  EXPECT_EQ(r.consumed, bytes.size());
  EXPECT_EQ(back.version, 2);
  EXPECT_EQ(back.num_rows, 1LL << 40);
  ASSERT_EQ(back.schema.size(), 2u);
  EXPECT_EQ(back.schema[1].logical_type->precision, 30);
  EXPECT_EQ(back.schema[1].logical_type->scale, 3);
  EXPECT_EQ(back.schema[1].field_id, 300);
  ASSERT_EQ(back.row_groups[0].columns.size(), 20u);
  EXPECT_EQ(back.row_groups[0].columns[19].meta_data->encodings[1], Encoding::kRleDictionary);
  EXPECT_EQ(*back.row_groups[0].columns[0].meta_data->statistics->min_value,
            std::string("\0\1", 2));
  EXPECT_EQ(back.row_groups[0].ordinal, 3);
  EXPECT_FALSE(back.key_value_metadata[1].value.has_value());
  EXPECT_EQ(back.created_by, "me");

  // Every strict prefix is reported as truncated, never read past.
  for (size_t n = 0; n < bytes.size(); ++n) {
    FileMetaData partial;
    Status s =
        decode_thrift(reinterpret_cast<const uint8_t*>(bytes.data()), n, 1 << 20, partial, r);
    EXPECT_FALSE(s.is_ok()) << n;
    EXPECT_TRUE(r.truncated) << n << ": " << s.message();
  }
  // A small memory budget stops a footer before it is decoded.
  EXPECT_FALSE(
      decode_thrift(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), 100, back, r)
          .is_ok());
}

TEST(ParquetThrift, HostileInputIsRejected) {
  FileMetaData m;
  ThriftDecodeResult r;
  // schema: list of 2^31 structs in 8 bytes.
  const std::string huge_list("\x19\xFC\x80\x80\x80\x80\x08\x00", 8);
  Status s = decode_thrift(reinterpret_cast<const uint8_t*>(huge_list.data()), huge_list.size(),
                           1 << 20, m, r);
  EXPECT_FALSE(s.is_ok());
  // Deep nesting of unknown struct fields.
  std::string deep;
  for (int i = 0; i < 10000; ++i) deep.push_back('\x1C');  // field 1, type struct
  s = decode_thrift(reinterpret_cast<const uint8_t*>(deep.data()), deep.size(), 1 << 20, m, r);
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("nested too deeply"), std::string::npos) << s.message();
  // A string longer than the input.
  const std::string long_string("\x68\xFF\xFF\xFF\x0F", 5);  // field 6 (created_by), len 2^32-1
  s = decode_thrift(reinterpret_cast<const uint8_t*>(long_string.data()), long_string.size(),
                    1 << 20, m, r);
  EXPECT_FALSE(s.is_ok());
  // Missing required fields.
  const std::string empty("\x00", 1);
  s = decode_thrift(reinterpret_cast<const uint8_t*>(empty.data()), empty.size(), 1 << 20, m, r);
  EXPECT_NE(s.message().find("required field FileMetaData.version is missing"), std::string::npos)
      << s.message();
}

}  // namespace
}  // namespace strata::parquet
