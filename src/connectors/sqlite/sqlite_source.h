// The SQLite source: `sqlite://PATH` (PATH relative to SourceSpec::base_dir unless absolute;
// ${ENV} references expanded when it first connects).
//
// Connections come from a small pool, so one instance serves concurrent shards. Every statement
// is short: plans walk the key index, reads page by key (keyset pagination, one statement per
// batch, no long read transaction), purges delete by key in one BEGIN IMMEDIATE transaction.
// Errors name the database file, the table and the operation; SQLITE_BUSY / SQLITE_LOCKED
// (after the busy timeout: 5 s, or `?busy_timeout_ms=N` in the URI) are retryable, everything else
// is permanent. A missing database file is a permanent error: the source never creates one.
//
// Time columns may hold ISO text or epoch numbers; see sqlite_types.h. Key columns must be
// integer, text, blob or real (they are compared and bound as stored).
#pragma once

#include <memory>

#include "connectors/source.h"

namespace strata {

// Checks the URI's form; connects lazily.
Result<std::unique_ptr<Source>> open_sqlite_source(const SourceSpec& spec);

}  // namespace strata
