#include "functions/verify.h"

#include <nlohmann/json.hpp>
#include <set>

#include "core/checksum.h"

namespace strata {

Result<std::string> sha256_of(Target& target, const std::string& path) {
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<ByteSource> src, target.open(path));
  STRATA_ASSIGN_OR_RETURN(uint64_t size, src->size());
  Sha256 h;
  std::string buf(1 << 20, '\0');
  for (uint64_t off = 0; off < size;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - off));
    STRATA_TRY(src->read_at(off, n, buf.data()));
    h.update(buf.data(), n);
    off += n;
  }
  return h.hex_digest();
}

Result<std::unique_ptr<FormatReader>> open_file_reader(
    Target& target, const ShardManifest& manifest, const ManifestFile& file,
    std::unique_ptr<ByteSource>& src, std::vector<std::string> columns,
    std::function<bool(const std::vector<ColumnBounds>&)> keep_group) {
  STRATA_ASSIGN_OR_RETURN(src, target.open(file.path));
  STRATA_ASSIGN_OR_RETURN(FormatSpec spec, format_spec_from_path(file.path));
  ReadOptions opts;
  opts.schema = std::make_shared<Schema>(manifest.schema);
  opts.columns = std::move(columns);
  opts.keep_group = std::move(keep_group);
  return open_format_reader(spec, src.get(), opts);
}

Status verify_file(Target& target, const ShardManifest& manifest, const ManifestFile& file,
                   bool deep, const Pace& pace) {
  const std::string name = target.describe() + "/" + file.path;
  if (!deep) {
    auto src = target.open(file.path);
    if (!src.is_ok()) return src.status().with_context("verify " + name);
    auto size = (*src)->size();
    if (!size.is_ok()) return size.status().with_context("verify " + name);
    if (*size != file.bytes) {
      return Status::permanent("verify " + name + ": holds " + std::to_string(*size) +
                               " bytes, manifest says " + std::to_string(file.bytes) +
                               " (the file changed or is truncated)");
    }
    return Status::ok();
  }
  auto sha = sha256_of(target, file.path);
  if (!sha.is_ok()) return sha.status().with_context("verify " + name);
  if (*sha != file.sha256) {
    return Status::permanent("verify " + name + ": sha256 is " + *sha + ", manifest says " +
                             file.sha256 + " (the file changed or is corrupt)");
  }
  std::unique_ptr<ByteSource> src;
  auto reader = open_file_reader(target, manifest, file, src, {});
  if (!reader.is_ok()) return reader.status().with_context("verify " + name);
  Batch batch((*reader)->schema_ptr());
  RowChecksum sum;
  for (;;) {
    const auto started = std::chrono::steady_clock::now();
    auto more = (*reader)->next(batch, 8192);
    if (!more.is_ok()) return more.status().with_context("verify " + name);
    if (!*more) break;
    sum.add_batch(batch);
    if (pace) pace(std::chrono::steady_clock::now() - started);
  }
  if (sum.rows() != file.rows) {
    return Status::permanent("verify " + name + ": holds " + std::to_string(sum.rows()) +
                             " rows, manifest says " + std::to_string(file.rows));
  }
  if (sum.to_string() != file.checksum) {
    return Status::permanent("verify " + name + ": row checksum " + sum.to_string() +
                             " differs from the manifest's " + file.checksum);
  }
  return Status::ok();
}

Status read_columns(Target& target, const ShardManifest& manifest, const ManifestFile& file,
                    const std::vector<std::string>& columns, size_t batch_rows,
                    const std::function<Status(const Batch&)>& on_batch) {
  std::unique_ptr<ByteSource> src;
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<FormatReader> reader,
                          open_file_reader(target, manifest, file, src, columns));
  Batch batch(reader->schema_ptr());
  uint64_t rows = 0;
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(bool more, reader->next(batch, batch_rows));
    if (!more) break;
    rows += batch.num_rows();
    STRATA_TRY(on_batch(batch));
  }
  if (rows != file.rows) {
    return Status::permanent(target.describe() + "/" + file.path + ": holds " +
                             std::to_string(rows) + " rows, manifest says " +
                             std::to_string(file.rows));
  }
  return Status::ok();
}

namespace {

// Data files outside every manifest: claimed by a pending record (unfinished), or stray.
Status find_unlisted_files(Target& target, const std::vector<ShardManifest>& manifests,
                           VerifyReport& report) {
  std::set<std::string> listed, pending;
  for (const ShardManifest& m : manifests) {
    for (const ManifestFile& f : m.files) listed.insert(f.path);
  }
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> paths, target.list(""));
  for (const std::string& p : paths) {
    if (p.find("/_strata/pending/") == std::string::npos) continue;
    STRATA_ASSIGN_OR_RETURN(std::optional<std::string> text, target.get(p));
    auto j = nlohmann::json::parse(text.value_or(""), nullptr, false);
    if (!j.is_object() || !j.contains("files") || !j["files"].is_array()) continue;
    for (const auto& f : j["files"]) {
      if (f.is_string()) pending.insert(f.get<std::string>());
    }
  }
  for (const std::string& p : paths) {
    if (p.find("_strata/") != std::string::npos || listed.count(p)) continue;
    if (!format_spec_from_path(p).is_ok()) continue;  // not a data file of ours
    if (pending.count(p)) {
      report.unfinished.push_back(target.describe() + "/" + p);
    } else {
      report.problems.push_back(target.describe() + "/" + p +
                                ": a data file that no manifest lists (not archived by a "
                                "committed shard; a query over the folder would count it)");
    }
  }
  return Status::ok();
}

}  // namespace

Result<VerifyReport> verify_target(Target& target, bool deep,
                                   const std::function<void(const VerifyReport&)>& progress) {
  STRATA_ASSIGN_OR_RETURN(std::vector<ShardManifest> manifests, list_manifests(target));
  VerifyReport report;
  for (const ShardManifest& m : manifests) {
    ++report.manifests;
    uint64_t manifest_rows = 0;
    for (const ManifestFile& f : m.files) {
      ++report.files;
      Status s = verify_file(target, m, f, deep);
      if (!s.is_ok()) {
        report.problems.push_back(s.message());
      } else {
        report.rows += f.rows;
        report.bytes += f.bytes;
      }
      manifest_rows += f.rows;
      if (progress) progress(report);
    }
    if (manifest_rows != m.rows) {
      report.problems.push_back("manifest " + manifest_path(m.dataset, m.task_id, m.shard) +
                                ": files hold " + std::to_string(manifest_rows) +
                                " rows but the manifest total says " + std::to_string(m.rows));
    }
  }
  STRATA_TRY(find_unlisted_files(target, manifests, report));
  return report;
}

}  // namespace strata
