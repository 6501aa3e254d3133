// Tests of the generic config spec on a connector-like section: every field type, sensitive
// values, injected environment, JSON both ways, the reference and did-you-mean.
#include "policy/config_spec.h"

#include <gtest/gtest.h>

#include <set>

namespace strata::config {
namespace {

struct Endpoint {
  std::string host;
  int port = 8086;
};

struct Conn {
  std::string url;
  std::string token;
  std::vector<Endpoint> endpoints;
  std::optional<Endpoint> primary;
  int64_t max_rows = 500;
  double ratio = 0.5;
  bool tls = false;
  Micros timeout = std::chrono::seconds(10);
  std::optional<int64_t> limit;
  std::optional<Micros> ttl;
};

const SectionSpec<Endpoint>& endpoint_spec() {
  static const auto* spec = [] {
    auto* s = new SectionSpec<Endpoint>("endpoint", "A server.");
    s->field("host", &Endpoint::host, "Host name.").required();
    s->field("port", &Endpoint::port, "TCP port.").range(1, 65535);
    return s;
  }();
  return *spec;
}

const SectionSpec<Conn>& conn_spec() {
  static const auto* spec = [] {
    auto* s = new SectionSpec<Conn>("conn", "A test connection.");
    s->field("url", &Conn::url, "Address.").required().sensitive().uri();
    s->field("token", &Conn::token, "API token.").sensitive();
    s->list("endpoints", &Conn::endpoints, endpoint_spec(), "Servers.").alias("endpoint");
    s->section("primary", &Conn::primary, endpoint_spec(), "Main server.");
    s->field("max_rows", &Conn::max_rows, "Rows per request.").min(1);
    s->field("ratio", &Conn::ratio, "A fraction | with a pipe.").range(0, 1);
    s->field("tls", &Conn::tls, "Use TLS.");
    s->field("timeout", &Conn::timeout, "Request timeout.");
    s->field("limit", &Conn::limit, "Optional limit.");
    s->field("ttl", &Conn::ttl, "Optional TTL.");
    return s;
  }();
  return *spec;
}

// Parses `yaml` with variables in `env` set and nothing else.
Result<Conn> parse(const std::string& yaml, std::set<std::string> env = {}) {
  ParseContext ctx("c.yaml");
  ctx.set_env_lookup([env](const std::string& name) { return env.count(name) > 0; });
  Conn out;
  Status st = conn_spec().parse(YAML::Load(yaml), ctx, out);
  if (!st.is_ok()) return st;
  return out;
}

std::string error_of(const std::string& yaml, std::set<std::string> env = {}) {
  auto r = parse(yaml, env);
  return r.is_ok() ? "<ok>" : r.status().message();
}

TEST(ConfigSpec, ParsesEveryType) {
  auto r = parse(
      "url: influxdb://db:8086/x?token=${INFLUX_TOKEN}\n"
      "token: ${INFLUX_TOKEN}\n"
      "endpoints:\n"
      "  - {host: a}\n"
      "  - {host: b, port: 9}\n"
      "primary: {host: p}\n"
      "max_rows: +42\n"
      "ratio: 2.5e-1\n"
      "tls: Yes\n"
      "timeout: 1m30s\n"
      "limit: -3\n"
      "ttl: 0\n",
      {"INFLUX_TOKEN"});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->url, "influxdb://db:8086/x?token=${INFLUX_TOKEN}");
  EXPECT_EQ(r->token, "${INFLUX_TOKEN}");
  ASSERT_EQ(r->endpoints.size(), 2u);
  EXPECT_EQ(r->endpoints[0].host, "a");
  EXPECT_EQ(r->endpoints[0].port, 8086);
  EXPECT_EQ(r->endpoints[1].port, 9);
  EXPECT_EQ(r->primary->host, "p");
  EXPECT_EQ(r->primary->port, 8086);
  EXPECT_EQ(r->max_rows, 42);
  EXPECT_DOUBLE_EQ(r->ratio, 0.25);
  EXPECT_TRUE(r->tls);
  EXPECT_EQ(r->timeout, std::chrono::seconds(90));
  EXPECT_EQ(r->limit, -3);
  EXPECT_EQ(r->ttl, Micros(0));
}

TEST(ConfigSpec, AbsentKeysKeepDefaults) {
  auto r = parse("url: http://x\n");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->max_rows, 500);
  EXPECT_EQ(r->timeout, std::chrono::seconds(10));
  EXPECT_FALSE(r->limit.has_value());
  EXPECT_TRUE(r->endpoints.empty());
  EXPECT_FALSE(r->primary.has_value());
}

TEST(ConfigSpec, AliasTakesASingleMapping) {
  auto r = parse("url: http://x\nendpoint: {host: solo}\n");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  ASSERT_EQ(r->endpoints.size(), 1u);
  EXPECT_EQ(r->endpoints[0].host, "solo");
  EXPECT_EQ(error_of("url: http://x\nendpoint: {port: 1}\n"),
            "c.yaml:2:1: endpoint is missing required key 'host'");
  EXPECT_EQ(error_of("url: http://x\nendpoints:\n  - {host: a, port: 0}\n"),
            "c.yaml:3:21: endpoints[0].port must be between 1 and 65535, got 0");
}

TEST(ConfigSpec, SensitiveValuesAreNeverEchoed) {
  EXPECT_EQ(error_of("url: http://x\ntoken: abc123\n"),
            "c.yaml:2:8: token is sensitive; put the value in an environment variable and write "
            "${NAME} instead");
  EXPECT_EQ(error_of("url: http://x\ntoken: [abc123]\n"),
            "c.yaml:2:8: token must be a string, got a list");
  EXPECT_EQ(error_of("url: http://x\ntoken: ${T}\n"),
            "c.yaml:2:8: token references environment variable T, which is not set (export T "
            "before running strata)");
  EXPECT_EQ(error_of("url: http://x\ntoken: ${T}\n", {"T"}), "<ok>");
  EXPECT_EQ(error_of("url: http://x?api_token=abc123\n"),
            "c.yaml:1:6: url contains a literal secret in its query parameter 'api_token'; put it "
            "in an environment variable and write api_token=${NAME} instead");
}

TEST(ConfigSpec, EnvChecksCanBeTurnedOff) {
  ParseContext ctx("c.yaml");
  ctx.set_check_env(false);
  ctx.set_env_lookup([](const std::string&) { return false; });
  Conn out;
  EXPECT_TRUE(conn_spec().parse(YAML::Load("url: http://u:${P}@x\n"), ctx, out).is_ok());
  EXPECT_EQ(out.url, "http://u:${P}@x");
}

TEST(ConfigSpec, TypeMessages) {
  EXPECT_EQ(error_of("url: http://x\ntls: 2\n"), "c.yaml:2:6: tls must be true or false, got '2'");
  EXPECT_EQ(error_of("url: http://x\nratio: nan\n"),
            "c.yaml:2:8: ratio must be a number, got 'nan'");
  EXPECT_EQ(error_of("url: http://x\nratio: 1.5\n"),
            "c.yaml:2:8: ratio must be between 0 and 1, got 1.5");
  EXPECT_EQ(error_of("url: http://x\nlimit: {a: 1}\n"),
            "c.yaml:2:8: limit must be an integer, got a mapping");
  EXPECT_EQ(error_of("url: http://x\nprimary: [1]\n"),
            "c.yaml:2:10: primary must be a mapping of keys, got a list");
  EXPECT_EQ(error_of("url: http://x\n[a]: 1\n"),
            "c.yaml:2:1: keys in conn must be names, got a list");
  EXPECT_EQ(error_of("- a\n"), "c.yaml:1:1: conn must be a mapping of keys, got a list");
  EXPECT_EQ(error_of("tls: true\n"), "c.yaml:1:1: conn is missing required key 'url'");
  EXPECT_EQ(error_of("url: http://x\nendpoint: {host: a}\nendpoints: []\n"),
            "c.yaml:3:1: 'endpoints' and 'endpoint' both given in conn (first at line 2); write "
            "only 'endpoints'");
}

TEST(ConfigSpec, RecordsPositionsForLaterChecks) {
  ParseContext ctx("c.yaml");
  Conn out;
  ASSERT_TRUE(
      conn_spec()
          .parse(YAML::Load("url: http://x\nendpoint:\n  host: a\nprimary:\n  host: b\n"), ctx, out)
          .is_ok());
  auto at = [&](const std::string& path) {
    Position p = ctx.position(path);
    return std::to_string(p.line) + ":" + std::to_string(p.column);
  };
  EXPECT_EQ(at("url"), "1:6");
  EXPECT_EQ(at("endpoints"), "2:1");  // recorded under the canonical name
  EXPECT_EQ(at("endpoints[0]"), "2:1");
  EXPECT_EQ(at("endpoints[0].host"), "3:9");
  EXPECT_EQ(at("endpoints[0].port"), "2:1");  // absent: falls back to its item
  EXPECT_EQ(at("primary"), "4:1");
  EXPECT_FALSE(ctx.present("tls"));
}

TEST(ConfigSpec, JsonBothWays) {
  auto r = parse("url: http://x\nendpoints: [{host: a}]\nttl: 2h\nratio: 0.1\n");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  nlohmann::json j = conn_spec().to_json(*r);
  EXPECT_EQ(j["timeout"], "10s");
  EXPECT_EQ(j["ttl"], "2h");
  EXPECT_FALSE(j.contains("limit"));
  EXPECT_FALSE(j.contains("primary"));
  EXPECT_EQ(j["endpoints"][0]["port"], 8086);
  ParseContext ctx("conn JSON");
  ctx.set_check_env(false);
  Conn back;
  Status st = conn_spec().parse_json(j, ctx, back);
  ASSERT_TRUE(st.is_ok()) << st.message();
  EXPECT_EQ(conn_spec().to_json(back), j);
  EXPECT_DOUBLE_EQ(back.ratio, 0.1);

  auto with_primary = parse("url: http://x\nprimary: {host: p, port: 1}\n");
  ASSERT_TRUE(with_primary.is_ok()) << with_primary.status().message();
  nlohmann::json jp = conn_spec().to_json(*with_primary);
  EXPECT_EQ(jp["primary"], (nlohmann::json{{"host", "p"}, {"port", 1}}));
  Conn back_primary;
  ASSERT_TRUE(conn_spec().parse_json(jp, ctx, back_primary).is_ok());
  EXPECT_EQ(back_primary.primary->port, 1);

  j["max_rows"] = 0;
  Conn bad;
  EXPECT_EQ(conn_spec().parse_json(j, ctx, bad).message(),
            "conn JSON: max_rows must be at least 1, got 0");
}

TEST(ConfigSpec, ReferenceListsFieldsWithDefaultsAndNestedSections) {
  std::string md = reference_markdown(conn_spec());
  EXPECT_NE(md.find("## Top level\n\nA test connection.\n\n| key | type | default | required | "
                    "description |\n|---|---|---|---|---|\n"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| `timeout` | duration | `10s` |  | Request timeout. |"), std::string::npos)
      << md;
  EXPECT_NE(md.find("| `ratio` | float | `0.5` |  | A fraction \\| with a pipe. From 0 to 1. |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| `endpoints` (or `endpoint`) | list of `endpoints[]` |"), std::string::npos)
      << md;
  EXPECT_NE(md.find("## `endpoints[]`\n\nA server."), std::string::npos) << md;
  EXPECT_NE(md.find("## `primary`\n"), std::string::npos) << md;
  EXPECT_NE(md.find("| `token` | string |  |  | API token. Sensitive: must be a `${NAME}`"),
            std::string::npos)
      << md;
}

TEST(ConfigSpec, DidYouMean) {
  std::vector<std::string> keys = {"shard_rows", "parallel", "rows_per_second", "key"};
  EXPECT_EQ(did_you_mean("shard_row", keys), "shard_rows");
  EXPECT_EQ(did_you_mean("paralel", keys), "parallel");
  EXPECT_EQ(did_you_mean("PARALLEL", keys), "parallel");
  EXPECT_EQ(did_you_mean("rows_per_sec", keys), "rows_per_second");
  EXPECT_EQ(did_you_mean("zzzzzz", keys), std::nullopt);
  EXPECT_EQ(did_you_mean("xy", keys), std::nullopt);
}

}  // namespace
}  // namespace strata::config
