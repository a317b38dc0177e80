#include "runbook/deps.h"

#include <openssl/crypto.h>

#include <cstdlib>
#include <map>

#include "airflow/factory.h"
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
      auto c = airflow::make_client(
          **env, {.clock = clock_, .http = nullptr, .page_size = cfg_.caps.page_size});
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

}  // namespace

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

Result<std::shared_ptr<Deps>> make_deps(config::Config cfg, DepsOverrides o) {
  // Initialise OpenSSL here, on the starting thread, rather than lazily on whichever handler
  // thread hashes the first signature.
  OPENSSL_init_crypto(0, nullptr);
  auto redactor = logs::Redactor::builtin();
  if (!redactor) {
    return make_error(Errc::internal, "built-in redaction rules: " + redactor.error().message);
  }
  auto categorizer = logs::Categorizer::builtin();
  if (!categorizer) {
    return make_error(Errc::internal, "built-in category rules: " + categorizer.error().message);
  }
  auto d = std::make_shared<Deps>();
  d->config = std::move(cfg);
  d->redactor = std::move(*redactor);
  d->categorizer = std::move(*categorizer);
  d->clock = o.clock ? std::move(o.clock) : system_clock();
  d->clients = o.clients ? std::move(o.clients) : make_client_provider(d->config, d->clock);
  config::StoreSettings s = d->config.store;
  d->open_store = [s] { return open_configured_store(s); };
  if (o.store) d->set_store(std::move(o.store));
  return d;
}

}  // namespace dm::runbook
