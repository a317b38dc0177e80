// Verify stage tool (see docs/runbook.md): check_recovery_rules. Reads Airflow; the verdict comes
// from verify_rules.h. A recovered/escalated verdict updates the incident when one exists (store
// errors only add a note).
#include <algorithm>
#include <map>
#include <string>

#include "common/iso_time.h"
#include "runbook/detect_common.h"
#include "runbook/runbook.h"
#include "runbook/tool_kit.h"
#include "runbook/triage_facts.h"
#include "runbook/triage_incident.h"
#include "runbook/verify_rules.h"

namespace dm::runbook {
namespace {

using json = nlohmann::json;

constexpr std::size_t kLaterRunCap = 200;  // runs after the incident examined (newest first)

// The try of each task the incident's diagnoses recorded (summary_json "diagnose" and
// "diagnoses"), highest per task. Stored JSON is not trusted to have the right shape.
std::map<std::string, int> recorded_tries(const json& summary) {
  std::map<std::string, int> out;
  auto take = [&](const json& facts) {
    if (!facts.is_object()) return;
    auto task = facts.find("task_id");
    auto n = facts.find("try_number");
    if (task == facts.end() || !task->is_string() || n == facts.end() || !n->is_number_integer())
      return;
    int& slot = out[task->get<std::string>()];
    slot = std::max(slot, n->get<int>());
  };
  if (!summary.is_object()) return out;
  if (auto d = summary.find("diagnose"); d != summary.end()) take(*d);
  if (auto all = summary.find("diagnoses"); all != summary.end() && all->is_object())
    for (const auto& [sig, facts] : all->items()) take(facts);
  return out;
}

// Whether the incident's run (failed now) was cleared and failed again since the incident
// recorded it: a failed task in a later try than the one diagnosed, else (no try recorded) the
// run ending after the end triage recorded. Returns what shows it, "" if nothing does.
std::string failed_again(const store::Incident& inc, const airflow::DagRun& run,
                         const std::vector<airflow::TaskInstance>& failed) {
  const json summary = json::parse(inc.summary_json, nullptr, /*allow_exceptions=*/false);
  const auto tries = recorded_tries(summary);
  for (const auto& t : failed) {
    auto it = tries.find(t.task_id);
    if (it != tries.end() && it->second > 0 && t.try_number > it->second)
      return "task " + t.task_id + " failed in try " + std::to_string(t.try_number) +
             "; the incident recorded try " + std::to_string(it->second);
  }
  if (!tries.empty() || !summary.is_object()) return "";
  auto triage = summary.find("triage");
  if (triage == summary.end() || !triage->is_object()) return "";
  auto end = triage->find("end_date");
  if (end == triage->end() || !end->is_string()) return "";
  auto recorded = iso_to_ms(end->get<std::string>());
  auto now_end = iso_to_ms(run.end_date);
  if (recorded && now_end && *now_end > *recorded)
    return "the run ended again at " + ms_to_iso(*now_end) + "; the incident recorded its end at " +
           ms_to_iso(*recorded);
  return "";
}

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
  const std::string& dag_id = a.dag_id;
  const std::string& run_id = a.run_id;
  auto target = resolve_target(deps, a);
  if (!target) return target.error();
  auto& client = *target->client;
  const std::string env = target->env->name;
  auto run = client.get_dag_run(dag_id, run_id);
  if (!run) return airflow_error(run.error());
  const config::RecoveryRule rule = deps.config.recovery_for(dag_id);
  std::vector<std::string> notes;

  // The incident (if any) remembers the first failing task even after the run was cleared.
  std::optional<store::Incident> incident;
  if (auto inc = find_incident(deps, env, dag_id, run_id); inc) {
    incident = std::move(*inc);
  } else if (inc.error().code != Errc::not_found) {
    notes.push_back("Incident store not used: " + inc.error().message);
  }
  RecoveryInput in{.incident = *run,
                   .incident_first_failing = incident ? incident->first_failing_task : "",
                   .later = {},
                   .rule = rule,
                   .now_ms = to_ms(deps.clock->now())};
  if (run->state == "failed" && (in.incident_first_failing.empty() || incident)) {
    auto tis = client.list_task_instances(dag_id, run_id, {"failed"});
    if (!tis) return airflow_error(tis.error());
    if (in.incident_first_failing.empty()) in.incident_first_failing = first_failing_task_id(*tis);
    // A clear re-runs the failed tasks in a new try; one that failed again is a new failure.
    if (incident) in.incident_failed_again = failed_again(*incident, *run, *tis);
  }

  // Runs placed after the incident's run, newest first (bounded).
  const std::string& at = run->run_after.empty() ? run->logical_date : run->run_after;
  auto at_ms = iso_to_ms(at);
  if (!at_ms) at_ms = iso_to_ms(run->start_date);
  std::size_t examined = 0;
  bool capped = false;
  if (at_ms) {
    airflow::RunQuery rq{.dag_id = dag_id,
                         .states = {},
                         .since = from_ms(*at_ms),
                         .until = std::nullopt,
                         .limit = kLaterRunCap + 1};
    auto runs = client.list_dag_runs(rq);
    if (!runs) return airflow_error(runs.error());
    capped = runs->size() > kLaterRunCap;
    if (capped) runs->resize(kLaterRunCap);
    examined = runs->size();
    for (auto& r : *runs) {
      auto r_ms = iso_to_ms(r.run_after.empty() ? r.logical_date : r.run_after);
      if (r.run_id != run_id && r_ms && *r_ms > *at_ms) in.later.push_back(std::move(r));
    }
    if (capped)
      notes.push_back("Only the " + std::to_string(kLaterRunCap) +
                      " newest runs after the incident were examined.");
  } else {
    notes.push_back(
        "The incident's run has no usable run_after/start time: later runs were not "
        "looked at.");
  }

  auto verdict = evaluate_recovery(in, [&](const airflow::DagRun& r) {
    return client.list_task_instances(dag_id, r.run_id, {});
  });
  if (!verdict) return airflow_error(verdict.error());
  auto& v = *verdict;

  if (v.verdict == "escalate") {
    if (auto dag = client.get_dag(dag_id); dag && !dag->owners.empty()) {
      std::string o;
      for (const auto& x : dag->owners) o += (o.empty() ? "" : ", ") + x;
      v.advice += " Owners: " + o + ".";
    }
  }

  std::string incident_id, incident_state;
  std::string text = "Verdict: " + v.verdict + " — " + v.reason + ".\nAdvice: " + v.advice;
  if (incident) {
    incident_id = incident->id;
    incident_state = incident->state;
    const std::string new_state = v.verdict == "recovered"  ? "recovered"
                                  : v.verdict == "escalate" ? "escalated"
                                                            : "";
    if (!new_state.empty() && new_state != incident->state) {
      json facts = {{"verdict", v.verdict},
                    {"reason", v.reason},
                    {"recovering_run", v.recovering_run ? v.recovering_run->run_id : ""},
                    {"checked_at", ms_to_iso(in.now_ms)}};
      if (auto st = set_incident_state(deps, *incident, new_state, std::move(facts)); st) {
        incident_state = new_state;
        text += "\nIncident " + incident_id + " is now " + new_state + ".";
      } else {
        notes.push_back("Incident state not updated: " + st.error().message);
      }
    }
  }

  RecoveryOut out{.ref = {env, dag_id, run_id},
                  .verdict = v.verdict,
                  .reason = v.reason,
                  .rule = {rule},
                  .recovering_run = v.recovering_run,
                  .failures_since = v.failures_since,
                  .quiet_until = v.quiet_until_ms ? ms_to_iso(v.quiet_until_ms) : "",
                  .advice = v.advice,
                  .incident_id = incident_id,
                  .incident_state = incident_state,
                  .examined_runs = examined,
                  .capped = capped,
                  .notes = std::move(notes)};
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
