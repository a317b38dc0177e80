// Authorization of the Streamable HTTP endpoint, per the MCP authorization spec: the server is an
// OAuth 2.1 resource server. The transport does the HTTP part here (RFC 6750 bearer tokens, RFC
// 9728 protected-resource metadata); what a token means is the application's, behind BearerGate.
//
// With a gate set (HttpServerOptions::bearer), every request to the MCP endpoint (POST, GET,
// DELETE) must carry `Authorization: Bearer <token>`:
//  - a token in the URI query (access_token=…) → 400, error="invalid_request", nothing parsed;
//  - an Authorization header over kMaxAuthorizationBytes → 431, nothing parsed;
//  - no token (or another scheme) → 401, WWW-Authenticate: Bearer resource_metadata="…",
//    scope="<the gate's base scope>";
//  - a token the gate refuses → 401 with error="invalid_token" and an error_description;
//  - a gate that cannot check tokens now (keys unreachable) → 503;
//  - a request the caller's scopes do not cover → 403, error="insufficient_scope",
//    scope="<what is needed>";
//  - a session is bound to the caller that opened it: a request for it by anyone else → 404
//    (as for an unknown session).
// The metadata document (resource, authorization_servers, scopes_supported,
// bearer_methods_supported ["header"]) is served to anyone at /.well-known/oauth-protected-resource
// and at its path-suffixed forms (RFC 9728 §3.1). The token itself never reaches the session,
// a log line or an answer.
#pragma once

#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "mcp/session.h"

namespace dm::mcp::http {

inline constexpr std::size_t kMaxAuthorizationBytes = 8192;
inline constexpr std::string_view kResourceMetadataPath = "/.well-known/oauth-protected-resource";

// Implemented by the application. Thread-safety: called from the io threads, concurrently.
class BearerGate {
 public:
  virtual ~BearerGate() = default;
  // The caller a bearer token stands for. Errors: unauthenticated (the token is not acceptable;
  // the message becomes error_description and must not hold the token), anything else (the
  // token could not be checked now) → 503.
  virtual Result<std::shared_ptr<const Caller>> authenticate(std::string_view token) = 0;
  // The scopes (space-separated) `caller` lacks for a request: `method` is the JSON-RPC method
  // ("" for GET/DELETE of the endpoint), `target` what it acts on (message_peek.h Peek::target).
  // "" when the request is allowed.
  virtual std::string missing_scope(const Caller& caller, std::string_view method,
                                    std::string_view target) = 0;
  // The scope advertised with a 401 (what any request needs at least).
  virtual std::string base_scope() const = 0;
  // The RFC 9728 metadata document and the URL it is published at (the resource_metadata
  // parameter of WWW-Authenticate).
  virtual nlohmann::json resource_metadata() const = 0;
  virtual std::string resource_metadata_url() const = 0;
};

// `Bearer k1="v1", k2="v2"`, values as RFC 7230 quoted-strings (quotes and backslashes escaped,
// control characters dropped).
std::string bearer_challenge(const std::vector<std::pair<std::string, std::string>>& params);

// The token of an `Authorization: Bearer <token>` header value; "" for another scheme or none.
// The scheme is case-insensitive; the token is what follows one or more spaces, and must be a
// b64token (RFC 6750 §2.1) — otherwise invalid is set.
std::string bearer_token(std::string_view authorization, bool& invalid);

// True when the URI query (the part after '?', without it) has an access_token parameter.
bool query_has_access_token(std::string_view query);

// An opaque key naming a caller, for binding sessions to who opened them.
std::string caller_key(const Caller& c);

}  // namespace dm::mcp::http
