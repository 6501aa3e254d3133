// A SQLite table as a target (`sqlite://PATH?table=T`): for restores into SQLite, and as a cold
// table. The database file is created if missing (unlike the source, which never creates one);
// the table is created with the archive's columns and a primary key on the key columns; loads are
// INSERT ... ON CONFLICT DO NOTHING in one transaction per batch. Timestamps are stored as ISO
// text "YYYY-MM-DD HH:MM:SS.ffffff" (UTC), dates as "YYYY-MM-DD", decimals as their exact text,
// which the SQLite source reads back as the same values. Documents live in `_strata_documents`.
// Thread-safe (one connection behind a mutex).
#pragma once

#include <memory>

#include "connectors/table_target.h"
#include "core/uri.h"

namespace strata {

Result<std::unique_ptr<TableTarget>> open_sqlite_table_target(const Uri& uri);

}  // namespace strata
