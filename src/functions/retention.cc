#include "functions/retention.h"

#include <map>
#include <set>

#include "core/checksum.h"
#include "functions/catalog.h"
#include "functions/manifest.h"

namespace strata {

Result<ExpireReport> expire_files(Target& target, const std::string& dataset, int64_t cutoff,
                                  bool dry_run, int64_t now_micros) {
  STRATA_ASSIGN_OR_RETURN(Catalog catalog, load_catalog(target));
  ExpireReport report;
  auto it = catalog.datasets.find(dataset);
  if (it == catalog.datasets.end()) return report;
  // The expiring files, by the shard manifest that lists them.
  std::map<std::pair<std::string, int>, std::set<std::string>> by_shard;
  for (const CatalogFile& f : it->second) {
    if (!f.time_max || *f.time_max >= cutoff) continue;
    report.files.push_back({f.path, f.partition, f.rows, f.bytes, *f.time_max});
    report.rows += f.rows;
    report.bytes += f.bytes;
    by_shard[{f.task_id, f.shard}].insert(f.path);
  }
  if (dry_run || report.files.empty()) return report;

  for (const auto& [shard, paths] : by_shard) {
    STRATA_ASSIGN_OR_RETURN(std::optional<ShardManifest> m,
                            load_manifest(target, dataset, shard.first, shard.second));
    if (m) {
      ShardManifest kept = *m;
      kept.files.clear();
      kept.rows = 0;
      RowChecksum sum;
      for (const ManifestFile& f : m->files) {
        if (paths.count(f.path)) {
          kept.expired_rows += f.rows;
          kept.expired_files.push_back(f.path);
          continue;
        }
        STRATA_ASSIGN_OR_RETURN(RowChecksum c, RowChecksum::parse(f.checksum));
        sum.add(c);
        kept.rows += f.rows;
        kept.files.push_back(f);
      }
      kept.checksum = sum.to_string();
      if (kept.files.size() != m->files.size()) {
        STRATA_TRY(
            target.put(manifest_path(dataset, shard.first, shard.second), kept.to_json().dump(1)));
      }
    }
    for (const std::string& p : paths) STRATA_TRY(target.remove(p));
  }
  std::set<std::string> all;
  for (const ExpiredFile& f : report.files) all.insert(f.path);
  STRATA_TRY(catalog_remove(target, dataset, all, now_micros));
  return report;
}

}  // namespace strata
