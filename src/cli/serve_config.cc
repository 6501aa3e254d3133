#include "cli/serve_config.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>

#include "core/fs.h"
#include "policy/config_spec.h"

namespace strata {

namespace {

using config::ParseContext;
using config::SectionSpec;

const SectionSpec<PoolSizeConfig>& pool_size_spec() {
  static const auto* spec = [] {
    auto* s = new SectionSpec<PoolSizeConfig>("pool", "One function's replica bounds.");
    s->field("min", &PoolSizeConfig::min, "Replicas kept with no backlog (0: scale to zero).")
        .range(0, 256);
    s->field("max", &PoolSizeConfig::max,
             "Replicas at most; 0 = the default (split 1, archive `archive_workers`, purge "
             "`purge_workers`, status 2).")
        .range(0, 256);
    return s;
  }();
  return *spec;
}

const SectionSpec<PoolsSectionConfig>& pools_spec() {
  static const auto* spec = [] {
    auto* s = new SectionSpec<PoolsSectionConfig>(
        "pools",
        "Worker pools: each function runs between min and max replicas, scaled on its backlog "
        "(events waiting or in flight), as KEDA scales Deployments.");
    s->field("enabled", &PoolsSectionConfig::enabled,
             "Scale pools on their backlog; false = fixed replicas (`archive_workers`, "
             "`purge_workers`, 1).");
    s->field("poll", &PoolsSectionConfig::poll,
             "How often backlogs are read (an event published by this process wakes its pool at "
             "once).");
    s->field("cooldown", &PoolsSectionConfig::cooldown,
             "How long a pool's backlog must stay below its replicas before it scales down "
             "(to zero with min 0).");
    s->section("split", &PoolsSectionConfig::split, pool_size_spec(), "The split pool.");
    s->section("archive", &PoolsSectionConfig::archive, pool_size_spec(),
               "Each archive pool (one per source kind).");
    s->section("purge", &PoolsSectionConfig::purge, pool_size_spec(), "The purge pool.");
    s->section("status", &PoolsSectionConfig::status, pool_size_spec(), "The status pool.");
    return s;
  }();
  return *spec;
}

const SectionSpec<ServeConfig>& serve_spec() {
  static const auto* spec = [] {
    auto* s = new SectionSpec<ServeConfig>("strata.yaml",
                                           "The configuration of `strata serve --config FILE`.");
    s->field("listen", &ServeConfig::listen,
             "HOST:PORT of the HTTP API; loopback by default (port 0: any free port).");
    s->field("token_file", &ServeConfig::token_file,
             "File holding the bearer token; unset: the STRATA_TOKEN environment variable.");
    s->field("policies", &ServeConfig::policies, "Directory of policy files.");
    s->field("state", &ServeConfig::state,
             "State store: `sqlite://PATH` or `postgres://user:${PGPASSWORD}@host/db`.")
        .sensitive()
        .uri();
    s->field("bus", &ServeConfig::bus,
             "Bus: `redis://host:port[/db]` shared with `strata worker`s; unset: in-process.")
        .sensitive()
        .uri();
    s->field("functions", &ServeConfig::functions,
             "Functions run in this process, separated by commas (split, archive, "
             "archive-<kind>, purge, status); unset: all.");
    s->field("archive_workers", &ServeConfig::archive_workers,
             "Shards archived at once per source kind (the archive pools' default max).")
        .range(1, 256);
    s->field("purge_workers", &ServeConfig::purge_workers,
             "Shards purged at once (the purge pool's default max).")
        .range(1, 256);
    s->field("lease_ttl", &ServeConfig::lease_ttl,
             "How long a shard stays with a worker that stopped renewing its lease.");
    s->section("pools", &ServeConfig::pools, pools_spec(), "Worker pools and their scaling.");
    return s;
  }();
  return *spec;
}

std::string relative_to(const std::string& path, const std::string& base) {
  if (path.empty() || base.empty() || std::filesystem::path(path).is_absolute()) return path;
  return (std::filesystem::path(base) / path).lexically_normal().string();
}

}  // namespace

Result<ServeConfig> parse_serve_config(const std::string& yaml_text, const std::string& file_name,
                                       const std::string& base_dir) {
  ParseContext ctx(file_name);
  ServeConfig c;
  try {
    YAML::Node root = YAML::Load(yaml_text);
    if (!root.IsNull()) STRATA_TRY(serve_spec().parse(root, ctx, c));
  } catch (const YAML::Exception& e) {
    return ctx.error(config::Position::of(e.mark), "invalid YAML: " + e.msg);
  }
  const Micros second = std::chrono::seconds(1);
  if (c.lease_ttl < second) {
    return ctx.error(ctx.position("lease_ttl"), "lease_ttl must be at least 1s");
  }
  if (c.pools.poll < std::chrono::milliseconds(10)) {
    return ctx.error(ctx.position("pools.poll"), "pools.poll must be at least 10ms");
  }
  for (auto [name, size] : {std::pair<const char*, PoolSizeConfig*>{"split", &c.pools.split},
                            {"archive", &c.pools.archive},
                            {"purge", &c.pools.purge},
                            {"status", &c.pools.status}}) {
    if (size->max != 0 && size->max < size->min) {
      return ctx.error(ctx.position(std::string("pools.") + name + ".max"),
                       std::string("pools.") + name + ".max must be at least its min (" +
                           std::to_string(size->min) + ")");
    }
  }
  c.policies = relative_to(c.policies, base_dir);
  c.token_file = relative_to(c.token_file, base_dir);
  if (c.state.rfind("sqlite://", 0) == 0)
    c.state = "sqlite://" + relative_to(c.state.substr(9), base_dir);
  return c;
}

Result<ServeConfig> load_serve_config(const std::string& path) {
  if (!std::filesystem::exists(path)) {
    return Status::permanent("config file " + path + " does not exist");
  }
  STRATA_ASSIGN_OR_RETURN(std::string text, read_file(path));
  return parse_serve_config(text, path, std::filesystem::path(path).parent_path().string());
}

Result<ChainConfig> chain_config_of(const ServeConfig& c) {
  ChainConfig chain;
  chain.bus_uri = c.bus;
  chain.state_uri = c.state;
  chain.archive_workers = c.archive_workers;
  chain.purge_workers = c.purge_workers;
  chain.lease_ttl = c.lease_ttl;
  if (!c.functions.empty()) {
    STRATA_ASSIGN_OR_RETURN(chain.functions, parse_functions(c.functions));
  }
  if (c.pools.enabled) {
    PoolsConfig pools;
    pools.poll = std::chrono::duration_cast<std::chrono::milliseconds>(c.pools.poll);
    pools.cooldown = std::chrono::duration_cast<std::chrono::milliseconds>(c.pools.cooldown);
    for (auto [name, size] :
         {std::pair<const char*, const PoolSizeConfig*>{"split", &c.pools.split},
          {"archive", &c.pools.archive},
          {"purge", &c.pools.purge},
          {"status", &c.pools.status}}) {
      if (size->max == 0 && size->min == 0) continue;            // the default
      pools.bounds[name] = PoolBounds{size->min, size->max, 1};  // max 0: the function's default
    }
    chain.pools = pools;
  }
  return chain;
}

std::string serve_config_reference_markdown() {
  return config::reference_markdown(serve_spec(), 2);
}

}  // namespace strata
