#include "functions/catalog.h"

#include <algorithm>
#include <cstdio>
#include <functional>

namespace strata {

namespace {

using nlohmann::json;

constexpr int kKeepVersions = 5;
constexpr int kMaxAttempts = 100;

std::string version_path(int64_t v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "_strata/catalog/v%010lld.json", static_cast<long long>(v));
  return buf;
}

json opt_time(const std::optional<int64_t>& t) { return t ? json(*t) : json(nullptr); }
std::optional<int64_t> time_from(const json& j) {
  if (j.is_number_integer()) return j.get<int64_t>();
  return std::nullopt;
}

// The versions in the catalog folder, in order.
Result<std::vector<int64_t>> listed_versions(Target& target) {
  std::vector<int64_t> out;
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> paths, target.list("_strata/catalog/"));
  for (const std::string& path : paths) {
    long long n = 0;
    if (std::sscanf(path.c_str(), "_strata/catalog/v%lld.json", &n) == 1 && n > 0) {
      out.push_back(n);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The newest version: the highest listed, then forward while a newer one exists (created since
// the listing). A version pruned between the listing and the read makes it look again; it is
// never taken for an empty catalog (which the next write would build on, dropping every entry).
Result<Catalog> load_newest(Target& target, std::vector<int64_t>* listed = nullptr) {
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    STRATA_ASSIGN_OR_RETURN(std::vector<int64_t> versions, listed_versions(target));
    int64_t v = versions.empty() ? 0 : versions.back();
    if (listed) *listed = versions;
    if (v == 0) return Catalog{};
    STRATA_ASSIGN_OR_RETURN(std::optional<std::string> text, target.get(version_path(v)));
    if (!text) continue;  // pruned since the listing: list again
    for (;;) {
      STRATA_ASSIGN_OR_RETURN(std::optional<std::string> next, target.get(version_path(v + 1)));
      if (!next) break;
      ++v;
      text = std::move(next);
    }
    json j = json::parse(*text, nullptr, false);
    if (j.is_discarded()) {
      return Status::permanent(target.describe() + "/" + version_path(v) + " is not valid JSON");
    }
    STRATA_ASSIGN_OR_RETURN(Catalog c, Catalog::from_json(j));
    c.version = v;
    return c;
  }
  return Status::retryable(target.describe() +
                           ": the catalog's newest version kept disappearing "
                           "while it was read; try again");
}

// Reads the newest version, applies `change` (false: nothing to change) and creates the next
// version. A writer that paused between its read and its write can create a version number that
// pruning had freed, below the newest: a version off the chain, which no reader takes. So after
// each write the newest version is read again and must hold the change (change() finds nothing
// to do); if it does not, the change is applied again on top of it.
Status update(Target& target, int64_t now, const std::function<bool(Catalog&)>& change) {
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    std::vector<int64_t> listed;
    STRATA_ASSIGN_OR_RETURN(Catalog c, load_newest(target, &listed));
    if (!change(c)) return Status::ok();  // nothing to change: the newest holds it
    c.version += 1;
    c.updated_at = now;
    STRATA_ASSIGN_OR_RETURN(bool created,
                            target.put_if_absent(version_path(c.version), c.to_json().dump(1)));
    if (!created) continue;  // another writer took this version: read it and apply again
    // Every listed version but the last few goes, strays off the chain included.
    for (int64_t old : listed) {
      if (old <= c.version - kKeepVersions) (void)target.remove(version_path(old));
    }
  }
  return Status::retryable(target.describe() + ": the catalog changed " +
                           std::to_string(kMaxAttempts) +
                           " times while this update was being written; try again");
}

}  // namespace

json Catalog::to_json() const {
  json ds = json::object();
  for (const auto& [name, files] : datasets) {
    json fs = json::array();
    for (const CatalogFile& f : files) {
      fs.push_back({{"path", f.path},
                    {"partition", f.partition},
                    {"task_id", f.task_id},
                    {"shard", f.shard},
                    {"rows", f.rows},
                    {"bytes", f.bytes},
                    {"time_min", opt_time(f.time_min)},
                    {"time_max", opt_time(f.time_max)},
                    {"committed_at", f.committed_at}});
    }
    ds[name] = {{"files", std::move(fs)}};
  }
  return json{{"version", version}, {"updated_at", updated_at}, {"datasets", std::move(ds)}};
}

Result<Catalog> Catalog::from_json(const json& j) {
  try {
    Catalog c;
    c.version = j.value("version", int64_t{0});
    c.updated_at = j.value("updated_at", int64_t{0});
    for (const auto& [name, d] : j.at("datasets").items()) {
      std::vector<CatalogFile>& files = c.datasets[name];
      for (const json& f : d.at("files")) {
        CatalogFile cf;
        cf.path = f.at("path").get<std::string>();
        cf.partition = f.value("partition", "");
        cf.task_id = f.value("task_id", "");
        cf.shard = f.value("shard", 0);
        cf.rows = f.value("rows", uint64_t{0});
        cf.bytes = f.value("bytes", uint64_t{0});
        cf.time_min = time_from(f.value("time_min", json()));
        cf.time_max = time_from(f.value("time_max", json()));
        cf.committed_at = f.value("committed_at", int64_t{0});
        files.push_back(std::move(cf));
      }
    }
    return c;
  } catch (const std::exception& e) {
    return Status::permanent(std::string("malformed catalog: ") + e.what());
  }
}

Result<Catalog> load_catalog(Target& target) { return load_newest(target); }

Status catalog_add(Target& target, const ShardManifest& m, int64_t now_micros) {
  return update(target, now_micros, [&](Catalog& c) {
    std::vector<CatalogFile>& files = c.datasets[m.dataset];
    auto same_shard = [&](const CatalogFile& f) {
      return f.task_id == m.task_id && f.shard == m.shard;
    };
    size_t listed = static_cast<size_t>(std::count_if(files.begin(), files.end(), same_shard));
    if (listed == m.files.size()) return false;  // already there
    files.erase(std::remove_if(files.begin(), files.end(), same_shard), files.end());
    for (const ManifestFile& mf : m.files) {
      CatalogFile f;
      f.path = mf.path;
      f.partition = mf.partition;
      f.task_id = m.task_id;
      f.shard = m.shard;
      f.rows = mf.rows;
      f.bytes = mf.bytes;
      f.time_min = mf.time_min;
      f.time_max = mf.time_max;
      f.committed_at = m.committed_at;
      files.push_back(std::move(f));
    }
    std::sort(files.begin(), files.end(),
              [](const CatalogFile& a, const CatalogFile& b) { return a.path < b.path; });
    return true;
  });
}

Status catalog_remove(Target& target, const std::string& dataset,
                      const std::set<std::string>& paths, int64_t now_micros) {
  return update(target, now_micros, [&](Catalog& c) {
    auto it = c.datasets.find(dataset);
    if (it == c.datasets.end()) return false;
    size_t before = it->second.size();
    std::erase_if(it->second, [&](const CatalogFile& f) { return paths.count(f.path) > 0; });
    if (it->second.empty()) c.datasets.erase(it);
    return c.datasets.count(dataset) == 0 || it->second.size() != before;
  });
}

}  // namespace strata
