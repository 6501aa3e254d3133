// The MySQL/MariaDB source: `mysql://user[:password]@host[:port]/db?...` (also `mariadb://`;
// options in mysql_connection.h). The table may be "db.table" (another database on the server).
//
// describe() maps information_schema columns to Strata types (mysql_types.h) and checks that the
// key columns are the primary key or a unique index's columns, in order, and NOT NULL; a column of
// a type Strata cannot represent must be excluded (SourceSpec::exclude_columns). plan() cuts the
// first key column into bounded shards from index lookups and optimizer estimates, without a table
// scan (integer keys; other keys walk the key index). read() pages by key (keyset, never OFFSET),
// each page a server-side prepared statement fetched unbuffered in the binary protocol straight
// into the Batch (memory: one page's bound buffers).
// delete_keys() deletes in one transaction, re-checking the shard bounds and the predicate.
// replication_lag() asks the replicas named by `replicas=` (or found with SHOW SLAVE HOSTS).
//
// Thread-safe: every read and delete borrows its own connection from a small pool.
#pragma once

#include <memory>

#include "connectors/source.h"
#include "core/uri.h"

namespace strata {

// Checks the URI's form and options; connects lazily (${ENV} expanded then).
Result<std::unique_ptr<Source>> open_mysql_source(const SourceSpec& spec);

namespace mysql {
// The same, for a URI already parsed (unexpanded); `spec.uri` is then used for messages only.
// The cold-table target's as_source() uses it (its URI carries ?table=).
Result<std::unique_ptr<Source>> open_source_at(const SourceSpec& spec, const Uri& uri);
}  // namespace mysql

}  // namespace strata
