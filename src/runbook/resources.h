// MCP resources over the incident store: dagmedic://incidents (JSON list, most recently updated
// first, at most 100), dagmedic://incidents/{incident_id} (JSON) and
// dagmedic://postmortems/{incident_id} (text/markdown). Every text is redacted before it leaves.
// Errors: a malformed id → invalid_argument (JSON-RPC -32602); an unknown incident or a missing
// postmortem → not_found (-32002, the message says how to make one); the store unavailable → its
// reason (-32603).
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "mcp/server.h"
#include "runbook/deps.h"

namespace dm::runbook {

// The list resource's URI, and one incident's. Whoever changes incidents outside a tool call
// (serve --watch) sends notifications/resources/updated for these.
inline constexpr const char* kIncidentsUri = "dagmedic://incidents";
std::string incident_resource_uri(const std::string& incident_id);

// Registers the three resources on `server`. Called by register_postmortem_tools.
Status register_resources(mcp::Server& server, const std::shared_ptr<const Deps>& deps);

}  // namespace dm::runbook
