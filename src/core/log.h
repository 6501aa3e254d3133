// Logging through spdlog to stderr. Messages never contain secrets: pass Uri::redacted().
#pragma once

#include <spdlog/spdlog.h>

namespace strata {

// level: "debug", "info", "warn", "error". Safe to call more than once.
void init_logging(const std::string& level);

}  // namespace strata
