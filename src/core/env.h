// ${NAME} references in configuration: secrets stay in the environment and are expanded only at
// the moment a connector connects, so they never reach logs, events or the state store.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace strata {

// Replaces every ${NAME} with the variable's value. An unset variable is a permanent error naming
// it. "$${" stands for a literal "${".
Result<std::string> expand_env(std::string_view text);
// The NAMEs referenced by `text`.
std::vector<std::string> env_references(std::string_view text);

}  // namespace strata
