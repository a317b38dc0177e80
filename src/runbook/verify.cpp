// Verify stage tools (see docs/runbook.md).
#include "runbook/runbook.h"

namespace dm::runbook {

Status register_verify_tools(mcp::Server&, const std::shared_ptr<const Deps>&) {
  return Status::Ok();
}

}  // namespace dm::runbook
