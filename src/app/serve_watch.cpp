#include "app/serve_watch.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <utility>

#include "http/curl_http_client.h"
#include "runbook/resources.h"
#include "web/approval_web.h"

namespace dm::app {

std::vector<std::string> incident_uris_changed(const watch::CycleReport& c) {
  std::vector<std::string> uris;
  std::set<std::string> seen;
  auto changed = [&](const std::string& id) {
    if (uris.empty()) uris.emplace_back(runbook::kIncidentsUri);
    if (seen.insert(id).second) uris.push_back(runbook::incident_resource_uri(id));
  };
  for (const auto& e : c.envs) {
    for (const auto& h : e.handled) changed(h.incident_id);
    for (const auto& id : e.recovered) changed(id);
    for (const auto& id : e.escalated) changed(id);
  }
  return uris;
}

Result<std::shared_ptr<watch::Outbox>> make_outbox(const runbook::Deps& deps) {
  watch::OutboxDeps od;
  od.http = std::make_shared<http::CurlHttpClient>();
  od.clock = deps.clock;
  od.secret = [](const std::string& var) -> Result<std::string> {
    const char* v = std::getenv(var.c_str());
    if (v == nullptr || *v == '\0')
      return make_error(Errc::failed_precondition, "$" + var + " is unset or empty");
    return std::string(v);
  };
  // Messages link a pending approval's page: the one this process serves (serve), else the
  // page's public address from the config (a separate `dagmedic watch`).
  if (deps.approval_url)
    od.approval_url = deps.approval_url;
  else if (const auto& pub = deps.config.auth.approval_page.public_url; !pub.empty())
    od.approval_url = [pub](const std::string& id) { return web::approval_page_url(pub, id); };
  auto outbox = std::make_shared<watch::Outbox>(deps.config.notify, deps.redactor, std::move(od));
  if (auto sec = outbox->check_secrets(); !sec)
    return make_error(sec.error().code, deps.config.source + ": " + sec.error().message);
  return outbox;
}

Result<std::unique_ptr<watch::BackgroundWatch>> start_serve_watch(
    std::shared_ptr<const runbook::Deps> deps, std::shared_ptr<mcp::Server> server) {
  auto outbox = make_outbox(*deps);
  if (!outbox) return outbox.error();
  return std::make_unique<watch::BackgroundWatch>(
      std::move(deps), std::move(*outbox),
      [server = std::move(server)](const watch::CycleReport& c) {
        const bool quiet =
            std::all_of(
                c.envs.begin(), c.envs.end(),
                [](const auto& e) { return e.ok && e.handled.empty() && e.notes.empty(); }) &&
            (!c.delivery ||
             (c.delivery->ok && c.delivery->attempted == 0 && c.delivery->notes.empty()));
        if (!quiet) {
          std::fputs(watch::format_cycle(c).c_str(), stderr);
          std::fflush(stderr);
        }
        for (const auto& uri : incident_uris_changed(c)) server->notify_resource_updated(uri);
      });
}

}  // namespace dm::app
