// strata.yaml: the configuration of `strata serve` (and, for its chain keys, `strata worker
// --config`). Declared with the policy's config_spec, so unknown keys, wrong types and ranges
// are reported as "strata.yaml:LINE:COL: ..." with a did-you-mean. Relative paths (policies,
// token_file, a sqlite:// state) are relative to the file. The reference is docs/serve.md.
#pragma once

#include <string>

#include "cli/service.h"
#include "core/duration.h"
#include "core/status.h"

namespace strata {

struct PoolSizeConfig {
  int min = 0;
  int max = 0;  // 0: the default for the function
};

struct PoolsSectionConfig {
  bool enabled = true;
  Micros poll = std::chrono::seconds(1);
  Micros cooldown = std::chrono::seconds(30);
  PoolSizeConfig split, archive, purge, status;
};

struct ServeConfig {
  std::string listen = "127.0.0.1:8470";
  std::string token_file;  // else $STRATA_TOKEN
  std::string policies = ".";
  std::string state = "sqlite://.strata/state.db";
  std::string bus;        // "" = the in-process bus
  std::string functions;  // comma-separated; "" = all
  int archive_workers = 2;
  int purge_workers = 2;
  Micros lease_ttl = std::chrono::seconds(30);
  PoolsSectionConfig pools;
};

Result<ServeConfig> parse_serve_config(const std::string& yaml_text, const std::string& file_name,
                                       const std::string& base_dir);
Result<ServeConfig> load_serve_config(const std::string& path);

// The chain part of a config, checked (functions and pool bounds).
Result<ChainConfig> chain_config_of(const ServeConfig& config);

// The Markdown reference of every key.
std::string serve_config_reference_markdown();

}  // namespace strata
