// A MySQL/MariaDB table as a cold target: `mysql://user@host:port/db?table=archive_db.telemetry`
// (the table may name another database; it and the database are created when missing).
//
// prepare() creates the table with the source's own column types when the source is MySQL too
// (Column::source_type), else the MySQL type for each Strata type (mysql_types.h), a primary key
// on the key columns, utf8mb4 with a binary collation (so no two keys the source kept apart are
// merged). load() inserts a batch in one transaction as multi-row INSERT ... ON DUPLICATE KEY
// UPDATE k = k statements of a few MB (a row whose key is there already is left as it is, and a
// value the column cannot hold is an error, never a silent truncation); it returns the rows
// inserted. Documents (shard manifests) live in `_strata_documents` in the table's database.
// Thread-safe: each call borrows its own connection.
#pragma once

#include <memory>

#include "connectors/table_target.h"
#include "core/uri.h"

namespace strata {

// Checks the URI's form; connects lazily (${ENV} expanded then).
Result<std::unique_ptr<TableTarget>> open_mysql_table_target(const Uri& uri);

}  // namespace strata
