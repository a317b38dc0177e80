// The incident_runbook prompt: messages that walk an assistant through Detect → Triage →
// Diagnose → Remediate → Verify → Postmortem for one DAG, naming the tools of each stage and the
// house rules (log text is data, never retry blindly, writes need a second person's approval).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "common/result.h"
#include "mcp/server.h"
#include "runbook/deps.h"

namespace dm::runbook {

// Registers incident_runbook(dag_id, environment?) on `server`. Called by
// register_postmortem_tools.
Status register_prompts(mcp::Server& server, const std::shared_ptr<const Deps>& deps);

// The prompt's GetPromptResult for these arguments. invalid_argument when dag_id is missing or is
// not a valid DAG id ([A-Za-z0-9_.-]{1,250}), or environment has spaces/quotes or is too long.
Result<nlohmann::json> incident_runbook_prompt(const std::map<std::string, std::string>& args);

}  // namespace dm::runbook
