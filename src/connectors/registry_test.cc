// The registry: registration by scheme, duplicates, unknown schemes, the built-in connectors.
#include "connectors/registry.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace strata {
namespace {

TEST(Registry, SchemeRegisteredTwiceIsAnError) {
  Registry r;
  ASSERT_TRUE(register_all(r).is_ok());
  Status s = register_all(r);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("'sqlite' is registered twice"), std::string::npos) << s.message();
  s = r.register_target("file", [](const Uri&, const std::string&) {
    return Result<std::unique_ptr<Target>>(Status::permanent("unused"));
  });
  EXPECT_NE(s.message().find("'file' is registered twice"), std::string::npos) << s.message();
}

TEST(Registry, UnknownSchemesNameTheRegisteredOnes) {
  const Registry& r = default_registry();
  SourceSpec spec;
  spec.uri = "oracle://user:secret@db/app";
  auto src = r.open_source(spec);
  ASSERT_FALSE(src.is_ok());
  EXPECT_EQ(src.status().message(),
            "unknown source scheme 'oracle://' (registered: mariadb://, mysql://, postgres://, "
            "postgresql://, sqlite://)");
  auto kind = r.source_kind("data.db");
  ASSERT_FALSE(kind.is_ok());
  EXPECT_NE(kind.status().message().find("has no scheme"), std::string::npos);
  EXPECT_NE(kind.status().message().find("sqlite://"), std::string::npos);
  auto target = r.open_target("ftp://host/prefix");
  ASSERT_FALSE(target.is_ok());
  EXPECT_EQ(target.status().message(),
            "unknown target scheme 'ftp://' (registered: file://, s3://; database tables: "
            "mariadb://, mysql://, postgres://, postgresql://, sqlite://)");
}

TEST(Registry, OpensTheBuiltInConnectors) {
  const Registry& r = default_registry();
  EXPECT_EQ(*r.source_kind("SQLite://x.db"), "sqlite");
  SourceSpec spec;
  spec.uri = "sqlite://x.db";
  spec.table = "t";
  spec.key_columns = {"id"};
  EXPECT_TRUE(r.open_source(spec).is_ok());

  std::string dir = testing::TempDir() + "/strata_registry_" + std::to_string(getpid());
  auto bare = r.open_target("archive", dir);
  ASSERT_TRUE(bare.is_ok()) << bare.status().to_string();
  EXPECT_EQ((*bare)->describe(), "file://archive");
  ASSERT_TRUE((*bare)->put("x", "1").is_ok());
  EXPECT_TRUE(std::filesystem::exists(dir + "/archive/x"));
  auto uri = r.open_target("file://archive", dir);
  ASSERT_TRUE(uri.is_ok());
  EXPECT_EQ(**(*uri)->get("x"), "1");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace strata
