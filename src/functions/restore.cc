#include "functions/restore.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>

#include "functions/manifest.h"
#include "functions/verify.h"

namespace strata {

namespace {

// A condition bound to a column of the archive's schema.
struct BoundCondition {
  int column = -1;
  Type type = Type::kString;
  std::string op;
  bool null_literal = false;
  Value value;  // int (ints, bools, dates, timestamps), double, or text
};

Result<Value> typed_literal(const Column& c, const std::string& text) {
  auto bad = [&](const std::string& what) {
    return Status::permanent("restore filter: '" + text + "' is not " + what + " (column '" +
                             c.name + "' is " + type_name(c.type) + ")");
  };
  switch (c.type) {
    case Type::kInt64: {
      auto v = parse_int(text);
      if (!v.is_ok()) return bad("an integer");
      return Value::of_int(*v);
    }
    case Type::kBool: {
      if (text == "true" || text == "1") return Value::of_int(1);
      if (text == "false" || text == "0") return Value::of_int(0);
      return bad("a boolean (true or false)");
    }
    case Type::kDouble:
    case Type::kDecimal: {
      auto v = parse_double(text);
      if (!v.is_ok()) return bad("a number");
      return Value::of_double(*v);
    }
    case Type::kTimestamp: {
      auto v = parse_timestamp(text);
      if (v.is_ok()) return Value::of_int(*v);
      auto d = parse_date(text);
      if (d.is_ok()) return Value::of_int(*d * 86400LL * 1000000LL);
      return bad("a timestamp (e.g. 2026-01-01 or 2026-01-01T12:00:00Z)");
    }
    case Type::kDate: {
      auto d = parse_date(text);
      if (!d.is_ok()) return bad("a date (YYYY-MM-DD)");
      return Value::of_int(*d);
    }
    default:
      return Value::of_text(text);
  }
}

Result<std::vector<BoundCondition>> bind(const std::vector<RowCondition>& conds,
                                         const Schema& schema) {
  std::vector<BoundCondition> out;
  for (const RowCondition& rc : conds) {
    BoundCondition b;
    b.column = schema.index_of(rc.column);
    if (b.column < 0) {
      std::string names;
      for (const Column& c : schema.columns()) names += (names.empty() ? "" : ", ") + c.name;
      return Status::permanent("restore filter: no column '" + rc.column +
                               "' in the archive (columns: " + names + ")");
    }
    const Column& c = schema[static_cast<size_t>(b.column)];
    b.type = c.type;
    b.op = rc.op;
    if (rc.literal == "NULL") {
      if (rc.op != "=" && rc.op != "!=") {
        return Status::permanent("restore filter: NULL compares only with = or !=");
      }
      b.null_literal = true;
    } else {
      STRATA_ASSIGN_OR_RETURN(b.value, typed_literal(c, rc.literal));
    }
    out.push_back(std::move(b));
  }
  return out;
}

bool holds(int cmp, const std::string& op) {
  if (op == "=") return cmp == 0;
  if (op == "!=") return cmp != 0;
  if (op == "<") return cmp < 0;
  if (op == "<=") return cmp <= 0;
  if (op == ">") return cmp > 0;
  return cmp >= 0;  // ">="
}

// Whether some row with values within `bounds` can pass every condition (false only when the
// statistics prove none can).
bool group_may_match(const std::vector<ColumnBounds>& bounds,
                     const std::vector<BoundCondition>& conds) {
  for (const BoundCondition& c : conds) {
    if (c.null_literal || static_cast<size_t>(c.column) >= bounds.size()) continue;
    const ColumnBounds& b = bounds[static_cast<size_t>(c.column)];
    if (b.min.is_null() || b.max.is_null()) continue;
    if (b.min.is_text() != c.value.is_text()) continue;  // not comparable: keep the group
    const int lo = b.min.compare(c.value), hi = b.max.compare(c.value);
    bool possible = true;
    if (c.op == "=") possible = lo <= 0 && hi >= 0;
    if (c.op == "!=") possible = !(lo == 0 && hi == 0);
    if (c.op == "<") possible = lo < 0;
    if (c.op == "<=") possible = lo <= 0;
    if (c.op == ">") possible = hi > 0;
    if (c.op == ">=") possible = hi >= 0;
    if (!possible) return false;
  }
  return true;
}

bool row_matches(const Batch& batch, size_t row, const std::vector<BoundCondition>& conds) {
  for (const BoundCondition& c : conds) {
    const ColumnVector& col = batch.column(static_cast<size_t>(c.column));
    const bool is_null = col.is_null(row);
    if (c.null_literal) {
      if (is_null != (c.op == "=")) return false;
      continue;
    }
    if (is_null) return false;  // SQL: a comparison with NULL is not true
    int cmp = 0;
    if (c.value.is_double()) {
      double x = 0;
      if (col.storage() == Storage::kDouble) {
        x = col.double_at(row);
      } else if (col.storage() == Storage::kInt) {
        x = static_cast<double>(col.int_at(row));
      } else {  // decimal text
        const std::string_view t = col.text_at(row);
        std::from_chars(t.data() + (!t.empty() && t[0] == '+'), t.data() + t.size(), x);
      }
      cmp = x < c.value.as_double() ? -1 : (x > c.value.as_double() ? 1 : 0);
    } else if (c.value.is_int()) {
      int64_t x = col.int_at(row);
      cmp = x < c.value.as_int() ? -1 : (x > c.value.as_int() ? 1 : 0);
    } else {
      int r = col.text_at(row).compare(c.value.as_text());
      cmp = r < 0 ? -1 : (r > 0 ? 1 : 0);
    }
    if (!holds(cmp, c.op)) return false;
  }
  return true;
}

// The time window the filter allows on the time column: [lo, hi] inclusive, for pruning files.
void time_window(const std::vector<BoundCondition>& conds, int time_col, std::optional<int64_t>& lo,
                 std::optional<int64_t>& hi) {
  for (const BoundCondition& c : conds) {
    if (c.column != time_col || c.null_literal || !c.value.is_int()) continue;
    int64_t v = c.value.as_int();
    if (c.type == Type::kDate) v *= 86400LL * 1000000LL;
    auto raise = [&](int64_t x) { lo = lo ? std::max(*lo, x) : x; };
    auto lower = [&](int64_t x) { hi = hi ? std::min(*hi, x) : x; };
    if (c.op == ">" || c.op == ">=" || c.op == "=") raise(v);
    if (c.op == "<" || c.op == "<=" || c.op == "=")
      lower(c.type == Type::kDate ? v + 86400LL * 1000000LL : v);
  }
}

}  // namespace

Result<std::vector<RowCondition>> parse_row_filter(const std::string& text) {
  std::vector<RowCondition> out;
  size_t i = 0;
  auto skip_space = [&] {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  };
  auto fail = [&](const std::string& what) {
    return Status::permanent("restore filter '" + text + "': " + what + " at offset " +
                             std::to_string(i) +
                             " (expected: column op value [AND ...], e.g. ts >= '2026-01-01' AND "
                             "vehicle = 7)");
  };
  for (;;) {
    skip_space();
    RowCondition c;
    size_t start = i;
    if (i < text.size() && text[i] == '"') {  // a quoted column name
      ++i;
      while (i < text.size() && text[i] != '"') c.column += text[i++];
      if (i >= text.size()) return fail("unterminated column name");
      ++i;
    } else {
      while (i < text.size() &&
             (std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '_')) {
        ++i;
      }
      c.column = text.substr(start, i - start);
    }
    if (c.column.empty()) return fail("a column name is missing");
    skip_space();
    for (const char* op : {"<=", ">=", "!=", "<>", "=", "<", ">"}) {
      if (text.compare(i, std::char_traits<char>::length(op), op) == 0) {
        c.op = op;
        i += c.op.size();
        break;
      }
    }
    if (c.op.empty()) return fail("a comparison (= != < <= > >=) is missing");
    if (c.op == "<>") c.op = "!=";
    skip_space();
    if (i < text.size() && text[i] == '\'') {
      ++i;
      for (;;) {
        if (i >= text.size()) return fail("unterminated string");
        if (text[i] == '\'') {
          if (i + 1 < text.size() && text[i + 1] == '\'') {
            c.literal += '\'';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        c.literal += text[i++];
      }
    } else {
      start = i;
      while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
      c.literal = text.substr(start, i - start);
      if (c.literal.empty()) return fail("a value is missing");
      std::string upper = c.literal;
      std::transform(upper.begin(), upper.end(), upper.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
      if (upper == "NULL") c.literal = "NULL";
    }
    out.push_back(std::move(c));
    skip_space();
    if (i >= text.size()) break;
    if (text.size() - i >= 3 && std::toupper(static_cast<unsigned char>(text[i])) == 'A' &&
        std::toupper(static_cast<unsigned char>(text[i + 1])) == 'N' &&
        std::toupper(static_cast<unsigned char>(text[i + 2])) == 'D') {
      i += 3;
      continue;
    }
    return fail("expected AND or the end");
  }
  return out;
}

Result<RestoreReport> restore_dataset(Target& archive, TableTarget& into,
                                      const RestoreOptions& options,
                                      const std::function<void(const RestoreReport&)>& progress) {
  STRATA_ASSIGN_OR_RETURN(std::vector<ShardManifest> all, list_manifests(archive));
  std::vector<ShardManifest> manifests;
  std::map<std::string, int> datasets;
  for (ShardManifest& m : all) {
    ++datasets[m.dataset];
    if (m.dataset == options.dataset) manifests.push_back(std::move(m));
  }
  if (manifests.empty()) {
    std::string names;
    for (const auto& [name, n] : datasets) names += (names.empty() ? "" : ", ") + name;
    return Status::permanent("no dataset '" + options.dataset + "' in " + archive.describe() +
                             " (datasets: " + (names.empty() ? "none" : names) + ")");
  }
  const ShardManifest& first = manifests.front();
  for (const ShardManifest& m : manifests) {
    if (!(m.schema == first.schema)) {
      return Status::permanent("dataset '" + options.dataset + "' of " + archive.describe() +
                               " holds shards with different schemas (task " + first.task_id +
                               " and task " + m.task_id +
                               "); restore them separately with a filter, or into separate tables");
    }
  }
  const Schema& schema = first.schema;
  STRATA_ASSIGN_OR_RETURN(std::vector<BoundCondition> conds, bind(options.where, schema));
  const int time_col = first.time_column.empty() ? -1 : schema.index_of(first.time_column);
  std::optional<int64_t> lo = options.from, hi;
  if (options.to) hi = *options.to - 1;
  if ((options.from || options.to) && time_col < 0) {
    return Status::permanent("dataset '" + options.dataset +
                             "' has no time column: use --where instead of --from/--to");
  }
  if (time_col >= 0) {
    time_window(conds, time_col, lo, hi);
    if (options.from) {
      conds.push_back(BoundCondition{time_col, schema[static_cast<size_t>(time_col)].type,
                                     ">=", false, Value::of_int(*options.from)});
    }
    if (options.to) {
      conds.push_back(BoundCondition{time_col, schema[static_cast<size_t>(time_col)].type, "<",
                                     false, Value::of_int(*options.to)});
    }
  }
  std::string kind = first.source.substr(0, first.source.find("://"));
  STRATA_TRY(into.prepare(schema, first.key_columns, kind));

  RestoreReport report;
  auto out_schema = std::make_shared<const Schema>(schema);
  Batch out(out_schema);
  auto flush = [&]() -> Status {
    if (out.num_rows() == 0) return Status::ok();
    STRATA_ASSIGN_OR_RETURN(uint64_t n, into.load(out));
    report.rows_inserted += n;
    out.clear();
    if (progress) progress(report);
    return Status::ok();
  };
  for (const ShardManifest& m : manifests) {
    for (const ManifestFile& f : m.files) {
      ++report.files_total;
      if ((lo && f.time_max && *f.time_max < *lo) || (hi && f.time_min && *f.time_min > *hi)) {
        ++report.files_skipped;
        continue;
      }
      std::unique_ptr<ByteSource> src;
      std::function<bool(const std::vector<ColumnBounds>&)> keep;
      if (!conds.empty()) keep = [&conds](const auto& b) { return group_may_match(b, conds); };
      STRATA_ASSIGN_OR_RETURN(std::unique_ptr<FormatReader> reader,
                              open_file_reader(archive, m, f, src, {}, std::move(keep)));
      Batch in(reader->schema_ptr());
      for (;;) {
        auto more = reader->next(in, options.batch_rows);
        if (!more.is_ok()) return more.status().with_context("restore " + f.path);
        if (!*more) break;
        report.rows_read += in.num_rows();
        report.bytes_read += in.data_bytes();
        if (conds.empty()) {  // every row: load the batch as read
          report.rows_matched += in.num_rows();
          STRATA_ASSIGN_OR_RETURN(uint64_t n, into.load(in));
          report.rows_inserted += n;
          if (progress) progress(report);
          continue;
        }
        for (size_t row = 0; row < in.num_rows(); ++row) {
          if (!conds.empty() && !row_matches(in, row, conds)) continue;
          for (size_t c = 0; c < in.num_columns(); ++c)
            out.column(c).append_from(in.column(c), row);
          ++report.rows_matched;
        }
        if (out.num_rows() >= options.batch_rows) STRATA_TRY(flush());
      }
      ++report.files_read;
      report.groups_skipped += reader->groups_skipped();
    }
  }
  STRATA_TRY(flush());
  if (progress) progress(report);
  return report;
}

}  // namespace strata
