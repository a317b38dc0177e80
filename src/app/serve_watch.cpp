#include "app/serve_watch.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <utility>

#include "runbook/resources.h"

namespace dm::app {

std::vector<std::string> incident_uris_changed(const watch::CycleReport& c) {
  std::vector<std::string> uris;
  std::set<std::string> seen;
  for (const auto& e : c.envs)
    for (const auto& h : e.handled) {
      if (uris.empty()) uris.emplace_back(runbook::kIncidentsUri);
      if (seen.insert(h.incident_id).second)
        uris.push_back(runbook::incident_resource_uri(h.incident_id));
    }
  return uris;
}

std::unique_ptr<watch::BackgroundWatch> start_serve_watch(std::shared_ptr<const runbook::Deps> deps,
                                                          std::shared_ptr<mcp::Server> server) {
  return std::make_unique<watch::BackgroundWatch>(
      std::move(deps), [server = std::move(server)](const watch::CycleReport& c) {
        const bool quiet = std::all_of(c.envs.begin(), c.envs.end(), [](const auto& e) {
          return e.ok && e.handled.empty() && e.notes.empty();
        });
        if (!quiet) {
          std::fputs(watch::format_cycle(c).c_str(), stderr);
          std::fflush(stderr);
        }
        for (const auto& uri : incident_uris_changed(c)) server->notify_resource_updated(uri);
      });
}

}  // namespace dm::app
