#include "core/env.h"

#include <cstdlib>

namespace strata {

namespace {
// Calls on_ref(name) for each reference and on_text(text) for the literal text between them.
template <typename OnText, typename OnRef>
Status scan(std::string_view text, OnText on_text, OnRef on_ref) {
  size_t p = 0;
  while (p < text.size()) {
    size_t d = text.find('$', p);
    if (d == std::string_view::npos) {
      on_text(text.substr(p));
      break;
    }
    on_text(text.substr(p, d - p));
    if (text.substr(d, 3) == "$${") {
      on_text("${");
      p = d + 3;
    } else if (text.substr(d, 2) == "${") {
      size_t close = text.find('}', d + 2);
      if (close == std::string_view::npos) {
        return Status::permanent("unclosed '${' in '" + std::string(text.substr(0, d)) +
                                 "...' (write ${NAME})");
      }
      STRATA_TRY(on_ref(std::string(text.substr(d + 2, close - d - 2))));
      p = close + 1;
    } else {
      on_text("$");
      p = d + 1;
    }
  }
  return Status::ok();
}
}  // namespace

Result<std::string> expand_env(std::string_view text) {
  std::string out;
  Status s = scan(
      text, [&](std::string_view t) { out.append(t); },
      [&](const std::string& name) {
        const char* v = std::getenv(name.c_str());
        if (v == nullptr) {
          return Status::permanent("environment variable " + name +
                                   " is not set (export it before running strata)");
        }
        out.append(v);
        return Status::ok();
      });
  if (!s.is_ok()) return s;
  return out;
}

std::vector<std::string> env_references(std::string_view text) {
  std::vector<std::string> names;
  (void)scan(
      text, [](std::string_view) {},
      [&](const std::string& name) {
        names.push_back(name);
        return Status::ok();
      });
  return names;
}

}  // namespace strata
