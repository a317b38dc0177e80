// Start-up wiring: what a dagmedic process takes from its host before any tool runs — the store
// named by the config (its DSN from the environment), the audit key (a file, an environment
// variable, or a key file generated on first use), and the human operator (the config's identity,
// else the OS user). runbook::make_deps receives these as values and never reads the host itself.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "config/config.h"
#include "guard/audit.h"
#include "mcp/request_state.h"
#include "runbook/deps.h"
#include "store/store.h"

namespace dm::app {

// The store config.store names: SQLite at s.path, or PostgreSQL at $<s.dsn_env>.
// failed_precondition when that variable is unset or empty; otherwise the store's own errors.
Result<std::unique_ptr<store::Store>> open_configured_store(const config::StoreSettings& s);

// Where the audit key comes from: config.audit.key_file, else $<config.audit.key_env>, else the
// file `audit.key` next to the SQLite store (or in the default state folder), created once with
// O_EXCL as 0600 holding 32 random bytes in hex (a note on stderr says so). The source is called
// when the audit is first used; errors are retried on the next use.
std::function<Result<guard::AuditKey>()> audit_key_source(const config::Config& cfg);

// config identity.principal, else the OS user name (getpwuid), else $USER, else "uid:N".
// invalid_argument for a malformed principal or one in the reserved "agent:" space.
Result<guard::Principal> operator_from(const config::Config& cfg);

// The sealer of MCP 2026-07-28 requestState from config.server.request_state_key_file or
// $<request_state_key_env> (trailing newline ignored; at least 32 bytes). Null when neither is set
// (the server then makes a random key per process). Errors name the file or variable and never
// include the key.
Result<std::shared_ptr<const mcp::RequestStateSealer>> request_state_sealer(
    const config::Config& cfg);

// runbook::make_deps with the three above. Errors as make_deps and operator_from.
Result<std::shared_ptr<runbook::Deps>> wire_deps(config::Config cfg);

}  // namespace dm::app
