// The object-storage target: `s3://bucket/prefix`, on AWS or any S3-compatible store.
//
//   s3://bucket/prefix?region=eu-west-1&endpoint=http://127.0.0.1:9000&addressing=path
//                     &profile=archive&part_size_mb=16
//
// Credentials, region and endpoint come from the URI options or the standard AWS places (see
// resolve_config in s3_client.h); secrets never appear in describe() or in messages. ${ENV}
// references in the bucket, prefix and options are expanded when the target is opened.
//
// Parts: bytes are hashed (sha256) as the format writer produces them. A part that fits in one
// part size (part_size_mb, 5-64 MiB, default 16) goes as a single PUT at commit; a larger one
// streams as a multipart upload, each full buffer uploaded by a background thread while the
// writer fills the next, at most 2 buffers queued or in flight (memory: 3 x part size). commit()
// completes the upload, then HEADs the object and checks its size and ETag. abort(), or dropping
// the writer without commit, aborts the upload: S3 shows an object only once complete, so
// nothing partial is ever visible. remove_incomplete() aborts uploads a killed process left
// (ListMultipartUploads under the directory's key prefix).
//
// open() returns a ByteSource doing ranged GETs through a 4 MiB read-ahead buffer, pinned to the
// object's ETag so a replaced object is an error rather than mixed bytes. Thread-safe: every
// call works on its own objects; the client is shared.
#pragma once

#include <memory>
#include <string>

#include "connectors/target.h"
#include "core/uri.h"

namespace strata {

Result<std::unique_ptr<Target>> open_s3_target(const Uri& uri, const std::string& base_dir);

// Streams the local file `local` to `path` under an S3 target through the path parts take (one
// PUT up to the part size, else a multipart upload fed to the background uploader), then checks
// the stored size and ETag. Returns the bytes stored. Used by bench/s3_and_restore.
Result<uint64_t> s3_upload_file(Target& target, const std::string& local, const std::string& path);

}  // namespace strata
