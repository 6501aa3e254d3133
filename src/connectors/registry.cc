// The connector registry: factories by URI scheme.
#include "connectors/registry.h"

#include <algorithm>
#include <cctype>

namespace strata {

namespace {

// The lowercase scheme before "://", or "" when there is none. Only the scheme is looked at, so
// URIs with ${ENV} references or credentials are never parsed or echoed here.
std::string scheme_of(std::string_view uri) {
  size_t sep = uri.find("://");
  if (sep == std::string_view::npos) return "";
  std::string scheme(uri.substr(0, sep));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return scheme;
}

template <typename Map>
std::string scheme_list(const Map& map) {
  std::string out;
  for (const auto& [scheme, factory] : map) {
    if (!out.empty()) out += ", ";
    out += scheme + "://";
  }
  return out.empty() ? "none" : out;
}

}  // namespace

Status Registry::register_source(const std::string& scheme, SourceFactory factory) {
  if (scheme.empty() || !factory) {
    return Status::permanent("register_source: a scheme and a factory are required");
  }
  if (!sources_.emplace(scheme, std::move(factory)).second) {
    return Status::permanent("source scheme '" + scheme + "' is registered twice");
  }
  return Status::ok();
}

Status Registry::register_target(const std::string& scheme, TargetFactory factory) {
  if (scheme.empty() || !factory) {
    return Status::permanent("register_target: a scheme and a factory are required");
  }
  if (!targets_.emplace(scheme, std::move(factory)).second) {
    return Status::permanent("target scheme '" + scheme + "' is registered twice");
  }
  return Status::ok();
}

Result<std::string> Registry::source_kind(const std::string& uri) const {
  std::string scheme = scheme_of(uri);
  if (scheme.empty()) {
    return Status::permanent("source URI '" + uri +
                             "' has no scheme (expected one of: " + scheme_list(sources_) + ")");
  }
  if (sources_.find(scheme) == sources_.end()) {
    return Status::permanent("unknown source scheme '" + scheme +
                             "://' (registered: " + scheme_list(sources_) + ")");
  }
  return scheme;
}

Result<std::unique_ptr<Source>> Registry::open_source(const SourceSpec& spec) const {
  STRATA_ASSIGN_OR_RETURN(std::string scheme, source_kind(spec.uri));
  return sources_.at(scheme)(spec);
}

Result<std::unique_ptr<Target>> Registry::open_target(const std::string& uri,
                                                      const std::string& base_dir) const {
  std::string scheme = scheme_of(uri);
  if (scheme.empty()) scheme = "file";  // a bare path
  auto it = targets_.find(scheme);
  if (it == targets_.end()) {
    return Status::permanent("unknown target scheme '" + scheme +
                             "://' (registered: " + scheme_list(targets_) + ")");
  }
  STRATA_ASSIGN_OR_RETURN(Uri parsed, parse_uri(uri));
  return it->second(parsed, base_dir);
}

}  // namespace strata
