#include "runbook/deps.h"

#include <openssl/crypto.h>

#include <map>

#include "airflow/factory.h"
#include "guard/canonical.h"
#include "logs/rule_sets.h"
#include "mcp/schema_dialect.h"
#include "mcp/schema_validator.h"

namespace dm::runbook {
namespace {

class ConfigClientProvider final : public ClientProvider {
 public:
  ConfigClientProvider(const config::Config& cfg, std::shared_ptr<Clock> clock)
      : cfg_(cfg), clock_(std::move(clock)) {}

  Result<Target> get(std::string_view name) override {
    if (cfg_.environments.empty()) {
      const std::string where = cfg_.source.empty() ? "no config file was found (looked at " +
                                                          config::default_config_path() + ")"
                                                    : cfg_.source + " defines no environments";
      return make_error(
          Errc::failed_precondition,
          "no Airflow environment is configured: " + where +
              ". Add one under `environments:` (kind, url, credentials; see "
              "docs/config.md) and restart `dagmedic serve` (or pass --config FILE).");
    }
    auto env = cfg_.pick(name);
    if (!env) return env.error();
    std::lock_guard lk(mu_);
    auto it = clients_.find((*env)->name);
    if (it == clients_.end()) {
      auto c = airflow::make_client(
          **env, {.clock = clock_,
                  .http = nullptr,
                  .page_size = cfg_.caps.page_size,
                  .log_read_bytes_max = static_cast<std::uint64_t>(cfg_.caps.log_read_bytes_max),
                  .aws_credentials = nullptr});
      if (!c) return c.error();
      it = clients_.emplace((*env)->name, std::shared_ptr<airflow::AirflowClient>(std::move(*c)))
               .first;
    }
    return Target{*env, it->second};
  }

 private:
  const config::Config& cfg_;
  std::shared_ptr<Clock> clock_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<airflow::AirflowClient>, std::less<>> clients_;
};

}  // namespace

Result<std::shared_ptr<const guard::Policy>> make_policy(const config::PolicySettings& p) {
  guard::PolicyRules r;
  r.tiers.clear();
  for (const auto& [name, t] : p.tiers)
    r.tiers[name] = guard::TierRule{t.required_approvals, t.allow_without_approval, t.elicitation};
  for (const auto& [env, globs] : p.allow_dags) r.allow_dags[env] = globs;
  for (const auto& d : p.dags) {
    guard::DagRule g;
    g.dag = d.dag;
    if (!d.conf_schema_json.empty()) {
      g.conf_schema = nlohmann::json::parse(d.conf_schema_json, nullptr, false);
      if (g.conf_schema.is_discarded())
        return make_error(Errc::invalid_argument,
                          "policy: conf schema of \"" + d.dag + "\" is not valid JSON");
    }
    g.conf_max_bytes = static_cast<std::size_t>(std::max<long long>(0, d.conf_max_bytes));
    r.dags.push_back(std::move(g));
  }
  r.conf_max_bytes = static_cast<std::size_t>(std::max<long long>(2, p.conf_max_bytes));
  r.default_ttl = std::chrono::minutes(p.approval_ttl_minutes);
  r.max_ttl = std::chrono::minutes(p.max_ttl_minutes);
  return guard::Policy::make(
      std::move(r), [](const nlohmann::json& schema) -> Result<guard::ConfChecker> {
        // A conf schema guards writes: a keyword that looks like a check but is not one is refused.
        if (auto at = mcp::find_keyword(schema, "format"))
          return make_error(Errc::invalid_argument,
                            "`format` (at " + (at->empty() ? std::string("the root") : "#" + *at) +
                                ") is not checked — JSON Schema 2020-12 makes it an annotation; "
                                "use `pattern` for what a conf must match");
        auto v = mcp::SchemaValidator::compile(schema);
        if (!v) return v.error();
        std::shared_ptr<const mcp::SchemaValidator> sv = std::move(*v);
        return guard::ConfChecker(
            [sv](const nlohmann::json& conf) { return sv->validate(conf, "conf"); });
      });
}

std::shared_ptr<ClientProvider> make_client_provider(const config::Config& cfg,
                                                     std::shared_ptr<Clock> clock) {
  return std::make_shared<ConfigClientProvider>(cfg, std::move(clock));
}

Result<store::Store*> Deps::store() const {
  std::lock_guard lk(store_mu_);
  if (!store_) {
    auto s = open_store ? open_store()
                        : Result<std::unique_ptr<store::Store>>(make_error(
                              Errc::failed_precondition, "no store was wired into this process"));
    if (!s)
      return make_error(s.error().code, "the incident store is unavailable: " + s.error().message);
    store_ = std::shared_ptr<store::Store>(std::move(*s));
  }
  return store_.get();
}

Result<std::shared_ptr<store::Store>> Deps::shared_store() const {
  auto s = store();
  if (!s) return s.error();
  std::lock_guard lk(store_mu_);
  return store_;
}

Result<std::shared_ptr<guard::AuditLog>> Deps::audit() const {
  std::lock_guard lk(guard_mu_);
  if (audit_) return audit_;
  auto s = shared_store();
  if (!s) return s.error();
  if (!audit_key)
    return make_error(Errc::failed_precondition, "audit: no audit key was configured");
  auto key = audit_key();
  if (!key) return make_error(key.error().code, "audit key: " + key.error().message);
  audit_ = std::make_shared<guard::AuditLog>(
      *s, clock, std::move(*key),
      guard::AuditOptions{.checkpoint_every = config.audit.checkpoint_every,
                          .checkpoint_file = config.audit.checkpoint_file});
  return audit_;
}

Result<std::shared_ptr<guard::Approvals>> Deps::approvals() const {
  auto a = audit();  // approvals without an audit would be unaccountable: fail closed
  if (!a) return a.error();
  auto s = shared_store();
  if (!s) return s.error();
  std::lock_guard lk(guard_mu_);
  if (!approvals_) {
    auto ap = policy->approval_policy();
    // auth: on — approvals count only with an identity the IdP vouched for (docs/security.md).
    ap.require_idp_approvers = config.auth.enabled;
    approvals_ = std::make_shared<guard::Approvals>(*s, clock, std::move(ap), *a);
  }
  return approvals_;
}

guard::Principal Deps::agent_for(std::string_view client_name) {
  std::string n;
  for (char c : client_name.substr(0, 64)) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    n += ok ? c : '_';
  }
  if (n.empty()) n = "unknown";
  return guard::Principal{"agent:" + n, true};
}

std::string Deps::audit_principal(std::string_view client_name) const {
  return agent_for(client_name).id + " for " + operator_principal.id;
}

Result<std::shared_ptr<Deps>> make_deps(config::Config cfg, DepsOverrides o) {
  // Initialise OpenSSL here, on the starting thread, rather than lazily on whichever handler
  // thread hashes the first signature.
  OPENSSL_init_crypto(0, nullptr);
  auto rules = logs::load_rule_sets(cfg.rules.redaction, cfg.rules.categories);
  if (!rules) return rules.error();
  auto d = std::make_shared<Deps>();
  d->config = std::move(cfg);
  d->redactor = std::move(rules->redactor);
  d->categorizer = std::move(rules->categorizer);
  d->clock = o.clock ? std::move(o.clock) : system_clock();
  d->clients = o.clients ? std::move(o.clients) : make_client_provider(d->config, d->clock);
  d->open_store = std::move(o.open_store);
  d->store_ = std::move(o.store);  // null: opened by open_store on first use
  auto policy = make_policy(d->config.policy);
  if (!policy) return policy.error();
  d->policy = std::move(*policy);
  if (o.operator_principal) {
    d->operator_principal = std::move(*o.operator_principal);
  } else {
    auto n = guard::normalize_principal(d->config.identity.principal.empty()
                                            ? std::string("operator")
                                            : d->config.identity.principal);
    if (!n) return make_error(Errc::invalid_argument, "identity.principal: " + n.error().message);
    d->operator_principal = guard::Principal{*n, false};
  }
  if (o.audit_key_source)
    d->audit_key = std::move(o.audit_key_source);
  else if (!o.audit_key.empty())
    d->audit_key = [bytes = std::move(o.audit_key)] { return guard::AuditKey::from_bytes(bytes); };
  return d;
}

}  // namespace dm::runbook
