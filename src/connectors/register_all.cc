// Every connector built into this binary, registered explicitly by URI scheme (no static
// initializers: they vanish from static libraries). Adding a store adds one line here.
#include <cstdio>
#include <cstdlib>

#include "connectors/file/file_target.h"
#include "connectors/registry.h"
#include "connectors/sqlite/sqlite_source.h"

namespace strata {

Status register_all(Registry& registry) {
  STRATA_TRY(registry.register_source("sqlite", open_sqlite_source));
  STRATA_TRY(registry.register_target("file", open_file_target));
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
