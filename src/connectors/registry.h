// Connectors register by URI scheme, explicitly, in register_all.cc. A scheme registered twice is
// an error; an unknown scheme names the schemes that exist.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "connectors/source.h"
#include "connectors/table_target.h"
#include "connectors/target.h"

namespace strata {

class Registry {
 public:
  using SourceFactory = std::function<Result<std::unique_ptr<Source>>(const SourceSpec&)>;
  // `base_dir`: what relative local paths resolve against.
  using TargetFactory =
      std::function<Result<std::unique_ptr<Target>>(const Uri& uri, const std::string& base_dir)>;

  // A cold database table target; the URI names the table with `?table=`.
  using TableTargetFactory = std::function<Result<std::unique_ptr<TableTarget>>(const Uri& uri)>;

  Status register_source(const std::string& scheme, SourceFactory factory);
  Status register_target(const std::string& scheme, TargetFactory factory);
  Status register_table_target(const std::string& scheme, TableTargetFactory factory);

  Result<std::unique_ptr<Source>> open_source(const SourceSpec& spec) const;
  Result<std::unique_ptr<Target>> open_target(const std::string& uri,
                                              const std::string& base_dir = "") const;
  Result<std::unique_ptr<TableTarget>> open_table_target(const std::string& uri) const;
  // Whether `uri` names a cold database table (its scheme has a table target) rather than files.
  bool is_table_target(const std::string& uri) const;
  // The source kind ("sqlite") of a URI, checked against the registered schemes.
  Result<std::string> source_kind(const std::string& uri) const;
  // Every registered source kind (scheme), sorted: what a worker subscribes archive functions to.
  std::vector<std::string> source_kinds() const;

 private:
  std::map<std::string, SourceFactory> sources_;
  std::map<std::string, TargetFactory> targets_;
  std::map<std::string, TableTargetFactory> table_targets_;
};

// Registers every connector built into this binary.
Status register_all(Registry& registry);
// The process-wide registry with register_all applied.
const Registry& default_registry();

}  // namespace strata
