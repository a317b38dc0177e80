#include "runbook/triage_incident.h"

#include "runbook/tool_kit.h"

namespace dm::runbook {

using json = nlohmann::json;

namespace {

// summary_json with the redacted `facts` merged into the object under `key` (keys of `facts`
// replace stored ones, others stay); a stored value that is not a JSON object is replaced.
std::string merge_summary(const Deps& deps, const std::string& stored, const std::string& key,
                          json facts) {
  json summary = json::parse(stored, nullptr, /*allow_exceptions=*/false);
  if (!summary.is_object()) summary = json::object();
  redact_json(*deps.redactor, facts);
  json& slot = summary[key];
  if (slot.is_object() && facts.is_object()) {
    slot.update(facts);
  } else {
    slot = std::move(facts);
  }
  return summary.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

Result<store::Incident> find_incident(const Deps& deps, const std::string& env,
                                      const std::string& dag_id, const std::string& run_id) {
  auto s = deps.store();
  if (!s) return s.error();
  return (*s)->get_incident(store::incident_id_for(env, dag_id, run_id));
}

Result<std::string> open_incident(const Deps& deps, const std::string& env,
                                  const airflow::DagRun& run, const std::string& first_failing_task,
                                  json facts) {
  auto s = deps.store();
  if (!s) return s.error();
  const std::string id = store::incident_id_for(env, run.dag_id, run.run_id);
  const int64_t now = to_ms(deps.clock->now());
  store::Incident inc;
  auto existing = (*s)->get_incident(id);
  if (existing) {
    inc = std::move(*existing);
  } else if (existing.error().code != Errc::not_found) {
    return existing.error();
  } else {
    inc.id = id;
    inc.env = env;
    inc.dag_id = run.dag_id;
    inc.run_id = run.run_id;
    inc.state = "open";
    inc.opened_at_ms = now;
  }
  if (!first_failing_task.empty()) inc.first_failing_task = first_failing_task;
  inc.summary_json = merge_summary(deps, inc.summary_json, "triage", std::move(facts));
  inc.updated_at_ms = now;
  if (auto st = (*s)->upsert_incident(inc); !st) return st.error();
  return id;
}

Status set_incident_state(const Deps& deps, store::Incident incident, const std::string& state,
                          json facts) {
  auto s = deps.store();
  if (!s) return s.error();
  incident.state = state;
  incident.summary_json = merge_summary(deps, incident.summary_json, "verify", std::move(facts));
  incident.updated_at_ms = to_ms(deps.clock->now());
  return (*s)->upsert_incident(incident);
}

}  // namespace dm::runbook
