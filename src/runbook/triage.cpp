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

constexpr std::size_t kFrequencyCap = 500;  // runs examined for frequency
constexpr std::size_t kFactsListCap = kIncidentFactsListCap;
constexpr std::size_t kTaskIdsMax = 1000;  // task_ids accepted by get_task_states

std::vector<std::string> ids_of(const std::vector<const airflow::TaskInstance*>& tis,
                                std::size_t cap = SIZE_MAX) {
  return task_ids_of(tis, cap);
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

struct Frequency {
  int lookback_hours = 0;
  std::size_t runs = 0, failed_runs = 0;
  bool capped = false, available = true;
  template <class V>
  void fields(V& v) const {
    v.field("lookback_hours", lookback_hours, "Hours looked back");
    v.field("runs", runs, "Runs of the DAG that ended in that time");
    v.field("failed_runs", failed_runs, "Of those, the failed ones");
    v.field("capped", capped, "More runs ended than were examined");
    v.field("available", available, "false when the run history could not be read");
  }
};

struct RunSummaryOut {
  airflow::DagRun run{};  // the contract's run, and then the summary's own fields
  std::string environment{};
  std::optional<double> duration_s{};
  std::vector<std::string> conf_keys{}, tags{}, owners{};
  std::string tier{};
  bool business_critical = false;
  std::map<std::string, int> task_counts{};
  std::optional<TaskOut> first_failing_task{};
  std::vector<std::string> failed_tasks{}, upstream_failed_tasks{};
  int retries_used = 0;
  Frequency frequency{};
  std::string incident_id, severity = "sev3";
  std::vector<std::string> notes{};
  template <class V>
  void fields(V& v) const {
    v.flatten(run);
    v.field("environment", environment, "Environment name");
    v.field("duration_s", duration_s, "Run duration in seconds (null while it runs)");
    v.field("conf_keys", conf_keys, "Keys of the run's conf (values are never shown)");
    v.field("tags", tags, "DAG tags");
    v.field("tier", tier, "From a tier=N tag (\"\" when none)");
    v.field("business_critical", business_critical, "From a business_critical tag");
    v.field("owners", owners, "DAG owners");
    v.field("task_counts", task_counts, "Task instances per state");
    v.field("first_failing_task", first_failing_task, "Null when no task failed");
    v.field("failed_tasks", failed_tasks, "Ids of failed tasks");
    v.field("upstream_failed_tasks", upstream_failed_tasks, "Ids of upstream_failed tasks");
    v.field("retries_used", retries_used, "Retries the failed tasks used");
    v.field("frequency", frequency, "How often the DAG failed lately");
    v.field("incident_id", incident_id, "The run's incident (\"\" when none or not recorded)");
    v.one_of("severity", severity, {"sev1", "sev2", "sev3"}, "From tier and criticality");
    v.field("notes", notes, "What could not be read");
  }
};

Result<Reply<RunSummaryOut>> get_run_summary(const Deps& deps, const RunIn& a) {
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

  RunSummaryOut out;
  auto& notes = out.notes;
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
  auto& frequency = out.frequency;
  frequency.lookback_hours = lookback_h;
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
      frequency.runs = runs->size();
      frequency.failed_runs = static_cast<std::size_t>(std::count_if(
          runs->begin(), runs->end(), [](const auto& r) { return r.state == "failed"; }));
      frequency.capped = capped;
    } else {
      frequency.available = false;
      notes.push_back("Run history could not be read: " + runs.error().message);
    }
  }

  if (run->conf.is_object())
    for (const auto& [k, v] : run->conf.items()) out.conf_keys.push_back(k);
  if (auto s = iso_to_ms(run->start_date), e = iso_to_ms(run->end_date); s && e && *e >= *s)
    out.duration_s = static_cast<double>(*e - *s) / 1000.0;
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
  if (frequency.available)
    text += "Lately: " + std::to_string(frequency.failed_runs) + " of " +
            std::to_string(frequency.runs) + " runs failed in the last " +
            std::to_string(lookback_h) + " h.\n";
  if (facts.first_failing)
    text +=
        "Next: extract_task_errors(dag_id, run_id, task_id=" + first_id + ") for the root cause.";
  else if (run->state == "failed")
    text +=
        "Next: no task failed on its own (the run itself failed, e.g. a timeout); check "
        "get_task_states.";
  else
    text += "Next: nothing failed here; list_failed_runs shows failures of this DAG.";

  json incident_facts = run_triage_facts("get_run_summary", *run, facts, dag.tags);
  incident_facts["failed_runs_lately"] = frequency.failed_runs;
  out.incident_id = incident_for(deps, env, *run, first_id, std::move(incident_facts), text);
  out.run = std::move(*run);
  out.environment = env;
  out.tags = dag.tags;
  out.tier = tier;
  out.business_critical = critical;
  out.owners = dag.owners;
  out.task_counts = facts.counts;
  if (facts.first_failing) out.first_failing_task = TaskOut{*facts.first_failing};
  out.failed_tasks = ids_of(facts.failed);
  out.upstream_failed_tasks = ids_of(facts.upstream_failed);
  out.retries_used = facts.retries_used;
  out.severity = severity;
  return Reply<RunSummaryOut>{std::move(text), std::move(out)};
}

// ---- get_failed_tasks ----

struct FailedTaskOut {
  TaskOut task{};
  int retries_left = 0;
  template <class V>
  void fields(V& v) const {
    v.flatten(task);
    v.field("retries_left", retries_left, "Tries left before Airflow gives up");
  }
};

struct FailedTasksOut {
  RunRefOut ref{};
  std::string state{};
  std::size_t count = 0;
  std::vector<FailedTaskOut> tasks{};
  std::string first_failing_task{}, incident_id{};
  template <class V>
  void fields(V& v) const {
    v.flatten(ref);
    v.field("state", state, "The run's state");
    v.field("count", count, "Failed and upstream_failed task instances");
    v.field("tasks", tasks, "Failed ones first (first failing first), then upstream_failed");
    v.field("first_failing_task", first_failing_task, "\"\" when no task failed");
    v.field("incident_id", incident_id, "The run's incident (\"\" when none or not recorded)");
  }
};

Result<Reply<FailedTasksOut>> get_failed_tasks(const Deps& deps, const RunIn& a) {
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

  std::vector<FailedTaskOut> tasks;
  for (const auto* group : {&facts.failed, &facts.upstream_failed})
    for (const auto* t : *group) tasks.push_back({TaskOut{*t}, retries_left(*t)});
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
  FailedTasksOut out{.ref = {env, dag_id, run_id},
                     .state = run->state,
                     .count = tasks.size(),
                     .tasks = std::move(tasks),
                     .first_failing_task = first_id,
                     .incident_id = std::move(incident_id)};
  return Reply<FailedTasksOut>{std::move(text), std::move(out)};
}

// ---- get_task_states ----

struct TaskStatesOut {
  RunRefOut ref{};
  std::vector<TaskOut> tasks{};
  std::map<std::string, int> counts{};
  std::vector<std::string> unknown_task_ids{};
  template <class V>
  void fields(V& v) const {
    v.flatten(ref);
    v.field("tasks", tasks, "The task instances (all, or the requested ones)");
    v.field("counts", counts, "Task instances per state (\"none\": no state)");
    v.field("unknown_task_ids", unknown_task_ids, "Requested ids this run does not have");
  }
};

struct TaskStatesIn : RunIn {
  std::optional<std::vector<std::string>> task_ids;
};

Result<Reply<TaskStatesOut>> get_task_states(const Deps& deps, const TaskStatesIn& a) {
  const std::string& dag_id = a.dag_id;
  const std::string& run_id = a.run_id;
  std::optional<std::set<std::string>> wanted;
  if (a.task_ids) wanted.emplace(a.task_ids->begin(), a.task_ids->end());
  auto target = resolve_target(deps, a);
  if (!target) return target.error();
  auto tis = target->client->list_task_instances(dag_id, run_id, {});
  if (!tis) return airflow_error(tis.error());

  TaskStatesOut out{.ref = {target->env->name, dag_id, run_id}};
  auto& tasks = out.tasks;
  auto& counts = out.counts;
  std::set<std::string> present;
  for (const auto& t : *tis) {
    present.insert(t.task_id);
    if (wanted && !wanted->count(t.task_id)) continue;
    ++counts[t.state.empty() ? "none" : t.state];
    tasks.push_back(TaskOut{t});
  }
  auto& unknown = out.unknown_task_ids;
  if (wanted)
    for (const auto& id : *wanted)
      if (!present.count(id)) unknown.push_back(id);

  std::string text = "Run " + run_id + " of DAG " + dag_id + ": " + std::to_string(tasks.size()) +
                     " task instance(s) — " + counts_text(counts) + ".";
  if (!unknown.empty())
    text += "\n" + std::to_string(unknown.size()) +
            " requested task id(s) are not in this run: " + unknown.front() +
            (unknown.size() > 1 ? ", …" : "") + ".";
  if (counts.count("failed"))
    text += "\nNext: get_failed_tasks for the first failing task.";
  else if (counts.count("running") || counts.count("queued") || counts.count("scheduled"))
    text += "\nStill in progress; call again later.";
  return Reply<TaskStatesOut>{std::move(text), std::move(out)};
}

}  // namespace

Status register_triage_tools(mcp::Server& server, const std::shared_ptr<const Deps>& deps) {
  {
    ToolSpec<RunIn, RunSummaryOut> t;
    t.name = "get_run_summary";
    t.title = "Triage a DAG run";
    t.description =
        "Triage: one run's state, timing, tags, tier, business criticality and severity, owners, "
        "task state counts, the first failing task (upstream_failed tasks never count), retries "
        "used, and how often the DAG failed lately. A failed run opens an incident. Conf values "
        "are never shown (conf_keys only).";
    t.args = run_args();
    t.run = [deps](const RunIn& a, mcp::ToolContext&) { return get_run_summary(*deps, a); };
    if (auto st = add_tool(server, deps, std::move(t)); !st) return st;
  }
  {
    ToolSpec<RunIn, FailedTasksOut> t;
    t.name = "get_failed_tasks";
    t.title = "Failed tasks of a DAG run";
    t.description =
        "Triage: the failed and upstream_failed task instances of a run (failed first, by end "
        "time), with retries left, and the first failing task. A failed run opens an incident.";
    t.args = run_args();
    t.run = [deps](const RunIn& a, mcp::ToolContext&) { return get_failed_tasks(*deps, a); };
    if (auto st = add_tool(server, deps, std::move(t)); !st) return st;
  }
  ToolSpec<TaskStatesIn, TaskStatesOut> t;
  t.name = "get_task_states";
  t.title = "Task states of a DAG run";
  t.description =
      "Triage: the state of every task instance of a run (or of the listed task_ids), with "
      "counts per state and the requested ids the run does not have.";
  t.args.text("dag_id", &TaskStatesIn::dag_id, rules::dag_id(), "DAG id", Need::required)
      .text("run_id", &TaskStatesIn::run_id, rules::run_id(), "DAG run id", Need::required)
      .list("task_ids", &TaskStatesIn::task_ids, rules::task_id(), kTaskIdsMax,
            "Only these tasks (absent = every task of the run).");
  t.run = [deps](const TaskStatesIn& a, mcp::ToolContext&) { return get_task_states(*deps, a); };
  return add_tool(server, deps, std::move(t));
}

}  // namespace dm::runbook
