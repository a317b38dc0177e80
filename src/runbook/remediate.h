// Remediate stage (docs/guard.md, docs/runbook.md): propose_action (read-only), request_approval,
// trigger_dag and clear_failed_tasks. Writes run only with an approval bound to their exact
// parameters (or, in a dev tier whose policy allows it, within policy without one), after the
// policy check, a one-time consume and a fail-closed audit `begin` entry.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "mcp/server.h"
#include "runbook/deps.h"
#include "runbook/tool_args.h"

namespace dm::runbook {

// Registers propose_action, request_approval, trigger_dag and clear_failed_tasks. Works with an
// empty config (the tools are listed; calls explain what to configure).
Status register_remediate_tools(mcp::Server& server, const std::shared_ptr<const Deps>& deps);

namespace remediate {

// Internal to the remediate_*.cpp files.
Status register_propose_action(mcp::Server& server, const std::shared_ptr<const Deps>& deps);
Status register_writes(mcp::Server& server, const std::shared_ptr<const Deps>& deps);

// An environment resolved for a write: its client, name and tier rule.
struct WriteTarget {
  Target target;
  std::string env;
  std::string tier;
  guard::TierRule rule;
};
Result<WriteTarget> resolve_write(const Deps& deps, const WithEnvironment& args);

// Failed (and upstream_failed) task ids of a run, sorted and unique; failed_precondition if none.
Result<std::vector<std::string>> failed_task_ids(airflow::AirflowClient& client,
                                                 const std::string& dag_id,
                                                 const std::string& run_id);

// The agent making an MCP request (clientInfo.name).
std::string client_name(mcp::ToolContext& ctx);

std::string how_to_approve(const Deps& deps, const store::ApprovalRecord& a);

// When the tier allows it and the client supports it, asks the human at the client to approve
// `a` (form mode: dev tiers, recorded as the operator principal; URL mode: the approval page).
// `mode` receives what happened ("none", "form:accepted", "url:…"). Returns the record as it
// stands afterwards (pending if nobody approved).
Result<store::ApprovalRecord> elicit_approval(const Deps& deps, mcp::ToolContext& ctx,
                                              const WriteTarget& wt, store::ApprovalRecord a,
                                              std::string& mode);

}  // namespace remediate
}  // namespace dm::runbook
