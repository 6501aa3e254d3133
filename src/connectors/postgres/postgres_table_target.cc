// A PostgreSQL table as a cold target: create, idempotent load, read back, documents.
#include "connectors/postgres/postgres_table_target.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>

#include "connectors/postgres/pg_connection.h"
#include "connectors/postgres/pg_types.h"
#include "connectors/postgres/postgres_source.h"
#include "connectors/sql/sql_text.h"

namespace strata {

namespace {

using pg::ConnectionPool;
using pg::PgResult;

constexpr size_t kCopyChunk = 1 << 20;  // bytes per PQputCopyData

std::string quote(std::string_view name) { return sql::quote_ident(sql::Dialect::kPostgres, name); }

sql::Param text_param(std::string s) {
  return sql::Param{Value::of_text(std::move(s)), Type::kString};
}

// A column of the existing target table.
struct TargetColumn {
  std::string name;
  std::string type;  // format_type
  bool is_array = false;
};

class PostgresTableTarget final : public TableTarget {
 public:
  PostgresTableTarget(Uri uri, pg::ConnectOptions options, std::string table)
      : uri_(std::move(uri)),
        table_(std::move(table)),
        where_{"postgres " + uri_.redacted(), table_},
        pool_(std::make_shared<ConnectionPool>(std::move(options), where_)) {
    if (size_t dot = table_.find('.'); dot != std::string::npos) {
      schema_name_ = table_.substr(0, dot);
      table_name_ = table_.substr(dot + 1);
    } else {
      table_name_ = table_;
    }
  }

  std::string describe() const override { return uri_.redacted(); }
  const std::string& table() const override { return table_; }

  Status prepare(const Schema& schema, const std::vector<std::string>& key_columns,
                 const std::string& source_kind) override {
    if (key_columns.empty()) return error("prepare needs the key columns");
    for (const std::string& k : key_columns) {
      if (schema.index_of(k) < 0) return error("key column '" + k + "' is not among the columns");
    }
    STRATA_ASSIGN_OR_RETURN(ConnectionPool::Lease conn, pool_->acquire());
    const char* op = "creating";
    STRATA_ASSIGN_OR_RETURN(std::string qualified, qualified_name(*conn));
    STRATA_TRY(ensure_schema(*conn));
    STRATA_ASSIGN_OR_RETURN(std::vector<TargetColumn> existing, columns(*conn));
    if (existing.empty()) {
      std::string ddl = "CREATE TABLE IF NOT EXISTS " + qualified + " (";
      for (size_t i = 0; i < schema.size(); ++i) {
        const Column& c = schema[i];
        std::string type = pg::ddl_type(c);
        if ((source_kind == "postgres" || source_kind == "postgresql") && !c.source_type.empty()) {
          // The source's own type, when this database knows it (an enum or domain may not exist).
          STRATA_ASSIGN_OR_RETURN(PgResult r, conn->query("SELECT to_regtype($1) IS NOT NULL",
                                                          {text_param(c.source_type)}, op));
          if (r.text(0, 0) == "t") type = c.source_type;
        }
        ddl += (i ? ", " : "") + quote(c.name) + " " + type + (c.nullable ? "" : " NOT NULL");
      }
      ddl += ", PRIMARY KEY (";
      for (size_t i = 0; i < key_columns.size(); ++i)
        ddl += (i ? ", " : "") + quote(key_columns[i]);
      ddl += "))";
      Status s = conn->exec(ddl, op);
      if (!s.is_ok()) {
        // Two shards may race to create it: what counts is that it exists now.
        STRATA_ASSIGN_OR_RETURN(existing, columns(*conn));
        if (existing.empty()) return s;
      }
      STRATA_ASSIGN_OR_RETURN(existing, columns(*conn));
    }
    std::vector<TargetColumn> load_columns;
    for (const Column& c : schema.columns()) {
      auto it = std::find_if(existing.begin(), existing.end(),
                             [&](const TargetColumn& t) { return t.name == c.name; });
      if (it == existing.end()) {
        return error("table '" + table_ + "' has no column '" + c.name +
                     "': add it (ALTER TABLE ... ADD COLUMN) or load into a new table");
      }
      load_columns.push_back(*it);
    }
    std::lock_guard<std::mutex> lock(mu_);
    qualified_ = qualified;
    schema_ = schema;
    key_columns_ = key_columns;
    load_columns_ = std::move(load_columns);
    return Status::ok();
  }

  Result<uint64_t> load(const Batch& batch) override {
    std::string qualified;
    Schema schema;
    std::vector<std::string> keys;
    std::vector<TargetColumn> targets;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (qualified_.empty()) return error("load before prepare (a bug in the caller)");
      qualified = qualified_;
      schema = schema_;
      keys = key_columns_;
      targets = load_columns_;
    }
    if (batch.num_rows() == 0) return uint64_t{0};
    if (batch.num_columns() != schema.size()) {
      return error("load got " + std::to_string(batch.num_columns()) + " columns, prepared " +
                   std::to_string(schema.size()));
    }
    const char* op = "loading into";
    STRATA_ASSIGN_OR_RETURN(ConnectionPool::Lease conn, pool_->acquire());
    const std::string begin = "BEGIN; SET LOCAL statement_timeout = '" +
                              pg::pg_interval_ms(pool_->options().statement_timeout) + "'";

    // First choice: COPY straight into the table, in each column's own binary form. A key
    // already there (a re-run, an overlapping restore) fails it with unique_violation: then this
    // batch and every later one go through the load table, which skips existing keys.
    std::vector<pg::DirectCopy> direct;
    for (size_t i = 0; i < schema.size(); ++i) {
      direct.push_back(pg::direct_copy(batch.column(i).type(), targets[i].type,
                                       targets[i].is_array));
      if (direct.back() == pg::DirectCopy::kNone) direct_ok_ = false;
    }
    if (direct_ok_) {
      std::string copy = "COPY " + qualified + " (";
      for (size_t i = 0; i < schema.size(); ++i) copy += (i ? ", " : "") + quote(schema[i].name);
      copy += ") FROM STDIN (FORMAT binary)";
      std::string sqlstate;
      Status s = conn->exec(begin, op);
      if (s.is_ok()) {
        s = copy_in(*conn, copy, batch, schema, sqlstate,
                    [&](size_t c, size_t r, std::string& buf, std::string&) {
                      return pg::append_direct_field(direct[c], batch.column(c), r, buf);
                    });
      }
      if (s.is_ok()) s = conn->exec("COMMIT", op);
      if (s.is_ok()) return static_cast<uint64_t>(batch.num_rows());
      if (PQstatus(conn->get()) != CONNECTION_OK) return s;
      (void)conn->exec("ROLLBACK", op);
      if (sqlstate == "23505") {
        direct_ok_ = false;
      } else if (sqlstate != kValueRejected) {
        return s;
      }  // else a value without a direct form (e.g. out of range): the load table's cast decides
    }

    std::string temp = "CREATE TEMP TABLE _strata_load (";
    std::string insert = "INSERT INTO " + qualified + " (";
    std::string select;
    std::vector<bool> as_array;
    for (size_t i = 0; i < schema.size(); ++i) {
      const Column& c = schema[i];
      const TargetColumn& t = targets[i];
      std::string q = quote(c.name);
      temp += (i ? ", " : "") + q + " " + pg::load_type(batch.column(i).type());
      insert += (i ? ", " : "") + q;
      // An archived array (JSON) is sent as the array's literal: any number of dimensions.
      as_array.push_back(t.is_array && c.type == Type::kJson);
      select += (i ? ", " : "") + q + "::" + t.type;
    }
    temp += ") ON COMMIT DROP";
    insert += ") SELECT " + select + " FROM _strata_load ON CONFLICT (";
    for (size_t i = 0; i < keys.size(); ++i) insert += (i ? ", " : "") + quote(keys[i]);
    insert += ") DO NOTHING";

    Status s = conn->exec(begin + "; " + temp, op);
    std::string sqlstate;
    if (s.is_ok()) {
      s = copy_in(*conn, "COPY _strata_load FROM STDIN (FORMAT binary)", batch, schema, sqlstate,
                  [&](size_t c, size_t r, std::string& buf, std::string& scratch) {
                    if (!as_array[c]) {
                      pg::append_copy_field(batch.column(c), r, buf);
                      return std::string();
                    }
                    return pg::append_copy_array_field(batch.column(c), r, buf, scratch);
                  });
    }
    uint64_t inserted = 0;
    if (s.is_ok()) {
      Result<PgResult> r = conn->query(insert, {}, op);
      if (r.is_ok()) {
        const char* n = PQcmdTuples(r->get());
        inserted = n != nullptr && *n != '\0' ? std::stoull(n) : 0;
      } else {
        s = r.status();
      }
    }
    if (s.is_ok()) s = conn->exec("COMMIT", op);
    if (!s.is_ok()) {
      if (PQstatus(conn->get()) == CONNECTION_OK) (void)conn->exec("ROLLBACK", op);
      return s;
    }
    return inserted;
  }

  Result<std::unique_ptr<Source>> as_source(const SourceSpec& like) override {
    SourceSpec spec = like;
    spec.table = table_;
    spec.exclude_columns.clear();
    spec.base_dir.clear();
    return pg::open_source_at(uri_, spec);
  }

  Status put(const std::string& path, std::string_view content) override {
    STRATA_ASSIGN_OR_RETURN(ConnectionPool::Lease conn, pool_->acquire());
    STRATA_TRY(ensure_schema(*conn));
    STRATA_ASSIGN_OR_RETURN(std::string docs, documents_table(*conn, true));
    STRATA_ASSIGN_OR_RETURN(
        PgResult r, conn->query("INSERT INTO " + docs +
                                    " (path, content) VALUES ($1, $2) ON CONFLICT (path) DO "
                                    "UPDATE SET content = EXCLUDED.content",
                                {text_param(path), text_param(std::string(content))},
                                "writing a document next to"));
    (void)r;
    return Status::ok();
  }

  Result<std::optional<std::string>> get(const std::string& path) override {
    STRATA_ASSIGN_OR_RETURN(ConnectionPool::Lease conn, pool_->acquire());
    STRATA_ASSIGN_OR_RETURN(std::string docs, documents_table(*conn, false));
    if (docs.empty()) return std::optional<std::string>();
    STRATA_ASSIGN_OR_RETURN(PgResult r,
                            conn->query("SELECT content FROM " + docs + " WHERE path = $1",
                                        {text_param(path)}, "reading a document next to"));
    if (r.rows() == 0) return std::optional<std::string>();
    return std::optional<std::string>(r.str(0, 0));
  }

  Result<std::vector<std::string>> list(const std::string& prefix) override {
    STRATA_ASSIGN_OR_RETURN(ConnectionPool::Lease conn, pool_->acquire());
    STRATA_ASSIGN_OR_RETURN(std::string docs, documents_table(*conn, false));
    std::vector<std::string> out;
    if (docs.empty()) return out;
    STRATA_ASSIGN_OR_RETURN(
        PgResult r, conn->query("SELECT path FROM " + docs +
                                    " WHERE starts_with(path, $1) ORDER BY path COLLATE \"C\"",
                                {text_param(prefix)}, "listing documents next to"));
    for (int i = 0; i < r.rows(); ++i) out.push_back(r.str(i, 0));
    return out;
  }

  Status remove(const std::string& path) override {
    STRATA_ASSIGN_OR_RETURN(ConnectionPool::Lease conn, pool_->acquire());
    STRATA_ASSIGN_OR_RETURN(std::string docs, documents_table(*conn, false));
    if (docs.empty()) return Status::ok();
    STRATA_ASSIGN_OR_RETURN(
        PgResult r, conn->query("DELETE FROM " + docs + " WHERE path = $1", {text_param(path)},
                                "removing a document next to"));
    (void)r;
    return Status::ok();
  }

 private:
  Status error(const std::string& message) const {
    return Status::permanent(where_.store + ": " + message);
  }

  // The schema named in ?table=, else the connection's current schema.
  Result<std::string> schema_name(pg::Connection& conn) {
    if (!schema_name_.empty()) return schema_name_;
    STRATA_ASSIGN_OR_RETURN(PgResult r, conn.query("SELECT current_schema()", {}, "describing"));
    if (r.rows() == 0 || r.is_null(0, 0)) {
      return error("no current schema for table '" + table_ + "': schema-qualify it (?table=s.t)");
    }
    return r.str(0, 0);
  }

  Result<std::string> qualified_name(pg::Connection& conn) {
    STRATA_ASSIGN_OR_RETURN(std::string s, schema_name(conn));
    return quote(s) + "." + quote(table_name_);
  }

  Status ensure_schema(pg::Connection& conn) {
    STRATA_ASSIGN_OR_RETURN(std::string s, schema_name(conn));
    STRATA_ASSIGN_OR_RETURN(PgResult r,
                            conn.query("SELECT 1 FROM pg_namespace WHERE nspname = $1::name",
                                       {text_param(s)}, "creating the schema of"));
    if (r.rows() > 0) return Status::ok();
    Status st = conn.exec("CREATE SCHEMA IF NOT EXISTS " + quote(s), "creating the schema of");
    if (st.is_ok()) return st;
    STRATA_ASSIGN_OR_RETURN(PgResult again,
                            conn.query("SELECT 1 FROM pg_namespace WHERE nspname = $1::name",
                                       {text_param(s)}, "creating the schema of"));
    return again.rows() > 0 ? Status::ok() : st;
  }

  // The documents table, created when `create`; "" when missing and not created.
  Result<std::string> documents_table(pg::Connection& conn, bool create) {
    STRATA_ASSIGN_OR_RETURN(std::string s, schema_name(conn));
    std::string docs = quote(s) + "." + quote("_strata_documents");
    STRATA_ASSIGN_OR_RETURN(PgResult r, conn.query("SELECT to_regclass($1) IS NOT NULL",
                                                   {text_param(docs)}, "describing"));
    if (r.text(0, 0) == "t") return docs;
    if (!create) return std::string();
    Status st = conn.exec(
        "CREATE TABLE IF NOT EXISTS " + docs + " (path text PRIMARY KEY, content text NOT NULL)",
        "creating the documents table next to");
    if (!st.is_ok()) {
      STRATA_ASSIGN_OR_RETURN(PgResult again, conn.query("SELECT to_regclass($1) IS NOT NULL",
                                                         {text_param(docs)}, "describing"));
      if (again.text(0, 0) != "t") return st;
    }
    return docs;
  }

  // The table's columns; empty when the table does not exist.
  Result<std::vector<TargetColumn>> columns(pg::Connection& conn) {
    STRATA_ASSIGN_OR_RETURN(std::string s, schema_name(conn));
    STRATA_ASSIGN_OR_RETURN(
        PgResult r,
        conn.query("SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typcategory = 'A' "
                   "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid WHERE a.attrelid = "
                   "to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                   {text_param(quote(s) + "." + quote(table_name_))}, "describing"));
    std::vector<TargetColumn> out;
    for (int i = 0; i < r.rows(); ++i) {
      out.push_back(TargetColumn{r.str(i, 0), r.str(i, 1), r.text(i, 2) == "t"});
    }
    return out;
  }

  // Runs `copy` (a COPY ... FROM STDIN (FORMAT binary)) and sends the batch in chunks of about
  // kCopyChunk bytes, each field appended by `field` (which returns "" or what is wrong with the
  // value). `sqlstate` gets the server's error code when the COPY fails there, kValueRejected
  // when `field` refused a value.
  Status copy_in(
      pg::Connection& conn, const std::string& copy, const Batch& batch, const Schema& schema,
      std::string& sqlstate,
      const std::function<std::string(size_t, size_t, std::string&, std::string&)>& field) {
    const char* op = "loading into";
    PgResult start(PQexec(conn.get(), copy.c_str()));
    if (start.get() == nullptr || PQresultStatus(start.get()) != PGRES_COPY_IN) {
      return pg::status_of(conn.get(), start.get(), where_, op);
    }
    std::string buf("PGCOPY\n\377\r\n\0", 11);
    buf.append(8, '\0');  // flags, header extension length
    const size_t ncols = batch.num_columns();
    auto flush = [&]() -> bool {
      bool ok = PQputCopyData(conn.get(), buf.data(), static_cast<int>(buf.size())) == 1;
      buf.clear();
      return ok;
    };
    bool ok = true;
    std::string bad_value, scratch;
    for (size_t r = 0; r < batch.num_rows() && ok && bad_value.empty(); ++r) {
      uint16_t n = __builtin_bswap16(static_cast<uint16_t>(ncols));
      buf.append(reinterpret_cast<const char*>(&n), 2);
      for (size_t c = 0; c < ncols && bad_value.empty(); ++c) {
        std::string e = field(c, r, buf, scratch);
        if (!e.empty()) bad_value = "column '" + schema[c].name + "': " + e;
      }
      if (buf.size() >= kCopyChunk) ok = flush();
    }
    buf.append("\xff\xff", 2);
    if (ok && bad_value.empty()) ok = flush();
    const char* abort = !bad_value.empty() ? "strata: a value cannot be loaded"
                        : ok               ? nullptr
                                           : "strata: sending rows failed";
    if (PQputCopyEnd(conn.get(), abort) != 1) ok = false;
    PgResult end(PQgetResult(conn.get()));
    Status s = end.get() != nullptr && PQresultStatus(end.get()) == PGRES_COMMAND_OK
                   ? Status::ok()
                   : pg::status_of(conn.get(), end.get(), where_, op);
    if (!s.is_ok() && bad_value.empty() && end.get() != nullptr) {
      const char* code = PQresultErrorField(end.get(), PG_DIAG_SQLSTATE);
      if (code != nullptr) sqlstate = code;
    }
    while (PGresult* extra = PQgetResult(conn.get())) PQclear(extra);
    if (!bad_value.empty()) {
      sqlstate = kValueRejected;
      return error("loading into table '" + table_ + "': " + bad_value);
    }
    if (s.is_ok() && !ok) s = pg::status_of(conn.get(), nullptr, where_, op);
    return s;
  }

  const Uri uri_;
  const std::string table_;
  const pg::ErrorContext where_;
  std::shared_ptr<ConnectionPool> pool_;
  std::string schema_name_;
  std::string table_name_;
  std::mutex mu_;
  std::string qualified_;
  Schema schema_;
  std::vector<std::string> key_columns_;
  std::vector<TargetColumn> load_columns_;
  // Whether loads still try COPY straight into the table (until a key conflict shows the table
  // already holds some of the rows); loads may run at once.
  std::atomic<bool> direct_ok_{true};
  static constexpr const char* kValueRejected = "value rejected";
};

}  // namespace

Result<std::unique_ptr<TableTarget>> open_postgres_table_target(const Uri& uri) {
  STRATA_TRY(pg::check_uri(uri, {"table", "plan_exact_rows"}));
  auto it = uri.query.find("table");
  if (it == uri.query.end() || it->second.empty()) {
    return Status::permanent("postgres " + uri.redacted() +
                             ": a table target names its table: add ?table=NAME (may be "
                             "schema-qualified, e.g. ?table=archive.telemetry)");
  }
  STRATA_ASSIGN_OR_RETURN(pg::ConnectOptions options, pg::connect_options(uri));
  options.uri.query.erase("table");
  options.uri.query.erase("plan_exact_rows");
  return std::unique_ptr<TableTarget>(
      std::make_unique<PostgresTableTarget>(uri, std::move(options), it->second));
}

}  // namespace strata
