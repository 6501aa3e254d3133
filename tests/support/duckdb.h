// Test support: DuckDB (npm @duckdb/node-api, installed under tests/tools by scripts/setup) as an
// independent reader of every file format Strata writes.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"

namespace strata::testing_support {

// Runs the statements in one in-memory DuckDB; returns the last one's rows as JSON objects.
// Errors carry DuckDB's message.
Result<nlohmann::json> duckdb_query(const std::vector<std::string>& statements);
// Single-quoted SQL string literal.
std::string sql_quote(const std::string& text);
// A fresh empty directory under the test temp dir, unique per call.
std::string fresh_dir(const std::string& name);
// Runs a shell command, returns {exit code, stdout}. stderr goes to the test log.
std::pair<int, std::string> run_command(const std::string& command);

}  // namespace strata::testing_support
