// `dagmedic serve --watch`: watch mode inside the MCP server. The loop runs on a thread of its own
// (watch::BackgroundWatch) with the server's Deps, and every incident a cycle opens or updates
// becomes notifications/resources/updated for its resource and for the list (dagmedic://incidents):
// resources/subscribe on 2025-11-25 sessions, subscriptions/listen on 2026-07-28 (mcp::Server
// delivers to whichever a client used).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "mcp/server.h"
#include "runbook/deps.h"
#include "watch/background.h"
#include "watch/outbox.h"

namespace dm::app {

// The incident resources a cycle changed: the list's URI first when any incident was opened,
// updated, recovered or escalated, then each such incident once, in report order (handled, then
// recovered, then escalated, per environment). Empty when nothing changed.
std::vector<std::string> incident_uris_changed(const watch::CycleReport& c);

// The outbox of notify: (docs/watch.md "Notifications") for `dagmedic watch` and `serve --watch`:
// real HTTP, the Deps' clock, secrets from the process environment, approval links to
// deps.approval_url or else auth.approval_page.public_url (none when neither is set). Errors: a
// variable a target names is unset or empty (failed_precondition, the config file and the key
// named).
Result<std::shared_ptr<watch::Outbox>> make_outbox(const runbook::Deps& deps);

// Starts the loop, with make_outbox's outbox (its errors stop it from starting). Requires: at
// least one configured environment. Each cycle that handled runs or
// failed for an environment prints its report (format_cycle) on stderr; stdout stays the MCP
// stream's. The server must outlive the returned object (destroy or stop() it first).
Result<std::unique_ptr<watch::BackgroundWatch>> start_serve_watch(
    std::shared_ptr<const runbook::Deps> deps, std::shared_ptr<mcp::Server> server);

}  // namespace dm::app
