// Remediation policy: which writes the guard lets through before any approval is looked at
// (docs/guard.md "Policy"). Pure rules over plain data; the config layer parses them
// (config::PolicySettings) and the runbook converts and compiles them once at start-up.
//
// check() refuses, naming the rule that refused:
// - ids: DAG ids [A-Za-z0-9_.-]{1,250} without "..", run ids [A-Za-z0-9_:+.@~ -]{1,250} starting
//   with neither a space nor '.' and without "..": ids never become paths, options or markup;
// - allowlist: the environment's DAG globs (policy.allow_dags.<env>); absent, a dev tier allows
//   every DAG and a prod tier none;
// - conf: a JSON object, canonical size <= the DAG's conf_max_bytes (default 4 KiB), valid
//   against the first matching DAG rule's JSON Schema (additionalProperties false is added at
//   the top level when the schema lists properties and says nothing), and `{}` when no schema
//   covers the DAG (no unknown keys by default). Strings inside a conf are inert data.
// Thread-safety: a Policy is immutable; every method is const and thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "guard/approval.h"

namespace dm::guard {

struct TierRule {
  int required_approvals = 1;
  bool allow_without_approval = false;  // never honoured for the prod tier
  std::string elicitation = "none";     // none | form | url
};

struct DagRule {
  std::string dag = "*";                 // glob ('*', '?')
  nlohmann::json conf_schema = nullptr;  // null = no schema (conf must be {})
  std::size_t conf_max_bytes = 0;        // 0 = PolicyRules::conf_max_bytes
};

struct PolicyRules {
  std::map<std::string, TierRule, std::less<>> tiers{{"dev", {1, false, "form"}},
                                                     {"prod", {2, false, "url"}}};
  std::map<std::string, std::vector<std::string>, std::less<>> allow_dags;  // env -> globs
  std::vector<DagRule> dags;
  std::size_t conf_max_bytes = 4096;
  std::chrono::seconds default_ttl{3600};
  std::chrono::seconds max_ttl{24 * 3600};
};

// A compiled JSON Schema: nullopt when `conf` is valid, else what is wrong.
using ConfChecker = std::function<std::optional<std::string>(const nlohmann::json& conf)>;
// Compiles a schema (the runbook passes valijson through mcp::SchemaValidator).
using SchemaCompiler = std::function<Result<ConfChecker>(const nlohmann::json& schema)>;

// One write as the policy sees it.
struct WriteRequest {
  std::string action;  // trigger_dag | clear_failed_tasks
  std::string env;
  std::string tier;
  std::string dag_id;
  nlohmann::json conf = nlohmann::json::object();
  std::string run_id;  // clear_failed_tasks
};

class Policy {
 public:
  // Compiles every DAG rule's schema. invalid_argument naming the rule (policy.dags[i]) when a
  // schema does not compile or a tier is unknown.
  static Result<std::shared_ptr<const Policy>> make(PolicyRules rules,
                                                    const SchemaCompiler& compile);

  // Ok, or permission_denied / invalid_argument / too_large whose message starts with "policy:"
  // and names the rule.
  Status check(const WriteRequest& w) const;
  // The tier's rule; invalid_argument for an unknown tier.
  Result<TierRule> tier(std::string_view name) const;
  // Approval thresholds and TTL bounds for guard::Approvals.
  ApprovalPolicy approval_policy() const;
  const PolicyRules& rules() const { return rules_; }

 private:
  Policy() = default;
  PolicyRules rules_;
  std::vector<ConfChecker> checkers_;  // parallel to rules_.dags (empty function = no schema)
};

// Character rules for ids (also used by the tools before anything else).
Status check_dag_id(std::string_view dag_id);
Status check_run_id(std::string_view run_id);

}  // namespace dm::guard
