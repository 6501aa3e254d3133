// Declared configuration. A component lists its fields once (name, type, default, required,
// sensitive, one-line doc, allowed values, range, checks) and the same declaration
//   - parses a YAML mapping into the component's struct, rejecting unknown keys (with a
//     did-you-mean), duplicate keys, wrong types, missing required keys and out-of-range values
//     with "FILE:LINE:COL: ..." messages that never echo a sensitive value;
//   - parses the JSON form by the same rules (no positions then);
//   - renders the struct back to JSON (the inverse of parsing);
//   - generates the Markdown reference (reference_markdown()).
// Defaults are the struct's own member initializers: the reference shows what `T{}` holds.
//
//   const SectionSpec<SplitConfig>& split_spec() {
//     static const auto* spec = [] {
//       auto* s = new SectionSpec<SplitConfig>("split", "How a task is cut into shards.");
//       s->field("parallel", &SplitConfig::parallel, "Shards archived at once.").range(1, 64);
//       return s;
//     }();
//     return *spec;
//   }
//
// Specs are immutable once built and may be shared between threads; a ParseContext is not.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/duration.h"
#include "core/status.h"

namespace strata::config {

enum class FieldType { kString, kUri, kInt, kFloat, kBool, kDuration, kSection, kSectionList };

// "string", "uri", "int", "float", "bool", "duration", "section", "list".
const char* field_type_name(FieldType type);

// A place in a config file, 1-based; line 0 = unknown (the config came from JSON).
struct Position {
  int line = 0;
  int column = 0;
  bool known() const { return line > 0; }
  static Position of(const YAML::Mark& mark);
};

// State of one parse: where messages point, which environment variables exist, and where each
// key was written (so checks across fields can point at a position too). Not thread-safe.
class ParseContext {
 public:
  // `origin` starts every message: a file name ("policy.yaml:3:7: ...") or, for input without
  // positions, a label ("policy JSON: ..."); "" = no prefix.
  explicit ParseContext(std::string origin);

  const std::string& origin() const { return origin_; }
  // Whether ${NAME} references must name variables that are set (default: true).
  void set_check_env(bool check) { check_env_ = check; }
  bool check_env() const { return check_env_; }
  // How variables are looked up (default: std::getenv). Only set-ness is asked, never values.
  void set_env_lookup(std::function<bool(const std::string& name)> is_set);
  bool env_is_set(const std::string& name) const { return env_is_set_(name); }

  // A permanent error "ORIGIN:LINE:COL: message" (or "ORIGIN: message" when `pos` is unknown).
  Status error(Position pos, const std::string& message) const;

  // Where `path` ("split.parallel", "targets[1]", "source") was written: the value for scalars,
  // the key for sections, the item for list items. Falls back to the nearest recorded parent,
  // then to the top of the input; {} when nothing is known.
  Position position(const std::string& path) const;
  // Whether `path` was written with a non-null value.
  bool present(const std::string& path) const { return positions_.count(path) > 0; }
  void record(const std::string& path, Position pos) { positions_[path] = pos; }

 private:
  std::string origin_;
  bool check_env_ = true;
  std::function<bool(const std::string&)> env_is_set_;
  std::map<std::string, Position> positions_;
};

class SectionSpecBase;

// Checks a scalar's text beyond its type; returns nullopt if fine, else the rest of a message
// that follows the field path, e.g. "must be a timestamp like 2026-01-01, got 'x'".
using TextCheck = std::function<std::optional<std::string>(const std::string& text)>;

// The declaration of one field.
struct FieldSpec {
  std::string name;
  FieldType type = FieldType::kString;
  std::string doc;           // one line
  std::string default_text;  // as shown in the reference; "" = none
  bool required = false;
  // Never echoed in messages. A sensitive kUri may embed a password only as ${NAME}; any other
  // sensitive string must be exactly one ${NAME} reference.
  bool sensitive = false;
  // ${NAME} references are expanded by the consumer (connectors, when they connect), so they
  // must be well formed and, if the context checks, name variables that are set.
  bool env = false;
  std::vector<std::string> allowed;  // non-empty: the only accepted values
  std::optional<double> min;         // kInt / kFloat
  std::optional<double> max;
  std::string alias;  // kSectionList: another key accepted for the same list (e.g. "target")
  TextCheck check;    // extra check on a string's text
  const SectionSpecBase* section = nullptr;  // kSection / kSectionList: the item spec
};

// Fluent options of a field being declared.
class FieldBuilder {
 public:
  explicit FieldBuilder(FieldSpec& spec) : spec_(spec) {}
  FieldBuilder& required() {
    spec_.required = true;
    return *this;
  }
  FieldBuilder& sensitive() {
    spec_.sensitive = true;
    return *this;
  }
  // A store address (core/uri.h): syntax checked, ${NAME} references allowed (implies env()).
  FieldBuilder& uri() {
    spec_.type = FieldType::kUri;
    spec_.env = true;
    return *this;
  }
  FieldBuilder& env() {
    spec_.env = true;
    return *this;
  }
  FieldBuilder& min(double v) {
    spec_.min = v;
    return *this;
  }
  FieldBuilder& max(double v) {
    spec_.max = v;
    return *this;
  }
  FieldBuilder& range(double lo, double hi) {
    spec_.min = lo;
    spec_.max = hi;
    return *this;
  }
  FieldBuilder& allowed(std::vector<std::string> values) {
    spec_.allowed = std::move(values);
    return *this;
  }
  // Replaces the default shown in the reference (for defaults computed from other fields).
  FieldBuilder& default_text(std::string text) {
    spec_.default_text = std::move(text);
    return *this;
  }
  FieldBuilder& alias(std::string name) {
    spec_.alias = std::move(name);
    return *this;
  }
  FieldBuilder& check(TextCheck fn) {
    spec_.check = std::move(fn);
    return *this;
  }

 private:
  FieldSpec& spec_;
};

// Where a value being parsed sits: its path for messages ("targets[0].level", as written) and
// its position.
struct Site {
  std::string path;
  Position pos;
};

// The untyped part of a section spec: the field list and the mapping walk.
class SectionSpecBase {
 public:
  SectionSpecBase(std::string name, std::string doc)
      : name_(std::move(name)), doc_(std::move(doc)) {}
  virtual ~SectionSpecBase() = default;
  SectionSpecBase(const SectionSpecBase&) = delete;
  SectionSpecBase& operator=(const SectionSpecBase&) = delete;

  const std::string& name() const { return name_; }
  const std::string& doc() const { return doc_; }
  // Declaration order.
  const std::vector<std::unique_ptr<FieldSpec>>& fields() const { return fields_; }

 protected:
  // Binds one present field: the field's index, its value node, where it sits, and the
  // canonical path (spec names, e.g. "targets" even when written as "target").
  using BindFn = std::function<Status(size_t index, const YAML::Node& value, const Site& site,
                                      const std::string& canonical)>;
  // Checks `node` is a mapping (null = empty) with only known, unique keys, records positions
  // and calls `bind` for each field in document order, then reports missing required keys. A
  // null value (`key:` or `key: ~`) keeps the default, except that a null section is parsed as
  // an empty one and a null required field is an error. Sections and lists sit at their key;
  // scalars at their value. `site.path` is "" for the top level; `canonical` is the path
  // positions are recorded under.
  Status walk(const YAML::Node& node, const Site& site, const std::string& canonical,
              ParseContext& ctx, const BindFn& bind) const;
  FieldSpec& add(std::string name, FieldType type, std::string doc);

 private:
  Status walk_mapping(const YAML::Node& node, const Site& site, const std::string& canonical,
                      ParseContext& ctx, const BindFn& bind) const;
  std::string name_;
  std::string doc_;
  std::vector<std::unique_ptr<FieldSpec>> fields_;
};

// Value readers: type check, range, allowed values, secrets, env references, custom check.
// `v` is a non-null node.
namespace detail {
Status read_value(const YAML::Node& v, const FieldSpec& f, const Site& s, ParseContext& ctx,
                  std::string& out);
Status read_value(const YAML::Node& v, const FieldSpec& f, const Site& s, ParseContext& ctx,
                  int64_t& out);
Status read_value(const YAML::Node& v, const FieldSpec& f, const Site& s, ParseContext& ctx,
                  int& out);
Status read_value(const YAML::Node& v, const FieldSpec& f, const Site& s, ParseContext& ctx,
                  double& out);
Status read_value(const YAML::Node& v, const FieldSpec& f, const Site& s, ParseContext& ctx,
                  bool& out);
Status read_value(const YAML::Node& v, const FieldSpec& f, const Site& s, ParseContext& ctx,
                  Micros& out);
template <typename M>
Status read_value(const YAML::Node& v, const FieldSpec& f, const Site& s, ParseContext& ctx,
                  std::optional<M>& out) {
  M value{};
  STRATA_TRY(read_value(v, f, s, ctx, value));
  out = std::move(value);
  return Status::ok();
}
// Whether a list field's value is a sequence (else a single mapping) or an error.
Result<bool> check_list(const YAML::Node& v, const Site& s, ParseContext& ctx);

template <typename M>
constexpr FieldType type_of() {
  if constexpr (std::is_same_v<M, std::string>)
    return FieldType::kString;
  else if constexpr (std::is_same_v<M, bool>)
    return FieldType::kBool;
  else if constexpr (std::is_same_v<M, int> || std::is_same_v<M, int64_t>)
    return FieldType::kInt;
  else if constexpr (std::is_same_v<M, double>)
    return FieldType::kFloat;
  else if constexpr (std::is_same_v<M, Micros>)
    return FieldType::kDuration;
  else
    static_assert(sizeof(M) == 0, "unsupported config field type");
}
template <typename M>
struct Optional {
  using type = M;
  static constexpr bool kOptional = false;
};
template <typename M>
struct Optional<std::optional<M>> {
  using type = M;
  static constexpr bool kOptional = true;
};

inline nlohmann::json to_json_value(const std::string& v) { return v; }
inline nlohmann::json to_json_value(int64_t v) { return v; }
inline nlohmann::json to_json_value(int v) { return v; }
inline nlohmann::json to_json_value(double v) { return v; }
inline nlohmann::json to_json_value(bool v) { return v; }
inline nlohmann::json to_json_value(Micros v) { return format_duration(v); }
// A JSON value as a YAML node (numbers and booleans become scalars with their JSON text).
YAML::Node yaml_from_json(const nlohmann::json& j);
// How a default looks in the reference.
std::string default_text(const nlohmann::json& j);
}  // namespace detail

// The spec of a section parsed into a `T` (default-constructible; its initializers are the
// defaults).
template <typename T>
class SectionSpec : public SectionSpecBase {
 public:
  using SectionSpecBase::SectionSpecBase;

  // A scalar field: M is std::string, int, int64_t, double, bool, Micros or std::optional<one>
  // (unset = absent; absent from JSON).
  template <typename M>
  FieldBuilder field(std::string name, M T::*member, std::string doc) {
    using V = typename detail::Optional<M>::type;
    FieldSpec& f = add(std::move(name), detail::type_of<V>(), std::move(doc));
    if constexpr (!detail::Optional<M>::kOptional) {
      f.default_text = detail::default_text(detail::to_json_value(T{}.*member));
    }
    const FieldSpec* fp = &f;
    bindings_.push_back(
        {[member, fp](const YAML::Node& v, const Site& s, const std::string&, ParseContext& ctx,
                      T& out) { return detail::read_value(v, *fp, s, ctx, out.*member); },
         [member](const T& in) -> std::optional<nlohmann::json> {
           if constexpr (detail::Optional<M>::kOptional) {
             if (!(in.*member).has_value()) return std::nullopt;
             return detail::to_json_value(*(in.*member));
           } else {
             return detail::to_json_value(in.*member);
           }
         }});
    return FieldBuilder(f);
  }

  // A string field stored as an enum; `choices` maps each accepted name to its value.
  template <typename E>
  FieldBuilder choice(std::string name, E T::*member,
                      std::vector<std::pair<std::string, E>> choices, std::string doc) {
    FieldSpec& f = add(std::move(name), FieldType::kString, std::move(doc));
    for (const auto& [text, value] : choices) {
      f.allowed.push_back(text);
      if (value == T{}.*member) f.default_text = text;
    }
    const FieldSpec* fp = &f;
    bindings_.push_back({[member, fp, choices](const YAML::Node& v, const Site& s,
                                               const std::string&, ParseContext& ctx, T& out) {
                           std::string text;
                           STRATA_TRY(detail::read_value(v, *fp, s, ctx, text));
                           for (const auto& [name, value] : choices) {
                             if (name == text) out.*member = value;
                           }
                           return Status::ok();
                         },
                         [member, choices](const T& in) -> std::optional<nlohmann::json> {
                           for (const auto& [name, value] : choices) {
                             if (value == in.*member) return nlohmann::json(name);
                           }
                           return std::nullopt;
                         }});
    return FieldBuilder(f);
  }

  // A nested section (a mapping; null or absent = all defaults). If `spec` has required fields,
  // declare the section required or hold it in a std::optional (the overload below): the JSON
  // form of an absent plain section is its defaults, which would then not parse back.
  template <typename S>
  FieldBuilder section(std::string name, S T::*member, const SectionSpec<S>& spec,
                       std::string doc) {
    FieldSpec& f = add(std::move(name), FieldType::kSection, std::move(doc));
    f.section = &spec;
    bindings_.push_back({[member, &spec](const YAML::Node& v, const Site& s,
                                         const std::string& canonical, ParseContext& ctx, T& out) {
                           return spec.parse(v, s, canonical, ctx, out.*member);
                         },
                         [member, &spec](const T& in) -> std::optional<nlohmann::json> {
                           return spec.to_json(in.*member);
                         }});
    return FieldBuilder(f);
  }

  // An optional nested section: unset when absent (and absent from JSON); a null value (`key:`)
  // sets it with all defaults.
  template <typename S>
  FieldBuilder section(std::string name, std::optional<S> T::*member, const SectionSpec<S>& spec,
                       std::string doc) {
    FieldSpec& f = add(std::move(name), FieldType::kSection, std::move(doc));
    f.section = &spec;
    bindings_.push_back({[member, &spec](const YAML::Node& v, const Site& s,
                                         const std::string& canonical, ParseContext& ctx, T& out) {
                           S value{};
                           STRATA_TRY(spec.parse(v, s, canonical, ctx, value));
                           out.*member = std::move(value);
                           return Status::ok();
                         },
                         [member, &spec](const T& in) -> std::optional<nlohmann::json> {
                           if (!(in.*member).has_value()) return std::nullopt;
                           return spec.to_json(*(in.*member));
                         }});
    return FieldBuilder(f);
  }

  // A list of sections; a single mapping is accepted as a list of one.
  template <typename S>
  FieldBuilder list(std::string name, std::vector<S> T::*member, const SectionSpec<S>& spec,
                    std::string doc) {
    FieldSpec& f = add(std::move(name), FieldType::kSectionList, std::move(doc));
    f.section = &spec;
    bindings_.push_back({[member, &spec](const YAML::Node& v, const Site& s,
                                         const std::string& canonical, ParseContext& ctx, T& out) {
                           STRATA_ASSIGN_OR_RETURN(bool is_seq, detail::check_list(v, s, ctx));
                           std::vector<S> items;
                           if (!is_seq) {
                             items.emplace_back();
                             ctx.record(canonical + "[0]", s.pos);
                             STRATA_TRY(spec.parse(v, s, canonical + "[0]", ctx, items.back()));
                           } else {
                             for (size_t i = 0; i < v.size(); ++i) {
                               std::string index = "[" + std::to_string(i) + "]";
                               Site item{s.path + index, Position::of(v[i].Mark())};
                               if (!item.pos.known()) item.pos = s.pos;
                               ctx.record(canonical + index, item.pos);
                               items.emplace_back();
                               STRATA_TRY(
                                   spec.parse(v[i], item, canonical + index, ctx, items.back()));
                             }
                           }
                           out.*member = std::move(items);
                           return Status::ok();
                         },
                         [member, &spec](const T& in) -> std::optional<nlohmann::json> {
                           nlohmann::json a = nlohmann::json::array();
                           for (const S& item : in.*member) a.push_back(spec.to_json(item));
                           return a;
                         }});
    return FieldBuilder(f);
  }

  // Parses the mapping `node` (null = empty) into `out`; keys that are absent keep the values
  // `out` already holds. `site.path` names the section in messages ("" at the top level, where
  // the spec name is used), `site.pos` is where it was written; positions are recorded under
  // `canonical` (defaults to site.path).
  Status parse(const YAML::Node& node, const Site& site, const std::string& canonical,
               ParseContext& ctx, T& out) const {
    return walk(node, site, canonical, ctx,
                [&](size_t i, const YAML::Node& v, const Site& s, const std::string& c) {
                  return bindings_[i].bind(v, s, c, ctx, out);
                });
  }
  Status parse(const YAML::Node& node, ParseContext& ctx, T& out) const {
    return parse(node, Site{"", Position::of(node.Mark())}, "", ctx, out);
  }
  // The same rules over the JSON form (as produced by to_json).
  Status parse_json(const nlohmann::json& j, ParseContext& ctx, T& out) const {
    return parse(detail::yaml_from_json(j), ctx, out);
  }

  // Every field with a value (unset optionals are left out), in declaration order.
  nlohmann::json to_json(const T& value) const {
    nlohmann::json j = nlohmann::json::object();
    for (size_t i = 0; i < bindings_.size(); ++i) {
      if (auto v = bindings_[i].render(value)) j[fields()[i]->name] = std::move(*v);
    }
    return j;
  }

 private:
  struct Binding {
    std::function<Status(const YAML::Node&, const Site&, const std::string&, ParseContext&, T&)>
        bind;
    std::function<std::optional<nlohmann::json>(const T&)> render;
  };
  std::vector<Binding> bindings_;
};

// The reference of `root` and, after it, of every section it contains: one Markdown table per
// section (key, type, default, required, description), headings starting at `heading_level`.
std::string reference_markdown(const SectionSpecBase& root, int heading_level = 2);

// The closest of `candidates` to `word` if it is close enough to be a likely typo.
std::optional<std::string> did_you_mean(const std::string& word,
                                        const std::vector<std::string>& candidates);

}  // namespace strata::config
