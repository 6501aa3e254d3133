#include "connectors/sql/sql_text.h"

#include <chrono>

#include <cstdio>

namespace strata::sql {

std::string quote_ident(Dialect d, std::string_view name) {
  const char q = d == Dialect::kMysql ? '`' : '"';
  std::string out;
  out.reserve(name.size() + 2);
  out += q;
  for (char c : name) {
    if (c == q) out += q;
    out += c;
  }
  out += q;
  return out;
}

namespace {

std::string quote_text(Dialect d, std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    if (c == '\\' && d == Dialect::kMysql) out += '\\';  // MySQL reads backslash escapes
    out += c;
  }
  out += '\'';
  return out;
}

std::string hex_bytes(Dialect d, std::string_view s) {
  static const char* digits = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : s) {
    hex += digits[c >> 4];
    hex += digits[c & 15];
  }
  if (d == Dialect::kPostgres) return "'\\x" + hex + "'::bytea";
  return "X'" + hex + "'";
}

}  // namespace

std::string literal(Dialect d, const Value& v, Type type) {
  if (v.is_null()) return "NULL";
  switch (type) {
    case Type::kTimestamp: {
      if (!v.is_int()) break;
      std::string t = format_timestamp(v.as_int());  // 2026-01-02T03:04:05.123456Z
      t[10] = ' ';
      t.pop_back();
      return d == Dialect::kPostgres ? quote_text(d, t + "+00") + "::timestamptz"
                                     : quote_text(d, t);
    }
    case Type::kDate:
      if (v.is_int()) return quote_text(d, format_date(v.as_int()));
      break;
    case Type::kBool:
      if (v.is_int()) {
        if (d == Dialect::kPostgres) return v.as_int() ? "true" : "false";
        return v.as_int() ? "1" : "0";
      }
      break;
    case Type::kBytes:
      if (v.is_text()) return hex_bytes(d, v.as_text());
      break;
    default:
      break;
  }
  if (v.is_int()) return std::to_string(v.as_int());
  if (v.is_double()) {
    std::string s;
    append_double(s, v.as_double());
    return s;
  }
  return quote_text(d, v.as_text());
}

Builder& Builder::sql(std::string_view s) {
  sql_ += s;
  shown_ += s;
  return *this;
}

Builder& Builder::param(Value v, Type type) {
  if (dialect_ == Dialect::kPostgres) {
    sql_ += '$' + std::to_string(params_.size() + 1);
    // Typed, so that a date column compares with the full instant rather than a day.
    if (type == Type::kTimestamp) sql_ += "::timestamptz";
  } else {
    sql_ += '?';
  }
  shown_ += literal(dialect_, v, type);
  params_.push_back(Param{std::move(v), type});
  return *this;
}

Builder& Builder::cond() { return sql(has_cond_ ? " AND " : (has_cond_ = true, " WHERE ")); }

Builder& Builder::placeholder(std::string_view sql, std::string_view shown) {
  sql_ += sql;
  shown_ += shown;
  return *this;
}

void add_predicate(Builder& b, const TableRef& t, const Predicate& p) {
  if (p.time_from)
    b.cond().sql(t.time + " >= ").param(Value::of_int(*p.time_from), Type::kTimestamp);
  if (p.time_before) {
    b.cond().sql(t.time + " < ").param(Value::of_int(*p.time_before), Type::kTimestamp);
  }
  if (p.key_from && !p.key_from->is_null()) {
    b.cond().sql(t.key[0] + " >= ").param(*p.key_from, t.key_types[0]);
  }
  if (p.key_below && !p.key_below->is_null()) {
    b.cond().sql(t.key[0] + " < ").param(*p.key_below, t.key_types[0]);
  }
  if (!t.where.empty()) b.cond().sql("(" + t.where + ")");
  if (!p.where.empty() && p.where != t.where) b.cond().sql("(" + p.where + ")");
}

void add_shard_bounds(Builder& b, const TableRef& t, const Shard& s) {
  const KeyRange& r = s.range;
  if (!r.lo.is_null() && !r.hi.is_null()) {
    b.cond().sql(t.key[0] + " BETWEEN ").param(r.lo, t.key_types[0]);
    b.sql(" AND ").param(r.hi, t.key_types[0]);
  } else if (!r.lo.is_null()) {
    b.cond().sql(t.key[0] + " >= ").param(r.lo, t.key_types[0]);
  } else if (!r.hi.is_null()) {
    b.cond().sql(t.key[0] + " <= ").param(r.hi, t.key_types[0]);
  }
}

void add_after(Builder& b, const TableRef& t, const std::vector<Value>& last) {
  // (k1 > a) OR (k1 = a AND k2 > b) OR ...: every engine turns this into an index range.
  b.cond().sql("(");
  for (size_t i = 0; i < t.key.size(); ++i) {
    if (i > 0) b.sql(" OR ");
    b.sql("(");
    for (size_t j = 0; j < i; ++j) {
      b.sql(t.key[j] + " = ").param(last[j], t.key_types[j]).sql(" AND ");
    }
    b.sql(t.key[i] + " > ").param(last[i], t.key_types[i]).sql(")");
  }
  b.sql(")");
}

std::string order_by_key(const TableRef& t) {
  std::string out = " ORDER BY ";
  for (size_t i = 0; i < t.key.size(); ++i) {
    if (i > 0) out += ", ";
    out += t.key[i];
  }
  return out;
}

void build_read(Builder& b, const TableRef& t, std::string_view select_list, const Predicate& p,
                const Shard& s, const std::vector<Value>* after, size_t limit) {
  b.sql("SELECT ").sql(select_list).sql(" FROM " + t.qualified);
  add_shard_bounds(b, t, s);
  add_predicate(b, t, p);
  if (after) add_after(b, t, *after);
  b.sql(order_by_key(t));
  if (limit > 0) b.sql(" LIMIT " + std::to_string(limit));
}

bool is_contiguous_run(const Batch& keys, size_t begin, size_t end) {
  if (keys.num_columns() != 1 || end - begin < 2) return false;
  const ColumnVector& k = keys.column(0);
  if (k.type() != Type::kInt64) return false;
  for (size_t i = begin; i < end; ++i) {
    if (k.is_null(i) || k.int_at(i) != k.int_at(begin) + static_cast<int64_t>(i - begin)) {
      return false;
    }
  }
  return true;
}

void build_delete(Builder& b, const TableRef& t, const Predicate& p, const Shard& s,
                  const Batch& keys, size_t begin, size_t end) {
  b.sql("DELETE FROM " + t.qualified);
  if (is_contiguous_run(keys, begin, end)) {
    const ColumnVector& k = keys.column(0);
    b.cond().sql(t.key[0] + " BETWEEN ").param(Value::of_int(k.int_at(begin)), Type::kInt64);
    b.sql(" AND ").param(Value::of_int(k.int_at(end - 1)), Type::kInt64);
  } else if (t.key.size() == 1) {
    b.cond().sql(t.key[0] + " IN (");
    for (size_t i = begin; i < end; ++i) {
      if (i > begin) b.sql(", ");
      b.param(keys.column(0).value_at(i), t.key_types[0]);
    }
    b.sql(")");
  } else {
    b.cond().sql("(");
    for (size_t c = 0; c < t.key.size(); ++c) b.sql((c ? ", " : "") + t.key[c]);
    b.sql(") IN (");
    for (size_t i = begin; i < end; ++i) {
      b.sql(i > begin ? ", (" : "(");
      for (size_t c = 0; c < t.key.size(); ++c) {
        if (c > 0) b.sql(", ");
        b.param(keys.column(c).value_at(i), t.key_types[c]);
      }
      b.sql(")");
    }
    b.sql(")");
  }
  add_shard_bounds(b, t, s);
  add_predicate(b, t, p);
}

std::string shown_delete(Dialect d, const TableRef& t, const Predicate& p, const Shard& s) {
  Builder b(d);
  b.sql("DELETE FROM " + t.qualified).cond();
  if (t.key.size() == 1) {
    b.placeholder(t.key[0] + " IN (?, ...)", t.key[0] + " IN (<archived keys>)");
  } else {
    std::string cols = "(";
    for (size_t c = 0; c < t.key.size(); ++c) cols += (c ? ", " : "") + t.key[c];
    cols += ")";
    b.placeholder(cols + " IN ((?, ...), ...)", cols + " IN (<archived keys>)");
  }
  add_shard_bounds(b, t, s);
  add_predicate(b, t, p);
  return b.shown();
}

Result<ProbeResult> probe_in_slices(const Value& lo, const Value& hi, bool integer_key, bool desc,
                                    int slices, const SplitOptions& split, const Probe& probe,
                                    std::chrono::steady_clock::duration budget) {
  std::chrono::steady_clock::duration spent{};
  auto timed = [&](const Value& a, const Value& b) {
    const auto started = std::chrono::steady_clock::now();
    Result<ProbeResult> r = probe(a, b);
    const auto took = std::chrono::steady_clock::now() - started;
    spent += took;
    if (split.pace) split.pace(took);
    return r;
  };
  if (!integer_key || !lo.is_int() || !hi.is_int() || slices < 2) return timed(lo, hi);
  const __int128 a = lo.as_int(), b = hi.as_int();
  const __int128 width = (b - a) / slices + 1;
  for (__int128 from = desc ? b : a; desc ? from >= a : from <= b; from += desc ? -width : width) {
    const __int128 to = desc ? std::max(a, from - width + 1) : std::min(b, from + width - 1);
    Value slice_lo = Value::of_int(static_cast<int64_t>(desc ? to : from));
    Value slice_hi = Value::of_int(static_cast<int64_t>(desc ? from : to));
    STRATA_ASSIGN_OR_RETURN(ProbeResult r, timed(slice_lo, slice_hi));
    if (!r || !r->is_null()) return r;  // gave up, or found
    if (spent >= budget) return ProbeResult();
  }
  return ProbeResult(Value::null());  // nothing selected
}

}  // namespace strata::sql
