// Support for end-to-end tests that drive the `strata` binary as a user would.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "tests/support/duckdb.h"

namespace strata::e2e {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string strata_binary();
// Runs `strata <args>` in `cwd` and waits.
CommandResult run_strata(const std::vector<std::string>& args, const std::string& cwd);
// Starts `strata <args>` in `cwd` without waiting; output goes to files in cwd.
pid_t spawn_strata(const std::vector<std::string>& args, const std::string& cwd);
// Waits for `pid`; returns its exit code, or 128+signal.
int wait_for(pid_t pid);
// Peak RSS (KiB) of the last child waited for by run_strata.
long last_peak_rss_kib();

// SQLite helpers (the tests' own view of the source, independent of the connector).
void sqlite_exec(const std::string& db, const std::string& sql);
std::vector<std::vector<std::optional<std::string>>> sqlite_rows(const std::string& db,
                                                                 const std::string& sql);
int64_t sqlite_count(const std::string& db, const std::string& table,
                     const std::string& where = "");

// Canonical text of each row of the demo telemetry table: "id|vehicle|ts_us|speed|lat|lon|..."
// From the source (SQLite) ...
std::vector<std::string> source_telemetry_rows(const std::string& db);
// ... and from the archive, read by DuckDB (the independent reader).
std::vector<std::string> archive_telemetry_rows(const std::string& archive_dir,
                                                const std::string& format = "ndjson");

std::string write_file(const std::string& path, const std::string& content);
std::string read_text(const std::string& path);

}  // namespace strata::e2e
