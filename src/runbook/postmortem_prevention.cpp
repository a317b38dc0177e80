// Prevention actions for the postmortem, by error category: the shared prevention rules
// (rules/prevention.yaml, the same ones suggest_prevention_actions uses), with a small built-in
// mapping as the fallback should those rules fail to load.
#include "runbook/diagnose_prevention.h"
#include "runbook/postmortem_internal.h"

namespace dm::runbook::postmortem {
namespace {

PreventionAction alert_routing() {
  return {"alert_routing", "Route alerts by tier",
          "Page the owning team for tier-1 / business_critical DAGs; send lower tiers to a "
          "channel reviewed daily."};
}

PreventionAction safe_rerun() {
  return {"safe_rerun_playbook", "Keep reruns safe",
          "Rerun only after the cause is fixed: clear the failed tasks of this run (never the "
          "whole DAG) with an approval from a second person, then check recovery."};
}

}  // namespace

std::vector<PreventionAction> builtin_prevention_for(const std::string& category) {
  std::vector<PreventionAction> out;
  if (category == "missing_upstream_data") {
    out.push_back({"precheck_upstream", "Pre-check upstream partitions",
                   "Add a sensor (reschedule mode, with a timeout) that waits for the upstream "
                   "partition/file before the load task runs."});
    out.push_back({"data_sla", "Agree a data SLA with the upstream owner",
                   "Alert when the upstream delivery is late instead of failing downstream."});
  } else if (category == "permissions") {
    out.push_back({"precheck_permissions", "Pre-check permissions",
                   "Add a cheap first task that checks the connection's grants/role on the "
                   "objects the DAG touches; rotate credentials with an overlap window."});
  } else if (category == "schema_drift") {
    out.push_back({"schema_contract", "Schema contract with the producer",
                   "Validate the incoming schema (columns, types) in a pre-check task and version "
                   "schema changes with the producing team."});
  } else if (category == "resource_exhaustion") {
    out.push_back({"resource_limits", "Right-size resources",
                   "Set explicit memory/CPU requests and limits (pool/queue/executor config) "
                   "from observed peaks; process data in partitions."});
  } else if (category == "timeout") {
    out.push_back({"timeouts", "Tune timeouts and sensors",
                   "Set execution_timeout from observed durations; use reschedule-mode sensors "
                   "with explicit timeouts."});
  } else if (category == "network") {
    out.push_back({"retry_backoff", "Retries with backoff for transient errors",
                   "Set retries with exponential backoff (retry_exponential_backoff) on tasks "
                   "that call remote services."});
  } else if (category == "quota_or_throttling") {
    out.push_back({"rate_limits", "Respect rate limits",
                   "Use an Airflow pool to cap concurrency against the API; retry with "
                   "exponential backoff and jitter."});
  } else if (category == "dependency_or_import") {
    out.push_back({"pin_dependencies", "Pin dependencies",
                   "Pin package versions (constraints file), test the environment's "
                   "requirements in CI before deploying."});
  } else if (category == "code_bug") {
    out.push_back({"tests_in_ci", "Test DAG code in CI",
                   "Add a unit test reproducing this error; run DAG import and task tests in CI "
                   "before deploying."});
  } else {
    out.push_back({"triage_owner", "Assign an owner and classify",
                   "The cause is not classified: have the owner add a categorization rule so the "
                   "next occurrence is recognized."});
  }
  out.push_back(alert_routing());
  out.push_back(safe_rerun());
  return out;
}

std::vector<PreventionAction> prevention_for(const std::string& category, std::string& source) {
  if (auto rules = PreventionRules::builtin(); rules) {
    std::vector<PreventionAction> out;
    for (auto& step : (*rules)->for_category(category.empty() ? "unknown" : category))
      out.push_back({step.kind, step.title, step.detail});
    if (!out.empty()) {
      source = "prevention rules (rules/prevention.yaml)";
      return out;
    }
  }
  source = "builtin postmortem mapping (the prevention rules did not load)";
  return builtin_prevention_for(category);
}

}  // namespace dm::runbook::postmortem
