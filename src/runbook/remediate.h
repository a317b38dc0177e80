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

// What asking the human at the client for a decision gave.
struct Asked {
  store::ApprovalRecord record;  // as it stands now (pending if nobody decided)
  // What happened: "none", "form:asked", "form:accepted", "form:declined", "url:asked",
  // "url:accept", "form:unsupported_by_client", …
  std::string mode = "none";
  // Set when the tool must answer input_required with it (MRTR): the client asks its human and
  // retries the same call with the answers. The state names the approval, so the retry continues
  // it instead of requesting another one. On a 2025-11-25 session the MCP core asks through
  // server->client requests and reruns the tool at once; on 2026-07-28 the client retries, and the
  // core has sealed the state to this tool, these exact arguments and this caller.
  std::optional<mcp::InputRequired> input{};
};

// When the tier allows it and the client supports it, asks the human at the client to decide on
// `a` (form mode: dev tiers, recorded as the operator principal; URL mode: the approval page,
// where another person decides). A first call gives Asked::input; the retry that carries the
// answer gets the decision applied (form) or the record re-read (URL).
Result<Asked> elicit_approval(const Deps& deps, mcp::ToolContext& ctx, const WriteTarget& wt,
                              store::ApprovalRecord a);

// The approval a retried call continues: the one named by the verified request state of an
// earlier input_required answer, provided it is for `action`, exactly these parameters and this
// environment. nullopt on a first call. Errors when the store cannot be read or the named approval
// is for something else.
Result<std::optional<store::ApprovalRecord>> resumed_approval(const Deps& deps,
                                                              mcp::ToolContext& ctx,
                                                              const std::string& action,
                                                              const guard::ActionParams& params,
                                                              const std::string& env);

}  // namespace remediate
}  // namespace dm::runbook
