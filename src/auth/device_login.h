// The client side of `dagmedic login`: the OAuth 2.0 device authorization grant (RFC 8628) of a
// public client at the configured issuer, the refresh grant and token revocation (RFC 7009).
// Knows nothing of MCP, Airflow or where tokens are kept (token_file.h).
//
//   discover()  -> the issuer's device_authorization_endpoint, token_endpoint and (optional)
//                  revocation_endpoint from its metadata (metadata_urls(): RFC 8414, then OIDC
//                  discovery); the metadata's "issuer" must equal the configured one; every
//                  endpoint must be https (http only on a loopback host). failed_precondition
//                  when the issuer offers no device authorization endpoint.
//   start()     -> POST client_id, scope and a PKCE S256 code_challenge (RFC 7636; Keycloak
//                  requires it of a client with PKCE enforced) to the device authorization
//                  endpoint: the device code, the user code, the verification URI(s), expires_in
//                  and interval (default 5 s). The verification URIs must be http(s) (shown to a
//                  person).
//   poll()      -> POST grant_type=urn:ietf:params:oauth:grant-type:device_code to the token
//                  endpoint (with the PKCE code_verifier) every `interval` (Clock::sleep_for, so
//                  tests do not sleep) until: tokens (ok); authorization_pending (wait again);
//                  slow_down (interval + 5 s, RFC 8628 §3.5); access_denied (permission_denied);
//                  expired_token, or expires_in passed on our side (timeout); any other answer
//                  (unauthenticated for an OAuth error, protocol for something that is not a token
//                  answer, unavailable for a transport failure or a 5xx). The first poll waits one
//                  interval first (the person has not signed in yet).
//   refresh()   -> grant_type=refresh_token; a new refresh token replaces the old one when given.
//   revoke()    -> RFC 7009 with token_type_hint=refresh_token.
//
// Messages are safe to print: they never hold a token, a device code or a refresh token (the
// user code is meant to be shown and is not a secret on its own). Time comes from the Clock seam
// and HTTP from the HttpClient seam. Thread-compatible (one login at a time).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "http/http_client.h"

namespace dm::auth {

struct DeviceClientOptions {
  std::string issuer{};     // exact, as the tokens' iss
  std::string client_id{};  // a public client with the device grant enabled
  std::string scope{};      // space-separated, e.g. "openid dagmedic:approve"
  std::chrono::milliseconds http_timeout{10000};
  std::size_t max_document_bytes = 1 << 20;
  std::chrono::seconds slow_down_step{5};  // RFC 8628 §3.5
};

struct DeviceEndpoints {
  std::string device_authorization_endpoint;
  std::string token_endpoint;
  std::string revocation_endpoint;  // "" when the issuer has none
};

struct DeviceCode {
  std::string device_code;    // secret: never printed
  std::string code_verifier;  // PKCE (RFC 7636) verifier sent with each poll; secret
  std::string user_code;
  std::string verification_uri;
  std::string verification_uri_complete;  // "" when the issuer gave none
  std::chrono::seconds expires_in{0};
  std::chrono::seconds interval{5};
};

struct TokenSet {
  std::string access_token;
  std::string refresh_token;               // "" when none was issued
  std::string id_token;                    // "" when none was issued
  std::string scope;                       // as granted ("" when the answer did not say)
  Clock::time_point expires_at{};          // of the access token
  Clock::time_point refresh_expires_at{};  // epoch = not said (Keycloak: refresh_expires_in)
};

class DeviceClient {
 public:
  // `http` and `clock` must not be null.
  DeviceClient(DeviceClientOptions opts, std::shared_ptr<http::HttpClient> http,
               std::shared_ptr<Clock> clock);

  Result<DeviceEndpoints> discover();
  Result<DeviceCode> start(const DeviceEndpoints& eps);
  Result<TokenSet> poll(const DeviceEndpoints& eps, const DeviceCode& code);
  // Errors: unauthenticated when the issuer refuses the refresh token (expired, revoked: log in
  // again), unavailable/protocol as poll().
  Result<TokenSet> refresh(const std::string& token_endpoint, const std::string& refresh_token);
  Status revoke(const std::string& revocation_endpoint, const std::string& refresh_token);

  // The number of token-endpoint requests poll() made (for tests and progress).
  std::size_t polls() const { return polls_; }

 private:
  Result<http::Response> post_form(const std::string& url, const std::string& body);
  Result<TokenSet> token_answer(const http::Response& r);

  DeviceClientOptions opts_;
  std::shared_ptr<http::HttpClient> http_;
  std::shared_ptr<Clock> clock_;
  std::size_t polls_ = 0;
};

// https, or http on a loopback host; no user info, query or fragment (an endpoint dagmedic sends
// secrets to). For checking URLs that come from configuration or metadata.
bool acceptable_endpoint(std::string_view url);

}  // namespace dm::auth
