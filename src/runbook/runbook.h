// The runbook's MCP tools (Detect → Triage → Diagnose → Remediate → Verify → Postmortem),
// registered on a dm::mcp::Server. One file per stage; this header is what `app` calls.
#pragma once

#include <memory>

#include "common/result.h"
#include "config/config.h"
#include "logs/category.h"
#include "logs/redact.h"
#include "mcp/server.h"

namespace dm::runbook {

// What the tools share. Built once at start-up; immutable afterwards, so tools may use it from any
// handler thread.
struct Deps {
  config::Config config;                                 // may be the empty built-in config
  std::shared_ptr<const logs::Redactor> redactor;        // never null
  std::shared_ptr<const logs::Categorizer> categorizer;  // never null
};

// Deps with the built-in rules and `cfg`. Errc::internal if the embedded rules don't load (a build
// bug).
Result<Deps> make_deps(config::Config cfg);

// Registers every runbook tool available in this build. Works with an empty config: tools that
// need Airflow are still listed and answer with how to configure an environment.
Status register_tools(mcp::Server& server, const std::shared_ptr<const Deps>& deps);

// Per stage (called by register_tools).
Status register_diagnose_tools(mcp::Server& server, const std::shared_ptr<const Deps>& deps);

}  // namespace dm::runbook
