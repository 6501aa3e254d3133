#include "functions/manifest.h"

namespace strata {

using nlohmann::json;

json ShardManifest::to_json() const {
  json files_json = json::array();
  for (const ManifestFile& f : files) {
    json fj = {{"path", f.path},
               {"format", f.format},
               {"compression", f.compression},
               {"partition", f.partition},
               {"rows", f.rows},
               {"bytes", f.bytes},
               {"sha256", f.sha256},
               {"checksum", f.checksum},
               {"key_min", value_to_json(f.key_min)},
               {"key_max", value_to_json(f.key_max)}};
    fj["time_min"] = f.time_min ? json(*f.time_min) : json(nullptr);
    fj["time_max"] = f.time_max ? json(*f.time_max) : json(nullptr);
    if (f.time_min) fj["time_min_text"] = format_timestamp(*f.time_min);
    if (f.time_max) fj["time_max_text"] = format_timestamp(*f.time_max);
    files_json.push_back(std::move(fj));
  }
  return json{{"version", version},
              {"task_id", task_id},
              {"shard", shard},
              {"dataset", dataset},
              {"source", source},
              {"table", table},
              {"key_columns", key_columns},
              {"time_column", time_column},
              {"predicate", predicate},
              {"range", {{"lo", value_to_json(range.lo)}, {"hi", value_to_json(range.hi)}}},
              {"schema", schema_to_json(schema)},
              {"files", files_json},
              {"rows", rows},
              {"checksum", checksum},
              {"committed_at", committed_at},
              {"expired_files", expired_files},
              {"expired_rows", expired_rows}};
}

Result<ShardManifest> ShardManifest::from_json(const json& j) {
  if (!j.is_object()) return Status::permanent("manifest is not a JSON object");
  try {
    ShardManifest m;
    m.version = j.at("version").get<int>();
    if (m.version != 1) {
      return Status::permanent("manifest version " + std::to_string(m.version) +
                               " is newer than this strata understands (upgrade strata)");
    }
    m.task_id = j.at("task_id").get<std::string>();
    m.shard = j.at("shard").get<int>();
    m.dataset = j.at("dataset").get<std::string>();
    m.source = j.value("source", "");
    m.table = j.value("table", "");
    m.key_columns = j.at("key_columns").get<std::vector<std::string>>();
    m.time_column = j.value("time_column", "");
    m.predicate = j.value("predicate", json::object());
    m.range.lo = value_from_json(j.at("range").at("lo"));
    m.range.hi = value_from_json(j.at("range").at("hi"));
    STRATA_ASSIGN_OR_RETURN(m.schema, schema_from_json(j.at("schema")));
    for (const json& fj : j.at("files")) {
      ManifestFile f;
      f.path = fj.at("path").get<std::string>();
      f.format = fj.at("format").get<std::string>();
      f.compression = fj.value("compression", "none");
      f.partition = fj.value("partition", "");
      f.rows = fj.at("rows").get<uint64_t>();
      f.bytes = fj.at("bytes").get<uint64_t>();
      f.sha256 = fj.at("sha256").get<std::string>();
      f.checksum = fj.at("checksum").get<std::string>();
      f.key_min = value_from_json(fj.value("key_min", json()));
      f.key_max = value_from_json(fj.value("key_max", json()));
      if (fj.contains("time_min") && fj["time_min"].is_number())
        f.time_min = fj["time_min"].get<int64_t>();
      if (fj.contains("time_max") && fj["time_max"].is_number())
        f.time_max = fj["time_max"].get<int64_t>();
      m.files.push_back(std::move(f));
    }
    m.rows = j.at("rows").get<uint64_t>();
    m.checksum = j.at("checksum").get<std::string>();
    m.committed_at = j.value("committed_at", int64_t{0});
    m.expired_files = j.value("expired_files", std::vector<std::string>{});
    m.expired_rows = j.value("expired_rows", uint64_t{0});
    return m;
  } catch (const json::exception& e) {
    return Status::permanent(std::string("malformed manifest: ") + e.what());
  }
}

std::string manifests_prefix(const std::string& dataset) { return dataset + "/_strata/manifests/"; }

std::string manifest_path(const std::string& dataset, const std::string& task_id, int shard) {
  return manifests_prefix(dataset) + task_id + "/" + std::to_string(shard) + ".json";
}

std::string pending_path(const std::string& dataset, const std::string& task_id, int shard) {
  return dataset + "/_strata/pending/" + task_id + "/" + std::to_string(shard) + ".json";
}

Result<std::optional<ShardManifest>> load_manifest(Target& target, const std::string& dataset,
                                                   const std::string& task_id, int shard) {
  std::string path = manifest_path(dataset, task_id, shard);
  STRATA_ASSIGN_OR_RETURN(std::optional<std::string> text, target.get(path));
  if (!text) return std::optional<ShardManifest>();
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded()) {
    return Status::permanent(target.describe() + "/" + path + ": manifest is not valid JSON");
  }
  auto m = ShardManifest::from_json(j);
  if (!m.is_ok()) return m.status().with_context(target.describe() + "/" + path);
  return std::optional<ShardManifest>(std::move(m).value());
}

Result<std::vector<ShardManifest>> list_manifests(Target& target) {
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> paths, target.list(""));
  std::vector<ShardManifest> out;
  for (const std::string& p : paths) {
    size_t at = p.find("/_strata/manifests/");
    if (at == std::string::npos || p.size() < 5 || p.substr(p.size() - 5) != ".json") continue;
    STRATA_ASSIGN_OR_RETURN(std::optional<std::string> text, target.get(p));
    if (!text) continue;
    json j = json::parse(*text, nullptr, false);
    if (j.is_discarded()) {
      return Status::permanent(target.describe() + "/" + p + ": manifest is not valid JSON");
    }
    auto m = ShardManifest::from_json(j);
    if (!m.is_ok()) return m.status().with_context(target.describe() + "/" + p);
    out.push_back(std::move(m).value());
  }
  return out;
}

}  // namespace strata
