#include "app/cli_login.h"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace dm::app {

using json = nlohmann::json;

auth::DeviceClientOptions device_client_options(const config::Config& cfg) {
  auth::DeviceClientOptions o;
  o.issuer = cfg.auth.issuer;
  o.client_id = cfg.auth.cli.client_id;
  o.scope = "openid " + cfg.auth.scopes.read + " " + cfg.auth.scopes.operate + " " +
            cfg.auth.scopes.approve;
  return o;
}

Result<auth::StoredLogin> current_login(const config::Config& cfg,
                                        std::shared_ptr<http::HttpClient> http,
                                        std::shared_ptr<Clock> clock) {
  auto path = auth::default_login_path();
  if (!path) return path.error();
  auto l = auth::load_login(*path);
  if (!l) {
    if (l.error().code == Errc::not_found)
      return make_error(Errc::unauthenticated,
                        "not logged in: run `dagmedic login` first (auth: is configured, so a "
                        "decision must carry an identity the identity provider vouched for)");
    return l.error();
  }
  if (l->issuer != cfg.auth.issuer || l->audience != cfg.auth.audience ||
      l->client_id != cfg.auth.cli.client_id)
    return make_error(Errc::unauthenticated,
                      "the stored login is for another server or identity provider (" + l->issuer +
                          "); run `dagmedic login` for this config");
  auth::DeviceClient client(device_client_options(cfg), std::move(http), clock);
  return auth::fresh_login(*path, std::move(*l), client, *clock);
}

int send_decision(const config::Config& cfg, const std::string& server, const std::string& id,
                  bool approve, const std::string& reason, std::shared_ptr<http::HttpClient> http,
                  std::shared_ptr<Clock> clock) {
  auto fail = [](const std::string& m) {
    std::fprintf(stderr, "dagmedic approvals: %s\n", m.c_str());
    return 1;
  };
  std::string base = server.empty() ? cfg.auth.approval_page.public_url : server;
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (base.empty())
    return fail(
        "auth: is configured, so decisions go to the server: pass --server URL (the approval "
        "page's address) or set auth.approval_page.public_url");
  if (!auth::acceptable_endpoint(base))
    return fail("--server must be an https URL (http only on localhost), got \"" + base + "\"");
  auto login = current_login(cfg, http, clock);
  if (!login) return fail(login.error().message);
  http::Request req;
  req.method = http::Method::post;
  req.url = base + "/api/approvals/" + http::url_encode(id) + "/decision";
  req.headers = {{"Content-Type", "application/json"},
                 {"Accept", "application/json"},
                 {"Authorization", "Bearer " + login->tokens.access_token}};
  req.body = json({{"decision", approve ? "approve" : "deny"}, {"reason", reason}}).dump();
  auto r = http->send(req);
  if (!r) return fail("cannot reach " + base + ": " + r.error().message);
  json b = json::parse(r->body, nullptr, false);
  const std::string msg = b.is_object() && b.contains("message") && b["message"].is_string()
                              ? b["message"].get<std::string>()
                              : std::string();
  if (r->status != 200) {
    std::string text = "the server refused the decision (HTTP " + std::to_string(r->status) +
                       (b.is_object() && b.contains("error") && b["error"].is_string()
                            ? ", " + b["error"].get<std::string>()
                            : std::string()) +
                       "): " + (msg.empty() ? "no explanation" : msg);
    if (r->status == 401) text += "\n  Run `dagmedic login` again.";
    return fail(text);
  }
  if (!b.is_object()) return fail("the server answered 200 with something that is not JSON");
  std::printf("%s %s as %s: approval is now %s", approve ? "approved" : "denied", id.c_str(),
              b.value("principal", std::string("?")).c_str(),
              b.value("state", std::string("?")).c_str());
  if (b.value("state", std::string()) == "pending" && approve)
    std::printf(" (%d of %d approvals)", b.value("approvals", 0), b.value("required_approvals", 0));
  std::printf("\n");
  return 0;
}

}  // namespace dm::app
