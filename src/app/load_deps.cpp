#include "app/load_deps.h"

#include <cstdio>

#include "app/wiring.h"

namespace dm::app {

std::shared_ptr<runbook::Deps> load_deps(const std::string& config_path, const char* cmd) {
  auto cfg = config::load_config(config_path);
  if (!cfg) {
    std::fprintf(stderr, "dagmedic %s: %s\n", cmd, cfg.error().message.c_str());
    return nullptr;
  }
  auto deps = wire_deps(std::move(*cfg));
  if (!deps) {
    std::fprintf(stderr, "dagmedic %s: %s\n", cmd, deps.error().message.c_str());
    return nullptr;
  }
  return std::move(*deps);
}

}  // namespace dm::app
