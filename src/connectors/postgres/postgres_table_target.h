// A PostgreSQL table as a cold target: `postgres://user@host/db?table=archive.telemetry`.
//
// prepare() creates the schema and the table when missing (the source's own column types when the
// source is PostgreSQL and the type exists in this database, else bigint, double precision,
// boolean, text, bytea, timestamptz, date, numeric(p,s) or numeric, jsonb), with a primary key on
// the key columns; an existing table must have every column. load() sends a batch with binary
// COPY into a temporary table and moves it with INSERT ... SELECT ... ON CONFLICT DO NOTHING, all
// in one transaction (statement_timeout applies), so loading the same rows twice inserts nothing
// the second time. JSON arrays read from array columns are turned back into arrays (one
// dimension). Documents (manifests) live in `_strata_documents(path text primary key, content
// text)` in the table's schema (put upserts, remove of a missing one is ok, list sorts bytewise).
// Thread-safe: every call borrows its own pooled connection.
#pragma once

#include <memory>

#include "connectors/table_target.h"
#include "core/uri.h"

namespace strata {

// Checks the URI (scheme, options, ?table=); connects lazily.
Result<std::unique_ptr<TableTarget>> open_postgres_table_target(const Uri& uri);

}  // namespace strata
