// `dagmedic login [--config F]`: signs the user in at the config's identity provider with the
// device authorization grant (RFC 8628) and keeps the tokens in the user's state dir (0600);
// `dagmedic logout [--config F]` removes them (revoking the refresh token where the issuer has a
// revocation endpoint). Needs `auth:` in the config. docs/security.md, docs/config.md (auth.cli).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>

#include "app/auth_gate.h"
#include "app/cli_login.h"
#include "app/commands.h"
#include "auth/identity.h"
#include "common/iso_time.h"
#include "config/config.h"
#include "http/curl_http_client.h"

namespace dm::app {
namespace {

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "none" : out;
}

Result<config::Config> auth_config(const std::string& path, const char* cmd) {
  auto cfg = config::load_config(path);
  if (!cfg) return cfg.error();
  if (!cfg->auth.enabled)
    return make_error(Errc::failed_precondition,
                      std::string("`dagmedic ") + cmd +
                          "` needs auth: in the config (the identity provider to sign in at); "
                          "without it the CLI acts as the local OS user and needs no login");
  return cfg;
}

}  // namespace

int cmd_login(int argc, char** argv) {
  CLI::App cli{"Sign in at the identity provider (OAuth device authorization grant)",
               "dagmedic login"};
  std::string config_path;
  cli.add_option("--config", config_path,
                 "config file (default: $DAGMEDIC_CONFIG or ~/.config/dagmedic/config.yaml)");
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? 0 : 2;
  }
  auto fail = [](const std::string& m) {
    std::fprintf(stderr, "dagmedic login: %s\n", m.c_str());
    return 1;
  };
  auto cfg = auth_config(config_path, "login");
  if (!cfg) return fail(cfg.error().message);
  auto path = auth::default_login_path();
  if (!path) return fail(path.error().message);
  std::shared_ptr<http::HttpClient> http = std::make_shared<http::CurlHttpClient>();
  auto clock = system_clock();
  auth::DeviceClient client(device_client_options(*cfg), http, clock);
  auto eps = client.discover();
  if (!eps) return fail(eps.error().message);
  auto code = client.start(*eps);
  if (!code) return fail(code.error().message);
  if (!code->verification_uri_complete.empty())
    std::fprintf(stderr, "dagmedic login: to sign in, open %s\n",
                 code->verification_uri_complete.c_str());
  std::fprintf(stderr, "dagmedic login: or open %s and enter the code %s\n",
               code->verification_uri.c_str(), code->user_code.c_str());
  std::fprintf(stderr, "dagmedic login: waiting for the sign-in (the code expires in %lld s)…\n",
               static_cast<long long>(code->expires_in.count()));
  std::fflush(stderr);
  auto tokens = client.poll(*eps, *code);
  if (!tokens) return fail(tokens.error().message);

  // The access token must pass the server's own checks (issuer, audience, algorithms); the
  // server's introspection secret is not the CLI's business (the server introspects).
  config::Config vc = *cfg;
  vc.auth.introspection.enabled = false;
  auto verifier = make_token_verifier(vc, http, clock);
  if (!verifier) return fail(verifier.error().message);
  auto verified = (*verifier)->verify(tokens->access_token);
  if (!verified)
    return fail("the identity provider's access token would not be accepted by the server: " +
                verified.error().message +
                " (check auth.audience and the client's audience "
                "mapper; nothing was stored)");
  auto id = auth::identity_of(*verified, identity_rules(*cfg));
  if (!id) return fail(id.error().message + " (nothing was stored)");

  auth::StoredLogin l;
  l.issuer = cfg->auth.issuer;
  l.audience = cfg->auth.audience;
  l.client_id = cfg->auth.cli.client_id;
  l.token_endpoint = eps->token_endpoint;
  l.revocation_endpoint = eps->revocation_endpoint;
  l.tokens = std::move(*tokens);
  if (auto s = auth::save_login(*path, l); !s) return fail(s.error().message);
  const auto ms = [](Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  };
  std::printf("logged in as %s (subject %s at %s)\n", id->principal.c_str(), id->subject.c_str(),
              id->issuer.c_str());
  std::printf("scopes: %s\nenvironments: %s\n", joined(id->scopes).c_str(),
              joined(id->environments).c_str());
  if (!auth::has_scope(id->scopes, cfg->auth.scopes.approve))
    std::printf("note: no %s scope: this login cannot decide on approvals\n",
                cfg->auth.scopes.approve.c_str());
  std::printf("access token valid until %s%s; kept in %s\n",
              ms_to_iso(ms(l.tokens.expires_at)).c_str(),
              l.tokens.refresh_token.empty() ? " (no refresh token)" : ", renewed as needed",
              path->c_str());
  return 0;
}

int cmd_logout(int argc, char** argv) {
  CLI::App cli{"Forget the login of `dagmedic login` (and revoke it at the identity provider)",
               "dagmedic logout"};
  std::string config_path;
  cli.add_option("--config", config_path,
                 "config file (default: $DAGMEDIC_CONFIG or ~/.config/dagmedic/config.yaml)");
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? 0 : 2;
  }
  auto path = auth::default_login_path();
  if (!path) {
    std::fprintf(stderr, "dagmedic logout: %s\n", path.error().message.c_str());
    return 1;
  }
  auto l = auth::load_login(*path);
  if (!l && l.error().code == Errc::not_found) {
    std::printf("not logged in\n");
    return 0;
  }
  if (l && !l->revocation_endpoint.empty() && !l->tokens.refresh_token.empty()) {
    auth::DeviceClientOptions o;
    o.issuer = l->issuer;
    o.client_id = l->client_id;
    auth::DeviceClient client(o, std::make_shared<http::CurlHttpClient>(), system_clock());
    if (auto s = client.revoke(l->revocation_endpoint, l->tokens.refresh_token); !s)
      std::fprintf(stderr,
                   "dagmedic logout: could not revoke the login at the identity provider (%s); "
                   "the local copy is removed anyway\n",
                   s.error().message.c_str());
    else
      std::printf("revoked the refresh token at %s\n", l->issuer.c_str());
  }
  if (auto s = auth::remove_login(*path); !s) {
    std::fprintf(stderr, "dagmedic logout: %s\n", s.error().message.c_str());
    return 1;
  }
  std::printf("logged out (removed %s)\n", path->c_str());
  return 0;
}

}  // namespace dm::app
