// The connector registry: factories by URI scheme.
#include "connectors/registry.h"

#include <algorithm>
#include <cctype>

#include "connectors/table_parts.h"

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

Status Registry::register_table_target(const std::string& scheme, TableTargetFactory factory) {
  if (scheme.empty() || !factory) {
    return Status::permanent("register_table_target: a scheme and a factory are required");
  }
  if (!table_targets_.emplace(scheme, std::move(factory)).second) {
    return Status::permanent("table target scheme '" + scheme + "' is registered twice");
  }
  return Status::ok();
}

bool Registry::is_table_target(const std::string& uri) const {
  return table_targets_.count(scheme_of(uri)) > 0;
}

Result<std::unique_ptr<TableTarget>> Registry::open_table_target(const std::string& uri) const {
  auto it = table_targets_.find(scheme_of(uri));
  if (it == table_targets_.end()) {
    return Status::permanent(
        "'" + scheme_of(uri) +
        "://' is not a database table target (registered: " + scheme_list(table_targets_) + ")");
  }
  STRATA_ASSIGN_OR_RETURN(Uri parsed, parse_uri(uri));
  if (parsed.query.count("table") == 0 || parsed.query.at("table").empty()) {
    return Status::permanent("table target " + parsed.redacted() +
                             " names no table: add ?table=NAME (may be schema-qualified)");
  }
  return it->second(parsed);
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

std::vector<std::string> Registry::source_kinds() const {
  std::vector<std::string> out;
  for (const auto& [scheme, factory] : sources_) out.push_back(scheme);
  return out;
}

Result<std::unique_ptr<Source>> Registry::open_source(const SourceSpec& spec) const {
  STRATA_ASSIGN_OR_RETURN(std::string scheme, source_kind(spec.uri));
  return sources_.at(scheme)(spec);
}

Result<std::unique_ptr<Target>> Registry::open_target(const std::string& uri,
                                                      const std::string& base_dir) const {
  std::string scheme = scheme_of(uri);
  if (scheme.empty()) scheme = "file";  // a bare path
  if (table_targets_.count(scheme)) {
    STRATA_ASSIGN_OR_RETURN(std::unique_ptr<TableTarget> table, open_table_target(uri));
    return table_target_as_files(std::move(table));
  }
  auto it = targets_.find(scheme);
  if (it == targets_.end()) {
    std::string known = scheme_list(targets_);
    if (!table_targets_.empty()) known += "; database tables: " + scheme_list(table_targets_);
    return Status::permanent("unknown target scheme '" + scheme + "://' (registered: " + known +
                             ")");
  }
  STRATA_ASSIGN_OR_RETURN(Uri parsed, parse_uri(uri));
  return it->second(parsed, base_dir);
}

}  // namespace strata
