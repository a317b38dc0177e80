#include "runbook/recovery.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "common/iso_time.h"
#include "runbook/detect_common.h"
#include "runbook/tool_kit.h"
#include "runbook/triage_facts.h"
#include "runbook/triage_incident.h"

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

}  // namespace

Result<RecoveryCheck> check_recovery(const Deps& deps, const std::string& env,
                                     airflow::AirflowClient& client, const std::string& dag_id,
                                     const std::string& run_id) {
  RecoveryCheck c;
  auto run = client.get_dag_run(dag_id, run_id);
  if (!run) return airflow_error(run.error());
  c.run = *run;
  c.rule = deps.config.recovery_for(dag_id);
  c.now_ms = to_ms(deps.clock->now());

  // The incident (if any) remembers the first failing task even after the run was cleared.
  if (auto inc = find_incident(deps, env, dag_id, run_id); inc) {
    c.incident = std::move(*inc);
  } else if (inc.error().code != Errc::not_found) {
    c.notes.push_back("Incident store not used: " + inc.error().message);
  }
  RecoveryInput in{.incident = *run,
                   .incident_first_failing = c.incident ? c.incident->first_failing_task : "",
                   .later = {},
                   .rule = c.rule,
                   .now_ms = c.now_ms};
  if (run->state == "failed" && (in.incident_first_failing.empty() || c.incident)) {
    auto tis = client.list_task_instances(dag_id, run_id, {"failed"});
    if (!tis) return airflow_error(tis.error());
    if (in.incident_first_failing.empty()) in.incident_first_failing = first_failing_task_id(*tis);
    // A clear re-runs the failed tasks in a new try; one that failed again is a new failure.
    if (c.incident) in.incident_failed_again = failed_again(*c.incident, *run, *tis);
  }

  // Runs placed after the incident's run, newest first (bounded).
  const std::string& at = run->run_after.empty() ? run->logical_date : run->run_after;
  auto at_ms = iso_to_ms(at);
  if (!at_ms) at_ms = iso_to_ms(run->start_date);
  if (at_ms) {
    airflow::RunQuery rq{.dag_id = dag_id,
                         .states = {},
                         .since = from_ms(*at_ms),
                         .until = std::nullopt,
                         .limit = kLaterRunCap + 1};
    auto runs = client.list_dag_runs(rq);
    if (!runs) return airflow_error(runs.error());
    c.capped = runs->size() > kLaterRunCap;
    if (c.capped) runs->resize(kLaterRunCap);
    c.examined_runs = runs->size();
    for (auto& r : *runs) {
      auto r_ms = iso_to_ms(r.run_after.empty() ? r.logical_date : r.run_after);
      if (r.run_id != run_id && r_ms && *r_ms > *at_ms) in.later.push_back(std::move(r));
    }
    if (c.capped)
      c.notes.push_back("Only the " + std::to_string(kLaterRunCap) +
                        " newest runs after the incident were examined.");
  } else {
    c.notes.push_back(
        "The incident's run has no usable run_after/start time: later runs were not "
        "looked at.");
  }

  auto verdict = evaluate_recovery(in, [&](const airflow::DagRun& r) {
    return client.list_task_instances(dag_id, r.run_id, {});
  });
  if (!verdict) return airflow_error(verdict.error());
  c.verdict = std::move(*verdict);
  auto& v = c.verdict;

  if (v.verdict == "escalate") {
    if (auto dag = client.get_dag(dag_id); dag && !dag->owners.empty()) {
      std::string o;
      for (const auto& x : dag->owners) o += (o.empty() ? "" : ", ") + x;
      v.advice += " Owners: " + o + ".";
    }
  }

  if (c.incident) {
    c.incident_state = c.incident->state;
    const std::string new_state = v.verdict == "recovered"  ? "recovered"
                                  : v.verdict == "escalate" ? "escalated"
                                                            : "";
    if (!new_state.empty() && new_state != c.incident->state) {
      json facts = {{"verdict", v.verdict},
                    {"reason", v.reason},
                    {"recovering_run", v.recovering_run ? v.recovering_run->run_id : ""},
                    {"checked_at", ms_to_iso(c.now_ms)}};
      if (auto st = set_incident_state(deps, *c.incident, new_state, std::move(facts)); st) {
        c.incident_state = new_state;
        c.state_changed = true;
      } else {
        c.notes.push_back("Incident state not updated: " + st.error().message);
      }
    }
  }
  return c;
}

}  // namespace dm::runbook
