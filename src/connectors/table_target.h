// A cold database table as a target (`postgres://host/db?table=archive.telemetry`,
// `mysql://host/db?table=telemetry_2025`), like pt-archiver's --dest: rows are loaded into a table
// created with the source's columns, idempotently by key, and read back through the Source
// interface for verification and purge. Shard manifests live next to the table, in
// `_strata_documents`, so the cold database alone can be verified. Thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/source.h"
#include "core/schema.h"
#include "core/status.h"

namespace strata {

class TableTarget {
 public:
  virtual ~TableTarget() = default;
  // The address with secrets redacted, for messages and manifests.
  virtual std::string describe() const = 0;
  // The table named by the URI's `table` parameter (may be schema-qualified).
  virtual const std::string& table() const = 0;
  // Creates the table (and its schema) if missing, with `schema`'s columns and a primary key on
  // `key_columns`. Column types: the column's `source_type` when `source_kind` is this store's
  // kind, else the store's type for the Strata type. An existing table must have every column
  // (the error names the first missing one and the table).
  virtual Status prepare(const Schema& schema, const std::vector<std::string>& key_columns,
                         const std::string& source_kind) = 0;
  // Inserts the rows of `batch` (columns as in prepare) whose key is not in the table yet, in one
  // transaction; returns the rows inserted. Loading the same batch twice inserts 0 the second time.
  virtual Result<uint64_t> load(const Batch& batch) = 0;
  // The table as a source with the same key and time columns, to read back what a shard loaded
  // with the shard's own predicate.
  virtual Result<std::unique_ptr<Source>> as_source(const SourceSpec& like) = 0;
  // Small documents (manifests): atomic replace; nullopt when missing; paths under a prefix,
  // sorted; remove is ok when the document is missing.
  virtual Status put(const std::string& path, std::string_view content) = 0;
  virtual Result<std::optional<std::string>> get(const std::string& path) = 0;
  virtual Result<std::vector<std::string>> list(const std::string& prefix) = 0;
  virtual Status remove(const std::string& path) = 0;
};

}  // namespace strata
