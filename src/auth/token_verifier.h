// OAuth 2.1 resource-server side of access tokens: validates a bearer token locally (a JWT signed
// by the configured issuer, RFC 9068 style) and, when configured, asks the issuer whether it is
// still active (RFC 7662 introspection, for revocation). Knows nothing of MCP or Airflow.
//
// What verify() checks, in order (the first failure is the answer):
//  1. size (max_token_bytes) and shape (jose.h parse_compact: alg acceptable and in the allow
//     list — never none, never HS*; no crit);
//  2. the signing key: by "kid" in the issuer's JWK set (or the only key that fits, when the
//     token names none); the key must fit the algorithm;
//  3. the signature;
//  4. claims: iss equals `issuer` exactly; aud (a string or an array) contains `audience`
//     (RFC 8707: the server's canonical resource URI); exp present and now <= exp + leeway;
//     nbf (when present) <= now + leeway; iat (when present) <= now + leeway;
//  5. introspection (when configured): the issuer answers {"active": true}.
// Claims are looked at only after the signature verified. The token is never logged nor put in
// an error message.
//
// Keys: the JWK set comes from `jwks_uri`, or, when empty, from the issuer's metadata: RFC 8414
// (/.well-known/oauth-authorization-server, path inserted after the host), then OpenID
// Connect discovery (/.well-known/openid-configuration, path inserted, then appended); the
// metadata's "issuer" must equal `issuer`. The set is cached; it is fetched again when older
// than `jwks_max_age`, or when a token names a kid the set lacks (key rotation) — but never
// more than once per `min_refetch_interval` whatever happens (a flood of tokens with unknown
// kids, an issuer that is down): JWKS and metadata fetches share that budget. A stale set is
// kept while a refresh fails. Concurrent verifications wait for one fetch instead of making
// several.
//
// Time comes from the Clock seam and HTTP from the HttpClient seam (tests inject both).
// Thread-safety: verify() may be called from any number of threads at once.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/jose.h"
#include "common/clock.h"
#include "common/result.h"
#include "http/http_client.h"

namespace dm::auth {

struct IntrospectionOptions {
  std::string endpoint{};  // "" = the issuer metadata's introspection_endpoint
  std::string client_id{};
  std::string client_secret{};  // sent with HTTP Basic (RFC 6749 §2.3.1); never logged
};

struct VerifierOptions {
  std::string issuer{};    // exact "iss"
  std::string audience{};  // must be one of "aud"
  std::string jwks_uri{};  // "" = discovered from the issuer's metadata
  std::vector<Alg> algorithms{Alg::rs256, Alg::es256, Alg::eddsa};
  std::chrono::seconds leeway{60};
  std::chrono::seconds jwks_max_age{600};
  std::chrono::seconds min_refetch_interval{30};
  std::chrono::milliseconds http_timeout{5000};
  std::size_t max_token_bytes = 8192;
  std::size_t max_document_bytes = 1 << 20;  // JWK set / metadata / introspection answers
  std::optional<IntrospectionOptions> introspection{};
};

// A token that passed every check.
struct VerifiedToken {
  nlohmann::json header;
  nlohmann::json claims;
};

class TokenVerifier {
 public:
  // `http` and `clock` must not be null. Options are checked by check_options() first.
  TokenVerifier(VerifierOptions opts, std::shared_ptr<http::HttpClient> http,
                std::shared_ptr<Clock> clock);

  // invalid_argument naming the option: issuer/audience empty or not an http(s) URL, an empty
  // algorithm list, introspection without client id or secret, zero sizes.
  static Status check_options(const VerifierOptions& opts);

  // Errors: unauthenticated — the token is not acceptable; the message says why, is safe to show
  // to the sender and never holds the token; unavailable — the keys, the issuer's metadata or the
  // introspection endpoint could not be reached or answered garbage: the token could not be
  // checked (the caller should answer 503, never let it through).
  Result<VerifiedToken> verify(std::string_view token);

  // The same checks with another audience and without introspection: for an OpenID Connect ID
  // token (audience = the relying party's client_id, which need not be a URL). The caller checks
  // what is particular to ID tokens (nonce, azp). Same errors as verify().
  Result<VerifiedToken> verify_id_token(std::string_view token, std::string_view client_id);

  // The issuer's OAuth/OIDC endpoints for a relying party (authorization code flow), from its
  // metadata (RFC 8414 / OIDC discovery, as for the keys; fetched at most once per
  // min_refetch_interval until it succeeds, then kept). Both must be https (http on loopback);
  // a metadata document that lists code_challenge_methods_supported without S256 is refused.
  // Errors: unavailable (unreachable, garbage, refused as above).
  struct Endpoints {
    std::string authorization_endpoint;
    std::string token_endpoint;
  };
  Result<Endpoints> endpoints();

  // Fetches the JWK set now (discovering it first when needed), within the refetch budget.
  // For start-up checks; verify() does it by itself when needed.
  Status warm_up();

  // HTTP requests made so far for metadata and JWK sets (introspection not counted).
  std::size_t key_fetches() const;

  const VerifierOptions& options() const { return opts_; }

 private:
  struct Keys;
  Result<std::shared_ptr<const Keys>> keys_for(const std::string& kid, bool& refetched);
  Status fetch_keys_locked();
  Result<std::string> get_document(const std::string& url, const char* what);
  Status discover_locked();
  Status introspect(std::string_view token);
  Result<VerifiedToken> verify_impl(std::string_view token, std::string_view audience,
                                    bool introspect);

  VerifierOptions opts_;
  std::shared_ptr<http::HttpClient> http_;
  std::shared_ptr<Clock> clock_;

  mutable std::mutex mu_;  // guards the fields below (held briefly)
  std::shared_ptr<const Keys> keys_;
  std::string jwks_uri_;
  std::string introspection_endpoint_;
  std::optional<Endpoints> endpoints_;
  std::string endpoints_error_;  // why the metadata's endpoints were refused ("" = fine)
  std::size_t fetches_ = 0;

  std::mutex fetch_mu_;  // one fetch at a time; guards last_attempt_
  std::optional<Clock::time_point> last_attempt_;
  std::optional<Clock::time_point> last_discovery_;  // endpoints() own attempts
};

// The endpoints, in order, where the metadata of `issuer` is looked for (RFC 8414 §3.1 and OIDC
// discovery, as MCP's authorization spec lists them).
std::vector<std::string> metadata_urls(std::string_view issuer);

}  // namespace dm::auth
