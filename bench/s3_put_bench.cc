// Uploads one local file to an S3 target through Strata's part upload path (what an archive run
// does with each part it writes) and prints "bytes seconds". For bench/s3_and_restore.
//
//   s3_put_bench FILE s3://bucket/prefix?endpoint=...&addressing=path KEY
#include <chrono>
#include <cstdio>

#include "connectors/s3/s3_target.h"
#include "core/uri.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s FILE S3_TARGET_URI KEY\n", argv[0]);
    return 2;
  }
  auto uri = strata::parse_uri(argv[2]);
  if (!uri.is_ok()) {
    std::fprintf(stderr, "%s\n", uri.status().to_string().c_str());
    return 2;
  }
  auto target = strata::open_s3_target(*uri, ".");
  if (!target.is_ok()) {
    std::fprintf(stderr, "%s\n", target.status().to_string().c_str());
    return 1;
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto bytes = strata::s3_upload_file(**target, argv[1], argv[3]);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!bytes.is_ok()) {
    std::fprintf(stderr, "%s\n", bytes.status().to_string().c_str());
    return 1;
  }
  std::printf("%llu %.3f\n", static_cast<unsigned long long>(*bytes), secs);
  return 0;
}
