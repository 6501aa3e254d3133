// The engine behind config_spec.h: the mapping walk, the scalar readers with their messages, the
// secret and ${NAME} checks, JSON-to-YAML conversion and the Markdown reference.
#include "policy/config_spec.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "core/uri.h"

namespace strata::config {

namespace {

std::string join_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// How a node looks in a message: "'two'", "a mapping", "a list", "nothing".
std::string describe(const YAML::Node& n, bool sensitive = false) {
  if (n.IsMap()) return "a mapping";
  if (n.IsSequence()) return "a list";
  if (!n.IsScalar()) return "nothing";
  if (sensitive) return "a value that is not shown (sensitive)";
  std::string text = n.Scalar();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return "'" + text + "'";
}

std::string format_number(double v) {
  if (std::floor(v) == v && std::fabs(v) < 1e15) {
    return std::to_string(static_cast<int64_t>(v));
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

Status type_error(const YAML::Node& v, const FieldSpec& f, const Site& s, const ParseContext& ctx,
                  const std::string& expected) {
  return ctx.error(s.pos, s.path + " must be " + expected + ", got " + describe(v, f.sensitive));
}

template <typename N>
Status check_range(N value, const FieldSpec& f, const Site& s, const ParseContext& ctx) {
  const double d = static_cast<double>(value);
  if ((f.min && d < *f.min) || (f.max && d > *f.max)) {
    std::string bound;
    if (f.min && f.max) {
      bound = "between " + format_number(*f.min) + " and " + format_number(*f.max);
    } else if (f.min) {
      bound = "at least " + format_number(*f.min);
    } else {
      bound = "at most " + format_number(*f.max);
    }
    std::string got = f.sensitive ? "" : ", got " + format_number(d);
    return ctx.error(s.pos, s.path + " must be " + bound + got);
  }
  return Status::ok();
}

bool valid_env_name(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// True if `text` is exactly one ${NAME} reference.
bool is_single_env_ref(std::string_view text) {
  return text.size() > 3 && text.substr(0, 2) == "${" && text.back() == '}' &&
         valid_env_name(text.substr(2, text.size() - 3));
}

// Checks every ${NAME} in `text` is well formed and, if the context asks, set. "$${" is a
// literal "${". Messages name the variable, never the text around it.
Status check_env_refs(const std::string& text, const Site& s, const ParseContext& ctx) {
  size_t p = 0;
  while ((p = text.find('$', p)) != std::string::npos) {
    if (text.compare(p, 3, "$${") == 0) {
      p += 3;
      continue;
    }
    if (text.compare(p, 2, "${") != 0) {
      ++p;
      continue;
    }
    size_t close = text.find('}', p + 2);
    if (close == std::string::npos) {
      return ctx.error(s.pos, s.path + " has an unclosed '${' (write ${NAME})");
    }
    std::string name = text.substr(p + 2, close - p - 2);
    if (!valid_env_name(name)) {
      return ctx.error(s.pos, s.path +
                                  " has an invalid environment reference (write ${NAME}; names "
                                  "are letters, digits and '_')");
    }
    if (ctx.check_env() && !ctx.env_is_set(name)) {
      return ctx.error(s.pos, s.path + " references environment variable " + name +
                                  ", which is not set (export " + name + " before running strata)");
    }
    p = close + 1;
  }
  return Status::ok();
}

// The variable we suggest for a password of `scheme`.
std::string password_variable(const std::string& scheme) {
  if (scheme == "postgres" || scheme == "postgresql") return "PGPASSWORD";
  if (scheme == "mysql" || scheme == "mariadb") return "MYSQL_PASSWORD";
  std::string name;
  for (char c : scheme) {
    name += std::isalnum(static_cast<unsigned char>(c))
                ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
                : '_';
  }
  return name + "_PASSWORD";
}

bool is_secret_query_key(const std::string& key) {
  const std::string k = lower(key);
  return k.find("password") != std::string::npos || k.find("secret") != std::string::npos ||
         k.find("token") != std::string::npos;
}

// A URI must not hold a literal secret: a password in user:password@ or a password/secret/token
// query value must be exactly one ${NAME}. Its syntax is checked when it has no ${NAME} (the
// value of a reference may be what makes it valid). Messages never show the URI if it may hold
// user info.
Status check_uri(const std::string& text, const Site& s, const ParseContext& ctx) {
  size_t sep = text.find("://");
  if (sep != std::string::npos) {
    const std::string scheme = lower(text.substr(0, sep));
    std::string rest = text.substr(sep + 3);
    std::string query;
    if (size_t q = rest.find('?'); q != std::string::npos) {
      query = rest.substr(q + 1);
      rest.resize(q);
    }
    if (scheme != "file" && scheme != "sqlite") {
      const std::string authority = rest.substr(0, rest.find('/'));
      if (size_t at = authority.rfind('@'); at != std::string::npos) {
        const std::string userinfo = authority.substr(0, at);
        if (size_t colon = userinfo.find(':'); colon != std::string::npos) {
          const std::string password = userinfo.substr(colon + 1);
          if (!password.empty() && !is_single_env_ref(password)) {
            return ctx.error(s.pos, s.path +
                                        " contains a literal password; put it in an environment "
                                        "variable and write ${" +
                                        password_variable(scheme) + "} instead");
          }
        }
      }
    }
    size_t p = 0;
    while (p < query.size()) {
      size_t amp = std::min(query.find('&', p), query.size());
      const std::string kv = query.substr(p, amp - p);
      size_t eq = kv.find('=');
      if (eq != std::string::npos && is_secret_query_key(kv.substr(0, eq))) {
        const std::string value = kv.substr(eq + 1);
        if (!value.empty() && !is_single_env_ref(value)) {
          const std::string key = kv.substr(0, eq);
          return ctx.error(s.pos, s.path + " contains a literal secret in its query parameter '" +
                                      key + "'; put it in an environment variable and write " +
                                      key + "=${NAME} instead");
        }
      }
      p = amp + 1;
    }
  }
  STRATA_TRY(check_env_refs(text, s, ctx));
  if (text.find("${") == std::string::npos) {
    Status st = Status::ok();
    try {
      auto parsed = parse_uri(text);
      if (!parsed.is_ok()) st = parsed.status();
    } catch (const std::exception&) {  // std::stoi on an odd port
      st = Status::permanent("invalid port");
    }
    if (!st.is_ok()) {
      if (text.find('@') != std::string::npos) {
        return ctx.error(s.pos, s.path +
                                    " is not a valid URI (expected "
                                    "scheme://[user[:${PASSWORD}]@]host[:port]/path)");
      }
      return ctx.error(s.pos, s.path + " is not a valid URI: " + st.message());
    }
  }
  return Status::ok();
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string escape_cell(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c == '\n' ? ' ' : c;
  }
  return out;
}

std::string code(const std::string& text) { return "`" + text + "`"; }

void render_section(const SectionSpecBase& spec, const std::string& path, int level,
                    std::string& out) {
  out += std::string(static_cast<size_t>(level), '#') + " " +
         (path.empty() ? std::string("Top level") : code(path)) + "\n\n";
  if (!spec.doc().empty()) out += spec.doc() + "\n\n";
  out += "| key | type | default | required | description |\n";
  out += "|---|---|---|---|---|\n";
  for (const auto& f : spec.fields()) {
    std::string key = code(f->name);
    if (!f->alias.empty()) key += " (or " + code(f->alias) + ")";
    std::string type = field_type_name(f->type);
    if (f->type == FieldType::kSection) type = "section " + code(join_path(path, f->name));
    if (f->type == FieldType::kSectionList)
      type = "list of " + code(join_path(path, f->name) + "[]");
    std::string def;
    if (!f->default_text.empty()) {
      def =
          f->default_text.find(' ') == std::string::npos ? code(f->default_text) : f->default_text;
    }
    std::string desc = f->doc;
    if (!f->allowed.empty()) {
      std::vector<std::string> quoted;
      for (const auto& a : f->allowed) quoted.push_back(code(a));
      desc += " One of: " + join(quoted, ", ") + ".";
    }
    if (f->min && f->max) {
      desc += " From " + format_number(*f->min) + " to " + format_number(*f->max) + ".";
    } else if (f->min) {
      desc += " At least " + format_number(*f->min) + ".";
    } else if (f->max) {
      desc += " At most " + format_number(*f->max) + ".";
    }
    if (f->type == FieldType::kSectionList) {
      desc += " A single mapping is accepted as a list of one";
      desc += f->alias.empty() ? "." : " (usually written as " + code(f->alias) + ").";
    }
    if (f->type == FieldType::kUri && f->sensitive) {
      desc += " Sensitive: a password must be written as a `${NAME}` environment reference.";
    } else if (f->sensitive) {
      desc += " Sensitive: must be a `${NAME}` environment reference.";
    }
    if (f->env) {
      desc +=
          " `${NAME}` references are kept as written and expanded on connect; the variables "
          "must be set.";
    }
    out += "| " + escape_cell(key) + " | " + escape_cell(type) + " | " + escape_cell(def) + " | " +
           (f->required ? "yes" : "") + " | " + escape_cell(desc) + " |\n";
  }
  out += "\n";
  for (const auto& f : spec.fields()) {
    if (f->section == nullptr) continue;
    std::string child = join_path(path, f->name);
    if (f->type == FieldType::kSectionList) child += "[]";
    render_section(*f->section, child, level, out);
  }
}

}  // namespace

const char* field_type_name(FieldType type) {
  switch (type) {
    case FieldType::kString:
      return "string";
    case FieldType::kUri:
      return "uri";
    case FieldType::kInt:
      return "int";
    case FieldType::kFloat:
      return "float";
    case FieldType::kBool:
      return "bool";
    case FieldType::kDuration:
      return "duration";
    case FieldType::kSection:
      return "section";
    case FieldType::kSectionList:
      return "list";
  }
  return "unknown";
}

Position Position::of(const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0) return {};
  return Position{mark.line + 1, mark.column + 1};
}

ParseContext::ParseContext(std::string origin)
    : origin_(std::move(origin)),
      env_is_set_([](const std::string& name) { return std::getenv(name.c_str()) != nullptr; }) {}

void ParseContext::set_env_lookup(std::function<bool(const std::string& name)> is_set) {
  env_is_set_ = std::move(is_set);
}

Status ParseContext::error(Position pos, const std::string& message) const {
  std::string prefix = origin_;
  if (pos.known()) {
    prefix += ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column);
  }
  if (!prefix.empty()) prefix += ": ";
  return Status::permanent(prefix + message);
}

Position ParseContext::position(const std::string& path) const {
  std::string p = path;
  for (;;) {
    if (auto it = positions_.find(p); it != positions_.end()) return it->second;
    if (p.empty()) return {};
    size_t cut = p.find_last_of(".[");
    p = cut == std::string::npos ? "" : p.substr(0, cut);
  }
}

FieldSpec& SectionSpecBase::add(std::string name, FieldType type, std::string doc) {
  auto f = std::make_unique<FieldSpec>();
  f->name = std::move(name);
  f->type = type;
  f->doc = std::move(doc);
  fields_.push_back(std::move(f));
  return *fields_.back();
}

Status SectionSpecBase::walk(const YAML::Node& node, const Site& site, const std::string& canonical,
                             ParseContext& ctx, const BindFn& bind) const {
  try {
    return walk_mapping(node, site, canonical, ctx, bind);
  } catch (const YAML::Exception& e) {  // none expected from the calls we make; never escape
    return ctx.error(Position::of(e.mark), "invalid YAML: " + e.msg);
  }
}

Status SectionSpecBase::walk_mapping(const YAML::Node& node, const Site& site,
                                     const std::string& canonical, ParseContext& ctx,
                                     const BindFn& bind) const {
  const std::string display = site.path.empty() ? name_ : site.path;
  if (!ctx.present(canonical)) ctx.record(canonical, site.pos);
  if (node.IsDefined() && !node.IsNull() && !node.IsMap()) {
    Position pos = Position::of(node.Mark());
    return ctx.error(pos.known() ? pos : site.pos,
                     display + " must be a mapping of keys, got " + describe(node));
  }
  std::map<std::string, std::pair<std::string, Position>> seen;  // field -> (key as written, pos)
  if (node.IsMap()) {
    for (const auto& entry : node) {
      const YAML::Node k = entry.first;
      const YAML::Node v = entry.second;
      Position kpos = Position::of(k.Mark());
      if (!kpos.known()) kpos = site.pos;
      if (!k.IsScalar()) {
        return ctx.error(kpos, "keys in " + display + " must be names, got " + describe(k));
      }
      const std::string& key = k.Scalar();
      size_t index = fields_.size();
      std::vector<std::string> names;
      std::vector<std::string> candidates;
      for (size_t i = 0; i < fields_.size(); ++i) {
        if (fields_[i]->name == key || (!fields_[i]->alias.empty() && fields_[i]->alias == key)) {
          index = i;
        }
        names.push_back(fields_[i]->name);
        candidates.push_back(fields_[i]->name);
        if (!fields_[i]->alias.empty()) candidates.push_back(fields_[i]->alias);
      }
      if (index == fields_.size()) {
        std::string hint;
        if (auto guess = did_you_mean(key, candidates)) hint = "did you mean '" + *guess + "'? ";
        return ctx.error(kpos, "unknown key '" + key + "' in " + display + " (" + hint +
                                   "valid keys: " + join(names, ", ") + ")");
      }
      const FieldSpec& f = *fields_[index];
      if (auto prev = seen.find(f.name); prev != seen.end()) {
        const auto& [prev_key, prev_pos] = prev->second;
        std::string first =
            prev_pos.known() ? " (first at line " + std::to_string(prev_pos.line) + ")" : "";
        if (prev_key == key) {
          return ctx.error(kpos, "duplicate key '" + key + "' in " + display + first);
        }
        return ctx.error(kpos, "'" + key + "' and '" + prev_key + "' both given in " + display +
                                   first + "; write only '" + f.name + "'");
      }
      seen[f.name] = {key, kpos};

      const bool container = f.type == FieldType::kSection || f.type == FieldType::kSectionList;
      Site fsite{join_path(site.path, key), Position::of(v.Mark())};
      if (container || v.IsNull() || !fsite.pos.known()) fsite.pos = kpos;
      const std::string fcanon = join_path(canonical, f.name);
      if (v.IsNull() && f.type != FieldType::kSection) {
        if (f.required) return ctx.error(kpos, fsite.path + " is empty; it is required");
        continue;  // keep the default
      }
      ctx.record(fcanon, fsite.pos);
      STRATA_TRY(bind(index, v, fsite, fcanon));
    }
  }
  for (const auto& f : fields_) {
    if (f->required && seen.count(f->name) == 0) {
      return ctx.error(site.pos, display + " is missing required key '" + f->name + "'");
    }
  }
  return Status::ok();
}

namespace detail {

Status read_value(const YAML::Node& v, const FieldSpec& f, const Site& s, ParseContext& ctx,
                  std::string& out) {
  if (!v.IsScalar()) return type_error(v, f, s, ctx, "a string");
  const std::string& text = v.Scalar();
  if (f.required && text.empty()) return ctx.error(s.pos, s.path + " must not be empty");
  if (f.type == FieldType::kUri) {
    STRATA_TRY(check_uri(text, s, ctx));
  } else if (f.sensitive && !text.empty() && !is_single_env_ref(text)) {
    return ctx.error(s.pos, s.path +
                                " is sensitive; put the value in an environment variable and "
                                "write ${NAME} instead");
  }
  if (f.env || f.sensitive) STRATA_TRY(check_env_refs(text, s, ctx));
  if (!f.allowed.empty() &&
      std::find(f.allowed.begin(), f.allowed.end(), text) == f.allowed.end()) {
    std::string msg = s.path + " must be one of " + join(f.allowed, ", ");
    if (!f.sensitive) {
      msg += ", got '" + text + "'";
      if (auto guess = did_you_mean(text, f.allowed)) msg += " (did you mean '" + *guess + "'?)";
    }
    return ctx.error(s.pos, msg);
  }
  if (f.check) {
    if (auto problem = f.check(text)) return ctx.error(s.pos, s.path + " " + *problem);
  }
  out = text;
  return Status::ok();
}

Status read_value(const YAML::Node& v, const FieldSpec& f, const Site& s, ParseContext& ctx,
                  int64_t& out) {
  if (!v.IsScalar()) return type_error(v, f, s, ctx, "an integer");
  std::string_view text = v.Scalar();
  if (!text.empty() && text[0] == '+') text.remove_prefix(1);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return type_error(v, f, s, ctx, "an integer");
  }
  STRATA_TRY(check_range(value, f, s, ctx));
  out = value;
  return Status::ok();
}

Status read_value(const YAML::Node& v, const FieldSpec& f, const Site& s, ParseContext& ctx,
                  int& out) {
  int64_t value = 0;
  STRATA_TRY(read_value(v, f, s, ctx, value));
  if (value < std::numeric_limits<int>::min() || value > std::numeric_limits<int>::max()) {
    FieldSpec bounded = f;
    bounded.min = std::numeric_limits<int>::min();
    bounded.max = std::numeric_limits<int>::max();
    return check_range(value, bounded, s, ctx);
  }
  out = static_cast<int>(value);
  return Status::ok();
}

Status read_value(const YAML::Node& v, const FieldSpec& f, const Site& s, ParseContext& ctx,
                  double& out) {
  if (!v.IsScalar()) return type_error(v, f, s, ctx, "a number");
  std::string_view text = v.Scalar();
  if (!text.empty() && text[0] == '+') text.remove_prefix(1);
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
      !std::isfinite(value)) {
    return type_error(v, f, s, ctx, "a number");
  }
  STRATA_TRY(check_range(value, f, s, ctx));
  out = value;
  return Status::ok();
}

Status read_value(const YAML::Node& v, const FieldSpec& f, const Site& s, ParseContext& ctx,
                  bool& out) {
  if (!v.IsScalar()) return type_error(v, f, s, ctx, "true or false");
  const std::string text = lower(v.Scalar());
  if (text == "true" || text == "yes" || text == "on") {
    out = true;
  } else if (text == "false" || text == "no" || text == "off") {
    out = false;
  } else {
    return type_error(v, f, s, ctx, "true or false");
  }
  return Status::ok();
}

Status read_value(const YAML::Node& v, const FieldSpec& f, const Site& s, ParseContext& ctx,
                  Micros& out) {
  static const char* kExpected = "a duration like 30d, 12h, 90m, 45s or 500ms";
  if (!v.IsScalar()) return type_error(v, f, s, ctx, kExpected);
  const std::string& text = v.Scalar();
  if (text == "0") {
    out = Micros(0);
    return Status::ok();
  }
  auto d = parse_duration(text);
  if (!d.is_ok()) return type_error(v, f, s, ctx, kExpected);
  out = *d;
  return Status::ok();
}

Result<bool> check_list(const YAML::Node& v, const Site& s, ParseContext& ctx) {
  if (v.IsSequence()) return true;
  if (v.IsMap()) return false;
  return ctx.error(s.pos, s.path + " must be a list of mappings, got " + describe(v));
}

YAML::Node yaml_from_json(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::object: {
      YAML::Node n(YAML::NodeType::Map);
      for (const auto& [key, value] : j.items()) n[key] = yaml_from_json(value);
      return n;
    }
    case nlohmann::json::value_t::array: {
      YAML::Node n(YAML::NodeType::Sequence);
      for (const auto& value : j) n.push_back(yaml_from_json(value));
      return n;
    }
    case nlohmann::json::value_t::string:
      return YAML::Node(j.get<std::string>());
    case nlohmann::json::value_t::boolean:
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float:
      return YAML::Node(j.dump());
    default:
      return YAML::Node(YAML::NodeType::Null);
  }
}

std::string default_text(const nlohmann::json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_number_float()) return format_number(j.get<double>());
  if (j.is_number() || j.is_boolean()) return j.dump();
  return "";
}

}  // namespace detail

std::optional<std::string> did_you_mean(const std::string& word,
                                        const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  const std::string w = lower(word);
  for (const auto& c : candidates) {
    size_t d = edit_distance(w, lower(c));
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  if (!best || best_distance == 0) return best;
  if (best_distance < word.size() && (best_distance <= 2 || best_distance <= word.size() / 3)) {
    return best;
  }
  return std::nullopt;
}

std::string reference_markdown(const SectionSpecBase& root, int heading_level) {
  std::string out;
  render_section(root, "", heading_level, out);
  return out;
}

}  // namespace strata::config
