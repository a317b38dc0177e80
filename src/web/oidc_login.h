// The approval page as an OpenID Connect relying party (auth: configured; docs/security.md):
// approvers sign in at the issuer with the authorization code flow and PKCE (S256), and a
// decision carries the identity the issuer vouched for.
//
//   begin(return_path)  -> the issuer's authorization URL (response_type=code, scope "openid
//                          <approve scope>", state, nonce, code_challenge S256, prompt=login)
//                          and a random `binding` for the pre-login cookie.
//   complete(state, code, binding)
//                       -> the state must be known, unexpired (login_ttl) and is used once
//                          whatever happens; the binding (the pre-login cookie) must be the one
//                          handed out with it (constant time); the code is exchanged at the
//                          token endpoint with the PKCE verifier (client secret by HTTP Basic for
//                          a confidential client); the ID token is verified with the issuer's
//                          keys (signature, iss, aud = client_id, exp/nbf/iat) and its nonce must
//                          be the one sent (azp, when present, the client id); the access token
//                          is verified as the MCP side verifies bearer tokens (aud = the server's
//                          audience, introspection when configured) and gives the principal,
//                          scopes and environments (auth::identity_of, the same rules); both
//                          tokens must name the same subject. The result is a session: a random
//                          id bound to that one login and to the one approval it was started
//                          for, valid session_ttl.
//   session(id)         -> the session while it lasts.  end_session(id) ends it.
//   bearer(token)       -> the approver behind an access token of `dagmedic login` (below).
//
// Endpoints come from the issuer's discovery (auth::TokenVerifier::endpoints()). Tokens are
// never logged, stored or shown. Time from the Clock seam, HTTP from the HttpClient seam.
// Thread-safe. Errors: invalid_argument (a bad return path), unauthenticated (state, binding,
// code, tokens or identity refused; the message is safe to show), unavailable (the issuer could
// not be reached, or too many sign-ins are in progress).
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/identity.h"
#include "auth/token_verifier.h"
#include "common/clock.h"
#include "common/result.h"
#include "http/http_client.h"

namespace dm::web {

struct OidcOptions {
  std::string client_id{};
  std::string client_secret{};  // "" = a public client (PKCE only)
  std::string redirect_uri{};   // the page's public origin + "/oidc/callback"
  std::string approve_scope = "dagmedic:approve";
  auth::IdentityRules rules{};
  std::chrono::seconds login_ttl{600};    // from begin() to the callback
  std::chrono::seconds session_ttl{900};  // a session's lifetime
  std::size_t max_pending = 10000;        // sign-ins in progress (and sessions) kept at most
  std::chrono::milliseconds http_timeout{10000};
  // The public client of `dagmedic login` (auth.cli.client_id): the one client whose access
  // tokens bearer() accepts for decisions sent to the decision API. "" = none is accepted.
  std::string cli_client_id{};
};

// Who signed in, as the issuer vouched for them.
struct ApproverSession {
  std::string approval_id;  // the one approval this sign-in may decide on
  std::string issuer;
  std::string subject;
  std::string principal;  // normalized (guard::normalize_principal)
  std::vector<std::string> scopes;
  std::vector<std::string> environments;
  Clock::time_point expires_at{};
};

// The approval id of a return path, which must be exactly "/approvals/<id>" (id: letters,
// digits, '-' and '_', at most 128): nothing else — no scheme, host, "//", backslash, query,
// fragment, dot segment or encoding — is ever a place to return to (no open redirect).
std::optional<std::string> approval_id_of_return_path(std::string_view path);

// RFC 7636 S256: base64url(SHA-256(verifier)) without padding.
std::string pkce_challenge(std::string_view verifier);

class OidcLogin {
 public:
  // `verifier` (the server's TokenVerifier, for the issuer's keys, discovery and the access
  // token), `http` and `clock` must not be null.
  OidcLogin(OidcOptions opts, std::shared_ptr<auth::TokenVerifier> verifier,
            std::shared_ptr<http::HttpClient> http, std::shared_ptr<Clock> clock);

  struct Begin {
    std::string authorize_url;
    std::string binding;  // the pre-login cookie's value
    std::string approval_id;
  };
  Result<Begin> begin(std::string_view return_path);

  struct Completed {
    std::string session_id;   // the session cookie's value
    std::string return_path;  // "/approvals/<id>"
    ApproverSession session;
  };
  Result<Completed> complete(std::string_view state, std::string_view code,
                             std::string_view binding);
  // Forgets a state (the issuer answered an error to the callback). Returns whether it existed.
  bool drop_state(std::string_view state, std::string_view binding);

  // A decision sent with a bearer token (`dagmedic approvals approve` after `dagmedic login`):
  // the access token is verified as verify() does on the MCP side (signature, iss, aud = the
  // server's audience, exp/nbf/iat, introspection when configured); it must have been issued to
  // `cli_client_id` (azp, else client_id: an agent's or another service's token never decides),
  // carry a subject, and give a principal outside the agent: space (auth::identity_of, the same
  // rules). The result has an empty approval_id and expires with the token. The caller checks
  // scope and environment. Errors: unauthenticated (safe to show), unavailable (the issuer's
  // keys or introspection could not be reached).
  Result<ApproverSession> bearer(std::string_view access_token);

  std::optional<ApproverSession> session(std::string_view id);
  void end_session(std::string_view id);

  const OidcOptions& options() const { return opts_; }

 private:
  struct Pending {
    std::string binding, nonce, code_verifier, return_path, approval_id;
    Clock::time_point created;
  };
  void purge_locked(Clock::time_point now);
  Result<Completed> finish(const Pending& p, std::string_view code);

  OidcOptions opts_;
  std::shared_ptr<auth::TokenVerifier> verifier_;
  std::shared_ptr<http::HttpClient> http_;
  std::shared_ptr<Clock> clock_;
  std::mutex mu_;
  std::map<std::string, Pending, std::less<>> pending_;           // by state
  std::map<std::string, ApproverSession, std::less<>> sessions_;  // by session id
};

}  // namespace dm::web
