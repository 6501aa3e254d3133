#include "connectors/table_parts.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>

#include "connectors/source_json.h"
#include "core/checksum.h"

namespace strata {

namespace {

using nlohmann::json;

constexpr size_t kReadBatchRows = 8192;
constexpr const char* kPartKind = "table-part";

// What a part document holds.
struct PartInfo {
  Predicate predicate;
  Shard shard;
  std::vector<std::string> key_columns;
  std::string time_column;
  Schema schema;
};

Result<PartInfo> part_info_from(const json& j, const std::string& path) {
  try {
    PartInfo info;
    STRATA_ASSIGN_OR_RETURN(info.predicate, predicate_from_json(j.at("predicate")));
    info.shard.range.lo = value_from_json(j.at("range").at("lo"));
    info.shard.range.hi = value_from_json(j.at("range").at("hi"));
    info.key_columns = j.at("key_columns").get<std::vector<std::string>>();
    info.time_column = j.value("time_column", "");
    STRATA_ASSIGN_OR_RETURN(info.schema, schema_from_json(j.at("schema")));
    if (info.key_columns.empty()) return Status::permanent(path + ": part names no key columns");
    return info;
  } catch (const std::exception& e) {
    return Status::permanent(path + ": malformed part document (" + e.what() + ")");
  }
}

// A temporary file (deleted when closed) served as a ByteSource.
class TempFileSource final : public ByteSource {
 public:
  TempFileSource(std::FILE* f, uint64_t size, std::string name)
      : f_(f), size_(size), name_(std::move(name)) {}
  ~TempFileSource() override { std::fclose(f_); }
  Result<uint64_t> size() override { return size_; }
  Status read_at(uint64_t offset, size_t n, void* out) override {
    if (offset > size_ || n > size_ - offset) {
      return Status::permanent(name_ + ": read past the end of the rendered part");
    }
    auto* p = static_cast<char*>(out);
    while (n > 0) {
      ssize_t r = ::pread(fileno(f_), p, n, static_cast<off_t>(offset));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return Status::retryable(name_ + ": reading the rendered part failed");
      p += r;
      n -= static_cast<size_t>(r);
      offset += static_cast<uint64_t>(r);
    }
    return Status::ok();
  }
  std::string name() const override { return name_; }
  void set_size(uint64_t size) { size_ = size; }

 private:
  std::FILE* f_;
  uint64_t size_;
  std::string name_;
};

// Appends to a temporary file and hashes what it writes.
class TempFileSink final : public ByteSink {
 public:
  explicit TempFileSink(std::FILE* f) : f_(f) {}
  Status write(const void* data, size_t n) override {
    sha_.update(data, n);
    size_ += n;
    if (std::fwrite(data, 1, n, f_) != n) {
      return Status::permanent(std::string("writing a temporary file failed: ") +
                               std::strerror(errno) + " (is TMPDIR full?)");
    }
    return Status::ok();
  }
  uint64_t size() const { return size_; }
  std::string digest() { return sha_.hex_digest(); }

 private:
  std::FILE* f_;
  Sha256 sha_;
  uint64_t size_ = 0;
};

struct Rendering {
  std::unique_ptr<ByteSource> source;
  uint64_t bytes = 0;
  std::string sha256;
  RowChecksum checksum;
};

class TableFiles final : public Target {
 public:
  explicit TableFiles(std::unique_ptr<TableTarget> table) : table_(std::move(table)) {}

  std::string describe() const override { return table_->describe(); }

  Status check_writable() override { return table_->list("").status(); }
  bool keeps_catalog() const override { return false; }

  Result<std::unique_ptr<PartWriter>> create_part(
      const std::string& path, const FormatSpec& format, std::shared_ptr<const Schema> schema,
      const std::map<std::string, std::string>& metadata) override;

  Status put(const std::string& path, std::string_view content) override {
    return table_->put(path, content);
  }
  // Rows in a table are loaded idempotently, so check-then-put is enough here: two attempts of
  // one shard hold the same keys.
  Result<bool> put_if_absent(const std::string& path, std::string_view content) override {
    STRATA_ASSIGN_OR_RETURN(std::optional<std::string> there, table_->get(path));
    if (there) return false;
    STRATA_TRY(table_->put(path, content));
    return true;
  }
  Result<std::optional<std::string>> get(const std::string& path) override {
    return table_->get(path);
  }
  Result<std::vector<std::string>> list(const std::string& prefix) override {
    return table_->list(prefix);
  }

  Status remove(const std::string& path) override {
    STRATA_ASSIGN_OR_RETURN(std::optional<json> doc, part_doc(path));
    if (doc) {
      // A part's rows go with it: a retried shard starts clean, an expired one is gone.
      STRATA_ASSIGN_OR_RETURN(PartInfo info, part_info_from(*doc, path));
      STRATA_TRY(delete_rows(info).with_context("removing part " + path));
    }
    return table_->remove(path);
  }

  Status remove_incomplete(const std::string& dir, const std::string& name_prefix) override {
    STRATA_ASSIGN_OR_RETURN(std::vector<std::string> paths, table_->list(dir));
    for (const std::string& p : paths) {
      std::string name = p.substr(p.rfind('/') + 1);
      if (name.rfind(name_prefix, 0) != 0) continue;
      STRATA_ASSIGN_OR_RETURN(std::optional<json> doc, part_doc(p));
      if (doc && doc->value("state", "") == "open") STRATA_TRY(remove(p));
    }
    return Status::ok();
  }

  Result<std::unique_ptr<ByteSource>> open(const std::string& path) override {
    STRATA_ASSIGN_OR_RETURN(std::optional<json> doc, part_doc(path));
    if (!doc) return Status::permanent(describe() + ": no part " + path);
    STRATA_ASSIGN_OR_RETURN(PartInfo info, part_info_from(*doc, path));
    STRATA_ASSIGN_OR_RETURN(Rendering r, render(info, path));
    return std::move(r.source);
  }

  // The rows of a part, read back from the table and rendered as NDJSON.
  Result<Rendering> render(const PartInfo& info, const std::string& path) {
    STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Source> src, table_->as_source(spec_of(info)));
    STRATA_ASSIGN_OR_RETURN(Schema table_schema, src->describe());
    // The archive's columns, by name, from the table's.
    std::vector<int> from;
    for (const Column& c : info.schema.columns()) {
      int i = table_schema.index_of(c.name);
      if (i < 0) {
        return Status::permanent(describe() + ": column '" + c.name +
                                 "' of the archive is missing from the table");
      }
      if (storage_of(table_schema[i].type) != storage_of(c.type)) {
        return Status::permanent(describe() + ": column '" + c.name + "' is " +
                                 type_name(table_schema[i].type) + " in the table but " +
                                 type_name(c.type) + " in the archive");
      }
      from.push_back(i);
    }
    auto out_schema = std::make_shared<const Schema>(info.schema);
    STRATA_ASSIGN_OR_RETURN(std::unique_ptr<BatchReader> reader,
                            src->read(info.predicate, info.shard, kReadBatchRows));
    std::FILE* f = std::tmpfile();
    if (!f) {
      return Status::permanent(std::string("cannot create a temporary file: ") +
                               std::strerror(errno) + " (set TMPDIR to a writable directory)");
    }
    // Owns (and closes) the file from here on, also on errors.
    auto file = std::make_unique<TempFileSource>(f, 0, describe() + "/" + path);
    Rendering r;
    TempFileSink sink(f);
    FormatSpec spec;
    spec.name = "ndjson";
    spec.compression = Compression::kNone;
    STRATA_ASSIGN_OR_RETURN(std::unique_ptr<FormatWriter> writer,
                            open_format_writer(spec, out_schema, &sink));
    Batch in(std::make_shared<const Schema>(table_schema));
    Batch out(out_schema);
    for (;;) {
      STRATA_ASSIGN_OR_RETURN(bool more, reader->next(in));
      if (!more) break;
      out.clear();
      for (size_t c = 0; c < from.size(); ++c) {
        const ColumnVector& col = in.column(static_cast<size_t>(from[c]));
        for (size_t row = 0; row < in.num_rows(); ++row) out.column(c).append_from(col, row);
      }
      r.checksum.add_batch(out);
      STRATA_TRY(writer->write(out));
    }
    STRATA_TRY(writer->finish());
    if (std::fflush(f) != 0) {
      return Status::permanent(std::string("writing a temporary file failed: ") +
                               std::strerror(errno));
    }
    r.bytes = sink.size();
    r.sha256 = sink.digest();
    file->set_size(r.bytes);
    r.source = std::move(file);
    return r;
  }

  Status prepare_once(const Schema& schema, const std::vector<std::string>& keys,
                      const std::string& source_kind) {
    std::lock_guard<std::mutex> lock(mu_);
    if (prepared_) return Status::ok();
    STRATA_TRY(table_->prepare(schema, keys, source_kind));
    prepared_ = true;
    return Status::ok();
  }

  TableTarget& table() { return *table_; }

 private:
  SourceSpec spec_of(const PartInfo& info) const {
    SourceSpec s;
    s.table = table_->table();
    s.key_columns = info.key_columns;
    s.time_column = info.time_column;
    return s;
  }

  // The part document at `path`, or nullopt when the path holds no part.
  Result<std::optional<json>> part_doc(const std::string& path) {
    STRATA_ASSIGN_OR_RETURN(std::optional<std::string> text, table_->get(path));
    if (!text) return std::optional<json>();
    json j = json::parse(*text, nullptr, false);
    if (!j.is_object() || j.value("kind", "") != kPartKind) return std::optional<json>();
    return std::optional<json>(std::move(j));
  }

  Status delete_rows(const PartInfo& info) {
    STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Source> src, table_->as_source(spec_of(info)));
    STRATA_ASSIGN_OR_RETURN(Schema table_schema, src->describe());
    std::vector<int> key_index;
    Schema key_schema;
    for (const std::string& k : info.key_columns) {
      int i = table_schema.index_of(k);
      if (i < 0) return Status::permanent(describe() + ": key column '" + k + "' is missing");
      key_index.push_back(i);
      key_schema.add(table_schema[i]);
    }
    // Keys first, deletes after: a delete must not run under an open read of the same rows.
    auto key_schema_ptr = std::make_shared<const Schema>(key_schema);
    std::vector<Batch> keys;
    {
      STRATA_ASSIGN_OR_RETURN(std::unique_ptr<BatchReader> reader,
                              src->read(info.predicate, info.shard, kReadBatchRows));
      Batch in(std::make_shared<const Schema>(table_schema));
      for (;;) {
        STRATA_ASSIGN_OR_RETURN(bool more, reader->next(in));
        if (!more) break;
        Batch k(key_schema_ptr);
        for (size_t c = 0; c < key_index.size(); ++c) {
          const ColumnVector& col = in.column(static_cast<size_t>(key_index[c]));
          for (size_t row = 0; row < in.num_rows(); ++row) k.column(c).append_from(col, row);
        }
        keys.push_back(std::move(k));
      }
    }
    for (const Batch& k : keys)
      STRATA_TRY(src->delete_keys(info.predicate, info.shard, k).status());
    return Status::ok();
  }

  std::unique_ptr<TableTarget> table_;
  std::mutex mu_;
  bool prepared_ = false;
};

class TablePartWriter final : public PartWriter {
 public:
  TablePartWriter(TableFiles& files, std::string path, json doc, PartInfo info)
      : files_(files), path_(std::move(path)), doc_(std::move(doc)), info_(std::move(info)) {}

  Status write(const Batch& batch) override {
    STRATA_ASSIGN_OR_RETURN(uint64_t inserted, files_.table().load(batch));
    (void)inserted;  // rows already there from an earlier attempt are checked at commit
    rows_ += batch.num_rows();
    bytes_ += batch.data_bytes();
    loaded_.add_batch(batch);
    return Status::ok();
  }

  Result<PartFile> commit() override {
    STRATA_ASSIGN_OR_RETURN(Rendering r, files_.render(info_, path_));
    if (!(r.checksum == loaded_)) {
      return Status::permanent(
          files_.describe() + ": after loading " + std::to_string(rows_) +
          " rows, the table holds " + std::to_string(r.checksum.rows()) +
          " matching rows of this shard with other values (rows with the same keys were "
          "there before, with other contents); nothing of this shard is purged");
    }
    PartFile f;
    f.path = path_;
    f.rows = rows_;
    f.bytes = r.bytes;
    f.sha256 = r.sha256;
    f.checksum = r.checksum.to_string();
    doc_["state"] = "committed";
    doc_["rows"] = f.rows;
    doc_["sha256"] = f.sha256;
    STRATA_TRY(files_.put(path_, doc_.dump()));
    committed_ = true;
    return f;
  }

  void abort() override {}  // the rows stay; remove() of the part (on retry) deletes them
  uint64_t rows() const override { return rows_; }
  uint64_t bytes() const override { return bytes_; }

 private:
  TableFiles& files_;
  std::string path_;
  json doc_;
  PartInfo info_;
  uint64_t rows_ = 0;
  uint64_t bytes_ = 0;
  RowChecksum loaded_;
  bool committed_ = false;
};

Result<std::unique_ptr<PartWriter>> TableFiles::create_part(
    const std::string& path, const FormatSpec& format, std::shared_ptr<const Schema> schema,
    const std::map<std::string, std::string>& metadata) {
  if (format.name != "ndjson" || format.compression != Compression::kNone) {
    return Status::permanent(describe() + ": a database table target stores rows, not " +
                             format.name + " files (its parts are .ndjson renderings)");
  }
  auto meta = [&](const char* key) -> std::string {
    auto it = metadata.find(key);
    return it == metadata.end() ? "" : it->second;
  };
  json doc;
  doc["kind"] = kPartKind;
  doc["state"] = "open";
  doc["predicate"] = json::parse(meta(kPartMetaPredicate), nullptr, false);
  doc["range"] = json::parse(meta(kPartMetaRange), nullptr, false);
  doc["key_columns"] = json::parse(meta(kPartMetaKeyColumns), nullptr, false);
  doc["time_column"] = meta(kPartMetaTimeColumn);
  doc["schema"] = schema_to_json(*schema);
  STRATA_ASSIGN_OR_RETURN(PartInfo info, part_info_from(doc, path));
  std::string source = meta(kPartMetaSource);
  std::string kind = source.substr(0, source.find("://"));
  STRATA_TRY(prepare_once(*schema, info.key_columns, kind));
  STRATA_TRY(table_->put(path, doc.dump()));
  return std::unique_ptr<PartWriter>(
      std::make_unique<TablePartWriter>(*this, path, std::move(doc), std::move(info)));
}

}  // namespace

std::unique_ptr<Target> table_target_as_files(std::unique_ptr<TableTarget> table) {
  return std::make_unique<TableFiles>(std::move(table));
}

}  // namespace strata
