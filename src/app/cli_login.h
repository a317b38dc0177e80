// `dagmedic login` / `logout` and the CLI's decisions with `auth:` (docs/security.md): the device
// authorization grant (auth/device_login.h) at the config's issuer with the public client
// auth.cli.client_id, tokens kept in the user's state dir (auth/token_file.h), and decisions sent
// to the approval page's decision API (web/approval_web.h) with the stored access token — the
// CLI never writes a decision into the store itself when auth: is set.
// Tokens are never printed. Returns process exit codes like the other cmd_* (commands.h).
#pragma once

#include <memory>
#include <string>

#include "auth/device_login.h"
#include "auth/token_file.h"
#include "common/clock.h"
#include "common/result.h"
#include "config/config.h"
#include "http/http_client.h"

namespace dm::app {

// The device client of `cfg.auth` (enabled): issuer, auth.cli.client_id and the scope
// "openid <read> <operate> <approve>" (the configured scope names).
auth::DeviceClientOptions device_client_options(const config::Config& cfg);

// The stored login for `cfg.auth`, renewed when its access token is about to expire (and saved).
// unauthenticated ("run `dagmedic login`") when there is none, it was made for another issuer,
// audience or client, or it expired and cannot be renewed; failed_precondition for a token file
// with a wrong mode.
Result<auth::StoredLogin> current_login(const config::Config& cfg,
                                        std::shared_ptr<http::HttpClient> http,
                                        std::shared_ptr<Clock> clock);

// POST {"decision", "reason"} to `server` + "/api/approvals/<id>/decision" with the stored login's
// access token; prints the server's answer (stdout on success, stderr otherwise). Exit code.
int send_decision(const config::Config& cfg, const std::string& server, const std::string& id,
                  bool approve, const std::string& reason, std::shared_ptr<http::HttpClient> http,
                  std::shared_ptr<Clock> clock);

}  // namespace dm::app
