// What the runbook tools share: config, the redaction and category rules, the clock, a way to reach
// each Airflow environment, and the store. Built once at start-up (make_deps) and immutable
// afterwards, so tools may use it from any handler thread.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "airflow/airflow_client.h"
#include "common/clock.h"
#include "common/result.h"
#include "config/config.h"
#include "logs/category.h"
#include "logs/redact.h"
#include "store/store.h"

namespace dm::runbook {

// A resolved environment: its config entry and a client for it.
struct Target {
  const config::Environment* env = nullptr;        // owned by the provider's config; never null
  std::shared_ptr<airflow::AirflowClient> client;  // never null
};

// Resolves an environment name to a client. Thread-safe.
class ClientProvider {
 public:
  virtual ~ClientProvider() = default;
  // `name` empty = the config's default (defaults.environment, else the only one). Errors:
  // failed_precondition when no environment is configured (the message says how to add one),
  // not_found for an unknown name (the message lists the known ones), invalid_argument when
  // several exist and none is named, and whatever building the client returns.
  virtual Result<Target> get(std::string_view name) = 0;
};

// The production provider: clients built with airflow::make_client from `cfg`, once per
// environment, then cached. `cfg` must outlive the provider (Deps owns both).
std::shared_ptr<ClientProvider> make_client_provider(const config::Config& cfg,
                                                     std::shared_ptr<Clock> clock);

// Everything tools need. Fields are set by make_deps and never change afterwards.
struct Deps {
  config::Config config;                                 // may be the empty built-in config
  std::shared_ptr<const logs::Redactor> redactor;        // never null
  std::shared_ptr<const logs::Categorizer> categorizer;  // never null
  std::shared_ptr<Clock> clock;                          // never null
  std::shared_ptr<ClientProvider> clients;               // never null

  // The store (opened on first use, then shared). Errors: the reason it could not be opened
  // (every call retries, so a store that comes back is used).
  Result<store::Store*> store() const;

  // How store() opens it; set by make_deps.
  std::function<Result<std::unique_ptr<store::Store>>()> open_store;
  // Uses this store from now on (make_deps with an overridden store; tests).
  void set_store(std::shared_ptr<store::Store> s) const;

 private:
  mutable std::mutex store_mu_;
  mutable std::shared_ptr<store::Store> store_;
};

// Test seams for make_deps: any field left empty gets the production default.
struct DepsOverrides {
  std::shared_ptr<Clock> clock{};             // default: system clock
  std::shared_ptr<ClientProvider> clients{};  // default: make_client_provider(config)
  std::shared_ptr<store::Store> store{};      // default: opened from config.store on first use
};

// Deps with the built-in rules and `cfg`. Errc::internal if the embedded rules don't load (a build
// bug). Never opens the network or the store.
Result<std::shared_ptr<Deps>> make_deps(config::Config cfg, DepsOverrides overrides = {});

}  // namespace dm::runbook
