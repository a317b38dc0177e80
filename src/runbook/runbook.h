// The runbook's MCP tools (Detect → Triage → Diagnose → Remediate → Verify → Postmortem),
// registered on a dm::mcp::Server. One file per stage; this header is what `app` calls.
#pragma once

#include <functional>
#include <memory>

#include "common/result.h"
#include "config/config.h"
#include "mcp/server.h"
#include "runbook/deps.h"

namespace dm::runbook {

// Registers every runbook tool, resource and prompt available in this build. Works with an empty
// config: tools that need Airflow are still listed and answer with how to configure an environment.
Status register_tools(mcp::Server& server, const std::shared_ptr<const Deps>& deps);

// For mcp::ServerOptions::state_claims: binds each sealed requestState (2026-07-28 input_required
// answers: approvals, sampling) to who asked — {"requester": the audit's name of the requester,
// e.g. "agent:claude for alice"} — so that another agent or principal cannot continue it. The
// MCP core adds the tool, the arguments' hash and an authenticated caller's issuer and subject.
std::function<nlohmann::json(const mcp::Call&, mcp::RequestContext&)> request_state_claims(
    std::shared_ptr<const Deps> deps);

// Per stage (called by register_tools; each lives in its own file).
Status register_detect_tools(mcp::Server& server, const std::shared_ptr<const Deps>& deps);
Status register_triage_tools(mcp::Server& server, const std::shared_ptr<const Deps>& deps);
Status register_diagnose_tools(mcp::Server& server, const std::shared_ptr<const Deps>& deps);
Status register_verify_tools(mcp::Server& server, const std::shared_ptr<const Deps>& deps);
Status register_postmortem_tools(mcp::Server& server, const std::shared_ptr<const Deps>& deps);

}  // namespace dm::runbook
