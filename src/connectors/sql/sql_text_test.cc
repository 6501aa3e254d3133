#include "connectors/sql/sql_text.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <thread>

namespace strata::sql {
namespace {

TableRef telemetry(Dialect d, bool composite) {
  TableRef t;
  t.qualified = quote_ident(d, "app") + "." + quote_ident(d, "tele metry");
  t.key = {quote_ident(d, "id")};
  t.key_types = {Type::kInt64};
  if (composite) {
    t.key.push_back(quote_ident(d, "seq"));
    t.key_types.push_back(Type::kString);
  }
  t.time = quote_ident(d, "ts");
  return t;
}

Batch keys_of(std::vector<int64_t> ids, std::vector<std::string> seqs = {}) {
  Schema schema({Column{"id", Type::kInt64}});
  if (!seqs.empty()) schema.add(Column{"seq", Type::kString});
  Batch b(std::make_shared<const Schema>(schema));
  for (size_t i = 0; i < ids.size(); ++i) {
    b.column(0).append_int(ids[i]);
    if (!seqs.empty()) b.column(1).append_text(seqs[i]);
  }
  return b;
}

TEST(SqlText, QuotesIdentifiersPerDialect) {
  EXPECT_EQ(quote_ident(Dialect::kPostgres, "we\"ird"), "\"we\"\"ird\"");
  EXPECT_EQ(quote_ident(Dialect::kMysql, "we`ird"), "`we``ird`");
  EXPECT_EQ(literal(Dialect::kMysql, Value::of_text("a'b\\c"), Type::kString), "'a''b\\\\c'");
  EXPECT_EQ(literal(Dialect::kPostgres, Value::of_text("a'b\\c"), Type::kString), "'a''b\\c'");
  EXPECT_EQ(literal(Dialect::kPostgres, Value::of_int(0), Type::kTimestamp),
            "'1970-01-01 00:00:00+00'::timestamptz");
  EXPECT_EQ(literal(Dialect::kMysql, Value::of_text("\x01\xff"), Type::kBytes), "X'01ff'");
  EXPECT_EQ(literal(Dialect::kPostgres, Value::null(), Type::kInt64), "NULL");
}

TEST(SqlText, ReadNumbersPostgresPlaceholdersAndShowsLiterals) {
  TableRef t = telemetry(Dialect::kPostgres, false);
  t.where = "status <> 'x'";
  Predicate p;
  p.time_before = 86400LL * 1000000;
  Shard s;
  s.range = KeyRange{Value::of_int(10), Value::of_int(20)};
  Builder b(Dialect::kPostgres);
  std::vector<Value> after = {Value::of_int(15)};
  build_read(b, t, "*", p, s, &after, 100);
  EXPECT_EQ(b.text(),
            "SELECT * FROM \"app\".\"tele metry\" WHERE \"id\" BETWEEN $1 AND $2 AND \"ts\" < "
            "$3::timestamptz AND (status <> 'x') AND ((\"id\" > $4)) ORDER BY \"id\" LIMIT 100");
  EXPECT_EQ(b.shown(),
            "SELECT * FROM \"app\".\"tele metry\" WHERE \"id\" BETWEEN 10 AND 20 AND \"ts\" < "
            "'1970-01-02 00:00:00+00'::timestamptz AND (status <> 'x') AND ((\"id\" > 15)) ORDER "
            "BY \"id\" "
            "LIMIT 100");
  ASSERT_EQ(b.params().size(), 4u);
  EXPECT_EQ(b.params()[2].type, Type::kTimestamp);
}

TEST(SqlText, CompositeKeysetContinuation) {
  TableRef t = telemetry(Dialect::kMysql, true);
  Builder b(Dialect::kMysql);
  Shard s;  // unbounded
  std::vector<Value> after = {Value::of_int(7), Value::of_text("b")};
  build_read(b, t, "`id`, `seq`", Predicate{}, s, &after, 0);
  EXPECT_EQ(b.shown(),
            "SELECT `id`, `seq` FROM `app`.`tele metry` WHERE ((`id` > 7) OR (`id` = 7 AND "
            "`seq` > 'b')) ORDER BY `id`, `seq`");
  EXPECT_EQ(b.params().size(), 3u);
}

TEST(SqlText, DeleteUsesARangeOnlyForContiguousIntegerRuns) {
  TableRef t = telemetry(Dialect::kMysql, false);
  Shard s;
  s.range = KeyRange{Value::of_int(1), Value::null()};
  Batch run = keys_of({5, 6, 7, 8});
  EXPECT_TRUE(is_contiguous_run(run, 0, 4));
  Builder b(Dialect::kMysql);
  build_delete(b, t, Predicate{}, s, run, 1, 4);
  EXPECT_EQ(b.shown(), "DELETE FROM `app`.`tele metry` WHERE `id` BETWEEN 6 AND 8 AND `id` >= 1");

  Batch gaps = keys_of({5, 7, 8});
  EXPECT_FALSE(is_contiguous_run(gaps, 0, 3));
  Builder g(Dialect::kMysql);
  build_delete(g, t, Predicate{}, Shard{}, gaps, 0, 3);
  EXPECT_EQ(g.shown(), "DELETE FROM `app`.`tele metry` WHERE `id` IN (5, 7, 8)");
}

TEST(SqlText, CompositeDeleteListsTuplesAndRechecksThePredicate) {
  TableRef t = telemetry(Dialect::kPostgres, true);
  Predicate p;
  p.where = "speed > 0";
  Batch keys = keys_of({1, 1}, {"a", "it's"});
  EXPECT_FALSE(is_contiguous_run(keys, 0, 2));
  Builder b(Dialect::kPostgres);
  build_delete(b, t, p, Shard{}, keys, 0, 2);
  EXPECT_EQ(b.text(),
            "DELETE FROM \"app\".\"tele metry\" WHERE (\"id\", \"seq\") IN (($1, $2), ($3, $4)) "
            "AND (speed > 0)");
  EXPECT_EQ(b.shown(),
            "DELETE FROM \"app\".\"tele metry\" WHERE (\"id\", \"seq\") IN ((1, 'a'), (1, "
            "'it''s')) AND (speed > 0)");
  EXPECT_EQ(shown_delete(Dialect::kPostgres, t, p, Shard{}),
            "DELETE FROM \"app\".\"tele metry\" WHERE (\"id\", \"seq\") IN (<archived keys>) AND "
            "(speed > 0)");
}

// The slices walk from the probed end, stop at the first slice holding a selected key, cover the
// extent without gaps, and pace after every probe.
TEST(SqlText, ProbeInSlicesWalksFromTheProbedEnd) {
  const std::set<int64_t> selected = {7, 8, 500};  // keys 0..1000 exist, these are selected
  std::vector<std::pair<int64_t, int64_t>> probed;
  Probe probe = [&](const Value& lo, const Value& hi) -> Result<ProbeResult> {
    probed.emplace_back(lo.as_int(), hi.as_int());
    auto it = selected.lower_bound(lo.as_int());
    if (it == selected.end() || *it > hi.as_int()) return ProbeResult(Value::null());
    return ProbeResult(Value::of_int(*it));
  };
  int paces = 0;
  SplitOptions split;
  split.pace = [&](std::chrono::steady_clock::duration) { ++paces; };
  auto first =
      probe_in_slices(Value::of_int(0), Value::of_int(1000), true, false, 10, split, probe);
  ASSERT_TRUE(first.is_ok());
  EXPECT_EQ(**first, Value::of_int(7));
  EXPECT_EQ(probed.size(), 1u);
  probed.clear();
  // (This probe returns the lowest selected key in a slice; the real ones return the highest for
  // desc: here only which slices are asked, and in what order, matters.)
  auto last = probe_in_slices(Value::of_int(0), Value::of_int(1000), true, true, 10, split, probe);
  ASSERT_TRUE(last.is_ok());
  EXPECT_EQ(**last, Value::of_int(500));
  ASSERT_GE(probed.size(), 2u);
  EXPECT_EQ(probed[0].second, 1000);
  for (size_t i = 1; i < probed.size(); ++i) EXPECT_EQ(probed[i].second, probed[i - 1].first - 1);
  EXPECT_EQ(paces, 1 + static_cast<int>(probed.size()));

  // Nothing selected: every slice asked, down to the extent's start.
  probed.clear();
  auto none = probe_in_slices(Value::of_int(600), Value::of_int(1000), true, true, 7, split, probe);
  ASSERT_TRUE(none.is_ok());
  ASSERT_TRUE(none->has_value());
  EXPECT_TRUE((*none)->is_null());
  EXPECT_EQ(probed.back().first, 600);
  EXPECT_EQ(probed.front().second, 1000);

  // A probe that gives up ends the walk with "gave up", not "nothing selected".
  Probe gives_up = [&](const Value&, const Value&) -> Result<ProbeResult> { return ProbeResult(); };
  auto up = probe_in_slices(Value::of_int(0), Value::of_int(1000), true, true, 10, split, gives_up);
  ASSERT_TRUE(up.is_ok());
  EXPECT_FALSE(up->has_value());

  // Probes that find nothing and take their time: the walk gives up once they have taken the
  // budget, long before the 64th slice.
  int slow_probes = 0;
  Probe slow = [&](const Value&, const Value&) -> Result<ProbeResult> {
    ++slow_probes;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return ProbeResult(Value::null());
  };
  auto capped = probe_in_slices(Value::of_int(0), Value::of_int(1000000), true, true, 64, split,
                                slow, std::chrono::milliseconds(45));
  ASSERT_TRUE(capped.is_ok());
  EXPECT_FALSE(capped->has_value());
  EXPECT_GE(slow_probes, 2);
  EXPECT_LE(slow_probes, 10);

  // Other keys: one probe over the whole extent.
  probed.clear();
  auto text = probe_in_slices(Value::of_int(0), Value::of_int(1000), false, true, 10, split, probe);
  ASSERT_TRUE(text.is_ok());
  EXPECT_EQ(probed, (std::vector<std::pair<int64_t, int64_t>>{{0, 1000}}));
}

}  // namespace
}  // namespace strata::sql
