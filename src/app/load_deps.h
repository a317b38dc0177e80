// Config + runbook Deps for a sub-command: loads the config file (explicit path, else the default
// one, none is fine) and builds Deps. On error it prints "dagmedic <cmd>: <reason>" to stderr and
// returns nullptr (the caller exits 1).
#pragma once

#include <memory>
#include <string>

#include "runbook/deps.h"

namespace dm::app {

std::shared_ptr<runbook::Deps> load_deps(const std::string& config_path, const char* cmd);

}  // namespace dm::app
