#include "core/uri.h"

#include <algorithm>
#include <cctype>

namespace strata {

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

Result<Uri> parse_uri(std::string_view text) {
  Uri u;
  if (text.empty()) return Status::permanent("empty URI (expected e.g. sqlite://data.db)");
  size_t sep = text.find("://");
  if (sep == std::string_view::npos) {
    if (text.find(':') != std::string_view::npos && text.find('/') > text.find(':')) {
      return Status::permanent("URI '" + std::string(text) +
                               "' has no '://' (expected scheme://..., e.g. file://archive)");
    }
    u.scheme = "file";
    u.path = std::string(text);
    return u;
  }
  u.scheme = std::string(text.substr(0, sep));
  std::transform(u.scheme.begin(), u.scheme.end(), u.scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (u.scheme.empty() || !std::all_of(u.scheme.begin(), u.scheme.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
      })) {
    return Status::permanent("URI '" + std::string(text) + "' has an invalid scheme");
  }
  std::string_view rest = text.substr(sep + 3);
  std::string_view query;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (u.is_local_path()) {
    u.path = percent_decode(rest);
    if (u.path.empty()) {
      return Status::permanent("URI '" + std::string(text) + "' has no path (expected " + u.scheme +
                               "://PATH)");
    }
  } else {
    size_t slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    u.path = slash == std::string_view::npos ? "" : percent_decode(rest.substr(slash));
    if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
      std::string_view userinfo = authority.substr(0, at);
      authority = authority.substr(at + 1);
      size_t colon = userinfo.find(':');
      u.user = percent_decode(userinfo.substr(0, colon));
      if (colon != std::string_view::npos) u.password = percent_decode(userinfo.substr(colon + 1));
    }
    std::string_view host = authority;
    if (!authority.empty() && authority[0] == '[') {  // [::1]:5432
      size_t close = authority.find(']');
      if (close == std::string_view::npos)
        return Status::permanent("URI has an unclosed '[' in its host");
      host = authority.substr(1, close - 1);
      authority = authority.substr(close + 1);
      if (!authority.empty() && authority[0] == ':')
        authority = authority.substr(1);
      else
        authority = {};
      if (!authority.empty()) {
        auto p = std::stoi(std::string(authority));
        u.port = p;
      }
    } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      std::string port(authority.substr(colon + 1));
      if (port.empty() || !std::all_of(port.begin(), port.end(), ::isdigit) || port.size() > 5) {
        return Status::permanent("URI '" + u.scheme + "://" + std::string(host) +
                                 "' has an invalid port '" + port + "'");
      }
      u.port = std::stoi(port);
    }
    u.host = std::string(host);
  }
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view kv = query.substr(0, amp);
    size_t eq = kv.find('=');
    std::string key = percent_decode(kv.substr(0, eq));
    std::string value = eq == std::string_view::npos ? "" : percent_decode(kv.substr(eq + 1));
    if (!key.empty()) u.query[key] = value;
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  return u;
}

std::string Uri::redacted() const {
  std::string out = scheme + "://";
  if (is_local_path()) {
    out += path;
  } else {
    if (!user.empty() || !password.empty()) {
      out += user;
      if (!password.empty()) out += ":***";
      out += "@";
    }
    out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
    if (port) out += ":" + std::to_string(port);
    out += path;
  }
  char sep = '?';
  for (const auto& [k, v] : query) {
    bool secret = k.find("password") != std::string::npos ||
                  k.find("secret") != std::string::npos || k.find("token") != std::string::npos;
    out += sep + k + "=" + (secret ? "***" : v);
    sep = '&';
  }
  return out;
}

}  // namespace strata
