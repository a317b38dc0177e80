// Verify stage tool (see docs/runbook.md): check_recovery_rules, over runbook/recovery.h (which
// the watcher shares). A recovered/escalated verdict updates the incident when one exists (store
// errors only add a note).
#include <string>

#include "common/iso_time.h"
#include "runbook/detect_common.h"
#include "runbook/recovery.h"
#include "runbook/runbook.h"
#include "runbook/tool_kit.h"

namespace dm::runbook {
namespace {

struct RuleOut {
  config::RecoveryRule r{};
  template <class V>
  void fields(V& v) const {
    v.field("dag", r.dag, "The rule's DAG glob");
    v.field("quiet_minutes", r.quiet_minutes, "Minutes without a new failure after recovery");
    v.field("critical_tasks", r.critical_tasks, "Tasks that must succeed (none: every task)");
    v.field("escalate_after_failures", r.escalate_after_failures,
            "Failed runs after the incident that mean escalate");
  }
};

struct CriticalTaskOut {
  std::string task_id{}, state{};
  template <class V>
  void fields(V& v) const {
    v.field("task_id", task_id, "Task id");
    v.field("state", state, "Its state in the recovering run");
  }
};

struct RecoveryOut {
  RunRefOut ref{};  // the incident's run
  std::string verdict = "not_yet";
  std::string reason{};
  RuleOut rule{};
  std::optional<airflow::DagRun> recovering_run{};
  std::vector<CriticalTaskOut> critical_tasks{};
  int failures_since = 0;
  std::string quiet_until{}, advice{}, incident_id{}, incident_state{};
  std::size_t examined_runs = 0;
  bool capped = false;
  std::vector<std::string> notes{};
  template <class V>
  void fields(V& v) const {
    v.flatten(ref);
    v.one_of("verdict", verdict, {"recovered", "not_yet", "escalate"}, "The verdict");
    v.field("reason", reason, "Why");
    v.field("rule", rule, "The recovery rule applied");
    v.field("recovering_run", recovering_run, "The run that recovered (null when none)");
    v.field("critical_tasks", critical_tasks, "States of the critical tasks in that run");
    v.field("failures_since", failures_since, "Failed runs after the incident");
    v.field("quiet_until", quiet_until, "UTC end of the quiet period (\"\" when none)");
    v.field("advice", advice, "What to do next");
    v.field("incident_id", incident_id, "The run's incident (\"\" when none)");
    v.field("incident_state", incident_state, "Its state now");
    v.field("examined_runs", examined_runs, "Later runs examined");
    v.field("capped", capped, "More later runs exist than were examined");
    v.field("notes", notes, "What could not be read or done");
  }
};

Result<Reply<RecoveryOut>> check_recovery_rules(const Deps& deps, const RunIn& a) {
  auto target = resolve_target(deps, a);
  if (!target) return target.error();
  const std::string env = target->env->name;
  auto c = check_recovery(deps, env, *target->client, a.dag_id, a.run_id);
  if (!c) return c.error();
  const auto& v = c->verdict;

  std::string text = "Verdict: " + v.verdict + " — " + v.reason + ".\nAdvice: " + v.advice;
  if (c->state_changed)
    text += "\nIncident " + c->incident->id + " is now " + c->incident_state + ".";
  RecoveryOut out{.ref = {env, a.dag_id, a.run_id},
                  .verdict = v.verdict,
                  .reason = v.reason,
                  .rule = {c->rule},
                  .recovering_run = v.recovering_run,
                  .failures_since = v.failures_since,
                  .quiet_until = v.quiet_until_ms ? ms_to_iso(v.quiet_until_ms) : "",
                  .advice = v.advice,
                  .incident_id = c->incident ? c->incident->id : "",
                  .incident_state = c->incident_state,
                  .examined_runs = c->examined_runs,
                  .capped = c->capped,
                  .notes = std::move(c->notes)};
  for (const auto& [id, state] : v.critical_tasks) out.critical_tasks.push_back({id, state});
  return Reply<RecoveryOut>{std::move(text), std::move(out)};
}

}  // namespace

Status register_verify_tools(mcp::Server& server, const std::shared_ptr<const Deps>& deps) {
  ToolSpec<RunIn, RecoveryOut> t;
  t.name = "check_recovery_rules";
  t.title = "Check whether a DAG recovered";
  t.description =
      "Verify: given the failed run of an incident, says recovered / not_yet / escalate from the "
      "runs that came after it and the DAG's recovery rule (quiet minutes, critical tasks, "
      "failures before escalating), with the reason and what to do next. Never suggests a blind "
      "retry.";
  t.args = run_args();
  t.run = [deps](const RunIn& a, mcp::ToolContext&) { return check_recovery_rules(*deps, a); };
  return add_tool(server, deps, std::move(t));
}

}  // namespace dm::runbook
