// The server's door: the rules every request that reaches a handler passes through, whatever
// registered it (runbook tools, resources, resource templates, prompts, completions). Installed
// once on the server as mcp middleware by register_tools, before any tool is added.
//
// Audit: each call leaves one entry {principal, tool, args_digest, decision, upstream_status}.
// `tool` is the tool's name, or "METHOD TARGET" for the other methods (e.g. "resources/read
// dagmedic://incidents"). The arguments are never stored, only "args_sha256:<hex>" of their
// redacted canonical form. A call that writes outside (writes_remote, or an undeclared effect)
// first appends a "call" entry and is refused, with nothing run, when that append fails (fail
// closed). Reads and local writes answer even when the audit is down and say so in the answer: a
// local write goes to the store that also holds the audit and reports its own failures, and the
// approvals it creates are audited by guard::Approvals, which fails closed itself.
#pragma once

#include <memory>

#include "common/result.h"
#include "mcp/server.h"
#include "runbook/deps.h"

namespace dm::runbook {

// Requires a non-null `deps`: without it nothing could be audited, and the server must not serve.
Status install_door(mcp::Server& server, const std::shared_ptr<const Deps>& deps);

}  // namespace dm::runbook
