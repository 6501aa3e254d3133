#include "cli/api_client.h"

#include <httplib.h>

#include <cctype>
#include <cstdlib>

#include "core/fs.h"

namespace strata {

Result<ApiReply> api_call(const std::string& url, const std::string& token,
                          const std::string& method, const std::string& path,
                          const std::string& body, int timeout_seconds) {
  if (url.rfind("http://", 0) != 0) {
    return Status::permanent("server '" + url + "': expected http://host:port");
  }
  httplib::Client client(url);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(timeout_seconds, 0);
  client.set_bearer_token_auth(token.c_str());
  httplib::Result r = method == "POST" ? client.Post(path.c_str(), body, "application/json")
                                       : client.Get(path.c_str());
  if (!r) {
    return Status::retryable("server " + url + " cannot be reached (" +
                             httplib::to_string(r.error()) + "): is strata serve running there?");
  }
  ApiReply reply;
  reply.status = r->status;
  reply.body = Json::parse(r->body, nullptr, false);
  if (reply.body.is_discarded()) {
    return Status::permanent("server " + url + " answered " + std::to_string(r->status) +
                             " with something other than JSON");
  }
  return reply;
}

Result<std::string> api_token(const std::string& token_file) {
  if (!token_file.empty()) {
    STRATA_ASSIGN_OR_RETURN(std::string t, read_file(token_file));
    while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
    if (t.empty()) return Status::permanent("token file " + token_file + " is empty");
    return t;
  }
  if (const char* env = std::getenv("STRATA_TOKEN"); env != nullptr && *env != '\0') {
    return std::string(env);
  }
  return Status::permanent("no token for the server: set STRATA_TOKEN or pass --token-file FILE");
}

}  // namespace strata
