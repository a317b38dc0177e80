// Who may use what when `dagmedic serve` runs with authorization (config `auth:`,
// docs/security.md). A caller (mcp::Caller, from a verified access token) gets:
//  - read tools (effect reads) with the read scope — or the operate scope, which includes it;
//  - tools that change something (writes_local: request_approval, generate_postmortem;
//    writes_remote: trigger_dag, clear_failed_tasks; or an undeclared effect) with the operate
//    scope only;
//  - only the environments its token maps to: a call naming (or defaulting to) another one is
//    refused by the door before it runs (door.h), reads included.
// Tools a caller may not use are neither listed to it nor callable (mcp::Server tool filter).
// Without a caller (stdio, or HTTP without auth:) nothing here applies: the local, single-user
// mode. Pure functions; thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "common/result.h"
#include "config/config.h"
#include "mcp/server.h"
#include "runbook/deps.h"

namespace dm::runbook {

// The scope a call of something with this effect needs (config auth.scopes names).
std::string scope_for(const config::AuthScopes& scopes, std::optional<mcp::Effect> effect);

// Whether `caller` holds what `effect` needs.
bool may_use(const config::AuthScopes& scopes, const mcp::Caller& caller,
             std::optional<mcp::Effect> effect);

// The scope `caller` lacks for a JSON-RPC `method` on `target` (a tools/call's tool name), or ""
// when allowed. Unknown tools need the read scope (the server answers "Unknown tool").
std::string missing_scope(const mcp::Server& server, const config::AuthScopes& scopes,
                          const mcp::Caller& caller, std::string_view method,
                          std::string_view target);

// Sets the server's tool filter to may_use (callers only; no caller: every tool).
void install_access(mcp::Server& server, const config::AuthScopes& scopes);

// The environment a call acts on when authorization is on: `arguments.environment`, or the
// config's default when the tool takes an environment and none is named. nullopt when the tool
// takes no environment (or no default can be picked: the tool itself will refuse).
std::optional<std::string> call_environment(const Deps& deps, const mcp::Call& call);

}  // namespace dm::runbook
