// `strata demo`: a generated vehicle-telemetry SQLite database and a policy that archives every
// row older than 30 days.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace strata {

// Creates `path` (replacing it) with `rows` rows: id, vehicle_id, ts spread evenly over the 90
// days before `now_micros`, speed, lat, lon, status, payload; some NULLs. Deterministic for a
// given row count and `now_micros`.
Status generate_telemetry_db(const std::string& path, int64_t rows, int64_t now_micros);

// The demo policy text (YAML with comments), archiving `db_file` into `archive_dir` (both
// relative to the policy's directory).
std::string demo_policy_yaml(const std::string& db_file, const std::string& archive_dir);

}  // namespace strata
