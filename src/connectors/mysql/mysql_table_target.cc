// The MySQL/MariaDB cold-table target.
#include "connectors/mysql/mysql_table_target.h"

#include <algorithm>
#include <mutex>

#include "connectors/mysql/mysql_connection.h"
#include "connectors/mysql/mysql_source.h"
#include "connectors/mysql/mysql_types.h"

namespace strata {

namespace {

using mysql::ConnectionPool;
using mysql::ErrorContext;
using mysql::PooledConnection;
using mysql::quote_ident;

constexpr size_t kStatementBytes = 4 << 20;  // one INSERT statement, about
constexpr const char* kDocuments = "_strata_documents";

std::string text_literal(std::string_view s) {
  std::string out;
  (void)mysql::append_literal(out, Value::of_text(std::string(s)), Type::kString);
  return out;
}

// A text or blob type cannot be a primary key column without a prefix length.
bool needs_prefix(std::string_view type) {
  for (std::string_view t : {"tinytext", "text", "mediumtext", "longtext", "tinyblob", "blob",
                             "mediumblob", "longblob", "json"}) {
    if (type == t) return true;
  }
  return false;
}

class MysqlTableTarget final : public TableTarget {
 public:
  MysqlTableTarget(Uri uri, std::string db, std::string table)
      : uri_(std::move(uri)),
        table_(uri_.query.at("table")),
        db_(std::move(db)),
        name_(std::move(table)),
        qualified_(quote_ident(db_) + "." + quote_ident(name_)),
        where_{uri_.redacted(), table_} {}

  std::string describe() const override { return uri_.redacted(); }
  const std::string& table() const override { return table_; }

  Status prepare(const Schema& schema, const std::vector<std::string>& key_columns,
                 const std::string& source_kind) override {
    if (key_columns.empty()) return error("prepare needs the key columns");
    for (const std::string& k : key_columns) {
      if (schema.index_of(k) < 0) return error("key column '" + k + "' is not in the schema");
    }
    STRATA_ASSIGN_OR_RETURN(PooledConnection conn, connect());
    const char* op = "preparing";
    STRATA_TRY(conn->exec("CREATE DATABASE IF NOT EXISTS " + quote_ident(db_) +
                              " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
                          op));
    STRATA_ASSIGN_OR_RETURN(
        auto existing,
        conn->query("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = " +
                        text_literal(db_) + " AND TABLE_NAME = " + text_literal(name_),
                    op));
    if (existing.empty()) {
      const bool same_kind = source_kind == "mysql" || source_kind == "mariadb";
      std::string ddl = "CREATE TABLE IF NOT EXISTS " + qualified_ + " (";
      for (size_t i = 0; i < schema.size(); ++i) {
        const Column& c = schema[i];
        bool is_key =
            std::find(key_columns.begin(), key_columns.end(), c.name) != key_columns.end();
        std::string type = same_kind && !c.source_type.empty() ? c.source_type : "";
        if (type.empty() || (is_key && needs_prefix(type))) type = mysql::mysql_type_for(c, is_key);
        if (i > 0) ddl += ", ";
        ddl += quote_ident(c.name) + " " + type + (is_key || !c.nullable ? " NOT NULL" : " NULL");
      }
      ddl += ", PRIMARY KEY (";
      for (size_t i = 0; i < key_columns.size(); ++i) {
        ddl += (i ? ", " : "") + quote_ident(key_columns[i]);
      }
      ddl += ")) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";
      STRATA_TRY(conn->exec(ddl, "creating"));
    } else {
      for (const Column& c : schema.columns()) {
        bool found = std::any_of(existing.begin(), existing.end(),
                                 [&](const auto& r) { return r[0] && *r[0] == c.name; });
        if (!found) {
          return error("table '" + table_ + "' exists but has no column '" + c.name +
                       "'; add it (ALTER TABLE ... ADD COLUMN) or archive into a new table");
        }
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    key_columns_ = key_columns;
    return Status::ok();
  }

  Result<uint64_t> load(const Batch& batch) override {
    if (batch.num_rows() == 0) return uint64_t{0};
    std::vector<std::string> keys;
    {
      std::lock_guard<std::mutex> lock(mu_);
      keys = key_columns_;
    }
    if (keys.empty()) return error("load before prepare: the key columns are not known");
    const Schema& schema = batch.schema();
    std::string head = "INSERT INTO " + qualified_ + " (";
    for (size_t c = 0; c < schema.size(); ++c)
      head += (c ? ", " : "") + quote_ident(schema[c].name);
    head += ") VALUES ";
    const std::string tail =
        " ON DUPLICATE KEY UPDATE " + quote_ident(keys[0]) + " = " + quote_ident(keys[0]);

    STRATA_ASSIGN_OR_RETURN(PooledConnection conn, connect());
    std::string prefix;
    if (conn->is_mariadb()) {
      prefix = "SET STATEMENT max_statement_time=" +
               std::to_string(pool_->options().statement_timeout_s) + " FOR ";
    }
    const char* op = "loading into";
    STRATA_TRY(
        conn->exec("SET SESSION sql_mode = CONCAT_WS(',', @@sql_mode, 'STRICT_ALL_TABLES')", op));
    STRATA_TRY(conn->exec("START TRANSACTION", op));
    uint64_t inserted = 0;
    Status s;
    std::string stmt;
    stmt.reserve(kStatementBytes + (1 << 16));
    size_t row = 0;
    while (row < batch.num_rows() && s.is_ok()) {
      stmt = prefix + head;
      bool first = true;
      while (row < batch.num_rows() && (first || stmt.size() < kStatementBytes)) {
        stmt += first ? "(" : ", (";
        first = false;
        for (size_t c = 0; c < batch.num_columns() && s.is_ok(); ++c) {
          if (c > 0) stmt += ", ";
          s = mysql::append_column_literal(stmt, batch.column(c), row);
          if (!s.is_ok()) {
            s = error("table '" + table_ + "' column '" + schema[c].name + "': " + s.message());
          }
        }
        stmt += ")";
        ++row;
      }
      if (!s.is_ok()) break;
      stmt += tail;
      s = conn->exec(stmt, op);
      if (s.is_ok()) inserted += conn->affected_rows();
    }
    if (s.is_ok()) s = conn->exec("COMMIT", "loading (commit) into");
    if (!s.is_ok()) {
      if (conn->healthy()) (void)conn->exec("ROLLBACK", "loading (rollback) into");
      return s;
    }
    return inserted;
  }

  Result<std::unique_ptr<Source>> as_source(const SourceSpec& like) override {
    SourceSpec spec = like;
    spec.uri = uri_.redacted();
    spec.table = db_ + "." + name_;
    spec.exclude_columns.clear();  // the cold table has only the archived columns
    return mysql::open_source_at(spec, uri_);
  }

  Status put(const std::string& path, std::string_view content) override {
    STRATA_ASSIGN_OR_RETURN(PooledConnection conn, documents());
    std::string sql = "INSERT INTO " + documents_table() + " (path, content) VALUES (" +
                      text_literal(path) + ", " + text_literal(content) +
                      ") ON DUPLICATE KEY UPDATE content = VALUES(content)";
    return conn->exec(sql, "writing a document into");
  }

  Result<std::optional<std::string>> get(const std::string& path) override {
    STRATA_ASSIGN_OR_RETURN(PooledConnection conn, documents());
    STRATA_ASSIGN_OR_RETURN(auto rows, conn->query("SELECT content FROM " + documents_table() +
                                                       " WHERE path = " + text_literal(path),
                                                   "reading a document from"));
    if (rows.empty() || !rows[0][0]) return std::optional<std::string>();
    return std::optional<std::string>(std::move(*rows[0][0]));
  }

  Result<std::vector<std::string>> list(const std::string& prefix) override {
    STRATA_ASSIGN_OR_RETURN(PooledConnection conn, documents());
    STRATA_ASSIGN_OR_RETURN(
        auto rows, conn->query("SELECT path FROM " + documents_table() + " WHERE LEFT(path, " +
                                   std::to_string(prefix.size()) + ") = " + text_literal(prefix) +
                                   " ORDER BY path",
                               "listing documents in"));
    std::vector<std::string> out;
    for (auto& r : rows) {
      if (r[0] && r[0]->compare(0, prefix.size(), prefix) == 0) out.push_back(std::move(*r[0]));
    }
    return out;
  }

  Status remove(const std::string& path) override {
    STRATA_ASSIGN_OR_RETURN(PooledConnection conn, documents());
    return conn->exec("DELETE FROM " + documents_table() + " WHERE path = " + text_literal(path),
                      "removing a document from");
  }

 private:
  Status error(const std::string& message) const {
    return Status::permanent("mysql " + where_.store + ": " + message);
  }

  std::string documents_table() const { return quote_ident(db_) + "." + quote_ident(kDocuments); }

  Result<PooledConnection> connect() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!pool_) {
        STRATA_ASSIGN_OR_RETURN(mysql::ConnectOptions options, mysql::resolve_options(uri_));
        pool_ = std::make_shared<ConnectionPool>(std::move(options), where_);
      }
    }
    return pool_->acquire();
  }

  // A connection, with the documents table created on first use.
  Result<PooledConnection> documents() {
    STRATA_ASSIGN_OR_RETURN(PooledConnection conn, connect());
    std::lock_guard<std::mutex> lock(mu_);
    if (!documents_ready_) {
      STRATA_TRY(conn->exec("CREATE DATABASE IF NOT EXISTS " + quote_ident(db_) +
                                " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
                            "creating the documents table of"));
      STRATA_TRY(conn->exec("CREATE TABLE IF NOT EXISTS " + documents_table() +
                                " (path varchar(512) NOT NULL PRIMARY KEY, content longtext) "
                                "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
                            "creating the documents table of"));
      documents_ready_ = true;
    }
    return conn;
  }

  const Uri uri_;
  const std::string table_;  // as given
  const std::string db_;
  const std::string name_;
  const std::string qualified_;
  const ErrorContext where_;
  std::mutex mu_;
  std::shared_ptr<ConnectionPool> pool_;
  std::vector<std::string> key_columns_;
  bool documents_ready_ = false;
};

}  // namespace

Result<std::unique_ptr<TableTarget>> open_mysql_table_target(const Uri& uri) {
  STRATA_TRY(mysql::check_uri(uri, "table"));
  auto it = uri.query.find("table");
  if (it == uri.query.end() || it->second.empty()) {
    return Status::permanent("mysql " + uri.redacted() +
                             ": a table target needs ?table=NAME (or ?table=db.NAME)");
  }
  std::string db = uri.path.substr(1);
  std::string table = it->second;
  if (size_t dot = table.find('.'); dot != std::string::npos) {
    db = table.substr(0, dot);
    table = table.substr(dot + 1);
  }
  if (db.empty() || table.empty()) {
    return Status::permanent("mysql " + uri.redacted() + ": table '" + it->second +
                             "' is not NAME or db.NAME");
  }
  return std::unique_ptr<TableTarget>(
      std::make_unique<MysqlTableTarget>(uri, std::move(db), std::move(table)));
}

}  // namespace strata
