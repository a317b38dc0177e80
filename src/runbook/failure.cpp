#include "runbook/failure.h"

#include <algorithm>
#include <optional>

#include "common/iso_time.h"
#include "runbook/detect_common.h"
#include "runbook/diagnose_internal.h"
#include "runbook/tool_kit.h"
#include "runbook/triage_facts.h"
#include "runbook/triage_incident.h"

namespace dm::runbook {
bool airflow_unreachable(const Error& e) {
  return e.code == Errc::unavailable || e.code == Errc::timeout ||
         e.code == Errc::unauthenticated || e.code == Errc::permission_denied ||
         e.code == Errc::cancelled;
}

Result<HandledFailure> handle_failed_run(const Deps& deps, const std::string& env,
                                         airflow::AirflowClient& client, const airflow::DagRun& run,
                                         std::string_view source) {
  HandledFailure out;
  auto before = find_incident(deps, env, run.dag_id, run.run_id);
  if (!before && before.error().code != Errc::not_found) return before.error();
  out.opened = !before;

  // Triage, as get_run_summary: the run's tasks, the DAG's tags, the incident.
  std::vector<airflow::TaskInstance> tis;
  if (auto got = client.list_task_instances(run.dag_id, run.run_id, {}); got) {
    tis = std::move(*got);
  } else if (airflow_unreachable(got.error())) {
    return airflow_error(got.error());
  } else {
    out.notes.push_back("task instances could not be read: " + got.error().message);
  }
  const TaskFacts facts = task_facts(tis);
  airflow::Dag dag{.dag_id = run.dag_id};
  if (auto d = client.get_dag(run.dag_id); d) {
    dag = std::move(*d);
  } else if (airflow_unreachable(d.error())) {
    return airflow_error(d.error());
  } else {
    out.notes.push_back("DAG details (tags) could not be read: " + d.error().message +
                        "; severity may be understated");
  }
  nlohmann::json triage = run_triage_facts(source, run, facts, dag.tags);
  out.severity = triage.value("severity", "sev3");
  out.first_failing_task = facts.first_failing ? facts.first_failing->task_id : "";
  out.first_failing_map_index = facts.first_failing ? facts.first_failing->map_index : -1;

  // Diagnose, as extract_task_errors on the first failing task's latest try. Every Airflow read
  // comes before the first store write: Airflow going away in between leaves nothing half done.
  std::optional<diagnose::TryRef> t;
  std::optional<logs::Diagnosis> diagnosis;
  if (!facts.first_failing) {
    out.notes.push_back("no task failed on its own (e.g. a DAG-level timeout): not diagnosed");
  } else if (facts.first_failing->try_number <= 0) {
    out.notes.push_back("task " + out.first_failing_task + " has no try, so no log: not diagnosed");
  } else {
    t = diagnose::latest_try_of(*facts.first_failing);
    t->dag_id = run.dag_id;
    t->run_id = run.run_id;
    const std::size_t tail =
        static_cast<std::size_t>(std::max(1, deps.config.caps.tail_lines_default));
    diagnose::LogRead read;
    auto d = diagnose::diagnose_try(deps, client, *t, tail, nullptr, &read);
    if (!d) {
      if (airflow_unreachable(d.error())) return d.error();
      out.notes.push_back("log of " + t->task_id + " unreadable: " + d.error().message);
    } else {
      if (read.capped)
        out.notes.push_back(
            "the log is longer than caps.log_read_bytes_max; its first part was used");
      if (d->found)
        diagnosis = std::move(*d);
      else
        out.notes.push_back("no error found in the log of " + t->task_id);
    }
  }

  // Record: the incident (as get_run_summary), then the sighting and diagnosis.
  auto id = open_incident(deps, env, run, out.first_failing_task, std::move(triage));
  if (!id) return id.error();
  out.incident_id = *id;
  if (!diagnosis) return out;
  diagnose::Recorded rec = diagnose::record_sighting(
      deps, env, *t, *diagnosis, diagnose::seen_at_ms(*t, to_ms(deps.clock->now())));
  if (!rec.note.empty()) {
    // The incident exists but its diagnosis or occurrence is missing: try again next time.
    return make_error(Errc::unavailable, "run " + run.dag_id + "/" + run.run_id + ": " + rec.note);
  }
  out.signature = diagnosis->signature;
  out.category = diagnosis->category.name;
  return out;
}

}  // namespace dm::runbook
