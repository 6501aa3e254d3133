// The HTTP client side of `strata serve`: `strata submit --server URL` and
// `strata status --server URL` (cpp-httplib).
#pragma once

#include <string>

#include "core/status.h"
#include "runtime/event.h"

namespace strata {

struct ApiReply {
  int status = 0;
  Json body;
};

// METHOD path on the server at `url` (http://host:port) with the bearer token; the reply's JSON
// (an error status names the server when it cannot be reached).
Result<ApiReply> api_call(const std::string& url, const std::string& token,
                          const std::string& method, const std::string& path,
                          const std::string& body = "", int timeout_seconds = 30);

// The token for a server: the file's content, else $STRATA_TOKEN; an error when neither is set.
Result<std::string> api_token(const std::string& token_file);

}  // namespace strata
