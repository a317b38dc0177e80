// What the runbook tools share: config, the redaction and category rules, the clock, a way to reach
// each Airflow environment, and the store. Built once at start-up (make_deps); its fields never
// change afterwards (the store, the audit log and the approvals are opened on first use, once,
// under a mutex), so tools may use it from any handler thread through a const reference.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "airflow/airflow_client.h"
#include "common/clock.h"
#include "common/result.h"
#include "config/config.h"
#include "guard/approval.h"
#include "guard/audit.h"
#include "guard/policy.h"
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

  // How store() opens it (DepsOverrides::open_store; unset: store() fails, saying so).
  std::function<Result<std::unique_ptr<store::Store>>()> open_store;
  // store(), shared (for objects that keep it: the audit log, approvals).
  Result<std::shared_ptr<store::Store>> shared_store() const;

  // ---- guard (remediation) ----
  std::shared_ptr<const guard::Policy> policy;  // never null; compiled from config.policy
  // The human operator, as start-up found it (app/wiring.h: config identity.principal, else the
  // OS user; never a CLI flag). An MCP request is made by agent_for(client) acting for them.
  guard::Principal operator_principal;
  // The approval page of an approval (set by `serve` when the page runs); empty = no page.
  std::function<std::string(const std::string& approval_id)> approval_url;

  // The audit log over store(), keyed by audit_key(). Built on first use and cached; errors
  // (store down, key unreadable, no key source: failed_precondition) are retried next call.
  Result<std::shared_ptr<guard::AuditLog>> audit() const;
  // Approvals over store() with policy->approval_policy() and audit() (every decision audited).
  Result<std::shared_ptr<guard::Approvals>> approvals() const;
  // "agent:<name>" (is_agent) for an MCP client's clientInfo.name; odd characters become '_',
  // empty = "agent:unknown".
  static guard::Principal agent_for(std::string_view client_name);
  // "agent:<name> for <operator>": who a tool call is attributed to in the audit.
  std::string audit_principal(std::string_view client_name) const;

  // Where the audit key comes from (app/wiring.h audit_key_source; tests: fixed bytes).
  std::function<Result<guard::AuditKey>()> audit_key;

 private:
  friend Result<std::shared_ptr<Deps>> make_deps(config::Config cfg,
                                                 struct DepsOverrides overrides);
  mutable std::mutex store_mu_;
  mutable std::shared_ptr<store::Store> store_;
  mutable std::mutex guard_mu_;
  mutable std::shared_ptr<guard::AuditLog> audit_;
  mutable std::shared_ptr<guard::Approvals> approvals_;
};

// What start-up (app/wiring.h) or a test gives make_deps. The runbook never reads the host itself:
// no environment variables, key files or OS user here.
struct DepsOverrides {
  std::shared_ptr<Clock> clock{};             // default: system clock
  std::shared_ptr<ClientProvider> clients{};  // default: make_client_provider(config)
  std::shared_ptr<store::Store> store{};      // an open store (tests); else open_store on first use
  std::function<Result<std::unique_ptr<store::Store>>()> open_store{};  // default: none
  std::function<Result<guard::AuditKey>()> audit_key_source{};  // default: audit_key, if given
  std::string audit_key{};  // fixed key bytes (>= 32; tests); neither set: no audit (fail closed)
  // default: config identity.principal, else "operator" (start-up passes the OS user)
  std::optional<guard::Principal> operator_principal{};
};

// config.policy as guard rules (schemas compiled with valijson). invalid_argument naming the rule.
Result<std::shared_ptr<const guard::Policy>> make_policy(const config::PolicySettings& p);

// Deps with `cfg` and the built-in rules extended by cfg.rules' files (logs::load_rule_sets).
// Errc::internal if the embedded rules don't load (a build bug); invalid_argument for a bad rule
// file (naming file and line), a bad policy or identity; not_found for an unreadable rule file.
// Never opens the network or the store.
Result<std::shared_ptr<Deps>> make_deps(config::Config cfg, DepsOverrides overrides = {});

}  // namespace dm::runbook
