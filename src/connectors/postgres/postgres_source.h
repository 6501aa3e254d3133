// The PostgreSQL source: `postgres://user[:password]@host[:port]/db?options` (see pg_connection.h
// for the options; `plan_exact_rows=N` also sets the table size up to which plan() walks the key
// index exactly, default 2,000,000 estimated rows).
//
// describe() reads the catalog: every column mapped as pg_types.h says (an unsupported type is a
// permanent error naming the column and the exclude list that skips it), the key must be the
// primary key or a unique index's columns in index order, the time column a date or timestamp.
// plan() never reads the whole table: the first key's min/max come from its index; tables up to
// plan_exact_rows (estimated from pg_class, scaled to the current size) are cut by walking the
// selected keys; bigger ones from a TABLESAMPLE SYSTEM sample grouped by page on the server: when
// the key follows the pages' order (an append-only table), cuts fall at sampled pages' first keys
// by the rows interpolated between sampled pages, within shard_rows; otherwise at quantiles of
// the sampled keys (integer keys cut exactly between values, others at sampled keys with the
// previous shard ending at the largest key before). Shards are contiguous and ordered: every row
// selected at plan time lies in exactly one shard, whatever the planner statistics say.
// read() streams one `COPY (SELECT ...) TO STDOUT (FORMAT binary)` per shard, decoded straight
// from libpq's row buffers into the Batch, one batch at a time (the server waits while we write).
// delete_keys() runs one transaction (statement_timeout applies) of DELETEs by key list, key
// tuples or a contiguous integer run, each AND-ed with the shard bounds and the predicate.
// replication_lag() is the largest replay_lag in pg_stat_replication (needs pg_read_all_stats or
// superuser to see it; NULL = caught up = 0).
// Thread-safe: each read() and delete_keys() borrows its own connection from a small pool.
#pragma once

#include <memory>

#include "connectors/source.h"
#include "core/uri.h"

namespace strata {

// Checks the URI's form; connects lazily (expanding ${ENV} then).
Result<std::unique_ptr<Source>> open_postgres_source(const SourceSpec& spec);

namespace pg {
// A source on the database of `uri` (already parsed, unexpanded); spec.uri is ignored. Used by
// the cold-table target to read back what it loaded.
Result<std::unique_ptr<Source>> open_source_at(const Uri& uri, const SourceSpec& spec);
}  // namespace pg

}  // namespace strata
