// A small S3 client over libcurl and OpenSSL: Signature Version 4 header authentication, the
// object calls a cold target needs (PUT, ranged GET, HEAD, LIST v2, DELETE, multipart uploads
// and their listing), retries with backoff, and the standard AWS credential sources.
//
// Why our own: no Debian 12 package offers SigV4 plus multipart uploads to C++ (the AWS SDK for
// C++ is not packaged; libs3 is gone), and the calls needed here are few.
//
// Errors: transport failures (connection refused or reset, timeouts) and 5xx / 429 / SlowDown
// are retried with exponential backoff and full jitter, then returned as Status::retryable. A 4xx
// is never retried: bad credentials, a missing bucket or a wrong region are permanent errors that
// name the bucket (and key) and say what to fix. Secrets never appear in messages or logs.
//
// Thread-safety: an S3Client may be used from any number of threads at once; it keeps a small
// pool of curl handles so connections are reused.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace strata::s3 {

using KeyValues = std::vector<std::pair<std::string, std::string>>;

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;  // never printed
  std::string session_token;      // empty unless temporary credentials
};

// ---- Signature Version 4 ------------------------------------------------------------------

// Percent-encodes `s` as SigV4 wants it: unreserved characters (A-Z a-z 0-9 - . _ ~) as they
// are, every other byte as %XY (uppercase); '/' kept when `keep_slash` (object paths).
std::string uri_encode(std::string_view s, bool keep_slash);

struct SigningRequest {
  std::string method;        // "GET", "PUT", ...
  std::string host;          // the Host header as sent (host, or host:port when not the default)
  std::string path;          // not yet encoded, e.g. "/bucket/dt=1/a b.parquet"; never normalized
  KeyValues query;           // not yet encoded names and values; any order
  KeyValues headers;         // further headers to sign, names in any case; repeated names allowed
  std::string payload_hash;  // lowercase hex sha256 of the body, or "UNSIGNED-PAYLOAD"
  std::string amz_date;      // "20150830T123600Z"
  std::string region;
  std::string service = "s3";
};

struct Signature {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;       // lowercase hex
  std::string signed_headers;  // "host;x-amz-date"
  std::string authorization;   // the Authorization header value
  KeyValues headers;  // every header to send besides Authorization (host, x-amz-date, token, ...)
  std::string canonical_query;  // also the query string to send
  std::string canonical_uri;    // also the path to send
};

// Signs `req` (adds host, x-amz-date and, with a session token, x-amz-security-token).
Signature sign_v4(const SigningRequest& req, const Credentials& creds);

// ---- Configuration --------------------------------------------------------------------------

struct ClientConfig {
  // Where requests go. Empty = AWS (https://s3.<region>.amazonaws.com).
  std::string endpoint;
  std::string region = "us-east-1";
  bool path_style = false;  // https://host/bucket/key instead of https://bucket.host/key
  Credentials credentials;
  std::string credentials_source;  // "environment" or "profile 'x' of FILE": for messages
  int max_attempts = 6;            // per request, the first included
  std::chrono::milliseconds base_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
  long connect_timeout_ms = 10000;
  long stall_timeout_s = 60;  // a transfer moving no bytes for this long fails (retryable)
};

// Settings a target URI may carry; empty = take the environment or the default.
struct ConfigOverrides {
  std::string region;
  std::string endpoint;
  std::string addressing;  // "path" or "virtual"
  std::string profile;
};

// Resolves the configuration from the overrides and the standard places: AWS_ACCESS_KEY_ID /
// AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN (unless a profile is named in the URI), else the
// shared credentials file (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials) with the profile
// from the URI, AWS_PROFILE or "default"; AWS_REGION, AWS_DEFAULT_REGION, the profile's region in
// AWS_CONFIG_FILE or ~/.aws/config, else us-east-1; AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL.
// Addressing defaults to virtual-hosted for AWS (path-style for bucket names with dots) and
// path-style for a custom endpoint. `bucket` is for messages and the addressing default.
Result<ClientConfig> resolve_config(const std::string& bucket, const ConfigOverrides& overrides);

// ---- The client -------------------------------------------------------------------------------

struct ObjectInfo {
  uint64_t size = 0;
  std::string etag;  // as the server sent it, quotes removed
};

struct ListedObject {
  std::string key;
  uint64_t size = 0;
  std::string etag;
};

struct MultipartUpload {
  std::string key;
  std::string upload_id;
};

struct CompletedPart {
  int number = 0;
  std::string etag;
};

struct PutOptions {
  std::string if_none_match;  // "*": create only if absent (412 -> written = false)
  std::string if_match;       // an ETag: replace only that version (412 -> written = false)
  std::string content_type = "application/octet-stream";
};

struct PutOutcome {
  bool written = true;  // false: the condition failed (412 / 409 ConditionalRequestConflict)
  std::string etag;
};

class S3Client {
 public:
  static Result<std::unique_ptr<S3Client>> create(ClientConfig config);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  // "http://127.0.0.1:9000" or "https://s3.eu-west-1.amazonaws.com": for messages.
  const std::string& endpoint() const { return endpoint_; }
  const ClientConfig& config() const { return config_; }

  // Single PUT with the body's sha256 signed and sent as x-amz-checksum-sha256, and its MD5 as
  // Content-MD5, so the server rejects a body damaged in transit.
  Result<PutOutcome> put_object(const std::string& bucket, const std::string& key,
                                std::string_view body, const PutOptions& options = {});
  // nullopt when the key does not exist.
  Result<std::optional<std::string>> get_object(const std::string& bucket, const std::string& key);
  // Exactly `n` bytes at `offset` (an error if the object is shorter). `if_match`: an ETag the
  // object must still have (a replaced object is a permanent error, not mixed bytes).
  Status get_range(const std::string& bucket, const std::string& key, uint64_t offset, size_t n,
                   char* out, const std::string& if_match = "");
  // nullopt when the key does not exist.
  Result<std::optional<ObjectInfo>> head_object(const std::string& bucket, const std::string& key);
  // Every object whose key starts with `prefix`, following continuation tokens, in key order.
  // With a delimiter, keys below it are rolled up (and left out).
  Result<std::vector<ListedObject>> list_objects(const std::string& bucket,
                                                 const std::string& prefix,
                                                 const std::string& delimiter = "");
  // Ok when the key does not exist.
  Status delete_object(const std::string& bucket, const std::string& key);

  Result<std::string> create_multipart_upload(const std::string& bucket, const std::string& key);
  // Returns the part's ETag. `sha256_hex`: the body's sha256 (signed, so S3 checks it).
  Result<std::string> upload_part(const std::string& bucket, const std::string& key,
                                  const std::string& upload_id, int part_number,
                                  std::string_view body, const std::string& sha256_hex);
  // Returns the object's ETag.
  Result<std::string> complete_multipart_upload(const std::string& bucket, const std::string& key,
                                                const std::string& upload_id,
                                                const std::vector<CompletedPart>& parts);
  // Ok when the upload is already gone (NoSuchUpload), and (with a warning) on a server that
  // does not implement the call.
  Status abort_multipart_upload(const std::string& bucket, const std::string& key,
                                const std::string& upload_id);
  // In-progress uploads whose key starts with `prefix`, following the markers. nullopt: the
  // server does not implement the call (501 / 405), so there is nothing we can clean up.
  Result<std::optional<std::vector<MultipartUpload>>> list_multipart_uploads(
      const std::string& bucket, const std::string& prefix);

  // The raw exchange, for the calls above and for tests.
  struct Request {
    std::string method;
    std::string bucket;  // empty: the service itself
    std::string key;     // empty: the bucket
    KeyValues query;
    KeyValues headers;
    std::string_view body;
    std::string payload_hash;  // empty: computed from body
    bool head = false;         // HEAD: no body in the answer
    char* out = nullptr;       // when set, the answer's body goes here (at most out_size bytes)
    size_t out_size = 0;
  };
  struct Response {
    long status = 0;
    std::map<std::string, std::string> headers;  // lowercase names
    std::string body;
    size_t out_written = 0;
    std::string error_code;     // from the XML error body, when any
    std::string error_message;  // ditto
  };
  // Sends with retries. A transport failure or a retryable HTTP status that persists comes back
  // as a retryable Status; any other answer (including 4xx) comes back as a Response.
  Result<Response> send(const Request& request);

  // A permanent or retryable Status for a failed answer: names the operation, bucket and key,
  // and says how to fix what can be fixed.
  Status error_status(const std::string& operation, const std::string& bucket,
                      const std::string& key, const Response& response) const;

 private:
  explicit S3Client(ClientConfig config);
  struct Handle;
  std::unique_ptr<Handle> acquire();
  void release(std::unique_ptr<Handle> handle);

  ClientConfig config_;
  std::string endpoint_;
  std::string scheme_;  // "http" or "https"
  std::string host_;    // endpoint host (no port)
  int port_ = 0;        // 0 = the scheme's default
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Handle>> pool_;
};

// ---- Helpers shared with the target and tests ---------------------------------------------

// The raw inner text of every <tag>...</tag> (or <tag/>) in `xml`, in order.
std::vector<std::string_view> xml_elements(std::string_view xml, std::string_view tag);
// The entity-decoded text of the first <tag>...</tag>, or nullopt.
std::optional<std::string> xml_text(std::string_view xml, std::string_view tag);
std::string xml_unescape(std::string_view s);
std::string xml_escape(std::string_view s);

}  // namespace strata::s3
