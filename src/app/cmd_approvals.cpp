// `dagmedic approvals list|show|approve|deny|web`: out-of-band decisions on pending approvals.
// Without auth: the deciding principal is the operator (config identity.principal, else the OS
// user), never a command-line flag; the guard refuses the requester and agents. With auth:,
// approve/deny send the decision to the server's decision API with the identity of
// `dagmedic login` (cli_login.h). Every decision is audited.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "app/auth_gate.h"
#include "app/cli_login.h"
#include "app/commands.h"
#include "app/load_deps.h"
#include "common/iso_time.h"
#include "config/config.h"
#include "http/curl_http_client.h"
#include "runbook/deps.h"
#include "web/approval_web.h"

namespace dm::app {
namespace {

using json = nlohmann::json;

json record_json(const store::ApprovalRecord& a) {
  json decisions = json::array();
  for (const auto& d : a.decisions) {
    json j = {{"principal", d.principal},
              {"decision", d.approve ? "approve" : "deny"},
              {"reason", d.reason},
              {"at", ms_to_iso(d.at_ms)}};
    if (!d.idp_subject.empty()) j["idp"] = {{"issuer", d.idp_issuer}, {"subject", d.idp_subject}};
    decisions.push_back(std::move(j));
  }
  json params = json::parse(a.params_json, nullptr, false);
  return {{"approval_id", a.id},
          {"state", store::approval_state_name(a.state)},
          {"action", a.action},
          {"environment", a.env},
          {"tier", a.tier},
          {"params", params.is_discarded() ? json(a.params_json) : params},
          {"params_hash", a.params_hash},
          {"requester", a.requester},
          {"requester_is_agent", a.requester_is_agent},
          {"requester_for", a.requester_for},
          {"reason", a.reason},
          {"created_at", ms_to_iso(a.created_at_ms)},
          {"expires_at", ms_to_iso(a.expires_at_ms)},
          {"required_approvals", a.required_approvals},
          {"decisions", decisions}};
}

void print_record(const store::ApprovalRecord& a, const runbook::Deps& deps) {
  json j = record_json(a);
  // Parameters are shown exactly (they are what gets approved), other text redacted.
  std::printf("approval   %s\nstate      %s\naction     %s\nenv        %s (tier %s)\n",
              a.id.c_str(), j["state"].get<std::string>().c_str(), a.action.c_str(), a.env.c_str(),
              a.tier.c_str());
  std::printf("params     %s\nhash       %s\n", j["params"].dump(2).c_str(), a.params_hash.c_str());
  std::printf("requester  %s%s%s\nreason     %s\n", a.requester.c_str(),
              a.requester_is_agent ? " (agent)" : "",
              a.requester_for.empty() ? "" : (" acting for " + a.requester_for).c_str(),
              deps.redactor->redact(a.reason).c_str());
  std::printf("expires    %s\napprovals  %d needed\n", j["expires_at"].get<std::string>().c_str(),
              a.required_approvals);
  for (const auto& d : a.decisions)
    std::printf("  %s %s at %s: %s\n", d.approve ? "approved by" : "denied by", d.principal.c_str(),
                ms_to_iso(d.at_ms).c_str(), deps.redactor->redact(d.reason).c_str());
}

}  // namespace

int cmd_approvals(int argc, char** argv) {
  CLI::App cli{"List, inspect and decide remediation approvals", "dagmedic approvals"};
  cli.require_subcommand(1);
  std::string config_path, id, reason, state = "pending", approvers, bind = "127.0.0.1", server;
  int port = 8766;
  bool as_json = false;
  auto add_common = [&](CLI::App* s) {
    s->add_option("--config", config_path,
                  "config file (default: $DAGMEDIC_CONFIG or ~/.config/dagmedic/config.yaml)");
  };
  auto* list = cli.add_subcommand("list", "list approvals (newest first)");
  list->add_option("--state", state, "pending|approved|denied|consumed|all")
      ->check(CLI::IsMember({"pending", "approved", "denied", "consumed", "all"}));
  list->add_flag("--json", as_json, "one JSON object per line");
  add_common(list);
  auto* show = cli.add_subcommand("show", "show one approval with its exact parameters");
  show->add_option("id", id, "approval id")->required();
  show->add_flag("--json", as_json, "as JSON");
  add_common(show);
  auto* approve = cli.add_subcommand("approve", "approve exactly the parameters shown by `show`");
  approve->add_option("id", id, "approval id")->required();
  approve->add_option("--reason", reason, "why (required)")->required();
  approve->add_option("--server", server,
                      "with auth: the approval page's URL the decision is sent to (default "
                      "auth.approval_page.public_url)");
  add_common(approve);
  auto* deny = cli.add_subcommand("deny", "deny (final)");
  deny->add_option("id", id, "approval id")->required();
  deny->add_option("--reason", reason, "why (required)")->required();
  deny->add_option("--server", server,
                   "with auth: the approval page's URL the decision is sent to (default "
                   "auth.approval_page.public_url)");
  add_common(deny);
  auto* web = cli.add_subcommand("web", "serve the approval page");
  web->add_option("--port", port, "port (0 picks a free one)")->check(CLI::Range(0, 65535));
  web->add_option("--bind", bind, "bind address (loopback by default)");
  web->add_option("--approvers", approvers,
                  "YAML file with `approvers:` (default: the config file)");
  add_common(web);
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? 0 : 2;
  }

  if (*approve || *deny) {
    // With auth: the decision is the server's to record, for the identity of `dagmedic login`
    // (the CLI never writes it into the store itself).
    auto cfg = config::load_config(config_path);
    if (!cfg) {
      std::fprintf(stderr, "dagmedic approvals: %s\n", cfg.error().message.c_str());
      return 1;
    }
    if (cfg->auth.enabled)
      return send_decision(*cfg, server, id, static_cast<bool>(*approve), reason,
                           std::make_shared<http::CurlHttpClient>(), system_clock());
    if (!server.empty()) {
      std::fprintf(stderr,
                   "dagmedic approvals: --server needs auth: in the config (without it the "
                   "decision is recorded locally as the OS user)\n");
      return 2;
    }
  }
  auto deps = load_deps(config_path, "approvals");
  if (!deps) return 1;
  const std::string cfg_source = deps->config.source;
  auto approvals = deps->approvals();
  if (!approvals) {
    std::fprintf(stderr, "dagmedic approvals: %s\n", approvals.error().message.c_str());
    return 1;
  }
  auto fail = [](const Error& e) {
    std::fprintf(stderr, "dagmedic approvals: %s\n", e.message.c_str());
    return 1;
  };

  if (*list) {
    std::vector<store::ApprovalState> states;
    if (state == "all")
      states = {store::ApprovalState::pending, store::ApprovalState::approved,
                store::ApprovalState::denied, store::ApprovalState::consumed};
    else
      states = {*store::parse_approval_state(state)};
    for (auto s : states) {
      auto rows = (*approvals)->list(s, 100);
      if (!rows) return fail(rows.error());
      for (const auto& a : *rows) {
        if (as_json) {
          std::printf("%s\n", record_json(a).dump().c_str());
        } else {
          json p = json::parse(a.params_json, nullptr, false);
          std::string dag = p.is_object() ? p.value("dag_id", "") : "";
          std::printf("%s  %-9s %-18s %-10s %-30s requester=%s expires=%s\n", a.id.c_str(),
                      store::approval_state_name(a.state), a.action.c_str(), a.env.c_str(),
                      dag.c_str(), a.requester.c_str(), ms_to_iso(a.expires_at_ms).c_str());
        }
      }
    }
    return 0;
  }
  if (*show) {
    auto a = (*approvals)->get(id);
    if (!a) return fail(a.error());
    if (as_json)
      std::printf("%s\n", record_json(*a).dump(2).c_str());
    else
      print_record(*a, *deps);
    return 0;
  }
  if (*approve || *deny) {
    const auto& who = deps->operator_principal;
    auto r =
        *approve ? (*approvals)->approve(id, who, reason) : (*approvals)->deny(id, who, reason);
    if (!r) {
      return fail(r.error());
    }
    std::printf("%s %s as %s: approval is now %s", *approve ? "approved" : "denied", r->id.c_str(),
                who.id.c_str(), store::approval_state_name(r->state));
    if (r->state == store::ApprovalState::pending) {
      int n = 0;
      for (const auto& d : r->decisions) n += d.approve ? 1 : 0;
      std::printf(" (%d of %d approvals)", n, r->required_approvals);
    }
    std::printf("\n");
    return 0;
  }
  if (*web) {
    std::string file = approvers.empty() ? cfg_source : approvers;
    auto audit = deps->audit();
    if (!audit) {
      std::fprintf(stderr, "dagmedic approvals web: %s\n", audit.error().message.c_str());
      return 1;
    }
    if (deps->config.auth.enabled) {
      // auth: on — the page signs approvers in through the identity provider; no tokens.
      auto o = approval_page_oidc_options(deps->config, std::make_shared<http::CurlHttpClient>(),
                                          deps->clock);
      if (!o) {
        std::fprintf(stderr, "dagmedic approvals web: %s\n", o.error().message.c_str());
        return 1;
      }
      o->bind_address = bind;
      o->port = static_cast<uint16_t>(port);
      o->audit = *audit;
      o->clock = deps->clock;
      auto w = web::start_approval_web(*approvals, std::move(*o));
      if (!w) {
        std::fprintf(stderr, "dagmedic approvals web: %s\n", w.error().message.c_str());
        return 1;
      }
      (*w)->wait_for_shutdown_signal();
      return 0;
    }
    return web::run_approval_web(*approvals, file, bind, port, *audit);
  }
  return 2;
}

}  // namespace dm::app
