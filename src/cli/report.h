// The final report of a run (a table for people, JSON for programs) and the tables of
// `strata status`.
#pragma once

#include <string>
#include <vector>

#include "cli/local_runner.h"
#include "runtime/state_store.h"

namespace strata {

Json run_report_json(const LocalRunResult& run);
std::string run_report_table(const LocalRunResult& run);

std::string tasks_table(const std::vector<TaskRecord>& tasks);
Json task_json(const TaskRecord& task);
std::string task_detail(const TaskRecord& task, const std::vector<ShardRecord>& shards,
                        const std::vector<std::vector<BatchRecord>>& batches);
Json task_detail_json(const TaskRecord& task, const std::vector<ShardRecord>& shards,
                      const std::vector<std::vector<BatchRecord>>& batches);

// Pools of live workers (updated within the last 30 s; older rows belong to workers that died
// without removing theirs): a table for `strata status`, JSON for the API.
inline constexpr int64_t kPoolStaleMicros = 30000000;
std::string pools_table(const std::vector<PoolRecord>& pools, int64_t now);
Json pools_json(const std::vector<PoolRecord>& pools, int64_t now);

// "1.5 MB", "980 B", with decimal units.
std::string human_bytes(int64_t bytes);
std::string human_count(int64_t n);

// A simple aligned text table; the first row is the header.
std::string render_table(const std::vector<std::vector<std::string>>& rows);

}  // namespace strata
