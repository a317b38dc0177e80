#include "runbook/verify_rules.h"

#include <algorithm>
#include <map>

#include "common/iso_time.h"
#include "runbook/detect_common.h"
#include "runbook/tool_kit.h"
#include "runbook/triage_facts.h"

namespace dm::runbook {
namespace {

bool unfinished(const airflow::DagRun& r) { return r.state != "success" && r.state != "failed"; }

// The state of each critical task in a run's task instances. A mapped task counts by its worst
// instance (anything not success wins).
std::vector<std::pair<std::string, std::string>> critical_states(
    const config::RecoveryRule& rule, const std::vector<airflow::TaskInstance>& tis) {
  std::map<std::string, std::string> state;  // task_id → aggregated state
  for (const auto& t : tis) {
    const std::string s = t.state.empty() ? "none" : t.state;
    auto [it, fresh] = state.emplace(t.task_id, s);
    if (!fresh && it->second == "success") it->second = s;
  }
  std::vector<std::pair<std::string, std::string>> out;
  if (rule.critical_tasks.empty()) {
    for (const auto& [id, s] : state) out.emplace_back(id, s);
  } else {
    for (const auto& id : rule.critical_tasks) {
      auto it = state.find(id);
      out.emplace_back(id, it == state.end() ? "absent" : it->second);
    }
  }
  return out;
}

std::string minutes(int m) { return std::to_string(m) + " min"; }

}  // namespace

Result<RecoveryVerdict> evaluate_recovery(const RecoveryInput& in, const RunTasks& tasks) {
  const auto& rule = in.rule;
  RecoveryVerdict v;

  // Newest first; the incident's own run joins at the end when it was cleared (no longer failed,
  // or failed again in a new try).
  std::vector<const airflow::DagRun*> seq;
  for (const auto& r : in.later)
    if (r.run_id != in.incident.run_id) seq.push_back(&r);
  const bool failed_again = in.incident.state == "failed" && !in.incident_failed_again.empty();
  if (in.incident.state != "failed" || failed_again) seq.push_back(&in.incident);
  // How a failed run is named in reasons: the incident's own run says it was cleared.
  auto failed_run = [&](const airflow::DagRun& r) {
    return &r == &in.incident
               ? "the incident's run " + r.run_id + " (cleared, " + in.incident_failed_again + ")"
               : "run " + r.run_id;
  };

  const airflow::DagRun* newest_failed = nullptr;
  const airflow::DagRun* newest_unfinished = nullptr;
  const airflow::DagRun* success = nullptr;
  std::size_t success_pos = 0;
  for (std::size_t i = 0; i < seq.size(); ++i) {
    const auto* r = seq[i];
    if (r->state == "success") {
      success = r;
      success_pos = i;
      break;
    }
    if (r->state == "failed") {
      ++v.failures_since;
      if (!newest_failed) newest_failed = r;
    } else if (unfinished(*r) && !newest_unfinished && v.failures_since == 0) {
      newest_unfinished = r;
    }
  }
  const std::string since_what =
      success ? "since run " + success->run_id + " succeeded" : "since the incident";

  if (v.failures_since > 0) {
    v.recovering_run = *newest_failed;
    const int threshold = std::max(1, rule.escalate_after_failures);
    if (v.failures_since >= threshold) {
      v.verdict = "escalate";
      v.reason = std::to_string(v.failures_since) + " failed run(s) " + since_what +
                 " with no success in between (escalate_after_failures = " +
                 std::to_string(rule.escalate_after_failures) + ")";
      if (failed_again && !success)
        v.reason += "; the cleared run failed again (" + in.incident_failed_again + ")";
      v.advice = "Escalate to the DAG owner with the diagnosis of run " + newest_failed->run_id +
                 " (extract_task_errors); another run without a fix would fail the same way.";
      return v;
    }
    auto tis = tasks(*newest_failed);
    if (!tis) return tis.error();
    const std::string first = first_failing_task_id(*tis);
    const bool own = newest_failed == &in.incident;
    if (!first.empty() && first == in.incident_first_failing) {
      v.verdict = "escalate";
      v.reason = own ? "the cleared run " + newest_failed->run_id +
                           " failed again at the same task " + first + " (" +
                           in.incident_failed_again + ")"
                     : "run " + newest_failed->run_id + " failed again at the same task " + first;
      v.advice =
          "Escalate to the DAG owner: the same task failed again, so the cause is not "
          "fixed. Share the diagnosis (extract_task_errors on " +
          first + ").";
      return v;
    }
    v.verdict = "not_yet";
    v.reason =
        (own ? "the cleared run " + newest_failed->run_id + " failed again (" +
                   in.incident_failed_again + ")"
             : "run " + newest_failed->run_id + " failed too") +
        (first.empty() ? std::string(" (no failing task found)")
                       : " (first failing task " + first +
                             (in.incident_first_failing.empty()
                                  ? std::string(")")
                                  : ", not the incident's " + in.incident_first_failing + ")"));
    v.advice = "Diagnose the new failure first (get_failed_tasks and extract_task_errors on run " +
               newest_failed->run_id + "); it may be a different cause.";
    return v;
  }

  if (success) {
    v.recovering_run = *success;
    auto tis = tasks(*success);
    if (!tis) return tis.error();
    v.critical_tasks = critical_states(rule, *tis);
    const bool every_task = rule.critical_tasks.empty();
    for (const auto& [id, state] : v.critical_tasks) {
      if (state == "success" || (every_task && state == "skipped")) continue;
      v.verdict = "not_yet";
      v.reason =
          "critical task " + id + " is " + state + " in run " + success->run_id + ", not success";
      v.advice = "Check why " + id + " did not succeed in run " + success->run_id +
                 " (get_task_states); the DAG is not recovered until its critical tasks succeed.";
      return v;
    }
    const int64_t end = iso_to_ms(success->end_date).value_or(in.now_ms);
    v.quiet_until_ms = end + static_cast<int64_t>(std::max(0, rule.quiet_minutes)) * 60'000;
    // Runs placed before the success (overlapping runs) that failed after it ended also count.
    for (std::size_t i = success_pos + 1; i < seq.size(); ++i) {
      const auto* r = seq[i];
      auto r_end = iso_to_ms(r->end_date);
      if (r->state == "failed" && r_end && *r_end > end) {
        v.verdict = "not_yet";
        v.reason = failed_run(*r) + " failed at " + ms_to_iso(*r_end) + ", after run " +
                   success->run_id + " succeeded";
        v.advice = "Diagnose run " + r->run_id +
                   " (extract_task_errors) before calling the DAG "
                   "recovered.";
        return v;
      }
    }
    if (in.now_ms < v.quiet_until_ms) {
      v.verdict = "not_yet";
      v.reason = "run " + success->run_id + " succeeded; quiet period until " +
                 ms_to_iso(v.quiet_until_ms) + " (" + minutes(rule.quiet_minutes) +
                 " without a failed run)";
      v.advice = "Wait until " + ms_to_iso(v.quiet_until_ms) +
                 " and check again; nothing to do unless a new failure appears.";
      return v;
    }
    v.verdict = "recovered";
    v.reason = "run " + success->run_id + " succeeded" +
               (success->end_date.empty() ? std::string() : " at " + iso_utc(success->end_date)) +
               ", its critical tasks succeeded, and no run failed in the " +
               minutes(rule.quiet_minutes) + " after";
    v.advice =
        "Close the incident and write the postmortem (generate_postmortem); keep the "
        "prevention actions (suggest_prevention_actions).";
    return v;
  }

  if (newest_unfinished) {
    v.recovering_run = *newest_unfinished;
    v.verdict = "not_yet";
    v.reason =
        "run " + newest_unfinished->run_id + " is still " +
        (newest_unfinished->state.empty() ? std::string("waiting") : newest_unfinished->state);
    v.advice = "Wait for run " + newest_unfinished->run_id +
               " to finish (get_latest_run), then check again.";
    return v;
  }

  v.verdict = "not_yet";
  v.reason = "no new run of the DAG yet after the incident's run";
  v.advice =
      "Diagnose the failure (extract_task_errors) and fix its cause; recovery is checked on the "
      "next run of the DAG.";
  return v;
}

}  // namespace dm::runbook
