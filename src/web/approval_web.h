// The approval page: the out-of-band place (MCP URL-mode elicitation target, or a link printed by
// request_approval) where a human approves or denies ONE approval, as themselves.
//
//   GET  /approvals/{id}   shows exactly what would run: action, environment (tier), DAG, conf
//                          (pretty JSON), run target, params hash, requester, reason, expiry, state
//                          and the decisions so far; plus the decision form while it is pending.
//   POST /approvals/{id}   form fields approver, token, reason, decision=approve|deny, csrf.
//   GET  /                 the pending approvals, as links.   GET /healthz -> "ok".
//
// With `oidc` (auth: configured) approvers sign in through the identity provider instead:
//   GET  /oidc/login?return=/approvals/{id}  -> 302 to the issuer (oidc_login.h), with the
//        pre-login cookie dm_oidc (HttpOnly, SameSite=Lax: it must come back on the issuer's
//        cross-site redirect to the callback; Path=/oidc/callback; 10 min; Secure on https).
//        Any other return value is refused with 400 (no open redirect).
//   GET  /oidc/callback?code&state  -> the session cookie dm_session (random id; HttpOnly;
//        SameSite=Strict; Path=/approvals/{id}; Max-Age = the session's lifetime; Secure on
//        https) and a page that refreshes to /approvals/{id} (a same-site navigation, so the
//        Strict cookie is sent; a 302 at the end of the issuer's cross-site redirect chain would
//        not carry it).
//   POST /approvals/{id}  fields reason, decision, csrf — and the session cookie: the session
//        must be the one started from this approval's page, hold the approve scope and the
//        approval's environment; it ends after one recorded decision. Fields approver/token are
//        refused (the token login is off). The decision carries the session's issuer, subject
//        and principal into guard::Approvals (N-of-M counts distinct subjects).
//   POST /api/approvals/{id}/decision  the decision API for `dagmedic approvals approve|deny`
//        after `dagmedic login` (auth: only; 404 without). Body application/json
//        {"decision": "approve"|"deny", "reason": "…"} (other fields: 400), header
//        `Authorization: Bearer <access token>`. The token is checked by OidcLogin::bearer()
//        (verified as on the MCP side, issued to auth.cli.client_id, a subject, a principal),
//        then the approve scope (403 insufficient_scope) and the approval's environment (403),
//        and the decision goes through guard::Approvals as the page's does (requester and own
//        agent refused 403, the same IdP subject twice 409, not pending 409, unknown 404).
//        Cookies are never read here; a request with an Origin header (a browser) is refused
//        403 and one without a bearer token 401 (WWW-Authenticate: Bearer), so there is no CSRF
//        surface. Answers are JSON: {"error", "message"}, or the outcome with "message".
//        Refused tokens, scopes and environments are audited like the page's failed sign-ins.
//
// Security model:
// - Approvers authenticate with a personal token; the server holds only SHA-256(token) per
//   principal (ApproverMap, from the `approvers:` YAML mapping). The hash is compared in constant
//   time, and an unknown principal costs the same comparison, so the answer never says which of
//   the two was wrong. Tokens travel only in POST bodies, never in URLs, never in logs.
// - Failed logins (unknown approver, wrong token, attempt while locked out) are audited as
//   `approval_page.auth_failed` events (claimed principal as capped text, approval id, source
//   address, reason; never the token nor its hash). Fail closed: if that audit write fails the
//   attempt is refused with 503 (no decision is ever recorded for a failed login anyway).
// - Failed logins are rate-limited per source address and per claimed principal (LoginLimiter,
//   login_limiter.h): after 5 failures in 15 minutes the key is locked out (5 min, doubling, cap
//   1 h) and every attempt naming it gets 429 + Retry-After without its token being checked. The
//   address is the TCP peer (X-Forwarded-For is not trusted: behind a proxy all clients share it).
// - Who may approve is decided by guard::Approvals (never the requester, never an agent, one
//   decision per principal, not expired/denied/used); its refusal is shown verbatim. A principal
//   id starting with "agent:" is presented to Approvals as an agent.
// - CSRF: GET sets a random nonce in a cookie (HttpOnly, SameSite=Strict, Path=/approvals/{id})
//   and puts HMAC(server key, id + nonce) in a hidden field; POST needs both to match (constant
//   time), so a form is bound to its approval id and to the browser that loaded it. A POST whose
//   Origin is present and not this server's own origin is refused, as is a Host outside
//   the allowed set (DNS rebinding).
// - Everything shown is HTML-escaped; responses carry a CSP without scripts (default-src 'none'),
//   X-Frame-Options DENY, no-store and Referrer-Policy same-origin (no-referrer would make Chromium
//   send `Origin: null` on the page's own POST).
//
// Thread-safety: handle() may be called from any thread (Approvals is thread-safe). start()/stop()
// from one controlling thread. Nothing throws out of this API.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "guard/approval.h"
#include "guard/audit.h"
#include "web/login_limiter.h"
#include "web/oidc_login.h"

namespace dm::web {

// Normalized principal id -> lowercase hex SHA-256 of that approver's token.
using ApproverMap = std::map<std::string, std::string, std::less<>>;

// `base` + "/approvals/" + id (a trailing '/' on base is dropped; the id is percent-encoded).
std::string approval_page_url(std::string_view base, std::string_view id);

// Reads the top-level `approvers:` mapping of a YAML file:
//   approvers:
//     alice: {token_sha256: "<64 hex digits>"}     # printf %s "$TOKEN" | sha256sum
// Errors (invalid_argument, naming the key): not a mapping, a literal `token`, a hash that is not
// 64 hex digits, two ids that normalize to the same principal. not_found if the file is missing.
// A file without `approvers:` gives an empty map.
Result<ApproverMap> load_approvers(const std::string& yaml_path);
Result<ApproverMap> parse_approvers(std::string_view yaml, std::string_view source);

struct ApprovalWebOptions {
  std::string bind_address = "127.0.0.1";
  uint16_t port = 0;  // 0 = a free port
  ApproverMap approvers;
  // Accepted Host header values besides localhost / 127.0.0.1 / [::1] (any port), e.g. a
  // reverse proxy's name "approvals.example.com" (any port) or "host:port" (exactly).
  std::vector<std::string> allowed_hosts;
  int io_threads = 1;
  // For showing "expired" (the decision itself is Approvals' business) and for the login
  // limiter; null = system clock.
  std::shared_ptr<Clock> clock;
  // Where failed logins are recorded (the same log as the Approvals'). Null = they cannot be
  // audited, so every failed login is answered 503 (fail closed).
  std::shared_ptr<guard::AuditLog> audit;
  LoginLimits login_limits;
  // auth: configured — approvers sign in through the identity provider (oidc_login.h) and the
  // token login (`approvers:`) is refused. Null = the token login.
  std::shared_ptr<OidcLogin> oidc;
  // Called by start() once the port is bound, with base_url(), when `oidc` is null: makes the
  // OIDC client whose redirect URI needs the page's address (a free port). An error stops start().
  std::function<Result<std::shared_ptr<OidcLogin>>(const std::string& base_url)> oidc_factory;
  // Cookies get the Secure attribute (the page is served as https, e.g. behind a TLS proxy).
  // Plain http on loopback in development cannot use it (the browser would not send them back).
  bool secure_cookies = false;
};

// One HTTP exchange, transport-free (the server and the tests both use it).
struct WebRequest {
  std::string method;                                       // "GET", "POST", …
  std::string target;                                       // path and query, e.g. "/approvals/abc"
  std::map<std::string, std::string, std::less<>> headers;  // names lower-cased
  std::string body;
  std::string remote_address;  // the TCP peer ("127.0.0.1", "::1"); "" when unknown
};
struct WebResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string header(std::string_view name) const;  // first match, case-insensitive; "" if none
};

class ApprovalWeb {
 public:
  // `approvals` must not be null.
  ApprovalWeb(std::shared_ptr<guard::Approvals> approvals, ApprovalWebOptions opts);
  ~ApprovalWeb();  // stops if running
  ApprovalWeb(const ApprovalWeb&) = delete;
  ApprovalWeb& operator=(const ApprovalWeb&) = delete;

  // Answers one request (no sockets). Never throws.
  WebResponse handle(const WebRequest& req);

  // Binds and serves in background threads; returns the bound port. Errors: invalid_argument
  // (bad address), unavailable (bind failed, RNG failed), failed_precondition (already started).
  Result<uint16_t> start();
  // "http://<bind>:<port>" once started ("" before). IPv6 addresses are bracketed.
  std::string base_url() const;
  // Blocks until SIGINT/SIGTERM (or stop() from another thread).
  void wait_for_shutdown_signal();
  // Idempotent.
  void stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Loads approvers from `approvers_file` (an empty path is an error naming --approvers) and starts
// the page on bind:port. For `dagmedic serve --approval-port N`. `audit` is where failed logins
// go (pass the log the Approvals write to); required: failed_precondition when null, so a page
// whose failed logins cannot be audited never starts.
Result<std::unique_ptr<ApprovalWeb>> start_approval_web(std::shared_ptr<guard::Approvals> approvals,
                                                        const std::string& approvers_file,
                                                        const std::string& bind, int port,
                                                        std::shared_ptr<guard::AuditLog> audit);

// The page with an OIDC sign-in (`opts.oidc` or `opts.oidc_factory` set; auth: configured) and
// no token login; `opts.audit` required (failed_precondition otherwise), invalid_argument
// without a sign-in. Starts it and prints the base URL on stderr.
Result<std::unique_ptr<ApprovalWeb>> start_approval_web(std::shared_ptr<guard::Approvals> approvals,
                                                        ApprovalWebOptions opts);

// `dagmedic approvals web` / `serve --approval-port`: loads approvers from `approvers_file`,
// serves on bind:port, prints the base URL on stderr and blocks until SIGINT/SIGTERM.
// Returns a process exit code (0 ok, 1 failure with a message on stderr).
int run_approval_web(std::shared_ptr<guard::Approvals> approvals, const std::string& approvers_file,
                     const std::string& bind, int port, std::shared_ptr<guard::AuditLog> audit);

}  // namespace dm::web
