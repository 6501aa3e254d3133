// Read-ahead for any BatchReader: a background thread reads the next batch from the store while
// the caller encodes and writes the current one, so reading and writing overlap instead of taking
// turns (a COPY stream or a result set is otherwise idle while the writer compresses). Holds at
// most `depth` batches beyond the caller's. Errors reach the caller in order, after the batches
// read before them. Destroying the reader stops the thread after its current read.
#pragma once

#include <memory>

#include "connectors/source.h"

namespace strata {

std::unique_ptr<BatchReader> prefetching(std::unique_ptr<BatchReader> inner,
                                         std::shared_ptr<const Schema> schema, size_t depth = 1);

}  // namespace strata
