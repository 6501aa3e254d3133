// The S3 client: SigV4 signing, requests over libcurl with retries, XML answers, credentials.
#include "connectors/s3/s3_client.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <random>
#include <thread>

#include "core/checksum.h"
#include "core/log.h"
#include "formats/text_io.h"

namespace strata::s3 {

namespace {

constexpr char kEmptySha256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

// Trims and collapses runs of spaces, as SigV4 canonical header values want.
std::string canonical_value(std::string_view s) {
  std::string t = trim(s);
  std::string out;
  out.reserve(t.size());
  for (char c : t) {
    if (c == ' ' && !out.empty() && out.back() == ' ') continue;
    out.push_back(c);
  }
  return out;
}

std::string digest(const EVP_MD* md, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), out, &n, md, nullptr);
  return std::string(reinterpret_cast<const char*>(out), n);
}

std::string hex(std::string_view bytes) {
  return to_hex(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &n);
  return std::string(reinterpret_cast<const char*>(out), n);
}

// Keys of a listing with encoding-type=url: %XY escapes, '+' for a space.
std::string url_decode_key(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() &&
               std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string amz_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string strip_quotes(std::string s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') return s.substr(1, s.size() - 2);
  return s;
}

std::string s3_name(const std::string& bucket, const std::string& key) {
  return "s3://" + bucket + (key.empty() ? "" : "/" + key);
}

}  // namespace

// ---- SigV4 ------------------------------------------------------------------------------------

std::string uri_encode(std::string_view s, bool keep_slash) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3 / 2);
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
        (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

Signature sign_v4(const SigningRequest& req, const Credentials& creds) {
  Signature sig;
  // Headers: the given ones plus host, x-amz-date and the session token.
  sig.headers.emplace_back("host", req.host);
  sig.headers.emplace_back("x-amz-date", req.amz_date);
  if (!creds.session_token.empty())
    sig.headers.emplace_back("x-amz-security-token", creds.session_token);
  for (const auto& [name, value] : req.headers) {
    std::string l = lower(name);
    if (l == "host" || l == "x-amz-date" || l == "authorization") continue;
    if (l == "x-amz-security-token" && !creds.session_token.empty()) continue;
    sig.headers.emplace_back(name, value);
  }
  std::map<std::string, std::string> canon;  // sorted by lowercase name; repeats joined by ','
  for (const auto& [name, value] : sig.headers) {
    std::string& v = canon[lower(name)];
    if (!v.empty()) v += ',';
    v += canonical_value(value);
  }
  std::string canonical_headers;
  for (const auto& [name, value] : canon) {
    canonical_headers += name + ":" + value + "\n";
    if (!sig.signed_headers.empty()) sig.signed_headers += ';';
    sig.signed_headers += name;
  }

  std::vector<std::pair<std::string, std::string>> q;
  q.reserve(req.query.size());
  for (const auto& [k, v] : req.query) q.emplace_back(uri_encode(k, false), uri_encode(v, false));
  std::sort(q.begin(), q.end());
  for (const auto& [k, v] : q) {
    if (!sig.canonical_query.empty()) sig.canonical_query += '&';
    sig.canonical_query += k + "=" + v;
  }
  sig.canonical_uri = uri_encode(req.path.empty() ? "/" : req.path, true);

  sig.canonical_request = req.method + "\n" + sig.canonical_uri + "\n" + sig.canonical_query +
                          "\n" + canonical_headers + "\n" + sig.signed_headers + "\n" +
                          req.payload_hash;
  const std::string date = req.amz_date.substr(0, 8);
  const std::string scope = date + "/" + req.region + "/" + req.service + "/aws4_request";
  sig.string_to_sign = "AWS4-HMAC-SHA256\n" + req.amz_date + "\n" + scope + "\n" +
                       hex(digest(EVP_sha256(), sig.canonical_request));
  std::string key = hmac_sha256("AWS4" + creds.secret_access_key, date);
  key = hmac_sha256(key, req.region);
  key = hmac_sha256(key, req.service);
  key = hmac_sha256(key, "aws4_request");
  sig.signature = hex(hmac_sha256(key, sig.string_to_sign));
  sig.authorization = "AWS4-HMAC-SHA256 Credential=" + creds.access_key_id + "/" + scope +
                      ", SignedHeaders=" + sig.signed_headers + ", Signature=" + sig.signature;
  return sig;
}

// ---- XML --------------------------------------------------------------------------------------

std::vector<std::string_view> xml_elements(std::string_view xml, std::string_view tag) {
  std::vector<std::string_view> out;
  const std::string open = "<" + std::string(tag) + ">";
  const std::string empty = "<" + std::string(tag) + "/>";
  const std::string close = "</" + std::string(tag) + ">";
  size_t pos = 0;
  for (;;) {
    size_t a = xml.find(open, pos);
    size_t e = xml.find(empty, pos);
    if (e != std::string_view::npos && (a == std::string_view::npos || e < a)) {
      out.emplace_back();
      pos = e + empty.size();
      continue;
    }
    if (a == std::string_view::npos) break;
    size_t start = a + open.size();
    size_t b = xml.find(close, start);
    if (b == std::string_view::npos) break;
    out.push_back(xml.substr(start, b - start));
    pos = b + close.size();
  }
  return out;
}

std::string xml_unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out.push_back(s[i]);
      continue;
    }
    size_t semi = s.find(';', i);
    if (semi == std::string_view::npos || semi - i > 10) {
      out.push_back('&');
      continue;
    }
    std::string_view ent = s.substr(i + 1, semi - i - 1);
    if (ent == "amp") {
      out.push_back('&');
    } else if (ent == "lt") {
      out.push_back('<');
    } else if (ent == "gt") {
      out.push_back('>');
    } else if (ent == "quot") {
      out.push_back('"');
    } else if (ent == "apos") {
      out.push_back('\'');
    } else if (!ent.empty() && ent[0] == '#') {
      unsigned long cp = ent.size() > 1 && (ent[1] == 'x' || ent[1] == 'X')
                             ? std::strtoul(std::string(ent.substr(2)).c_str(), nullptr, 16)
                             : std::strtoul(std::string(ent.substr(1)).c_str(), nullptr, 10);
      text_io::append_utf8(out, static_cast<uint32_t>(cp));
    } else {
      out.append(s.substr(i, semi - i + 1));
    }
    i = semi;
  }
  return out;
}

std::string xml_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::optional<std::string> xml_text(std::string_view xml, std::string_view tag) {
  auto all = xml_elements(xml, tag);
  if (all.empty()) return std::nullopt;
  return xml_unescape(all.front());
}

// ---- Configuration ----------------------------------------------------------------------------

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string home_file(const std::string& rel) {
  std::string home = env("HOME");
  return home.empty() ? "" : home + "/" + rel;
}

// The key = value pairs of section `section` of an INI file; nullopt when file or section is
// missing.
std::optional<std::map<std::string, std::string>> ini_section(const std::string& path,
                                                              const std::string& section) {
  if (path.empty()) return std::nullopt;
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::optional<std::map<std::string, std::string>> out;
  bool inside = false;
  std::string line;
  while (std::getline(in, line)) {
    std::string t = trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';') continue;
    if (t.front() == '[' && t.back() == ']') {
      inside = trim(t.substr(1, t.size() - 2)) == section;
      if (inside && !out) out.emplace();
      continue;
    }
    if (!inside) continue;
    size_t eq = t.find('=');
    if (eq == std::string::npos) continue;
    (*out)[lower(trim(t.substr(0, eq)))] = trim(t.substr(eq + 1));
  }
  return out;
}

}  // namespace

Result<ClientConfig> resolve_config(const std::string& bucket, const ConfigOverrides& o) {
  ClientConfig c;
  const std::string profile = !o.profile.empty()
                                  ? o.profile
                                  : (!env("AWS_PROFILE").empty() ? env("AWS_PROFILE") : "default");
  const std::string cred_file = !env("AWS_SHARED_CREDENTIALS_FILE").empty()
                                    ? env("AWS_SHARED_CREDENTIALS_FILE")
                                    : home_file(".aws/credentials");
  const std::string config_file =
      !env("AWS_CONFIG_FILE").empty() ? env("AWS_CONFIG_FILE") : home_file(".aws/config");

  if (o.profile.empty() && !env("AWS_ACCESS_KEY_ID").empty() &&
      !env("AWS_SECRET_ACCESS_KEY").empty()) {
    c.credentials.access_key_id = env("AWS_ACCESS_KEY_ID");
    c.credentials.secret_access_key = env("AWS_SECRET_ACCESS_KEY");
    c.credentials.session_token = env("AWS_SESSION_TOKEN");
    c.credentials_source = "the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)";
  } else {
    auto section = ini_section(cred_file, profile);
    if (section && section->count("aws_access_key_id") && section->count("aws_secret_access_key")) {
      c.credentials.access_key_id = (*section)["aws_access_key_id"];
      c.credentials.secret_access_key = (*section)["aws_secret_access_key"];
      if (section->count("aws_session_token"))
        c.credentials.session_token = (*section)["aws_session_token"];
      c.credentials_source = "profile '" + profile + "' of " + cred_file;
    } else {
      return Status::permanent(
          "no AWS credentials for s3://" + bucket + ": set AWS_ACCESS_KEY_ID and " +
          "AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials), or add " +
          "aws_access_key_id and aws_secret_access_key to profile [" + profile + "] of " +
          (cred_file.empty() ? "~/.aws/credentials" : cred_file) +
          " (the profile comes from ?profile= or AWS_PROFILE)");
    }
  }

  if (!o.region.empty()) {
    c.region = o.region;
  } else if (!env("AWS_REGION").empty()) {
    c.region = env("AWS_REGION");
  } else if (!env("AWS_DEFAULT_REGION").empty()) {
    c.region = env("AWS_DEFAULT_REGION");
  } else {
    auto section =
        ini_section(config_file, profile == "default" ? "default" : "profile " + profile);
    if (section && section->count("region")) c.region = (*section)["region"];
  }

  c.endpoint = !o.endpoint.empty()                   ? o.endpoint
               : !env("AWS_ENDPOINT_URL_S3").empty() ? env("AWS_ENDPOINT_URL_S3")
                                                     : env("AWS_ENDPOINT_URL");
  while (!c.endpoint.empty() && c.endpoint.back() == '/') c.endpoint.pop_back();
  if (o.addressing == "path") {
    c.path_style = true;
  } else if (o.addressing == "virtual") {
    c.path_style = false;
  } else if (o.addressing.empty()) {
    c.path_style = !c.endpoint.empty() || bucket.find('.') != std::string::npos;
  } else {
    return Status::permanent("target s3://" + bucket + ": addressing '" + o.addressing +
                             "' is neither 'path' nor 'virtual'");
  }
  return c;
}

// ---- The client -------------------------------------------------------------------------------

struct S3Client::Handle {
  CURL* curl = nullptr;
  ~Handle() {
    if (curl) curl_easy_cleanup(curl);
  }
};

namespace {

std::once_flag g_curl_init;

struct Exchange {
  const S3Client::Request* req = nullptr;
  size_t read_pos = 0;
  S3Client::Response* resp = nullptr;
  bool overflow = false;
};

size_t read_cb(char* buf, size_t size, size_t nitems, void* ud) {
  auto* x = static_cast<Exchange*>(ud);
  size_t n = std::min(size * nitems, x->req->body.size() - x->read_pos);
  std::memcpy(buf, x->req->body.data() + x->read_pos, n);
  x->read_pos += n;
  return n;
}

size_t write_cb(char* data, size_t size, size_t nmemb, void* ud) {
  auto* x = static_cast<Exchange*>(ud);
  size_t n = size * nmemb;
  // Successful answers to a ranged read go straight into the caller's buffer.
  if (x->req->out && x->resp->status >= 200 && x->resp->status < 300) {
    if (x->resp->out_written + n > x->req->out_size) {
      x->overflow = true;
      return 0;
    }
    std::memcpy(x->req->out + x->resp->out_written, data, n);
    x->resp->out_written += n;
    return n;
  }
  x->resp->body.append(data, n);
  return n;
}

size_t header_cb(char* data, size_t size, size_t nitems, void* ud) {
  auto* x = static_cast<Exchange*>(ud);
  size_t n = size * nitems;
  std::string_view line(data, n);
  if (line.substr(0, 5) == "HTTP/") {
    x->resp->headers.clear();
    size_t sp = line.find(' ');
    if (sp != std::string_view::npos)
      x->resp->status = std::atol(std::string(line.substr(sp + 1, 3)).c_str());
    return n;
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos)
    x->resp->headers[lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
  return n;
}

bool retryable_curl(CURLcode c) {
  switch (c) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CIPHER:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_WRITE_ERROR:
    case CURLE_ABORTED_BY_CALLBACK:
      return false;
    default:
      return true;
  }
}

bool retryable_answer(const S3Client::Response& r) {
  if (r.status >= 500 || r.status == 429) return true;
  return r.status == 400 && (r.error_code == "RequestTimeout" || r.error_code == "SlowDown");
}

thread_local std::mt19937_64 g_rng{std::random_device{}()};

}  // namespace

S3Client::S3Client(ClientConfig config) : config_(std::move(config)) {}

S3Client::~S3Client() = default;

Result<std::unique_ptr<S3Client>> S3Client::create(ClientConfig config) {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  auto c = std::unique_ptr<S3Client>(new S3Client(std::move(config)));
  std::string ep = c->config_.endpoint;
  if (ep.empty()) ep = "https://s3." + c->config_.region + ".amazonaws.com";
  if (ep.find("://") == std::string::npos) ep = "https://" + ep;
  size_t sep = ep.find("://");
  c->scheme_ = lower(ep.substr(0, sep));
  if (c->scheme_ != "http" && c->scheme_ != "https") {
    return Status::permanent("S3 endpoint '" + ep + "' must start with http:// or https://");
  }
  std::string authority = ep.substr(sep + 3);
  if (size_t slash = authority.find('/'); slash != std::string::npos) {
    if (authority.substr(slash) != "/") {
      return Status::permanent("S3 endpoint '" + ep +
                               "' has a path; give only scheme://host[:port]");
    }
    authority.resize(slash);
  }
  std::string host = authority;
  if (size_t colon = authority.rfind(':');
      colon != std::string::npos && authority.find(']', colon) == std::string::npos) {
    std::string port = authority.substr(colon + 1);
    if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char ch) {
          return std::isdigit(static_cast<unsigned char>(ch));
        })) {
      return Status::permanent("S3 endpoint '" + ep + "' has an invalid port '" + port + "'");
    }
    c->port_ = std::stoi(port);
    host = authority.substr(0, colon);
  }
  if (host.empty()) return Status::permanent("S3 endpoint '" + ep + "' has no host");
  c->host_ = host;
  if ((c->scheme_ == "http" && c->port_ == 80) || (c->scheme_ == "https" && c->port_ == 443))
    c->port_ = 0;
  c->endpoint_ = c->scheme_ + "://" + authority;
  return c;
}

std::unique_ptr<S3Client::Handle> S3Client::acquire() {
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (!pool_.empty()) {
      auto h = std::move(pool_.back());
      pool_.pop_back();
      curl_easy_reset(h->curl);
      return h;
    }
  }
  auto h = std::make_unique<Handle>();
  h->curl = curl_easy_init();
  return h;
}

void S3Client::release(std::unique_ptr<Handle> handle) {
  std::lock_guard<std::mutex> lock(pool_mu_);
  if (pool_.size() < 16) pool_.push_back(std::move(handle));
}

Result<S3Client::Response> S3Client::send(const Request& request) {
  const bool virtual_host = !config_.path_style && !request.bucket.empty();
  std::string host = virtual_host ? request.bucket + "." + host_ : host_;
  std::string host_header = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port_) host_header += ":" + std::to_string(port_);
  std::string path = "/";
  if (!request.bucket.empty() && !virtual_host) path += request.bucket;
  if (!request.key.empty()) {
    if (path.back() != '/') path += '/';
    path += request.key;
  }
  std::string payload_hash = request.payload_hash;
  if (payload_hash.empty()) {
    payload_hash = request.body.empty() ? kEmptySha256 : hex(digest(EVP_sha256(), request.body));
  }
  const std::string what = request.method + " " + s3_name(request.bucket, request.key);

  std::string last_error;
  for (int attempt = 1;; ++attempt) {
    SigningRequest sr;
    sr.method = request.method;
    sr.host = host_header;
    sr.path = path;
    sr.query = request.query;
    sr.headers = request.headers;
    sr.headers.emplace_back("x-amz-content-sha256", payload_hash);
    sr.payload_hash = payload_hash;
    sr.amz_date = amz_now();
    sr.region = config_.region;
    Signature sig = sign_v4(sr, config_.credentials);

    std::string url = scheme_ + "://" + host_header + sig.canonical_uri;
    if (!sig.canonical_query.empty()) url += "?" + sig.canonical_query;

    Response resp;
    Exchange x;
    x.req = &request;
    x.resp = &resp;
    std::unique_ptr<Handle> h = acquire();
    if (!h->curl) return Status::retryable("cannot initialise libcurl for " + what);
    CURL* curl = h->curl;
    curl_slist* headers = nullptr;
    bool has_content_type = false;
    for (const auto& [name, value] : sig.headers) {
      if (lower(name) == "content-type") has_content_type = true;
      headers = curl_slist_append(headers, (name + ": " + value).c_str());
    }
    headers = curl_slist_append(headers, ("Authorization: " + sig.authorization).c_str());
    headers = curl_slist_append(headers, "Expect:");
    if (!has_content_type) headers = curl_slist_append(headers, "Content-Type:");
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, config_.connect_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, config_.stall_timeout_s);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &x);
    if (request.method == "PUT") {
      curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_cb);
      curl_easy_setopt(curl, CURLOPT_READDATA, &x);
      curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
    } else if (request.method == "POST") {
      curl_easy_setopt(curl, CURLOPT_POST, 1L);
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
    } else if (request.head || request.method == "HEAD") {
      curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (request.method == "GET") {
      curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
    CURLcode rc = curl_easy_perform(curl);
    curl_slist_free_all(headers);
    if (rc == CURLE_OK) {
      long code = 0;
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
      resp.status = code;
    }
    release(std::move(h));

    if (x.overflow) {
      return Status::permanent(what + ": the server sent more bytes than asked for");
    }
    if (rc != CURLE_OK) {
      last_error = std::string("cannot reach S3 endpoint ") + endpoint_ + " (" +
                   curl_easy_strerror(rc) + ")";
      if (!retryable_curl(rc)) {
        return Status::permanent(what + ": " + last_error +
                                 "; check the endpoint (?endpoint= or "
                                 "AWS_ENDPOINT_URL)");
      }
    } else {
      if (resp.status >= 300 && resp.body.find("<Error>") != std::string::npos) {
        resp.error_code = xml_text(resp.body, "Code").value_or("");
        resp.error_message = xml_text(resp.body, "Message").value_or("");
      }
      if (!retryable_answer(resp)) return resp;
      last_error = "S3 endpoint " + endpoint_ + " answered HTTP " + std::to_string(resp.status) +
                   (resp.error_code.empty() ? "" : " " + resp.error_code) +
                   (resp.error_message.empty() ? "" : ": " + resp.error_message);
    }
    if (attempt >= config_.max_attempts) {
      return Status::retryable(what + ": " + last_error + " (after " + std::to_string(attempt) +
                               " attempts)");
    }
    // Jitter: a random pause between a quarter of the exponential bound and the bound.
    auto cap = std::min<int64_t>(config_.max_backoff.count(), config_.base_backoff.count()
                                                                  << std::min(attempt - 1, 20));
    std::uniform_int_distribution<int64_t> pick(cap / 4, std::max<int64_t>(cap / 4, cap));
    int64_t ms = pick(g_rng);
    spdlog::warn("{}: {}; retrying in {} ms (attempt {} of {})", what, last_error, ms, attempt + 1,
                 config_.max_attempts);
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  }
}

Status S3Client::error_status(const std::string& operation, const std::string& bucket,
                              const std::string& key, const Response& r) const {
  const std::string what = operation + " " + s3_name(bucket, key) + " at " + endpoint_;
  std::string detail = "HTTP " + std::to_string(r.status);
  if (!r.error_code.empty()) detail += " " + r.error_code;
  if (!r.error_message.empty()) detail += ": " + r.error_message;
  auto rid = r.headers.find("x-amz-request-id");
  if (rid != r.headers.end() && !rid->second.empty()) detail += " (request id " + rid->second + ")";
  const std::string& code = r.error_code;
  if (retryable_answer(r)) return Status::retryable(what + " failed: " + detail);
  if (code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || code == "InvalidToken" ||
      code == "ExpiredToken" || code == "TokenRefreshRequired" ||
      (r.status == 403 && code.empty())) {
    return Status::permanent(what + " was refused: " + detail +
                             "; check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / "
                             "AWS_SESSION_TOKEN (credentials from " +
                             config_.credentials_source + ")");
  }
  if (code == "AccessDenied") {
    return Status::permanent(what + " was refused: " + detail +
                             "; grant these credentials s3:GetObject, s3:PutObject, "
                             "s3:DeleteObject, s3:ListBucket and s3:AbortMultipartUpload on "
                             "bucket '" +
                             bucket + "'");
  }
  if (code == "RequestTimeTooSkewed") {
    return Status::permanent(what + " was refused: " + detail +
                             "; this machine's clock is off by more than 15 minutes: fix it "
                             "(e.g. with NTP)");
  }
  if (code == "NoSuchBucket") {
    return Status::permanent(what + " failed: bucket '" + bucket + "' does not exist at " +
                             endpoint_ + "; create it or fix the bucket in the target URI");
  }
  if (code == "PermanentRedirect" || code == "AuthorizationHeaderMalformed" || r.status == 301) {
    auto region = r.headers.find("x-amz-bucket-region");
    std::string where = region != r.headers.end() ? " (it is in " + region->second + ")" : "";
    return Status::permanent(what + " failed: " + detail + "; bucket '" + bucket +
                             "' is not in region " + config_.region + where +
                             ": set ?region= in the target URI or AWS_REGION");
  }
  if (code == "NotImplemented" || r.status == 501 || r.status == 405) {
    return Status::permanent(what + " failed: " + detail + "; this S3 server does not implement " +
                             operation);
  }
  return Status::permanent(what + " failed: " + detail);
}

// ---- Object calls -----------------------------------------------------------------------------

Result<PutOutcome> S3Client::put_object(const std::string& bucket, const std::string& key,
                                        std::string_view body, const PutOptions& options) {
  std::string sha = digest(EVP_sha256(), body);
  Request req;
  req.method = "PUT";
  req.bucket = bucket;
  req.key = key;
  req.body = body;
  req.payload_hash = hex(sha);
  req.headers.emplace_back("Content-Type", options.content_type);
  req.headers.emplace_back("Content-MD5", base64_encode(digest(EVP_md5(), body)));
  req.headers.emplace_back("x-amz-checksum-sha256", base64_encode(sha));
  if (!options.if_none_match.empty())
    req.headers.emplace_back("If-None-Match", options.if_none_match);
  if (!options.if_match.empty())
    req.headers.emplace_back("If-Match", "\"" + strip_quotes(options.if_match) + "\"");
  STRATA_ASSIGN_OR_RETURN(Response r, send(req));
  PutOutcome out;
  if (r.status == 412 || (r.status == 409 && r.error_code == "ConditionalRequestConflict") ||
      (r.status == 404 && !options.if_match.empty() && r.error_code == "NoSuchKey")) {
    out.written = false;
    return out;
  }
  if (r.status / 100 != 2) return error_status("PUT", bucket, key, r);
  auto etag = r.headers.find("etag");
  if (etag != r.headers.end()) out.etag = strip_quotes(etag->second);
  return out;
}

Result<std::optional<std::string>> S3Client::get_object(const std::string& bucket,
                                                        const std::string& key) {
  Request req;
  req.method = "GET";
  req.bucket = bucket;
  req.key = key;
  STRATA_ASSIGN_OR_RETURN(Response r, send(req));
  if (r.status == 404 && r.error_code != "NoSuchBucket") return std::optional<std::string>();
  if (r.status / 100 != 2) return error_status("GET", bucket, key, r);
  return std::optional<std::string>(std::move(r.body));
}

Status S3Client::get_range(const std::string& bucket, const std::string& key, uint64_t offset,
                           size_t n, char* out, const std::string& if_match) {
  if (n == 0) return Status::ok();
  Request req;
  req.method = "GET";
  req.bucket = bucket;
  req.key = key;
  req.headers.emplace_back(
      "Range", "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + n - 1));
  if (!if_match.empty()) req.headers.emplace_back("If-Match", "\"" + strip_quotes(if_match) + "\"");
  req.out = out;
  req.out_size = n;
  STRATA_ASSIGN_OR_RETURN(Response r, send(req));
  if (r.status == 412) {
    return Status::permanent("GET " + s3_name(bucket, key) +
                             ": the object was replaced while it was being read; read it again");
  }
  if (r.status == 416 || (r.status == 404 && r.error_code != "NoSuchBucket")) {
    return Status::permanent("GET " + s3_name(bucket, key) + ": cannot read " + std::to_string(n) +
                             " bytes at offset " + std::to_string(offset) + " (HTTP " +
                             std::to_string(r.status) + "; the object is missing or shorter)");
  }
  if (r.status / 100 != 2) return error_status("GET", bucket, key, r);
  if (r.status == 200 && offset != 0) {
    return Status::permanent("GET " + s3_name(bucket, key) +
                             ": the server ignored the Range header");
  }
  if (r.out_written != n) {
    return Status::permanent("GET " + s3_name(bucket, key) + ": wanted " + std::to_string(n) +
                             " bytes at offset " + std::to_string(offset) + ", got " +
                             std::to_string(r.out_written) + " (the object is shorter)");
  }
  return Status::ok();
}

Result<std::optional<ObjectInfo>> S3Client::head_object(const std::string& bucket,
                                                        const std::string& key) {
  Request req;
  req.method = "HEAD";
  req.bucket = bucket;
  req.key = key;
  req.head = true;
  STRATA_ASSIGN_OR_RETURN(Response r, send(req));
  if (r.status == 404) {
    // A HEAD answer has no body to tell a missing key from a missing bucket: ask the bucket.
    Request list;
    list.method = "GET";
    list.bucket = bucket;
    list.query = {{"list-type", "2"}, {"max-keys", "1"}, {"prefix", key}};
    STRATA_ASSIGN_OR_RETURN(Response lr, send(list));
    if (lr.error_code == "NoSuchBucket") return error_status("HEAD", bucket, key, lr);
    return std::optional<ObjectInfo>();
  }
  if (r.status / 100 != 2) return error_status("HEAD", bucket, key, r);
  ObjectInfo info;
  auto len = r.headers.find("content-length");
  if (len != r.headers.end()) info.size = std::strtoull(len->second.c_str(), nullptr, 10);
  auto etag = r.headers.find("etag");
  if (etag != r.headers.end()) info.etag = strip_quotes(etag->second);
  return std::optional<ObjectInfo>(std::move(info));
}

Result<std::vector<ListedObject>> S3Client::list_objects(const std::string& bucket,
                                                         const std::string& prefix,
                                                         const std::string& delimiter) {
  std::vector<ListedObject> out;
  std::string token;
  for (int page = 0;; ++page) {
    Request req;
    req.method = "GET";
    req.bucket = bucket;
    req.query = {{"list-type", "2"}, {"prefix", prefix}, {"encoding-type", "url"}};
    if (!delimiter.empty()) req.query.emplace_back("delimiter", delimiter);
    if (!token.empty()) req.query.emplace_back("continuation-token", token);
    STRATA_ASSIGN_OR_RETURN(Response r, send(req));
    if (r.status / 100 != 2) return error_status("LIST", bucket, prefix, r);
    // Keys come percent-encoded only when the server honoured encoding-type=url.
    bool encoded = xml_text(r.body, "EncodingType").value_or("") == "url";
    for (std::string_view c : xml_elements(r.body, "Contents")) {
      ListedObject o;
      o.key = xml_text(c, "Key").value_or("");
      if (encoded) o.key = url_decode_key(o.key);
      o.size = std::strtoull(xml_text(c, "Size").value_or("0").c_str(), nullptr, 10);
      o.etag = strip_quotes(xml_text(c, "ETag").value_or(""));
      out.push_back(std::move(o));
    }
    bool truncated = xml_text(r.body, "IsTruncated").value_or("false") == "true";
    if (!truncated) break;
    token = xml_text(r.body, "NextContinuationToken").value_or("");
    if (token.empty()) {
      return Status::permanent("LIST " + s3_name(bucket, prefix) + " at " + endpoint_ +
                               ": the answer is truncated but has no continuation token");
    }
  }
  std::sort(out.begin(), out.end(),
            [](const ListedObject& a, const ListedObject& b) { return a.key < b.key; });
  return out;
}

Status S3Client::delete_object(const std::string& bucket, const std::string& key) {
  Request req;
  req.method = "DELETE";
  req.bucket = bucket;
  req.key = key;
  STRATA_ASSIGN_OR_RETURN(Response r, send(req));
  if (r.status / 100 == 2 || (r.status == 404 && r.error_code != "NoSuchBucket"))
    return Status::ok();
  return error_status("DELETE", bucket, key, r);
}

Result<std::string> S3Client::create_multipart_upload(const std::string& bucket,
                                                      const std::string& key) {
  Request req;
  req.method = "POST";
  req.bucket = bucket;
  req.key = key;
  req.query = {{"uploads", ""}};
  req.headers.emplace_back("Content-Type", "application/octet-stream");
  STRATA_ASSIGN_OR_RETURN(Response r, send(req));
  if (r.status / 100 != 2) return error_status("CreateMultipartUpload", bucket, key, r);
  std::string id = xml_text(r.body, "UploadId").value_or("");
  if (id.empty()) {
    return Status::permanent("CreateMultipartUpload " + s3_name(bucket, key) + " at " + endpoint_ +
                             ": the answer has no UploadId");
  }
  return id;
}

Result<std::string> S3Client::upload_part(const std::string& bucket, const std::string& key,
                                          const std::string& upload_id, int part_number,
                                          std::string_view body, const std::string& sha256_hex) {
  Request req;
  req.method = "PUT";
  req.bucket = bucket;
  req.key = key;
  req.body = body;
  req.payload_hash = sha256_hex;
  req.query = {{"partNumber", std::to_string(part_number)}, {"uploadId", upload_id}};
  req.headers.emplace_back("Content-MD5", base64_encode(digest(EVP_md5(), body)));
  STRATA_ASSIGN_OR_RETURN(Response r, send(req));
  if (r.status / 100 != 2)
    return error_status("UploadPart " + std::to_string(part_number) + " of", bucket, key, r);
  auto etag = r.headers.find("etag");
  if (etag == r.headers.end() || etag->second.empty()) {
    return Status::retryable("UploadPart " + std::to_string(part_number) + " of " +
                             s3_name(bucket, key) + " at " + endpoint_ +
                             ": the answer has no ETag");
  }
  return etag->second;  // with its quotes, as CompleteMultipartUpload wants it
}

Result<std::string> S3Client::complete_multipart_upload(const std::string& bucket,
                                                        const std::string& key,
                                                        const std::string& upload_id,
                                                        const std::vector<CompletedPart>& parts) {
  std::string xml = "<CompleteMultipartUpload>";
  for (const CompletedPart& p : parts) {
    xml += "<Part><PartNumber>" + std::to_string(p.number) + "</PartNumber><ETag>" +
           xml_escape(p.etag) + "</ETag></Part>";
  }
  xml += "</CompleteMultipartUpload>";
  Request req;
  req.method = "POST";
  req.bucket = bucket;
  req.key = key;
  req.body = xml;
  req.query = {{"uploadId", upload_id}};
  req.headers.emplace_back("Content-Type", "application/xml");
  STRATA_ASSIGN_OR_RETURN(Response r, send(req));
  // S3 may answer 200 and still fail: the error is then in the body.
  if (r.status / 100 != 2 || r.body.find("<Error>") != std::string::npos) {
    if (r.status / 100 == 2) {
      r.error_code = xml_text(r.body, "Code").value_or("");
      r.error_message = xml_text(r.body, "Message").value_or("");
      if (r.error_code == "InternalError" || r.error_code == "SlowDown") {
        return Status::retryable("CompleteMultipartUpload " + s3_name(bucket, key) + " at " +
                                 endpoint_ + " failed: " + r.error_code + ": " + r.error_message);
      }
      r.status = 400;
    }
    return error_status("CompleteMultipartUpload", bucket, key, r);
  }
  return strip_quotes(xml_text(r.body, "ETag").value_or(""));
}

Status S3Client::abort_multipart_upload(const std::string& bucket, const std::string& key,
                                        const std::string& upload_id) {
  Request req;
  req.method = "DELETE";
  req.bucket = bucket;
  req.key = key;
  req.query = {{"uploadId", upload_id}};
  STRATA_ASSIGN_OR_RETURN(Response r, send(req));
  if (r.status / 100 == 2 || r.error_code == "NoSuchUpload") return Status::ok();
  if (r.status == 501 || r.status == 405 || r.error_code == "NotImplemented") {
    // Test servers without the call (s3rver): the parts stay, invisible, on that server.
    spdlog::warn("S3 endpoint {} does not implement AbortMultipartUpload; upload {} of {} stays",
                 endpoint_, upload_id, s3_name(bucket, key));
    return Status::ok();
  }
  return error_status("AbortMultipartUpload", bucket, key, r);
}

Result<std::optional<std::vector<MultipartUpload>>> S3Client::list_multipart_uploads(
    const std::string& bucket, const std::string& prefix) {
  std::vector<MultipartUpload> out;
  std::string key_marker, id_marker;
  for (;;) {
    Request req;
    req.method = "GET";
    req.bucket = bucket;
    req.query = {{"uploads", ""}, {"prefix", prefix}};
    if (!key_marker.empty()) req.query.emplace_back("key-marker", key_marker);
    if (!id_marker.empty()) req.query.emplace_back("upload-id-marker", id_marker);
    STRATA_ASSIGN_OR_RETURN(Response r, send(req));
    if (r.status == 501 || r.status == 405 || r.error_code == "NotImplemented")
      return std::optional<std::vector<MultipartUpload>>();
    if (r.status / 100 != 2) return error_status("ListMultipartUploads", bucket, prefix, r);
    for (std::string_view u : xml_elements(r.body, "Upload")) {
      MultipartUpload m;
      m.key = xml_text(u, "Key").value_or("");
      m.upload_id = xml_text(u, "UploadId").value_or("");
      if (!m.upload_id.empty()) out.push_back(std::move(m));
    }
    if (xml_text(r.body, "IsTruncated").value_or("false") != "true") break;
    key_marker = xml_text(r.body, "NextKeyMarker").value_or("");
    id_marker = xml_text(r.body, "NextUploadIdMarker").value_or("");
    if (key_marker.empty() && id_marker.empty()) break;
  }
  return std::optional<std::vector<MultipartUpload>>(std::move(out));
}

}  // namespace strata::s3
