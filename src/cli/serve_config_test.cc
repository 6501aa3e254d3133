// strata.yaml: values, defaults, relative paths, pools into a chain configuration, errors with
// file and line; docs/serve.md up to date; the deploy/ manifests are valid YAML.
#include "cli/serve_config.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace strata {
namespace {

TEST(ServeConfig, ValuesDefaultsAndPathsRelativeToTheFile) {
  auto c = parse_serve_config(
      "listen: 0.0.0.0:9000\n"
      "token_file: secrets/token\n"
      "policies: policies\n"
      "state: sqlite://state/s.db\n"
      "bus: redis://q:6379/2\n"
      "functions: archive,purge\n"
      "lease_ttl: 45s\n"
      "pools:\n"
      "  poll: 250ms\n"
      "  cooldown: 2m\n"
      "  archive: {min: 1, max: 6}\n"
      "  purge: {max: 3}\n",
      "conf/strata.yaml", "/etc/strata");
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->listen, "0.0.0.0:9000");
  EXPECT_EQ(c->token_file, "/etc/strata/secrets/token");
  EXPECT_EQ(c->policies, "/etc/strata/policies");
  EXPECT_EQ(c->state, "sqlite:///etc/strata/state/s.db");
  EXPECT_EQ(c->archive_workers, 2);
  auto chain = chain_config_of(*c);
  ASSERT_TRUE(chain.is_ok()) << chain.status().to_string();
  EXPECT_EQ(chain->bus_uri, "redis://q:6379/2");
  EXPECT_EQ(chain->lease_ttl, std::chrono::seconds(45));
  ASSERT_FALSE(chain->functions.empty());
  for (const std::string& f : chain->functions) {
    EXPECT_TRUE(f == "purge" || f.rfind("archive-", 0) == 0) << f;
  }
  ASSERT_TRUE(chain->pools.has_value());
  EXPECT_EQ(chain->pools->poll, std::chrono::milliseconds(250));
  EXPECT_EQ(chain->pools->cooldown, std::chrono::minutes(2));
  EXPECT_EQ(chain->pools->bounds.at("archive").min, 1);
  EXPECT_EQ(chain->pools->bounds.at("archive").max, 6);
  EXPECT_EQ(chain->pools->bounds.at("purge").max, 3);
  EXPECT_EQ(chain->pools->bounds.count("split"), 0u);  // its default

  auto empty = parse_serve_config("", "strata.yaml", "");
  ASSERT_TRUE(empty.is_ok());
  EXPECT_EQ(empty->listen, "127.0.0.1:8470");
  EXPECT_TRUE(empty->pools.enabled);
  auto fixed = chain_config_of(*parse_serve_config("pools: {enabled: false}\n", "s.yaml", ""));
  ASSERT_TRUE(fixed.is_ok());
  EXPECT_FALSE(fixed->pools.has_value());
}

TEST(ServeConfig, ErrorsNameTheFileLineAndKey) {
  auto typo = parse_serve_config("pools:\n  cooldwn: 5s\n", "strata.yaml", "");
  ASSERT_FALSE(typo.is_ok());
  EXPECT_NE(typo.status().message().find("strata.yaml:2:3"), std::string::npos)
      << typo.status().message();
  EXPECT_NE(typo.status().message().find("did you mean 'cooldown'"), std::string::npos)
      << typo.status().message();
  auto range = parse_serve_config("archive_workers: 0\n", "strata.yaml", "");
  ASSERT_FALSE(range.is_ok());
  EXPECT_NE(range.status().message().find("archive_workers"), std::string::npos);
  auto bounds = parse_serve_config("pools:\n  split: {min: 2, max: 1}\n", "strata.yaml", "");
  ASSERT_FALSE(bounds.is_ok());
  EXPECT_NE(bounds.status().message().find("pools.split.max"), std::string::npos)
      << bounds.status().message();
  auto secret = parse_serve_config("state: postgres://u:hunter2@db/x\n", "strata.yaml", "");
  ASSERT_FALSE(secret.is_ok());
  EXPECT_EQ(secret.status().message().find("hunter2"), std::string::npos);
  auto functions = parse_serve_config("functions: archive,sweep\n", "strata.yaml", "");
  ASSERT_TRUE(functions.is_ok());
  auto chain = chain_config_of(*functions);
  ASSERT_FALSE(chain.is_ok());
  EXPECT_NE(chain.status().message().find("unknown function 'sweep'"), std::string::npos);
}

TEST(ServeConfig, PoolsResolveToTheFunctionsDefaultsWhereNoMaxIsGiven) {
  auto c = parse_serve_config("archive_workers: 4\npools:\n  status: {min: 3}\n  purge: {min: 1}\n",
                              "s.yaml", "");
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  auto chain = chain_config_of(*c);
  ASSERT_TRUE(chain.is_ok());
  auto pools =
      resolve_pools(*chain, {"split", "archive-postgres", "archive-sqlite", "purge", "status"});
  ASSERT_TRUE(pools.is_ok()) << pools.status().to_string();
  EXPECT_EQ(pools->at("split").min, 0);
  EXPECT_EQ(pools->at("split").max, 1);
  EXPECT_EQ(pools->at("archive-sqlite").max, 4);  // archive_workers
  EXPECT_EQ(pools->at("purge").min, 1);
  EXPECT_EQ(pools->at("purge").max, 2);                            // purge_workers
  EXPECT_EQ(pools->at("status").max, 3);                           // never below its min
  chain->pools->bounds["archive-postgres"] = PoolBounds{1, 8, 1};  // --pool beats the section
  pools = resolve_pools(*chain, {"archive-postgres", "archive-sqlite"});
  ASSERT_FALSE(pools.is_ok());  // status and purge are configured but do not run here
  EXPECT_NE(pools.status().message().find("no such function runs here"), std::string::npos);
  chain->pools->bounds.erase("status");
  chain->pools->bounds.erase("purge");
  pools = resolve_pools(*chain, {"archive-postgres", "archive-sqlite"});
  ASSERT_TRUE(pools.is_ok()) << pools.status().to_string();
  EXPECT_EQ(pools->at("archive-postgres").max, 8);
  EXPECT_EQ(pools->at("archive-sqlite").max, 4);
}

TEST(ServeConfig, PoolFlagsParse) {
  std::map<std::string, PoolBounds> bounds;
  ASSERT_TRUE(parse_pool("archive=0:4", bounds).is_ok());
  EXPECT_EQ(bounds["archive"].max, 4);
  EXPECT_FALSE(parse_pool("archive=4:2", bounds).is_ok());
  EXPECT_FALSE(parse_pool("archive", bounds).is_ok());
  EXPECT_FALSE(parse_pool("=1:2", bounds).is_ok());
  EXPECT_FALSE(parse_pool("status=0:0", bounds).is_ok());
}

TEST(ServeConfig, ReferenceIsUpToDate) {
  std::ifstream in(std::string(STRATA_SOURCE_DIR) + "/docs/serve.md");
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), serve_config_reference_markdown())
      << "docs/serve.md is out of date: run strata config-reference > docs/serve.md";
}

TEST(DeployManifests, AreValidYamlWithKindsAndNames) {
  int documents = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(STRATA_SOURCE_DIR) + "/deploy/k8s")) {
    std::vector<YAML::Node> docs;
    ASSERT_NO_THROW(docs = YAML::LoadAllFromFile(entry.path().string())) << entry.path();
    for (const YAML::Node& d : docs) {
      EXPECT_TRUE(d["kind"] && d["metadata"]["name"]) << entry.path();
      ++documents;
    }
  }
  EXPECT_GE(documents, 3);
}

}  // namespace
}  // namespace strata
