// The factories that pick a bus or a state store by URI, so the CLI and the workers take one
// address each (--bus, --state) and the runtime keeps the list of what exists in one place.
#include "core/uri.h"
#include "runtime/redis_bus.h"
#include "runtime/state_store.h"

namespace strata {

Result<std::unique_ptr<StateStore>> open_state_store(const std::string& uri_text) {
  STRATA_ASSIGN_OR_RETURN(Uri uri, parse_uri(uri_text));
  if (uri.scheme == "sqlite" || uri.scheme == "file") return open_sqlite_state_store(uri.path);
  if (uri.scheme == "postgres" || uri.scheme == "postgresql") {
    return open_postgres_state_store(uri_text);
  }
  return Status::permanent("state store " + uri.redacted() + ": unknown scheme '" + uri.scheme +
                           "' (use sqlite://PATH or postgres://user@host:port/db)");
}

Result<std::unique_ptr<Bus>> open_bus(const std::string& uri_text) {
  if (uri_text.empty() || uri_text == "embedded" || uri_text == "embedded://") {
    return std::unique_ptr<Bus>(std::make_unique<EmbeddedBus>());
  }
  STRATA_ASSIGN_OR_RETURN(Uri uri, parse_uri(uri_text));
  if (uri.scheme == "redis" || uri.scheme == "rediss") {
    RedisBusOptions options;
    options.uri = uri_text;
    STRATA_ASSIGN_OR_RETURN(std::unique_ptr<RedisBus> bus, RedisBus::open(std::move(options)));
    return std::unique_ptr<Bus>(std::move(bus));
  }
  return Status::permanent("bus " + uri.redacted() + ": unknown scheme '" + uri.scheme +
                           "' (use embedded, or redis://host:port[/db])");
}

}  // namespace strata
