// Triage stage tools (see docs/runbook.md): get_run_summary, get_failed_tasks, get_task_states.
// Read-only towards Airflow. A FAILED run looked at by the first two opens (or updates) its
// incident in the store; the store being down never fails the tool (incident_id "" + a note).
#include <algorithm>
#include <set>
#include <string>

#include "common/iso_time.h"
#include "runbook/detect_common.h"
#include "runbook/runbook.h"
#include "runbook/tool_kit.h"
#include "runbook/triage_facts.h"
#include "runbook/triage_incident.h"

namespace dm::runbook {
namespace {

using json = nlohmann::json;

constexpr std::size_t kOutputCap = 16 * 1024;
constexpr std::size_t kFrequencyCap = 500;  // runs examined for frequency
constexpr std::size_t kFactsListCap = 20;   // task ids kept in an incident's summary
constexpr std::size_t kTaskIdsMax = 1000;   // task_ids accepted by get_task_states

json ids_of(const std::vector<const airflow::TaskInstance*>& tis, std::size_t cap = SIZE_MAX) {
  json out = json::array();
  std::set<std::string> seen;
  for (const auto* t : tis) {
    if (out.size() >= cap) break;
    if (seen.insert(t->task_id).second) out.push_back(t->task_id);
  }
  return out;
}

std::string counts_text(const std::map<std::string, int>& counts) {
  std::string s;
  for (const auto& [state, n] : counts)
    s += (s.empty() ? "" : ", ") + state + " " + std::to_string(n);
  return s.empty() ? "no task instances" : s;
}

// The incident of a failed run (opened/updated), or the existing one of another run. Appends a
// note to `text` when the store can't be used.
std::string incident_for(const Deps& deps, const std::string& env, const airflow::DagRun& run,
                         const std::string& first_failing, json facts, std::string& text) {
  if (run.state == "failed") {
    auto id = open_incident(deps, env, run, first_failing, std::move(facts));
    if (id) return *id;
    text += "\n(Incident not recorded: " + id.error().message + ".)";
    return "";
  }
  auto inc = find_incident(deps, env, run.dag_id, run.run_id);
  return inc ? inc->id : "";
}

// ---- get_run_summary ----

json run_summary_output_schema() {
  json str = {{"type", "string"}};
  json strs = {{"type", "array"}, {"items", str}};
  json integer = {{"type", "integer"}};
  json properties = run_schema()["properties"];  // the contract's run, and then the summary's own
  properties.update(
      json{{"environment", str},
           {"duration_s", {{"type", json::array({"number", "null"})}}},
           {"conf_keys", strs},
           {"tags", strs},
           {"tier", str},
           {"business_critical", {{"type", "boolean"}}},
           {"owners", strs},
           {"task_counts", {{"type", "object"}, {"additionalProperties", integer}}},
           {"first_failing_task", task_schema(/*nullable=*/true)},
           {"failed_tasks", strs},
           {"upstream_failed_tasks", strs},
           {"retries_used", integer},
           {"frequency",
            {{"type", "object"},
             {"properties",
              {{"lookback_hours", integer},
               {"runs", integer},
               {"failed_runs", integer},
               {"capped", {{"type", "boolean"}}},
               {"available", {{"type", "boolean"}}}}},
             {"required", json::array({"lookback_hours", "runs", "failed_runs"})}}},
           {"incident_id", str},
           {"severity", {{"type", "string"}, {"enum", json::array({"sev1", "sev2", "sev3"})}}},
           {"notes", strs}});
  return output_object_schema(std::move(properties), json::array({"environment",
                                                                  "dag_id",
                                                                  "run_id",
                                                                  "state",
                                                                  "run_type",
                                                                  "logical_date",
                                                                  "start_date",
                                                                  "end_date",
                                                                  "duration_s",
                                                                  "conf_keys",
                                                                  "tags",
                                                                  "tier",
                                                                  "business_critical",
                                                                  "owners",
                                                                  "task_counts",
                                                                  "first_failing_task",
                                                                  "failed_tasks",
                                                                  "upstream_failed_tasks",
                                                                  "retries_used",
                                                                  "frequency",
                                                                  "incident_id",
                                                                  "severity"}));
}

Result<mcp::ToolResult> get_run_summary(const Deps& deps, const RunIn& a) {
  const std::string& dag_id = a.dag_id;
  const std::string& run_id = a.run_id;
  auto target = resolve_target(deps, a);
  if (!target) return target.error();
  auto& client = *target->client;
  const std::string env = target->env->name;
  auto run = client.get_dag_run(dag_id, run_id);
  if (!run) return airflow_error(run.error());
  auto tis = client.list_task_instances(dag_id, run_id, {});
  if (!tis) return airflow_error(tis.error());
  const TaskFacts facts = task_facts(*tis);

  json notes = json::array();
  airflow::Dag dag{.dag_id = dag_id};
  if (auto d = client.get_dag(dag_id); d) {
    dag = std::move(*d);
  } else {
    notes.push_back("DAG details (tags, owners) could not be read: " + d.error().message +
                    "; tier and severity may be understated.");
  }
  const std::string tier = tier_from_tags(dag.tags);
  const bool critical = business_critical_from_tags(dag.tags);
  const std::string severity = severity_for(tier, critical);

  // How often this DAG failed lately: one bounded query over defaults.lookback_hours.
  const int lookback_h = std::clamp(deps.config.defaults.lookback_hours, 1,
                                    std::max(1, deps.config.caps.lookback_hours_max));
  json frequency = {{"lookback_hours", lookback_h},
                    {"runs", 0},
                    {"failed_runs", 0},
                    {"capped", false},
                    {"available", true}};
  {
    const auto now = deps.clock->now();
    // Runs that ended in the lookback (end_date: the same meaning on both API dialects).
    airflow::RunQuery rq{.dag_id = dag_id,
                         .states = {},
                         .since = std::nullopt,
                         .until = std::nullopt,
                         .limit = kFrequencyCap + 1,
                         .ended_since = now - std::chrono::hours(lookback_h),
                         .ended_until = now};
    if (auto runs = client.list_dag_runs(rq); runs) {
      bool capped = runs->size() > kFrequencyCap;
      if (capped) runs->resize(kFrequencyCap);
      frequency["runs"] = runs->size();
      frequency["failed_runs"] = std::count_if(runs->begin(), runs->end(),
                                               [](const auto& r) { return r.state == "failed"; });
      frequency["capped"] = capped;
    } else {
      frequency["available"] = false;
      notes.push_back("Run history could not be read: " + runs.error().message);
    }
  }

  json conf_keys = json::array();
  if (run->conf.is_object())
    for (const auto& [k, v] : run->conf.items()) conf_keys.push_back(k);
  json duration = nullptr;
  if (auto s = iso_to_ms(run->start_date), e = iso_to_ms(run->end_date); s && e && *e >= *s)
    duration = static_cast<double>(*e - *s) / 1000.0;
  const std::string first_id = facts.first_failing ? facts.first_failing->task_id : "";

  // Text: what was found, then the next step.
  std::string text = "Run " + run_id + " of DAG " + dag_id + " is " +
                     (run->state.empty() ? std::string("without state") : run->state) + " · " +
                     severity + " (" + (tier.empty() ? "no tier tag" : "tier " + tier) +
                     (critical ? ", business critical" : "") + ")";
  if (!dag.owners.empty()) {
    std::string o;
    for (const auto& x : dag.owners) o += (o.empty() ? "" : ", ") + x;
    text += " · owners: " + o;
  }
  text += ".\n";
  if (facts.first_failing) {
    const auto& t = *facts.first_failing;
    text += "First failing task: " + t.task_id + " (try " + std::to_string(t.try_number) + " of " +
            std::to_string(t.max_tries + 1) + ", ended " + iso_utc(t.end_date) + "); ";
  }
  text += "tasks: " + counts_text(facts.counts) + ".\n";
  if (frequency["available"] == true)
    text += "Lately: " + frequency["failed_runs"].dump() + " of " + frequency["runs"].dump() +
            " runs failed in the last " + std::to_string(lookback_h) + " h.\n";
  if (facts.first_failing)
    text +=
        "Next: extract_task_errors(dag_id, run_id, task_id=" + first_id + ") for the root cause.";
  else if (run->state == "failed")
    text +=
        "Next: no task failed on its own (the run itself failed, e.g. a timeout); check "
        "get_task_states.";
  else
    text += "Next: nothing failed here; list_failed_runs shows failures of this DAG.";

  json incident_facts = {{"source", "get_run_summary"},
                         {"state", run->state},
                         {"end_date", iso_utc(run->end_date)},
                         {"severity", severity},
                         {"tier", tier},
                         {"business_critical", critical},
                         {"first_failing_task", first_id},
                         {"failed_tasks", ids_of(facts.failed, kFactsListCap)},
                         {"upstream_failed", facts.upstream_failed.size()},
                         {"retries_used", facts.retries_used},
                         {"failed_runs_lately", frequency["failed_runs"]}};
  std::string incident_id =
      incident_for(deps, env, *run, first_id, std::move(incident_facts), text);

  json out = airflow::to_json(*run);  // the contract's run, and then the summary's own fields
  out.update(json{
      {"environment", env},
      {"duration_s", duration},
      {"conf_keys", std::move(conf_keys)},
      {"tags", dag.tags},
      {"tier", tier},
      {"business_critical", critical},
      {"owners", dag.owners},
      {"task_counts", facts.counts},
      {"first_failing_task", facts.first_failing ? task_json(*facts.first_failing) : json(nullptr)},
      {"failed_tasks", ids_of(facts.failed)},
      {"upstream_failed_tasks", ids_of(facts.upstream_failed)},
      {"retries_used", facts.retries_used},
      {"frequency", std::move(frequency)},
      {"incident_id", incident_id},
      {"severity", severity},
      {"notes", std::move(notes)}});
  return finish(deps, text, std::move(out), output_cap(deps, kOutputCap));
}

// ---- get_failed_tasks ----

json failed_tasks_output_schema() {
  json task = task_schema();
  task["properties"]["retries_left"] = {{"type", "integer"}};
  return output_object_schema(
      {{"environment", {{"type", "string"}}},
       {"dag_id", {{"type", "string"}}},
       {"run_id", {{"type", "string"}}},
       {"state", {{"type", "string"}}},
       {"count", {{"type", "integer"}}},
       {"tasks", {{"type", "array"}, {"items", task}}},
       {"first_failing_task", {{"type", "string"}}},
       {"incident_id", {{"type", "string"}}}},
      json::array({"environment", "dag_id", "run_id", "count", "tasks", "first_failing_task"}));
}

Result<mcp::ToolResult> get_failed_tasks(const Deps& deps, const RunIn& a) {
  const std::string& dag_id = a.dag_id;
  const std::string& run_id = a.run_id;
  auto target = resolve_target(deps, a);
  if (!target) return target.error();
  auto& client = *target->client;
  const std::string env = target->env->name;
  auto run = client.get_dag_run(dag_id, run_id);
  if (!run) return airflow_error(run.error());
  auto tis = client.list_task_instances(dag_id, run_id, {"failed", "upstream_failed"});
  if (!tis) return airflow_error(tis.error());
  const TaskFacts facts = task_facts(*tis);

  json tasks = json::array();
  for (const auto* group : {&facts.failed, &facts.upstream_failed}) {
    for (const auto* t : *group) {
      json j = task_json(*t);
      j["retries_left"] = retries_left(*t);
      tasks.push_back(std::move(j));
    }
  }
  const std::string first_id = facts.first_failing ? facts.first_failing->task_id : "";
  std::string text;
  if (tasks.empty()) {
    text = "Run " + run_id + " of DAG " + dag_id + " (" + run->state +
           ") has no failed or upstream_failed task.";
    if (run->state == "failed")
      text +=
          "\nNext: the run failed without a failing task (e.g. a DAG-level timeout); check "
          "get_task_states.";
  } else {
    text = "Run " + run_id + " of DAG " + dag_id + ": " + std::to_string(facts.failed.size()) +
           " failed, " + std::to_string(facts.upstream_failed.size()) +
           " upstream_failed task instance(s).";
    if (facts.first_failing) {
      const auto& t = *facts.first_failing;
      text += "\nFirst failing: " + t.task_id + " (ended " + iso_utc(t.end_date) + ", " +
              std::to_string(retries_left(t)) + " retries left).\nNext: extract_task_errors on " +
              t.task_id + "; upstream_failed tasks only follow it.";
    }
  }
  json incident_facts = {{"source", "get_failed_tasks"},
                         {"state", run->state},
                         {"first_failing_task", first_id},
                         {"failed_tasks", ids_of(facts.failed, kFactsListCap)},
                         {"upstream_failed", facts.upstream_failed.size()}};
  std::string incident_id =
      incident_for(deps, env, *run, first_id, std::move(incident_facts), text);
  json out = {{"environment", env},
              {"dag_id", dag_id},
              {"run_id", run_id},
              {"state", run->state},
              {"count", tasks.size()},
              {"tasks", std::move(tasks)},
              {"first_failing_task", first_id},
              {"incident_id", incident_id}};
  return finish(deps, text, std::move(out), output_cap(deps, kOutputCap));
}

// ---- get_task_states ----

json task_states_output_schema() {
  return output_object_schema(
      {{"environment", {{"type", "string"}}},
       {"dag_id", {{"type", "string"}}},
       {"run_id", {{"type", "string"}}},
       {"tasks", {{"type", "array"}, {"items", task_schema()}}},
       {"counts", {{"type", "object"}, {"additionalProperties", {{"type", "integer"}}}}},
       {"unknown_task_ids", {{"type", "array"}, {"items", {{"type", "string"}}}}}},
      json::array({"environment", "dag_id", "run_id", "tasks", "counts", "unknown_task_ids"}));
}

struct TaskStatesIn : RunIn {
  std::optional<std::vector<std::string>> task_ids;
};

Result<mcp::ToolResult> get_task_states(const Deps& deps, const TaskStatesIn& a) {
  const std::string& dag_id = a.dag_id;
  const std::string& run_id = a.run_id;
  std::optional<std::set<std::string>> wanted;
  if (a.task_ids) wanted.emplace(a.task_ids->begin(), a.task_ids->end());
  auto target = resolve_target(deps, a);
  if (!target) return target.error();
  auto tis = target->client->list_task_instances(dag_id, run_id, {});
  if (!tis) return airflow_error(tis.error());

  json tasks = json::array();
  std::map<std::string, int> counts;
  std::set<std::string> present;
  for (const auto& t : *tis) {
    present.insert(t.task_id);
    if (wanted && !wanted->count(t.task_id)) continue;
    ++counts[t.state.empty() ? "none" : t.state];
    tasks.push_back(task_json(t));
  }
  json unknown = json::array();
  if (wanted)
    for (const auto& id : *wanted)
      if (!present.count(id)) unknown.push_back(id);

  std::string text = "Run " + run_id + " of DAG " + dag_id + ": " + std::to_string(tasks.size()) +
                     " task instance(s) — " + counts_text(counts) + ".";
  if (!unknown.empty())
    text += "\n" + std::to_string(unknown.size()) +
            " requested task id(s) are not in this run: " + unknown.front().get<std::string>() +
            (unknown.size() > 1 ? ", …" : "") + ".";
  if (counts.count("failed"))
    text += "\nNext: get_failed_tasks for the first failing task.";
  else if (counts.count("running") || counts.count("queued") || counts.count("scheduled"))
    text += "\nStill in progress; call again later.";
  json out = {{"environment", target->env->name},
              {"dag_id", dag_id},
              {"run_id", run_id},
              {"tasks", std::move(tasks)},
              {"counts", counts},
              {"unknown_task_ids", std::move(unknown)}};
  return finish(deps, text, std::move(out), output_cap(deps, kOutputCap));
}

}  // namespace

Status register_triage_tools(mcp::Server& server, const std::shared_ptr<const Deps>& deps) {
  {
    ToolSpec<RunIn> t;
    t.name = "get_run_summary";
    t.title = "Triage a DAG run";
    t.description =
        "Triage: one run's state, timing, tags, tier, business criticality and severity, owners, "
        "task state counts, the first failing task (upstream_failed tasks never count), retries "
        "used, and how often the DAG failed lately. A failed run opens an incident. Conf values "
        "are never shown (conf_keys only).";
    t.args = run_args();
    t.output_schema = run_summary_output_schema();
    t.run = [deps](const RunIn& a, mcp::ToolContext&) { return get_run_summary(*deps, a); };
    if (auto st = add_tool(server, std::move(t)); !st) return st;
  }
  {
    ToolSpec<RunIn> t;
    t.name = "get_failed_tasks";
    t.title = "Failed tasks of a DAG run";
    t.description =
        "Triage: the failed and upstream_failed task instances of a run (failed first, by end "
        "time), with retries left, and the first failing task. A failed run opens an incident.";
    t.args = run_args();
    t.output_schema = failed_tasks_output_schema();
    t.run = [deps](const RunIn& a, mcp::ToolContext&) { return get_failed_tasks(*deps, a); };
    if (auto st = add_tool(server, std::move(t)); !st) return st;
  }
  ToolSpec<TaskStatesIn> t;
  t.name = "get_task_states";
  t.title = "Task states of a DAG run";
  t.description =
      "Triage: the state of every task instance of a run (or of the listed task_ids), with "
      "counts per state and the requested ids the run does not have.";
  t.args.text("dag_id", &TaskStatesIn::dag_id, rules::dag_id(), "DAG id", Need::required)
      .text("run_id", &TaskStatesIn::run_id, rules::run_id(), "DAG run id", Need::required)
      .list("task_ids", &TaskStatesIn::task_ids, rules::task_id(), kTaskIdsMax,
            "Only these tasks (absent = every task of the run).");
  t.output_schema = task_states_output_schema();
  t.run = [deps](const TaskStatesIn& a, mcp::ToolContext&) { return get_task_states(*deps, a); };
  return add_tool(server, std::move(t));
}

}  // namespace dm::runbook
