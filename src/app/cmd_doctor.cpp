// `dagmedic doctor [--env NAME] [--config FILE]`: checks the config file and its rule files, then
// for each (or the named) environment: credentials resolve, Airflow is reachable and which API it
// speaks, the credentials are accepted. One line per check on stdout ("✓"/"✗"/"!"), each failure
// with what to do about it. Exit 0 if every checked environment is OK, 1 otherwise, 2 on usage
// errors.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "airflow/factory.h"
#include "app/commands.h"
#include "config/config.h"
#include "config/credentials.h"
#include "logs/rule_sets.h"

namespace dm::app {
namespace {

void line(bool ok, const std::string& text) {
  std::printf("%s %s\n", ok ? "\u2713" : "\u2717", text.c_str());
}

// Client errors read `environment "prod": CALL: DETAIL`; the doctor line already names the
// environment and the check, so keep DETAIL.
std::string detail_of(const std::string& msg) {
  if (msg.rfind("environment \"", 0) != 0) return msg;
  auto first = msg.find("\": ");
  if (first == std::string::npos) return msg;
  auto second = msg.find(": ", first + 3);
  if (second == std::string::npos) return msg.substr(first + 3);
  return msg.substr(second + 2);
}

std::string hint(const Error& e, const config::Environment& env, const std::string& cfg) {
  switch (e.code) {
    case Errc::unavailable:
      if (e.message.find("refused") != std::string::npos)
        return " \u2192 start Airflow at " + env.url + ", or fix environments." + env.name +
               ".url in " + cfg;
      if (e.message.find("TLS") != std::string::npos)
        return " \u2192 set environments." + env.name +
               ".ca_file to the CA bundle that signed the server certificate";
      return " \u2192 check that " + env.url +
             " is the Airflow web/API server and that it is healthy";
    case Errc::timeout:
      return " \u2192 check the network path to " + env.url + " or raise environments." + env.name +
             ".timeouts.request_seconds";
    case Errc::unauthenticated:
      return " \u2192 check the user name and password the variables/files point to";
    case Errc::permission_denied:
      return " \u2192 give the Airflow user read access to DAGs";
    case Errc::protocol:
      return " \u2192 is " + env.url +
             " really an Airflow server? set api_version to v1 or v2 to skip detection";
    default:
      return "";
  }
}

bool check_env(const config::Environment& env, const std::string& cfg) {
  const std::string& n = env.name;
  // MWAA authorizes by IAM (the AWS credential chain, resolved by the client); Airflow
  // credential references only apply to kind airflow.
  std::string auth_origin = "AWS credential chain (IAM)";
  bool no_credentials = false;
  if (env.kind == config::Kind::airflow) {
    auto creds = config::resolve_credentials(env);
    if (!creds) {
      line(false, n + ": credentials: " + detail_of(creds.error().message) +
                      " \u2192 export it, or change the reference in " + cfg);
      return false;
    }
    no_credentials = creds->type == config::Credentials::Type::none;
    auth_origin = creds->origin;
  }
  auto client = airflow::make_client(env);
  if (!client) {
    line(false, n + ": " + detail_of(client.error().message));
    return false;
  }
  auto& c = **client;
  auto d = c.api_dialect();
  if (!d) {
    line(false, n + ": unreachable: " + detail_of(d.error().message) + hint(d.error(), env, cfg));
    return false;
  }
  auto auth = c.check_auth();
  auto info = c.server_info();
  if (info) {
    line(true, n + ": reachable (Airflow " + info->version + ", API " +
                   airflow::dialect_name(info->dialect) + ")");
  } else {
    line(true, n + ": reachable (API " + std::string(airflow::dialect_name(*d)) + ")");
  }
  if (!auth.ok()) {
    line(false, n + ": " + detail_of(auth.error().message) + hint(auth.error(), env, cfg));
    return false;
  }
  if (no_credentials) {
    line(true, n + ": API answers without credentials (none configured)");
  } else {
    line(true, n + ": authenticated (" + auth_origin + ")");
  }
  return true;
}

}  // namespace

int cmd_doctor(int argc, char** argv) {
  CLI::App app{"Check config, reachability, authentication and API version of environments",
               "doctor"};
  std::string env_name, config_path;
  app.add_option("--env", env_name, "check only this environment");
  app.add_option("--config", config_path,
                 "config file (default: $DAGMEDIC_CONFIG or ~/.config/dagmedic/config.yaml)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  try {
    std::string shown = config_path.empty() ? config::default_config_path() : config_path;
    auto cfg = config::load_config(config_path);
    if (!cfg) {
      line(false, "config: " + cfg.error().message);
      return 1;
    }
    if (cfg->source.empty()) {
      line(true, "config: no file at " + shown + "; using built-in defaults");
    } else {
      line(true, "config: " + cfg->source + " (" + std::to_string(cfg->environments.size()) +
                     " environment" + (cfg->environments.size() == 1 ? "" : "s") + ")");
    }
    if (auto rules = logs::load_rule_sets(cfg->rules.redaction, cfg->rules.categories); !rules) {
      line(false, "rules: " + rules.error().message);
      return 1;
    } else if (!cfg->rules.redaction.empty() || !cfg->rules.categories.empty()) {
      line(true, "rules: " + std::to_string(rules->redactor->rule_count()) + " redaction and " +
                     std::to_string(rules->categorizer->rule_count()) +
                     " category rules (built-in + " +
                     std::to_string(cfg->rules.redaction.size() + cfg->rules.categories.size()) +
                     " file(s))");
    }
    if (cfg->environments.empty()) {
      line(false, "no environments configured: add one under `environments:` in " + shown +
                      " (see docs/config.md)");
      return 1;
    }
    std::vector<const config::Environment*> envs;
    if (!env_name.empty()) {
      auto e = cfg->pick(env_name);
      if (!e) {
        line(false, e.error().message);
        return 1;
      }
      envs.push_back(*e);
    } else {
      for (const auto& e : cfg->environments) envs.push_back(&e);
    }
    bool all_ok = true;
    for (const auto* e : envs)
      all_ok = check_env(*e, cfg->source.empty() ? shown : cfg->source) && all_ok;
    std::fflush(stdout);
    return all_ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dagmedic doctor: internal error: %s\n", e.what());
    return 1;
  }
}

}  // namespace dm::app
