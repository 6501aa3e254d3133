// Tests of the policy file: a full and a minimal policy, every error class with its exact
// file:line:column, secrets and ${NAME} references, the JSON round trip and the reference.
#include "policy/policy.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

namespace strata {
namespace {

// 9 lines; extra lines appended by with() start at line 10.
constexpr const char* kBase =
    "source:\n"                   // 1
    "  uri: sqlite://t.db\n"      // 2
    "  table: telemetry\n"        // 3
    "  key: id\n"                 // 4
    "  time: ts\n"                // 5
    "selection:\n"                // 6
    "  older_than: 30d\n"         // 7
    "targets:\n"                  // 8
    "  - uri: file://archive\n";  // 9

// Source lines 1-5 only (without selection and targets).
constexpr const char* kSource =
    "source:\n"
    "  uri: sqlite://t.db\n"
    "  table: telemetry\n"
    "  key: id\n"
    "  time: ts\n";

constexpr const char* kTargets =
    "targets:\n"
    "  - uri: file://archive\n";

std::string with(const std::string& extra) { return std::string(kBase) + extra; }

Result<Policy> parse(const std::string& yaml) { return parse_policy(yaml, "p.yaml", "/base"); }

// The error message of parsing `yaml`, or "<ok>".
std::string error_of(const std::string& yaml) {
  auto p = parse(yaml);
  if (p.is_ok()) return "<ok>";
  EXPECT_TRUE(p.status().is_permanent());
  return p.status().message();
}

constexpr const char* kFull = R"(name: telemetry
source:
  uri: sqlite://telemetry.db
  table: telemetry
  key: id
  time: ts
  where: "status <> 'pinned'"
selection:
  older_than: 30d
split: {shard_rows: 5000, parallel: 4}
batch: {rows: 2000}
targets:
  - uri: file://archive
    format: parquet
    compression: snappy
    level: 7
    layout: "dt={ts:%Y-%m-%d}/h={ts:%H}"
    dataset: tele
  - uri: s3://bucket/prefix
mode: move
verify: true
throttle: {rows_per_second: 12.5}
purge: {batch_rows: 500, sleep: 1h30m}
)";

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (value) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() { unsetenv(name_); }

 private:
  const char* name_;
};

TEST(Policy, ParsesAFullPolicy) {
  auto r = parse(kFull);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  const Policy& p = *r;
  EXPECT_EQ(p.name, "telemetry");
  EXPECT_EQ(p.file, "p.yaml");
  EXPECT_EQ(p.base_dir, "/base");
  EXPECT_EQ(p.source.uri, "sqlite://telemetry.db");
  EXPECT_EQ(p.source.table, "telemetry");
  EXPECT_EQ(p.source.key, "id");
  EXPECT_EQ(p.source.time, "ts");
  EXPECT_EQ(p.source.where, "status <> 'pinned'");
  ASSERT_TRUE(p.selection.older_than.has_value());
  EXPECT_EQ(*p.selection.older_than, std::chrono::hours(24 * 30));
  EXPECT_FALSE(p.selection.before.has_value());
  EXPECT_FALSE(p.selection.key_below.has_value());
  EXPECT_EQ(p.split.shard_rows, 5000);
  EXPECT_EQ(p.split.parallel, 4);
  EXPECT_EQ(p.batch.rows, 2000);
  ASSERT_EQ(p.targets.size(), 2u);
  EXPECT_EQ(p.targets[0].uri, "file://archive");
  EXPECT_EQ(p.targets[0].format, "parquet");
  EXPECT_EQ(p.targets[0].compression, "snappy");
  EXPECT_EQ(p.targets[0].level, 7);
  EXPECT_EQ(p.targets[0].layout, "dt={ts:%Y-%m-%d}/h={ts:%H}");
  EXPECT_EQ(p.targets[0].dataset, "tele");
  EXPECT_EQ(p.targets[1].uri, "s3://bucket/prefix");
  EXPECT_EQ(p.targets[1].dataset, "telemetry");
  EXPECT_EQ(p.mode, Mode::kMove);
  EXPECT_TRUE(p.verify);
  EXPECT_DOUBLE_EQ(p.throttle.rows_per_second, 12.5);
  EXPECT_EQ(p.purge.batch_rows, 500);
  EXPECT_EQ(p.purge.sleep, std::chrono::minutes(90));
}

TEST(Policy, AppliesDefaults) {
  auto r = parse_policy(kBase, "/srv/policies/my-telemetry.yaml", "/srv/policies");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  const Policy& p = *r;
  EXPECT_EQ(p.name, "my-telemetry");
  EXPECT_EQ(p.source.where, "");
  EXPECT_EQ(p.split.shard_rows, 100000);
  EXPECT_EQ(p.split.parallel, 2);
  EXPECT_EQ(p.batch.rows, 10000);
  ASSERT_EQ(p.targets.size(), 1u);
  EXPECT_EQ(p.targets[0].format, kDefaultTargetFormat);
  EXPECT_EQ(p.targets[0].compression, "zstd");
  EXPECT_EQ(p.targets[0].level, 3);
  EXPECT_EQ(p.targets[0].layout, "");
  EXPECT_EQ(p.targets[0].dataset, "telemetry");
  EXPECT_EQ(p.mode, Mode::kCopy);
  EXPECT_TRUE(p.verify);
  EXPECT_EQ(p.throttle.rows_per_second, 0);
  EXPECT_EQ(p.purge.batch_rows, 1000);
  EXPECT_EQ(p.purge.sleep, Micros(0));
}

TEST(Policy, DatasetDefaultsToTheLastComponentOfTheTable) {
  std::string yaml = kBase;
  yaml.replace(yaml.find("table: telemetry"), 16, "table: archive.events");
  auto r = parse(yaml);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->targets[0].dataset, "events");
}

TEST(Policy, InlinePolicyWithoutFileIsNamedAfterTheTable) {
  auto r = parse_policy(kBase, "", "");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->name, "telemetry");
}

TEST(Policy, NullValuesKeepDefaults) {
  auto r = parse(with("split:\nthrottle: ~\n"));
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->split.parallel, 2);
}

TEST(Policy, AcceptsTargetShorthand) {
  std::string yaml = std::string(kSource) +
                     "selection: {key_below: 100}\n"
                     "target:\n"
                     "  uri: file://cold\n"
                     "  format: csv\n";
  auto r = parse(yaml);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  ASSERT_EQ(r->targets.size(), 1u);
  EXPECT_EQ(r->targets[0].uri, "file://cold");
  EXPECT_EQ(r->targets[0].format, "csv");
  EXPECT_EQ(*r->selection.key_below, "100");
}

TEST(Policy, ShorthandErrorsUseTheWrittenName) {
  std::string yaml = std::string(kSource) +
                     "selection: {key_below: 100}\n"  // 6
                     "target:\n"                      // 7
                     "  uri: file://cold\n"           // 8
                     "  level: 0\n";                  // 9
  EXPECT_EQ(error_of(yaml), "p.yaml:9:10: target.level must be between 1 and 22, got 0");
}

TEST(Policy, RejectsTargetAndTargetsTogether) {
  EXPECT_EQ(error_of(with("target:\n  uri: file://other\n")),
            "p.yaml:10:1: 'target' and 'targets' both given in policy (first at line 8); write "
            "only 'targets'");
}

// ---- errors, each with its exact position ----

TEST(PolicyErrors, UnknownKeyWithDidYouMean) {
  EXPECT_EQ(error_of(with("split:\n  shard_row: 5\n")),
            "p.yaml:11:3: unknown key 'shard_row' in split (did you mean 'shard_rows'? valid "
            "keys: shard_rows, parallel)");
  EXPECT_EQ(error_of(with("sorce: x\n")),
            "p.yaml:10:1: unknown key 'sorce' in policy (did you mean 'source'? valid keys: "
            "name, source, selection, split, batch, targets, mode, verify, throttle, purge, "
            "schedule)");
}

TEST(PolicyErrors, UnknownKeyWithoutCloseMatch) {
  EXPECT_EQ(error_of(with("throttle:\n  zzzzzz: 1\n")),
            "p.yaml:11:3: unknown key 'zzzzzz' in throttle (valid keys: rows_per_second, "
            "sleep_coef, busy_sleep_coef, nice, max_replication_lag)");
}

TEST(PolicyErrors, UnknownKeyInAListItem) {
  EXPECT_EQ(error_of(with("    formt: csv\n")),
            "p.yaml:10:5: unknown key 'formt' in targets[0] (did you mean 'format'? valid keys: "
            "uri, format, compression, level, row_group_mb, layout, expire_after, dataset)");
}

TEST(PolicyErrors, WrongTypes) {
  EXPECT_EQ(error_of(with("split: {shard_rows: 100, parallel: two}\n")),
            "p.yaml:10:36: split.parallel must be an integer, got 'two'");
  EXPECT_EQ(error_of(with("verify: maybe\n")),
            "p.yaml:10:9: verify must be true or false, got 'maybe'");
  EXPECT_EQ(error_of(with("purge:\n  sleep: 5x\n")),
            "p.yaml:11:10: purge.sleep must be a duration like 30d, 12h, 90m, 45s or 500ms, got "
            "'5x'");
  EXPECT_EQ(error_of(with("throttle: {rows_per_second: fast}\n")),
            "p.yaml:10:29: throttle.rows_per_second must be a number, got 'fast'");
  EXPECT_EQ(error_of(with("split: 5\n")), "p.yaml:10:8: split must be a mapping of keys, got '5'");
  EXPECT_EQ(error_of(with("name: [a, b]\n")), "p.yaml:10:7: name must be a string, got a list");
  EXPECT_EQ(error_of(with("batch: {rows: 1.5}\n")),
            "p.yaml:10:15: batch.rows must be an integer, got '1.5'");
  std::string yaml = std::string(kSource) + "selection: {key_below: 1}\ntargets: file://x\n";
  EXPECT_EQ(error_of(yaml), "p.yaml:7:1: targets must be a list of mappings, got 'file://x'");
}

TEST(PolicyErrors, MissingRequiredKeysPointAtTheSection) {
  std::string no_table =
      "selection:\n"
      "  key_below: 100\n"
      "source:\n"
      "  uri: sqlite://t.db\n"
      "  key: id\n" +
      std::string(kTargets);
  EXPECT_EQ(error_of(no_table), "p.yaml:3:1: source is missing required key 'table'");

  std::string no_selection = std::string(kSource) + kTargets;
  EXPECT_EQ(error_of(no_selection), "p.yaml:1:1: policy is missing required key 'selection'");

  std::string no_uri = std::string(kSource) +
                       "selection: {older_than: 1d}\n"  // 6
                       "targets:\n"                     // 7
                       "  - uri: file://a\n"            // 8
                       "  - format: csv\n";             // 9
  EXPECT_EQ(error_of(no_uri), "p.yaml:9:5: targets[1] is missing required key 'uri'");

  std::string empty_source = "source:\nselection: {key_below: 1}\n" + std::string(kTargets);
  EXPECT_EQ(error_of(empty_source), "p.yaml:1:1: source is missing required key 'uri'");

  std::string empty_table = kBase;
  empty_table.replace(empty_table.find("table: telemetry"), 16, "table: \"\"");
  EXPECT_EQ(error_of(empty_table), "p.yaml:3:10: source.table must not be empty");

  std::string null_key = kBase;
  null_key.replace(null_key.find("key: id"), 7, "key:");
  EXPECT_EQ(error_of(null_key), "p.yaml:4:3: source.key is empty; it is required");
}

TEST(PolicyErrors, OutOfRange) {
  EXPECT_EQ(error_of(with("split:\n  parallel: 100\n")),
            "p.yaml:11:13: split.parallel must be between 1 and 64, got 100");
  EXPECT_EQ(error_of(with("split:\n  parallel: 0\n")),
            "p.yaml:11:13: split.parallel must be between 1 and 64, got 0");
  EXPECT_EQ(error_of(with("split:\n  shard_rows: 0\n")),
            "p.yaml:11:15: split.shard_rows must be at least 1, got 0");
  EXPECT_EQ(error_of(with("batch: {rows: 1000001}\n")),
            "p.yaml:10:15: batch.rows must be between 1 and 1000000, got 1000001");
  EXPECT_EQ(error_of(with("purge: {batch_rows: 10001}\n")),
            "p.yaml:10:21: purge.batch_rows must be between 1 and 10000, got 10001");
  EXPECT_EQ(error_of(with("throttle: {rows_per_second: -1}\n")),
            "p.yaml:10:29: throttle.rows_per_second must be at least 0, got -1");
  EXPECT_EQ(error_of(with("    level: 23\n")),
            "p.yaml:10:12: targets[0].level must be between 1 and 22, got 23");
  EXPECT_EQ(error_of(with("split:\n  parallel: 99999999999\n")),
            "p.yaml:11:13: split.parallel must be between 1 and 64, got 99999999999");
  EXPECT_EQ(error_of(with("split:\n  shard_rows: 99999999999999999999\n")),
            "p.yaml:11:15: split.shard_rows must be an integer, got '99999999999999999999'");
  // Boundaries are accepted.
  EXPECT_EQ(error_of(with("split: {parallel: 64, shard_rows: 1}\nbatch: {rows: 1000000}\n"
                          "purge: {batch_rows: 10000}\n")),
            "<ok>");
}

TEST(PolicyErrors, AllowedValues) {
  EXPECT_EQ(error_of(with("    format: parket\n")),
            "p.yaml:10:13: targets[0].format must be one of ndjson, csv, parquet, got 'parket' "
            "(did you mean 'parquet'?)");
  EXPECT_EQ(error_of(with("    compression: lz4\n")),
            "p.yaml:10:18: targets[0].compression must be one of none, zstd, snappy, gzip, got "
            "'lz4'");
  EXPECT_EQ(error_of(with("mode: moov\n")),
            "p.yaml:10:7: mode must be one of copy, move, got 'moov' (did you mean 'move'?)");
}

TEST(PolicyErrors, SelectionNeedsExactlyOneRule) {
  EXPECT_EQ(error_of(std::string(kSource) + "selection: {}\n" + kTargets),
            "p.yaml:6:1: selection needs one of older_than, before or key_below (e.g. "
            "older_than: 30d)");
  EXPECT_EQ(
      error_of(std::string(kSource) + "selection:\n  older_than: 30d\n  key_below: 5\n" + kTargets),
      "p.yaml:8:14: selection has both older_than and key_below; keep exactly one rule");
}

TEST(PolicyErrors, TimeRulesNeedSourceTime) {
  std::string no_time =
      "source:\n"
      "  uri: sqlite://t.db\n"
      "  table: telemetry\n"
      "  key: id\n";
  EXPECT_EQ(error_of(no_time + "selection:\n  older_than: 30d\n" + kTargets),
            "p.yaml:6:15: selection.older_than compares the time column, but source.time is not "
            "set; add 'time: <column>' to source, or select with key_below");
  EXPECT_EQ(error_of(no_time + "selection:\n  before: 2026-01-01\n" + kTargets),
            "p.yaml:6:11: selection.before compares the time column, but source.time is not set; "
            "add 'time: <column>' to source, or select with key_below");
  EXPECT_EQ(error_of(no_time + "selection:\n  key_below: 5\n" + kTargets), "<ok>");
}

TEST(PolicyErrors, BeforeMustBeATimestamp) {
  EXPECT_EQ(error_of(std::string(kSource) + "selection:\n  before: 2026-13-01\n" + kTargets),
            "p.yaml:7:11: selection.before must be a timestamp like 2026-01-01 or "
            "2026-01-01T00:00:00Z, got '2026-13-01'");
  auto ok = parse(std::string(kSource) + "selection:\n  before: 2026-01-01T00:00:00Z\n" + kTargets);
  ASSERT_TRUE(ok.is_ok()) << ok.status().message();
  EXPECT_EQ(*ok->selection.before, "2026-01-01T00:00:00Z");
}

TEST(PolicyErrors, TargetsMustBeNonEmptyAndDistinct) {
  EXPECT_EQ(error_of(std::string(kSource) + "selection: {older_than: 1d}\ntargets: []\n"),
            "p.yaml:7:1: targets is empty; add at least one target (e.g. '- uri: file://archive')");
  EXPECT_EQ(error_of(with("  - uri: file://archive\n    dataset: telemetry\n")),
            "p.yaml:10:5: targets[1] writes to the same place as targets[0] (uri file://archive, "
            "dataset telemetry); give one of them another uri or dataset");
  EXPECT_EQ(error_of(with("  - uri: file://archive\n    dataset: other\n")), "<ok>");
}

TEST(PolicyErrors, MoveRequiresVerify) {
  EXPECT_EQ(error_of(with("mode: move\nverify: false\n")),
            "p.yaml:11:9: mode: move requires verify: true (source rows are deleted only after "
            "their archive files are verified); set verify: true or use mode: copy");
  EXPECT_EQ(error_of(with("mode: copy\nverify: false\n")), "<ok>");
}

TEST(PolicyErrors, LayoutSyntax) {
  EXPECT_EQ(error_of(with("    layout: \"dt={ts:%Y-%m-%d\"\n")),
            "p.yaml:10:13: targets[0].layout has an unclosed '{' at character 4 (placeholders are "
            "{column} or {column:%Y-%m-%d})");
  EXPECT_EQ(error_of(with("    layout: \"dt=ts}\"\n")),
            "p.yaml:10:13: targets[0].layout has a '}' without a matching '{' at character 6 "
            "(placeholders are {column} or {column:%Y-%m-%d})");
  EXPECT_EQ(error_of(with("    layout: \"dt={{ts}\"\n")),
            "p.yaml:10:13: targets[0].layout has an unclosed '{' at character 4 (placeholders are "
            "{column} or {column:%Y-%m-%d})");
  EXPECT_EQ(error_of(with("    layout: \"dt={:%Y}\"\n")),
            "p.yaml:10:13: targets[0].layout has a placeholder without a column name at character "
            "4 (placeholders are {column} or {column:%Y-%m-%d})");
  EXPECT_EQ(error_of(with("    layout: \"dt={ts:}\"\n")),
            "p.yaml:10:13: targets[0].layout has an empty format in '{ts:}' (write {ts} or "
            "{ts:%Y-%m-%d})");
  EXPECT_EQ(error_of(with("    layout: \"../{ts}\"\n")),
            "p.yaml:10:13: targets[0].layout must not contain '..' (it stays inside the dataset "
            "folder)");
  EXPECT_EQ(error_of(with("    layout: \"region={region}/dt={ts:%Y-%m-%d}\"\n")), "<ok>");
}

TEST(PolicyErrors, InvalidYaml) {
  EXPECT_EQ(error_of("source: b: c\n"), "p.yaml:1:10: invalid YAML: illegal map value");
  EXPECT_EQ(error_of("source:\n  - x\n b: 1\n"), "p.yaml:3:2: invalid YAML: end of map not found");
}

TEST(PolicyErrors, EmptyScalarAndMultiDocumentInput) {
  const std::string empty =
      "p.yaml: the policy is empty (expected a mapping with source, selection and targets; see "
      "docs/policy.md)";
  EXPECT_EQ(error_of(""), empty);
  EXPECT_EQ(error_of("# only a comment\n\n"), empty);
  EXPECT_EQ(error_of("hello\n"), "p.yaml:1:1: policy must be a mapping of keys, got 'hello'");
  EXPECT_EQ(error_of(with("---\nname: x\n")),
            "p.yaml:11:1: a policy file holds one YAML document, found 2 (remove the extra '---')");
}

TEST(PolicyErrors, DuplicateKeys) {
  EXPECT_EQ(error_of(with("mode: copy\nmode: move\n")),
            "p.yaml:11:1: duplicate key 'mode' in policy (first at line 10)");
}

// ---- secrets and ${NAME} references ----

std::string with_source_uri(const std::string& uri) {
  std::string yaml = kBase;
  yaml.replace(yaml.find("sqlite://t.db"), 13, uri);
  return yaml;
}

TEST(PolicySecrets, EnvReferencesAreKeptUnexpandedWhenSet) {
  ScopedEnv env("STRATA_POLICY_TEST_PW", "s3cret-value");
  auto r = parse(with_source_uri("postgres://app:${STRATA_POLICY_TEST_PW}@db:5432/prod"));
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->source.uri, "postgres://app:${STRATA_POLICY_TEST_PW}@db:5432/prod");
  EXPECT_EQ(r->to_json().dump().find("s3cret-value"), std::string::npos);
}

TEST(PolicySecrets, UnsetEnvReferenceNamesTheVariableAndPosition) {
  ScopedEnv env("STRATA_POLICY_TEST_PW", nullptr);
  EXPECT_EQ(error_of(with_source_uri("postgres://app:${STRATA_POLICY_TEST_PW}@db/prod")),
            "p.yaml:2:8: source.uri references environment variable STRATA_POLICY_TEST_PW, which "
            "is not set (export STRATA_POLICY_TEST_PW before running strata)");
  EXPECT_EQ(error_of(with("  - uri: s3://bucket/x?token=${STRATA_POLICY_TEST_PW}\n")),
            "p.yaml:10:10: targets[1].uri references environment variable STRATA_POLICY_TEST_PW, "
            "which is not set (export STRATA_POLICY_TEST_PW before running strata)");
}

TEST(PolicySecrets, MalformedEnvReferences) {
  EXPECT_EQ(error_of(with_source_uri("postgres://app:${PW@db/prod")),
            "p.yaml:2:8: source.uri contains a literal password; put it in an environment "
            "variable and write ${PGPASSWORD} instead");
  EXPECT_EQ(error_of(with_source_uri("postgres://db/${NAME")),
            "p.yaml:2:8: source.uri has an unclosed '${' (write ${NAME})");
  EXPECT_EQ(error_of(with_source_uri("postgres://db/${1X}")),
            "p.yaml:2:8: source.uri has an invalid environment reference (write ${NAME}; names "
            "are letters, digits and '_')");
}

TEST(PolicySecrets, LiteralPasswordIsRejectedAndNeverEchoed) {
  const std::string secret = "hunter2";
  std::string msg = error_of(with_source_uri("postgres://app:" + secret + "@db/prod"));
  EXPECT_EQ(msg,
            "p.yaml:2:8: source.uri contains a literal password; put it in an environment "
            "variable and write ${PGPASSWORD} instead");
  msg = error_of(with_source_uri("mysql://app:" + secret + "@db/prod"));
  EXPECT_NE(msg.find("write ${MYSQL_PASSWORD} instead"), std::string::npos) << msg;
  EXPECT_EQ(msg.find(secret), std::string::npos);

  // A password that is more than one ${NAME} reference is literal too.
  ScopedEnv env("STRATA_POLICY_TEST_PW", "x");
  msg = error_of(with_source_uri("postgres://app:${STRATA_POLICY_TEST_PW}" + secret + "@db/p"));
  EXPECT_NE(msg.find("contains a literal password"), std::string::npos) << msg;
  EXPECT_EQ(msg.find(secret), std::string::npos);

  // Target URIs too.
  msg = error_of(with("  - uri: s3://AKIA:" + secret + "@bucket/prefix\n"));
  EXPECT_EQ(msg,
            "p.yaml:10:10: targets[1].uri contains a literal password; put it in an environment "
            "variable and write ${S3_PASSWORD} instead");

  // Secret query parameters.
  msg = error_of(with_source_uri("postgres://app@db/prod?sslpassword=" + secret));
  EXPECT_EQ(msg,
            "p.yaml:2:8: source.uri contains a literal secret in its query parameter "
            "'sslpassword'; put it in an environment variable and write sslpassword=${NAME} "
            "instead");

  // An invalid URI that may hold user info is not shown.
  msg = error_of(with_source_uri("postgres://app@db:" + secret + "/prod"));
  EXPECT_EQ(msg,
            "p.yaml:2:8: source.uri is not a valid URI (expected "
            "scheme://[user[:${PASSWORD}]@]host[:port]/path)");

  // Wrong types of sensitive values are not shown either.
  msg = error_of(with("  - uri: {password: " + secret + "}\n"));
  EXPECT_EQ(msg, "p.yaml:10:10: targets[1].uri must be a string, got a mapping");
}

TEST(PolicySecrets, InvalidUriWithoutUserInfoSaysWhy) {
  EXPECT_EQ(error_of(with("  - uri: \"http://host:port/x\"\n")),
            "p.yaml:10:10: targets[1].uri is not a valid URI: URI 'http://host' has an invalid "
            "port 'port'");
}

TEST(PolicySecrets, LocalPathsAreNotCheckedForPasswords) {
  EXPECT_EQ(error_of(with("  - uri: file://archive/user:pw@x\n")), "<ok>");
}

// ---- files ----

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("strata_policy_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string write(const std::string& name, const std::string& text) const {
    std::string p = (path_ / name).string();
    std::ofstream(p) << text;
    return p;
  }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

TEST(PolicyFiles, LoadsAFile) {
  TempDir dir;
  std::string path = dir.write("orders.yaml", kBase);
  auto r = load_policy(path);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->name, "orders");
  EXPECT_EQ(r->file, path);
  EXPECT_EQ(r->base_dir, dir.path());
}

TEST(PolicyFiles, MessagesNameTheFile) {
  TempDir dir;
  std::string path = dir.write("bad.yaml", with("split: {parallel: 0}\n"));
  auto r = load_policy(path);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().message(), path + ":10:19: split.parallel must be between 1 and 64, got 0");
}

TEST(PolicyFiles, MissingEmptyAndDirectory) {
  TempDir dir;
  std::string missing = dir.path() + "/nope.yaml";
  auto r = load_policy(missing);
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(r.status().is_permanent());
  EXPECT_EQ(r.status().message(), "policy file '" + missing + "' does not exist (check the path)");

  std::string empty = dir.write("empty.yaml", "");
  r = load_policy(empty);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().message(),
            empty +
                ": the policy is empty (expected a mapping with source, selection and targets; "
                "see docs/policy.md)");

  r = load_policy(dir.path());
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().message(), "'" + dir.path() + "' is a directory, not a policy file");
}

// ---- JSON ----

TEST(PolicyJson, RoundTripIsLossless) {
  auto r = parse(kFull);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  nlohmann::json j = r->to_json();
  EXPECT_EQ(j["selection"]["older_than"], "30d");
  EXPECT_FALSE(j["selection"].contains("before"));
  EXPECT_EQ(j["purge"]["sleep"], "1h30m");
  EXPECT_EQ(j["mode"], "move");
  EXPECT_EQ(j["file"], "p.yaml");
  EXPECT_EQ(j["base_dir"], "/base");
  EXPECT_EQ(j["targets"][1]["dataset"], "telemetry");

  auto back = Policy::from_json(j);
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  EXPECT_EQ(back->to_json(), j);
  EXPECT_EQ(back->name, r->name);
  EXPECT_EQ(back->file, r->file);
  EXPECT_EQ(back->base_dir, r->base_dir);
  EXPECT_EQ(back->selection.older_than, r->selection.older_than);
  EXPECT_EQ(back->purge.sleep, r->purge.sleep);
  EXPECT_DOUBLE_EQ(back->throttle.rows_per_second, 12.5);
  EXPECT_EQ(back->targets[0].layout, r->targets[0].layout);
  EXPECT_EQ(back->mode, Mode::kMove);

  // Through text, as events and the state store carry it.
  auto reparsed = Policy::from_json(nlohmann::json::parse(j.dump()));
  ASSERT_TRUE(reparsed.is_ok()) << reparsed.status().message();
  EXPECT_EQ(reparsed->to_json(), j);
}

TEST(PolicyJson, RoundTripOfOtherSelectionsAndStringsThatLookLikeOtherTypes) {
  std::string yaml = std::string(kSource) +
                     "selection: {key_below: \"00042\"}\n"
                     "name: \"true\"\n" +
                     kTargets;
  auto r = parse(yaml);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  auto back = Policy::from_json(r->to_json());
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  EXPECT_EQ(*back->selection.key_below, "00042");
  EXPECT_EQ(back->name, "true");
  EXPECT_EQ(back->to_json(), r->to_json());
}

TEST(PolicyJson, FromJsonValidates) {
  nlohmann::json j = parse(kFull)->to_json();
  auto bad = j;
  bad["split"]["parallel"] = 100;
  EXPECT_EQ(Policy::from_json(bad).status().message(),
            "policy JSON: split.parallel must be between 1 and 64, got 100");
  bad = j;
  bad["split"]["shard_row"] = 1;
  EXPECT_EQ(Policy::from_json(bad).status().message(),
            "policy JSON: unknown key 'shard_row' in split (did you mean 'shard_rows'? valid "
            "keys: shard_rows, parallel)");
  bad = j;
  bad["verify"] = false;
  EXPECT_NE(Policy::from_json(bad).status().message().find(
                "policy JSON: mode: move requires verify: true"),
            std::string::npos);
  bad = j;
  bad["selection"]["before"] = "2026-01-01";
  EXPECT_EQ(Policy::from_json(bad).status().message(),
            "policy JSON: selection has both older_than and before; keep exactly one rule");
  bad = j;
  bad["source"]["uri"] = "postgres://u:hunter2@h/db";
  EXPECT_EQ(Policy::from_json(bad).status().message(),
            "policy JSON: source.uri contains a literal password; put it in an environment "
            "variable and write ${PGPASSWORD} instead");
  bad = j;
  bad["selection"]["older_than"] = 30;
  EXPECT_EQ(Policy::from_json(bad).status().message(),
            "policy JSON: selection.older_than must be a duration like 30d, 12h, 90m, 45s or "
            "500ms, got '30'");
  bad = j;
  bad["file"] = 3;
  EXPECT_EQ(Policy::from_json(bad).status().message(), "policy JSON: file must be a string");
  EXPECT_EQ(Policy::from_json(nlohmann::json::array()).status().message(),
            "policy JSON: expected an object, got array");
}

TEST(PolicyJson, FromJsonDoesNotNeedTheEnvironment) {
  // The receiving process may not hold the secrets; connectors report unset variables.
  ScopedEnv env("STRATA_POLICY_TEST_PW", nullptr);
  nlohmann::json j = parse(kFull)->to_json();
  j["source"]["uri"] = "postgres://app:${STRATA_POLICY_TEST_PW}@db/prod";
  auto r = Policy::from_json(j);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->source.uri, "postgres://app:${STRATA_POLICY_TEST_PW}@db/prod");
}

TEST(Policy, ModeNames) {
  EXPECT_STREQ(mode_name(Mode::kCopy), "copy");
  EXPECT_STREQ(mode_name(Mode::kMove), "move");
}

// ---- reference ----

// Every key name in `j`, recursively.
void collect_keys(const nlohmann::json& j, std::set<std::string>& keys) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      keys.insert(k);
      collect_keys(v, keys);
    }
  } else if (j.is_array()) {
    for (const auto& v : j) collect_keys(v, keys);
  }
}

TEST(PolicyReference, MentionsEveryKey) {
  std::string md = policy_reference_markdown();
  std::set<std::string> keys;
  collect_keys(parse(kFull)->to_json(), keys);
  // Selection rules not set in kFull.
  keys.insert("before");
  keys.insert("key_below");
  keys.insert("max_replication_lag");  // optional, unset in kFull
  keys.erase("file");
  keys.erase("base_dir");
  EXPECT_EQ(keys.size(), 36u);
  for (const auto& key : keys) {
    EXPECT_NE(md.find("| `" + key + "`"), std::string::npos) << key;
  }
  EXPECT_NE(
      md.find(
          "| `parallel` | int | `2` |  | Shards read from the source at once, and "
          "purged at once (`strata run` lets one more shard close, verify and record "
          "its files beside them). Unthrottled (`throttle.sleep_coef` and `busy_sleep_coef` 0, no "
          "`rows_per_second`), `strata run` purges twice as many at once when every "
          "shard is archived, on the sessions archiving used: the source never has more "
          "than 2 x parallel of its sessions at work. From 1 to 64. |"),
      std::string::npos)
      << md;
  EXPECT_NE(md.find("| `uri` | uri |  | yes |"), std::string::npos);
  EXPECT_NE(md.find("## `targets[]`"), std::string::npos);
  EXPECT_NE(md.find("| `targets` (or `target`) |"), std::string::npos);
  EXPECT_NE(md.find("`ndjson`, `csv`, `parquet`"), std::string::npos);
}

TEST(PolicyReference, ItsExampleIsAValidPolicy) {
  std::string md = policy_reference_markdown();
  size_t start = md.find("```yaml\n");
  ASSERT_NE(start, std::string::npos);
  start += 8;
  size_t end = md.find("```", start);
  auto r = parse(md.substr(start, end - start));
  ASSERT_TRUE(r.is_ok()) << r.status().message();
}

TEST(PolicyReference, DocsFileIsCurrent) {
  std::ifstream in(std::string(STRATA_SOURCE_DIR) + "/docs/policy.md");
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), policy_reference_markdown())
      << "docs/policy.md is out of date: run policy_docgen > docs/policy.md";
}

}  // namespace
}  // namespace strata
