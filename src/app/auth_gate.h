// `dagmedic serve --transport http` with `auth:` (docs/security.md): the mcp::http::BearerGate
// that turns a bearer token into the caller, through auth::TokenVerifier (local JWT checks,
// JWKS, introspection) and the config's identity rules, and decides scopes with the runbook's
// access rules (runbook/access.h). The token never leaves this gate: it is not forwarded to
// Airflow (the Airflow clients use the environments' own credentials) and not logged.
#pragma once

#include <memory>
#include <string>

#include "auth/identity.h"
#include "auth/token_verifier.h"
#include "common/clock.h"
#include "common/result.h"
#include "config/config.h"
#include "http/http_client.h"
#include "mcp/http/bearer.h"
#include "mcp/server.h"
#include "web/approval_web.h"

namespace dm::app {

// The gate for `cfg.auth` (which must be enabled). `server` is consulted for tools' effects.
// The introspection secret is read here (client_secret_env / client_secret_file).
// Errors: invalid_argument (bad settings, naming the key), not_found / failed_precondition for a
// secret that cannot be read.
Result<std::shared_ptr<mcp::http::BearerGate>> make_bearer_gate(
    const config::Config& cfg, std::shared_ptr<const mcp::Server> server,
    std::shared_ptr<http::HttpClient> http, std::shared_ptr<Clock> clock);

// The token verifier of `cfg.auth` (which must be enabled): the same checks for the MCP side's
// bearer tokens and the approval page's sign-in. Errors as make_bearer_gate.
Result<std::unique_ptr<auth::TokenVerifier>> make_token_verifier(
    const config::Config& cfg, std::shared_ptr<http::HttpClient> http,
    std::shared_ptr<Clock> clock);
// The identity rules of `cfg.auth` (principal claim, environments claim and mapping).
auth::IdentityRules identity_rules(const config::Config& cfg);

// The approval page's options for `cfg.auth.approval_page` (docs/config.md): an OIDC sign-in
// (web::OidcLogin on its own TokenVerifier, redirect URI public_url or the page's address +
// "/oidc/callback"), Secure cookies when public_url is https, public_url's host allowed.
// Bind, port and audit are the caller's. Errors: invalid_argument naming auth.approval_page when
// it is absent (the token login is off with auth:), a secret that cannot be read.
Result<web::ApprovalWebOptions> approval_page_oidc_options(const config::Config& cfg,
                                                           std::shared_ptr<http::HttpClient> http,
                                                           std::shared_ptr<Clock> clock);

// RFC 9728 §3.1: https://host/path → https://host/.well-known/oauth-protected-resource/path.
std::string resource_metadata_url(const std::string& resource);

// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_bind(const std::string& address);

}  // namespace dm::app
