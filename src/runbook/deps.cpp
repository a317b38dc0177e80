#include "runbook/deps.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "airflow/factory.h"
#include "guard/canonical.h"
#include "logs/rule_sets.h"
#include "mcp/schema_validator.h"
#include "store/pg_store.h"
#include "store/sqlite_store.h"

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
      auto c = airflow::make_client(**env, {.clock = clock_,
                                            .http = nullptr,
                                            .page_size = cfg_.caps.page_size,
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

Result<std::unique_ptr<store::Store>> open_configured_store(const config::StoreSettings& s) {
  if (s.backend == config::StoreSettings::Backend::postgres) {
    const char* dsn = std::getenv(s.dsn_env.c_str());
    if (dsn == nullptr || *dsn == '\0')
      return make_error(Errc::failed_precondition,
                        "store: $" + s.dsn_env + " (store.dsn_env) is not set or empty");
    return store::open_pg_store({.dsn = dsn});
  }
  return store::open_sqlite_store({.path = s.path});
}

// Folder of the audit key file: the SQLite store's folder (or the default state folder).
Result<std::string> key_dir(const config::StoreSettings& s) {
  std::string db = s.path;
  if (s.backend == config::StoreSettings::Backend::postgres || db.empty() || db == ":memory:") {
    auto d = store::default_sqlite_path();
    if (!d) return d.error();
    db = *d;
  }
  auto slash = db.rfind('/');
  return slash == std::string::npos ? std::string(".") : db.substr(0, slash == 0 ? 1 : slash);
}

Status mkdirs(const std::string& dir) {
  std::string cur;
  for (std::size_t i = 0; i <= dir.size(); ++i) {
    if (i == dir.size() || (dir[i] == '/' && i > 0)) {
      cur = dir.substr(0, i);
      if (::mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST)
        return make_error(Errc::unavailable,
                          "cannot create folder " + cur + ": " + std::strerror(errno));
    }
  }
  return Status::Ok();
}

// The generated key file: created once with O_EXCL (0600), read afterwards.
Result<guard::AuditKey> default_key(const config::StoreSettings& s) {
  auto dir = key_dir(s);
  if (!dir) return dir.error();
  if (auto st = mkdirs(*dir); !st) return st.error();
  const std::string path = *dir + "/audit.key";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    auto hex = guard::random_hex(32);
    bool ok = hex.ok();
    if (ok) {
      std::string line = *hex + "\n";
      ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
           ::fsync(fd) == 0;
    }
    ::close(fd);
    if (!ok) {
      ::unlink(path.c_str());
      return make_error(Errc::unavailable, "audit: cannot write the new key file " + path);
    }
    std::fprintf(stderr,
                 "dagmedic: created the audit key %s (0600). Keep a copy elsewhere: without it "
                 "checkpoints cannot be verified.\n",
                 path.c_str());
  } else if (errno != EEXIST) {
    return make_error(Errc::unavailable,
                      "audit: cannot create the key file " + path + ": " + std::strerror(errno));
  }
  return guard::AuditKey::from_file(path);
}

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
        auto v = mcp::SchemaValidator::compile(schema);
        if (!v) return v.error();
        std::shared_ptr<const mcp::SchemaValidator> sv = std::move(*v);
        return guard::ConfChecker(
            [sv](const nlohmann::json& conf) { return sv->validate(conf, "conf"); });
      });
}

Result<guard::Principal> operator_from(const config::Config& cfg) {
  std::string id = cfg.identity.principal;
  if (id.empty()) {
    if (const passwd* pw = ::getpwuid(::geteuid()); pw != nullptr && pw->pw_name && *pw->pw_name)
      id = pw->pw_name;
    else if (const char* u = std::getenv("USER"); u && *u)
      id = u;
    else
      id = "uid:" + std::to_string(::geteuid());
  }
  auto n = guard::normalize_principal(id);
  if (!n) return make_error(Errc::invalid_argument, "identity.principal: " + n.error().message);
  if (n->rfind("agent:", 0) == 0)
    return make_error(Errc::invalid_argument, "identity.principal: \"agent:\" is reserved");
  return guard::Principal{*n, false};
}

std::shared_ptr<ClientProvider> make_client_provider(const config::Config& cfg,
                                                     std::shared_ptr<Clock> clock) {
  return std::make_shared<ConfigClientProvider>(cfg, std::move(clock));
}

Result<store::Store*> Deps::store() const {
  std::lock_guard lk(store_mu_);
  if (!store_) {
    if (!open_store) return make_error(Errc::internal, "store: no way to open it was set");
    auto s = open_store();
    if (!s)
      return make_error(s.error().code, "the incident store is unavailable: " + s.error().message);
    store_ = std::shared_ptr<store::Store>(std::move(*s));
  }
  return store_.get();
}

void Deps::set_store(std::shared_ptr<store::Store> s) const {
  std::lock_guard lk(store_mu_);
  store_ = std::move(s);
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
  Result<guard::AuditKey> key = make_error(Errc::internal, "no key");
  if (!audit_key_bytes.empty())
    key = guard::AuditKey::from_bytes(audit_key_bytes);
  else if (!config.audit.key_file.empty())
    key = guard::AuditKey::from_file(config.audit.key_file);
  else if (!config.audit.key_env.empty())
    key = guard::AuditKey::from_env(config.audit.key_env.c_str());
  else
    key = default_key(config.store);
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
  if (!approvals_)
    approvals_ = std::make_shared<guard::Approvals>(*s, clock, policy->approval_policy(), *a);
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
  config::StoreSettings s = d->config.store;
  d->open_store = [s] { return open_configured_store(s); };
  if (o.store) d->set_store(std::move(o.store));
  auto policy = make_policy(d->config.policy);
  if (!policy) return policy.error();
  d->policy = std::move(*policy);
  auto op = operator_from(d->config);
  if (!op) return op.error();
  d->operator_principal = std::move(*op);
  d->audit_key_bytes = std::move(o.audit_key);
  return d;
}

}  // namespace dm::runbook
