// Every connector built into this binary, registered explicitly by URI scheme (no static
// initializers: they vanish from static libraries). Adding a store adds one line here.
#include <cstdio>
#include <cstdlib>

#include "connectors/file/file_target.h"
#include "connectors/mysql/mysql_source.h"
#include "connectors/mysql/mysql_table_target.h"
#include "connectors/postgres/postgres_source.h"
#include "connectors/postgres/postgres_table_target.h"
#include "connectors/registry.h"
#include "connectors/s3/s3_target.h"
#include "connectors/sqlite/sqlite_source.h"
#include "connectors/sqlite/sqlite_table_target.h"

namespace strata {

Status register_all(Registry& registry) {
  STRATA_TRY(registry.register_source("sqlite", open_sqlite_source));
  STRATA_TRY(registry.register_table_target("sqlite", open_sqlite_table_target));
  STRATA_TRY(registry.register_target("file", open_file_target));
  STRATA_TRY(registry.register_target("s3", open_s3_target));
  STRATA_TRY(registry.register_source("postgres", open_postgres_source));
  STRATA_TRY(registry.register_source("postgresql", open_postgres_source));
  STRATA_TRY(registry.register_table_target("postgres", open_postgres_table_target));
  STRATA_TRY(registry.register_table_target("postgresql", open_postgres_table_target));
  for (const char* scheme : {"mysql", "mariadb"}) {
    STRATA_TRY(registry.register_source(scheme, open_mysql_source));
    STRATA_TRY(registry.register_table_target(scheme, open_mysql_table_target));
  }
  return Status::ok();
}

const Registry& default_registry() {
  static const Registry registry = [] {
    Registry r;
    Status s = register_all(r);
    if (!s.is_ok()) {  // a programming error in the list above
      std::fprintf(stderr, "strata: register_all failed: %s\n", s.to_string().c_str());
      std::abort();
    }
    return r;
  }();
  return registry;
}

}  // namespace strata
