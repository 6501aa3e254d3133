// The local-filesystem target: `file://PATH` or a bare path (relative to the base directory
// unless absolute; ${ENV} references expanded when opened).
//
// Part files are written to a hidden temp file in their final directory (".<name>.<unique>.tmp",
// skipped by list()), hashed while written, fsynced, then renamed into place and the directory
// fsynced, so a reader sees either nothing or the complete file. A writer dropped without
// commit() removes its temp file. A full disk is the permanent "disk is full" error from
// core/fs.h naming the part. Thread-safe: every call works on its own files.
#pragma once

#include <memory>
#include <string>

#include "connectors/target.h"
#include "core/uri.h"

namespace strata {

Result<std::unique_ptr<Target>> open_file_target(const Uri& uri, const std::string& base_dir);

}  // namespace strata
