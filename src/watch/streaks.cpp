// watch_streaks (followup.h): a DAG whose last N finished runs all failed is an incident of its
// own.
#include <algorithm>
#include <map>

#include "common/iso_time.h"
#include "runbook/failure.h"
#include "runbook/tool_kit.h"
#include "watch/followup.h"
#include "watch/kinds.h"

namespace dm::watch {
namespace {

using json = nlohmann::json;
using namespace kinds;

const char* const kAdvice =
    "The DAG keeps failing: this is not transient. Stop rerunning it; diagnose its first failure "
    "(that run's incident), and pause the DAG if its runs write partial data.";
const char* const kPrevention =
    "Alert the DAG's owner after the first repeat (a recovery rule's escalate_after_failures), and "
    "set retries with a delay so that one transient error does not fail the run.";

}  // namespace

void watch_streaks(const runbook::Deps& deps, const std::string& env,
                   airflow::AirflowClient& client, store::Store& s, const Outbox* outbox,
                   EnvReport& rep) {
  const int n = deps.config.watch.failed_runs_in_a_row;
  if (n < 2) return;
  // The newest handled failure per DAG (its severity and signature describe the streak).
  std::map<std::string, HandledRun> newest;
  for (const auto& h : rep.handled)
    if (h.kind == "dag_run") newest[h.dag_id] = h;
  const int64_t now = runbook::to_ms(deps.clock->now());
  for (const auto& [dag, h] : newest) {
    // The DAG's newest runs; queued and running ones decide nothing yet.
    airflow::RunQuery q;
    q.dag_id = dag;
    q.limit = static_cast<std::size_t>(std::min(n * 2, 200));
    auto runs = client.list_dag_runs(q);
    if (!runs) {
      rep.notes.push_back("last runs of " + dag + " could not be read: " + runs.error().message);
      if (runbook::airflow_unreachable(runs.error())) return;
      continue;
    }
    std::vector<const airflow::DagRun*> finished;
    for (const auto& r : *runs)
      if (r.state == "success" || r.state == "failed") finished.push_back(&r);
    if (finished.size() < static_cast<std::size_t>(n)) continue;
    finished.resize(static_cast<std::size_t>(n));
    if (!std::all_of(finished.begin(), finished.end(),
                     [](const airflow::DagRun* r) { return r->state == "failed"; }))
      continue;

    const std::string id = store::incident_id_for(env, dag, kNotSucceedingKind);
    const std::string what = "streak of " + dag;
    std::optional<store::Incident> before;
    if (!load(s, id, what, before, rep)) continue;
    if (before && before->state != "recovered") continue;  // already open: nothing new

    const airflow::DagRun& last = *finished.front();
    const int64_t last_end = iso_to_ms(last.end_date).value_or(now);
    json failed = json::array();
    for (const auto* r : finished) failed.push_back(r->run_id);
    const bool opened = !before;
    json summary = before ? summary_of(*before) : json::object();
    store::Incident inc = reopen_or_new(std::move(before), id, env, dag, last.run_id, now);
    inc.signature = h.signature;
    inc.category = kNotSucceedingKind;
    inc.first_failing_task = h.first_failing_task;
    summary["kind"] = kNotSucceedingKind;
    summary["not_succeeding"] = {{"failed_runs", failed}, {"threshold", n}};
    summary["triage"] = {
        {"source", "watch"}, {"severity", h.severity}, {"end_date", ms_to_iso(last_end)}};
    summary["advice"] = kAdvice;
    summary["prevention"] = kPrevention;
    inc.summary_json = dump(summary);

    const std::string streak = "the last " + std::to_string(n) + " finished runs failed";
    IncidentFacts f = facts_of(inc, kNotSucceedingKind, h.severity, last_end, opened);
    f.notes = {streak, kAdvice};
    HandledRun e = entry_of(inc, kNotSucceedingKind, h.severity, last.end_date, opened);
    e.first_failing_map_index = h.first_failing_map_index;
    e.notes = {streak};
    record(s, outbox, inc, std::move(f), std::move(e), what, rep);
  }
}

}  // namespace dm::watch
