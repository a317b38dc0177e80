// watch_freshness (followup.h): a scheduled DAG whose next run was not made in time is late.
#include <algorithm>
#include <map>

#include "common/iso_time.h"
#include "runbook/tool_kit.h"
#include "runbook/triage_facts.h"
#include "watch/followup.h"
#include "watch/kinds.h"

namespace dm::watch {
namespace {

using json = nlohmann::json;
using namespace kinds;

const char* const kAdvice =
    "No run was made when the schedule expected one. Check whether the DAG is paused, whether the "
    "scheduler is up (its heartbeat), and the DAG's limits (max_active_runs, pools); unpausing it "
    "or bringing the scheduler back makes the missed run.";
const char* const kPrevention =
    "Alert on freshness per data product, not only on failures; monitor the scheduler's "
    "heartbeat; make pausing a DAG an explicit, time-boxed action with an owner.";

}  // namespace

void watch_freshness(const runbook::Deps& deps, const std::string& env,
                     airflow::AirflowClient& client, store::Store& s, const Outbox* outbox,
                     EnvReport& rep) {
  const config::FreshnessSettings& fs = deps.config.watch.freshness;
  if (fs.rules.empty()) return;
  airflow::DagQuery q;
  // Every rule names a tag: list only the DAGs carrying one of them.
  if (std::all_of(fs.rules.begin(), fs.rules.end(), [](const auto& r) { return !r.tag.empty(); }))
    for (const auto& r : fs.rules)
      if (std::find(q.tags.begin(), q.tags.end(), r.tag) == q.tags.end()) q.tags.push_back(r.tag);
  auto dags = client.list_dags(q);
  if (!dags) {
    rep.notes.push_back("DAGs could not be listed, freshness not checked: " + dags.error().message);
    return;
  }
  const int64_t now = runbook::to_ms(deps.clock->now());
  std::map<std::string, const airflow::Dag*> by_id;
  for (const auto& d : *dags) by_id[d.dag_id] = &d;

  for (const auto& d : *dags) {
    const config::FreshnessRule* rule = fs.rule_for(d.dag_id, d.tags);
    if (!rule || !d.scheduled || d.next_run_after.empty()) continue;
    if (d.is_paused && !rule->include_paused) continue;
    ++rep.freshness_checked;
    auto expected = iso_to_ms(d.next_run_after);
    if (!expected || now <= *expected + int64_t{rule->grace_minutes} * 60'000) continue;

    const std::string expected_iso = ms_to_iso(*expected);
    const std::string id = store::incident_id_for(env, d.dag_id, "late:" + expected_iso);
    const std::string what = "lateness of " + d.dag_id;
    std::optional<store::Incident> before;
    if (!load(s, id, what, before, rep)) continue;
    if (before && before->state != "recovered") continue;  // already open

    const std::string severity = runbook::severity_for(
        runbook::tier_from_tags(d.tags), runbook::business_critical_from_tags(d.tags));
    std::string why = "no run of " + d.dag_id + " since its schedule expected one at " +
                      expected_iso + " (grace " + std::to_string(rule->grace_minutes) + " min)";
    if (d.is_paused) why += "; the DAG is paused";
    const bool opened = !before;
    json summary = before ? summary_of(*before) : json::object();
    store::Incident inc = reopen_or_new(std::move(before), id, env, d.dag_id, "", now);
    inc.category = kLateKind;
    inc.error = why;
    summary["kind"] = kLateKind;
    summary["late"] = {{"expected_at", expected_iso},
                       {"logical_date", iso_utc(d.next_logical_date)},
                       {"grace_minutes", rule->grace_minutes},
                       {"paused", d.is_paused},
                       {"timetable", d.timetable}};
    summary["triage"] = {{"source", "watch"}, {"severity", severity}, {"end_date", expected_iso}};
    summary["advice"] = kAdvice;
    summary["prevention"] = kPrevention;
    inc.summary_json = dump(summary);

    IncidentFacts f = facts_of(inc, kLateKind, severity, *expected, opened);
    f.notes = {kAdvice};
    HandledRun e = entry_of(inc, kLateKind, severity, expected_iso, opened);
    e.notes = {why};
    record(s, outbox, inc, std::move(f), std::move(e), what, rep);
  }

  // A late incident is over once the scheduler made the expected run (the DAG's next expected
  // run moved on), or the DAG is gone.
  std::string err;
  for (auto& inc : incidents_in(s, env, "open", 0, err)) {
    const json summary = summary_of(inc);
    if (kind_of(summary) != kLateKind) continue;
    const std::string expected = str_at(summary, "late", "expected_at");
    auto it = by_id.find(inc.dag_id);
    std::string reason;
    if (it == by_id.end()) {
      if (!q.tags.empty()) continue;  // not listed because of the tag filter: no news
      reason = "the DAG is no longer listed by Airflow";
    } else {
      auto next = iso_to_ms(it->second->next_run_after);
      auto was = iso_to_ms(expected);
      if (!next || !was || *next <= *was) continue;
      reason = "the run expected at " + expected + " was made; the next is expected at " +
               ms_to_iso(*next);
    }
    mark_recovered(deps, std::move(inc), reason, now, rep);
  }
  if (!err.empty()) rep.notes.push_back("late incidents unreadable: " + err);
}

}  // namespace dm::watch
