#include "runbook/runbook.h"

#include "runbook/door.h"
#include "runbook/remediate.h"
#include "runbook/tool_kit.h"

namespace dm::runbook {

Status register_tools(mcp::Server& server, const std::shared_ptr<const Deps>& deps) {
  if (auto st = install_door(server, deps); !st) return st;
  for (auto* reg :
       {&register_detect_tools, &register_triage_tools, &register_diagnose_tools,
        &register_remediate_tools, &register_verify_tools, &register_postmortem_tools}) {
    if (auto st = (*reg)(server, deps); !st) return st;
  }
  return Status::Ok();
}

std::function<nlohmann::json(const mcp::Call&, mcp::RequestContext&)> request_state_claims(
    std::shared_ptr<const Deps> deps) {
  return [deps = std::move(deps)](const mcp::Call&, mcp::RequestContext& ctx) -> json {
    return {{"requester", requester_of(*deps, ctx).audit}};
  };
}

}  // namespace dm::runbook
