#include "connectors/sqlite/sqlite_table_target.h"

#include <sqlite3.h>

#include <algorithm>
#include <functional>
#include <mutex>
#include <optional>

#include "connectors/sqlite/sqlite_handle.h"
#include "connectors/sqlite/sqlite_source.h"
#include "core/env.h"
#include "core/fs.h"

namespace strata {

namespace {

using sqlite::ErrorContext;
using sqlite::quote_identifier;

std::string declared_type(const Column& c, bool same_kind) {
  if (same_kind && !c.source_type.empty()) return c.source_type;
  switch (c.type) {
    case Type::kInt64:
      return "INTEGER";
    case Type::kDouble:
      return "REAL";
    case Type::kBool:
      return "BOOLEAN";
    case Type::kBytes:
      return "BLOB";
    case Type::kTimestamp:
      return "TIMESTAMP";
    case Type::kDate:
      return "DATE";
    case Type::kDecimal:
      return c.precision > 0
                 ? "DECIMAL(" + std::to_string(c.precision) + "," + std::to_string(c.scale) + ")"
                 : "DECIMAL";
    case Type::kJson:
      return "JSON";
    case Type::kString:
      break;
  }
  return "TEXT";
}

class SqliteTableTarget final : public TableTarget {
 public:
  SqliteTableTarget(Uri uri, std::string path)
      : uri_(std::move(uri)), path_(std::move(path)), table_(uri_.query.at("table")) {
    where_ = ErrorContext{path_, table_};
  }
  ~SqliteTableTarget() override {
    if (db_) sqlite3_close_v2(db_);
  }

  std::string describe() const override { return uri_.redacted(); }
  const std::string& table() const override { return table_; }

  Status prepare(const Schema& schema, const std::vector<std::string>& key_columns,
                 const std::string& source_kind) override {
    std::lock_guard<std::mutex> lock(mu_);
    STRATA_TRY(open_locked());
    std::string sql = "CREATE TABLE IF NOT EXISTS " + quote_identifier(table_) + " (";
    for (size_t i = 0; i < schema.size(); ++i) {
      const Column& c = schema[i];
      sql += (i ? ", " : "") + quote_identifier(c.name) + " " +
             declared_type(c, source_kind == "sqlite") + (c.nullable ? "" : " NOT NULL");
    }
    sql += ", PRIMARY KEY (";
    for (size_t i = 0; i < key_columns.size(); ++i) {
      sql += (i ? ", " : "") + quote_identifier(key_columns[i]);
    }
    sql += "))";
    STRATA_TRY(exec_locked(sql, "creating"));
    // An existing table must have every column.
    std::vector<std::string> have;
    STRATA_TRY(query_locked(
        "SELECT name FROM pragma_table_info(" + sql_text(table_) + ")", [&](sqlite3_stmt* st) {
          have.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
        }));
    for (const Column& c : schema.columns()) {
      if (std::find(have.begin(), have.end(), c.name) == have.end()) {
        return Status::permanent(describe() + ": table '" + table_ + "' has no column '" + c.name +
                                 "' (add it, or load into a new table)");
      }
    }
    schema_ = schema;
    insert_sql_ = "INSERT INTO " + quote_identifier(table_) + " (";
    std::string values;
    for (size_t i = 0; i < schema.size(); ++i) {
      insert_sql_ += (i ? ", " : "") + quote_identifier(schema[i].name);
      values += i ? ", ?" : "?";
    }
    insert_sql_ += ") VALUES (" + values + ") ON CONFLICT DO NOTHING";
    return Status::ok();
  }

  Result<uint64_t> load(const Batch& batch) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (insert_sql_.empty()) {
      return Status::permanent(describe() + ": load before prepare (a programming error)");
    }
    STRATA_TRY(exec_locked("BEGIN IMMEDIATE", "loading (begin)"));
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v2(db_, insert_sql_.c_str(), -1, &st, nullptr);
    uint64_t inserted = 0;
    std::string text;
    for (size_t row = 0; rc == SQLITE_OK && row < batch.num_rows(); ++row) {
      for (size_t c = 0; rc == SQLITE_OK && c < batch.num_columns(); ++c) {
        const ColumnVector& col = batch.column(c);
        int idx = static_cast<int>(c + 1);
        if (col.is_null(row)) {
          rc = sqlite3_bind_null(st, idx);
          continue;
        }
        switch (col.type()) {
          case Type::kInt64:
          case Type::kBool:
            rc = sqlite3_bind_int64(st, idx, col.int_at(row));
            break;
          case Type::kDouble:
            rc = sqlite3_bind_double(st, idx, col.double_at(row));
            break;
          case Type::kTimestamp:
            text = format_timestamp(col.int_at(row));  // 2026-01-02T03:04:05.123456Z
            text[10] = ' ';
            text.pop_back();
            rc = sqlite3_bind_text(st, idx, text.c_str(), static_cast<int>(text.size()),
                                   SQLITE_TRANSIENT);
            break;
          case Type::kDate:
            text = format_date(col.int_at(row));
            rc = sqlite3_bind_text(st, idx, text.c_str(), static_cast<int>(text.size()),
                                   SQLITE_TRANSIENT);
            break;
          case Type::kBytes: {
            std::string_view b = col.text_at(row);
            rc = sqlite3_bind_blob64(st, idx, b.data(), b.size(), SQLITE_STATIC);
            break;
          }
          default: {
            std::string_view t = col.text_at(row);
            rc = sqlite3_bind_text64(st, idx, t.data(), t.size(), SQLITE_STATIC, SQLITE_UTF8);
            break;
          }
        }
      }
      if (rc != SQLITE_OK) break;
      rc = sqlite3_step(st);
      if (rc == SQLITE_DONE) {
        inserted += static_cast<uint64_t>(sqlite3_changes(db_));
        rc = SQLITE_OK;
      }
      sqlite3_reset(st);
      sqlite3_clear_bindings(st);
    }
    if (rc != SQLITE_OK) {
      Status s = sqlite::sqlite_status(rc, sqlite3_errmsg(db_), where_, "loading");
      sqlite3_finalize(st);
      (void)exec_locked("ROLLBACK", "loading (rollback)");
      return s;
    }
    sqlite3_finalize(st);
    STRATA_TRY(exec_locked("COMMIT", "loading (commit)"));
    return inserted;
  }

  Result<std::unique_ptr<Source>> as_source(const SourceSpec& like) override {
    SourceSpec spec = like;
    spec.uri = "sqlite://" + path_;
    spec.table = table_;
    spec.base_dir.clear();
    return open_sqlite_source(spec);
  }

  Status put(const std::string& path, std::string_view content) override {
    std::lock_guard<std::mutex> lock(mu_);
    STRATA_TRY(documents_locked());
    return run_locked(
        "INSERT INTO _strata_documents (path, content) VALUES (?, ?) ON CONFLICT "
        "(path) DO UPDATE SET content = excluded.content",
        {path, std::string(content)}, nullptr, "writing a document of");
  }

  Result<std::optional<std::string>> get(const std::string& path) override {
    std::lock_guard<std::mutex> lock(mu_);
    STRATA_TRY(documents_locked());
    std::optional<std::string> out;
    STRATA_TRY(run_locked(
        "SELECT content FROM _strata_documents WHERE path = ?", {path},
        [&](sqlite3_stmt* st) {
          out = std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)),
                            static_cast<size_t>(sqlite3_column_bytes(st, 0)));
        },
        "reading a document of"));
    return out;
  }

  Result<std::vector<std::string>> list(const std::string& prefix) override {
    std::lock_guard<std::mutex> lock(mu_);
    STRATA_TRY(documents_locked());
    std::vector<std::string> out;
    STRATA_TRY(run_locked(
        "SELECT path FROM _strata_documents WHERE substr(path, 1, length(?1)) = ?1 ORDER BY path",
        {prefix},
        [&](sqlite3_stmt* st) {
          out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
        },
        "listing the documents of"));
    return out;
  }

  Status remove(const std::string& path) override {
    std::lock_guard<std::mutex> lock(mu_);
    STRATA_TRY(documents_locked());
    return run_locked("DELETE FROM _strata_documents WHERE path = ?", {path}, nullptr,
                      "removing a document of");
  }

 private:
  static std::string sql_text(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
    return out + "'";
  }

  Status open_locked() {
    if (db_) return Status::ok();
    if (!parent_dir(path_).empty()) STRATA_TRY(make_dirs(parent_dir(path_)));
    int rc =
        sqlite3_open_v2(path_.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      Status s = sqlite::sqlite_status(rc, db_ ? sqlite3_errmsg(db_) : nullptr, where_,
                                       "opening (or creating) the database for");
      sqlite3_close_v2(db_);
      db_ = nullptr;
      return s;
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, sqlite::kDefaultBusyTimeoutMs);
    return exec_locked("PRAGMA journal_mode=WAL", "configuring");
  }

  Status documents_locked() {
    STRATA_TRY(open_locked());
    if (documents_ready_) return Status::ok();
    STRATA_TRY(exec_locked(
        "CREATE TABLE IF NOT EXISTS _strata_documents (path TEXT PRIMARY KEY, content TEXT "
        "NOT NULL)",
        "creating the documents table of"));
    documents_ready_ = true;
    return Status::ok();
  }

  Status exec_locked(const std::string& sql, const char* op) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    if (rc == SQLITE_OK) return Status::ok();
    Status s = sqlite::sqlite_status(rc, err, where_, op);
    sqlite3_free(err);
    return s;
  }

  Status query_locked(const std::string& sql, const std::function<void(sqlite3_stmt*)>& row) {
    return run_locked(sql, {}, row, "describing");
  }

  Status run_locked(const std::string& sql, const std::vector<std::string>& params,
                    const std::function<void(sqlite3_stmt*)>& row, const char* op) {
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr);
    for (size_t i = 0; rc == SQLITE_OK && i < params.size(); ++i) {
      rc = sqlite3_bind_text64(st, static_cast<int>(i + 1), params[i].data(), params[i].size(),
                               SQLITE_STATIC, SQLITE_UTF8);
    }
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
      rc = sqlite3_step(st);
      if (rc == SQLITE_ROW && row) row(st);
    }
    Status s = rc == SQLITE_DONE ? Status::ok()
                                 : sqlite::sqlite_status(rc, sqlite3_errmsg(db_), where_, op);
    sqlite3_finalize(st);
    return s;
  }

  Uri uri_;
  std::string path_;
  std::string table_;
  ErrorContext where_;
  std::mutex mu_;
  sqlite3* db_ = nullptr;
  bool documents_ready_ = false;
  Schema schema_;
  std::string insert_sql_;
};

}  // namespace

Result<std::unique_ptr<TableTarget>> open_sqlite_table_target(const Uri& uri) {
  STRATA_ASSIGN_OR_RETURN(std::string path, expand_env(uri.path));
  if (path.empty()) return Status::permanent("sqlite table target: no database path in the URI");
  return std::unique_ptr<TableTarget>(std::make_unique<SqliteTableTarget>(uri, path));
}

}  // namespace strata
