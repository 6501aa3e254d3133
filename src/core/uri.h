// Store addresses: scheme://[user[:password]@]host[:port]/path?key=value&...
// `sqlite://PATH` and `file://PATH` take everything after "//" as a filesystem path, so
// `file://archive` is relative and `file:///srv/archive` absolute. A bare path is `file://`.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "core/status.h"

namespace strata {

struct Uri {
  std::string scheme;  // lowercase, e.g. "sqlite"
  std::string user;
  std::string password;  // never print; see redacted()
  std::string host;
  int port = 0;      // 0 = default
  std::string path;  // percent-decoded
  std::map<std::string, std::string> query;

  // The URI as given but with any password replaced by "***".
  std::string redacted() const;
  // True for schemes whose path is a local filesystem path (file, sqlite).
  bool is_local_path() const { return scheme == "file" || scheme == "sqlite"; }
};

Result<Uri> parse_uri(std::string_view text);
std::string percent_decode(std::string_view s);

}  // namespace strata
