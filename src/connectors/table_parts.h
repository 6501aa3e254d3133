// A cold database table seen as a file target, so the shard commit protocol (pending record,
// parts, re-read verification, manifests) and purge work on it unchanged.
//
// A "part" of a table target is the set of rows of one shard attempt: the rows of the cold table
// in the shard's key range that match the task's predicate. Writing a part loads its batches into
// the table (idempotently by key); its document (at the part's path, in the table's document
// store) records the predicate, range and key. Reading a part renders those rows from the table,
// in key order, as uncompressed NDJSON in a temporary file: that rendering is what the part's
// sha256 and row checksum cover, so verification re-reads the cold table itself. Removing an
// uncommitted part deletes its rows from the table, so a retried shard starts clean.
#pragma once

#include <memory>

#include "connectors/table_target.h"
#include "connectors/target.h"

namespace strata {

// Part-file metadata (set by archive on every part) that the table adapter needs.
inline constexpr const char* kPartMetaSource = "strata.source";           // redacted source URI
inline constexpr const char* kPartMetaPredicate = "strata.predicate";     // predicate JSON
inline constexpr const char* kPartMetaRange = "strata.range";             // {"lo":..,"hi":..}
inline constexpr const char* kPartMetaKeyColumns = "strata.key_columns";  // JSON array
inline constexpr const char* kPartMetaTimeColumn = "strata.time_column";

std::unique_ptr<Target> table_target_as_files(std::unique_ptr<TableTarget> table);

}  // namespace strata
