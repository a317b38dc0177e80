// Detect stage tools (see docs/runbook.md): list_recent_failures, list_failed_runs,
// get_latest_run. Read-only; every answer goes through finish() (redaction + byte cap).
#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/iso_time.h"
#include "common/parallel.h"
#include "runbook/detect_common.h"
#include "runbook/detect_window.h"
#include "runbook/runbook.h"
#include "runbook/tool_kit.h"
#include "runbook/triage_facts.h"

namespace dm::runbook {
namespace {

using json = nlohmann::json;

constexpr std::size_t kRunCap = 200;           // failed runs examined per call
constexpr std::size_t kFirstFailingRuns = 20;  // runs whose first failing task is looked up
constexpr std::size_t kLookupWorkers = 4;      // of those, requests in flight at once
constexpr std::size_t kImportErrorCap = 50;

struct WindowIn : WithEnvironment {
  long long window_minutes = 0;
};
struct DagWindowIn : WithEnvironment {
  std::string dag_id;
  long long window_minutes = 0;
};
struct DagIn : WithEnvironment {
  std::string dag_id;
};

int window_default(const Deps& deps, int dflt) {
  return std::min(dflt, std::max(1, deps.config.caps.window_minutes_max));
}

std::string capped_note(std::size_t cap) {
  return " Only the " + std::to_string(cap) +
         " newest failed runs were examined; narrow window_minutes to see older ones.";
}

// First and last non-blank lines of an (already redacted) stack trace, joined by " … ".
std::string trace_gist(const std::string& trace) {
  std::string first, last;
  std::size_t pos = 0;
  while (pos <= trace.size()) {
    std::size_t nl = trace.find('\n', pos);
    if (nl == std::string::npos) nl = trace.size();
    std::string line = trace.substr(pos, nl - pos);
    auto b = line.find_first_not_of(" \t\r");
    auto e = line.find_last_not_of(" \t\r");
    if (b != std::string::npos) {
      line = line.substr(b, e - b + 1);
      if (first.empty()) first = line;
      last = line;
    }
    pos = nl + 1;
  }
  if (first == last) return first;
  return first + " … " + last;
}

// What every windowed answer says about its window.
struct WindowOut {
  std::string environment{};
  long long window_minutes = 0;
  std::string since{}, until{};
  std::size_t count = 0, examined = 0;
  bool capped = false;
  template <class V>
  void fields(V& v) const {
    v.field("environment", environment, "Environment name");
    v.field("window_minutes", window_minutes, "Minutes looked back");
    v.field("since", since, "Start of the window, UTC");
    v.field("until", until, "End of the window (now), UTC");
    v.field("count", count, "Failed runs found");
    v.field("examined", examined, "Failed runs examined");
    v.field("capped", capped, "More failed runs exist than were examined");
  }
};

WindowOut window_out(const std::string& env, long long minutes, const FailedWindowQuery& q,
                     const FailedWindow& w) {
  return {.environment = env,
          .window_minutes = minutes,
          .since = ms_to_iso(to_ms(q.since)),
          .until = ms_to_iso(to_ms(q.until)),
          .count = w.runs.size(),
          .examined = w.examined,
          .capped = w.capped};
}

// ---- list_recent_failures ----

struct FailureOut {
  airflow::DagRun run{};
  std::string first_failing_task{};
  template <class V>
  void fields(V& v) const {
    v.flatten(run);
    v.field("first_failing_task", first_failing_task, "\"\" when not looked up or none");
  }
};

struct ImportErrorOut {
  std::string filename{}, timestamp{}, error{};
  template <class V>
  void fields(V& v) const {
    v.field("filename", filename, "DAG file that fails to import");
    v.field("timestamp", timestamp, "When Airflow saw it, UTC");
    v.field("error", error, "First and last lines of the trace");
  }
};

struct RecentFailuresOut {
  WindowOut window{};
  std::vector<FailureOut> failures{};
  std::vector<std::string> dags_affected{};
  std::vector<ImportErrorOut> import_errors{};
  std::vector<std::string> notes{};
  template <class V>
  void fields(V& v) const {
    v.flatten(window);
    v.field("failures", failures, "Failed runs, newest first");
    v.field("dags_affected", dags_affected, "DAGs with a failed run");
    v.field("import_errors", import_errors, "DAG files that fail to import, newest first");
    v.field("notes", notes, "What was left out or could not be read");
  }
};

Result<Reply<RecentFailuresOut>> list_recent_failures(const Deps& deps, const WindowIn& a) {
  auto target = resolve_target(deps, a);
  if (!target) return target.error();
  auto& client = *target->client;
  const auto now = deps.clock->now();
  FailedWindowQuery q{.dag_id = "~",
                      .since = now - std::chrono::minutes(a.window_minutes),
                      .until = now,
                      .cap = kRunCap};
  auto w = failed_runs_in_window(client, q);
  if (!w) return airflow_error(w.error());

  RecentFailuresOut out;
  auto& notes = out.notes;
  auto& failures = out.failures;
  auto& dags = out.dags_affected;
  std::set<std::string> seen_dags;
  // One task-instance request per run: sent kLookupWorkers at a time, as each costs a round trip
  // (hundreds of ms through MWAA's InvokeRestApi).
  const std::size_t lookups = std::min(w->runs.size(), kFirstFailingRuns);
  std::vector<std::optional<std::string>> first(lookups);
  parallel_for(lookups, kLookupWorkers, [&](std::size_t i) {
    const auto& r = w->runs[i];
    if (auto tis = client.list_task_instances(r.dag_id, r.run_id, {"failed"}))
      first[i] = first_failing_task_id(*tis);
  });
  const auto lookup_errors = static_cast<std::size_t>(
      std::count(first.begin(), first.end(), std::optional<std::string>()));
  for (std::size_t i = 0; i < w->runs.size(); ++i) {
    const auto& r = w->runs[i];
    failures.push_back({r, i < lookups ? first[i].value_or("") : ""});
    if (seen_dags.insert(r.dag_id).second) dags.push_back(r.dag_id);
  }
  if (w->runs.size() > kFirstFailingRuns)
    notes.push_back("first_failing_task is looked up for the " + std::to_string(kFirstFailingRuns) +
                    " newest runs only (\"\" for the others).");
  if (lookup_errors > 0)
    notes.push_back("Task instances could not be read for " + std::to_string(lookup_errors) +
                    " run(s); their first_failing_task is \"\".");
  if (w->capped) notes.push_back(capped_note(kRunCap).substr(1));

  auto& import_errors = out.import_errors;
  std::size_t import_total = 0;
  if (auto ie = client.list_import_errors(); ie) {
    auto list = std::move(*ie);
    import_total = list.size();
    std::stable_sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
      return iso_to_ms(a.timestamp).value_or(0) > iso_to_ms(b.timestamp).value_or(0);
    });
    for (const auto& e : list) {
      if (import_errors.size() >= kImportErrorCap) break;
      // Redact the whole trace first: a secret may span the lines we keep.
      import_errors.push_back(
          {e.filename, iso_utc(e.timestamp), trace_gist(deps.redactor->redact(e.stack_trace))});
    }
    if (import_total > kImportErrorCap)
      notes.push_back("Showing " + std::to_string(kImportErrorCap) + " of " +
                      std::to_string(import_total) + " import errors (newest first).");
  } else {
    notes.push_back("Import errors could not be read: " + ie.error().message);
  }

  const std::string env = target->env->name;
  std::string text;
  if (w->runs.empty()) {
    text = "No failed DAG runs in the last " + std::to_string(a.window_minutes) +
           " min in environment " + env + ".";
  } else {
    const auto& newest = w->runs.front();
    text = std::to_string(w->runs.size()) + " failed run(s) of " + std::to_string(dags.size()) +
           " DAG(s) in the last " + std::to_string(a.window_minutes) + " min in environment " +
           env + ".";
    if (w->capped) text += capped_note(kRunCap);
    text += "\nNewest: " + newest.dag_id + " / " + newest.run_id;
    const std::string& ff = failures.front().first_failing_task;
    if (!ff.empty()) text += " (first failing task " + ff + ")";
    text +=
        ".\nNext: get_run_summary(dag_id, run_id) on it, then extract_task_errors on the first "
        "failing task.";
  }
  if (import_total > 0) {
    text += "\n" + std::to_string(import_total) +
            " DAG file(s) fail to import (their DAGs do not run at all): " +
            import_errors.front().filename + (import_total > 1 ? " and others" : "") + ".";
  }

  out.window = window_out(env, a.window_minutes, q, *w);
  return Reply<RecentFailuresOut>{std::move(text), std::move(out)};
}

// ---- list_failed_runs ----

struct FailedRunsOut {
  WindowOut window{};
  std::string dag_id{};
  std::vector<airflow::DagRun> runs{};
  template <class V>
  void fields(V& v) const {
    v.flatten(window);
    v.field("dag_id", dag_id, "DAG id");
    v.field("runs", runs, "Failed runs, newest first");
  }
};

Result<Reply<FailedRunsOut>> list_failed_runs(const Deps& deps, const DagWindowIn& a) {
  const std::string& dag = a.dag_id;
  auto target = resolve_target(deps, a);
  if (!target) return target.error();
  auto& client = *target->client;
  const auto now = deps.clock->now();
  FailedWindowQuery q{.dag_id = dag,
                      .since = now - std::chrono::minutes(a.window_minutes),
                      .until = now,
                      .cap = kRunCap};
  auto w = failed_runs_in_window(client, q);
  if (!w) return airflow_error(w.error());
  if (w->runs.empty()) {
    // Airflow 2 answers an empty list for an unknown DAG: tell "no failures" from "no such DAG".
    if (auto d = client.get_dag(dag); !d) return airflow_error(d.error());
  }

  const std::string env = target->env->name;
  std::string text;
  if (w->runs.empty()) {
    text = "DAG " + dag + " has no failed run in the last " + std::to_string(a.window_minutes) +
           " min (environment " + env + ").";
  } else {
    const auto& newest = w->runs.front();
    text = "DAG " + dag + ": " + std::to_string(w->runs.size()) + " failed run(s) in the last " +
           std::to_string(a.window_minutes) + " min (environment " + env + ").";
    if (w->capped) text += capped_note(kRunCap);
    text += "\nNewest: " + newest.run_id + " (ended " +
            (newest.end_date.empty() ? std::string("?") : iso_utc(newest.end_date)) +
            ").\nNext: get_run_summary or get_failed_tasks on it; failure_frequency shows whether "
            "the error repeats.";
  }
  FailedRunsOut out{.window = window_out(env, a.window_minutes, q, *w), .dag_id = dag};
  out.runs = std::move(w->runs);
  return Reply<FailedRunsOut>{std::move(text), std::move(out)};
}

// ---- get_latest_run ----

struct LatestRunOut {
  std::string environment{}, dag_id{};
  bool found = false;
  std::optional<airflow::DagRun> run{};
  template <class V>
  void fields(V& v) const {
    v.field("environment", environment, "Environment name");
    v.field("dag_id", dag_id, "DAG id");
    v.field("found", found, "false when the DAG never ran");
    v.field("run", run, "The newest run (null when none)");
  }
};

Result<Reply<LatestRunOut>> get_latest_run(const Deps& deps, const DagIn& a) {
  const std::string& dag = a.dag_id;
  auto target = resolve_target(deps, a);
  if (!target) return target.error();
  auto latest = target->client->latest_run(dag);
  if (!latest) return airflow_error(latest.error());
  const std::string env = target->env->name;
  LatestRunOut out{.environment = env, .dag_id = dag, .found = latest->has_value()};
  std::string text;
  if (!latest->has_value()) {
    text = "DAG " + dag + " has no run yet in environment " + env + ".";
  } else {
    const auto& r = **latest;
    out.run = r;
    text = "Latest run of " + dag + ": " + r.run_id + " is " +
           (r.state.empty() ? std::string("without state") : r.state) + " (run_after " +
           iso_utc(r.run_after.empty() ? r.logical_date : r.run_after) + ").";
    if (r.state == "failed")
      text += "\nNext: get_run_summary(dag_id, run_id) to triage it.";
    else if (r.state == "running" || r.state == "queued")
      text += "\nNext: get_task_states to follow it.";
  }
  return Reply<LatestRunOut>{std::move(text), std::move(out)};
}

}  // namespace

Status register_detect_tools(mcp::Server& server, const std::shared_ptr<const Deps>& deps) {
  const Int window{1, std::max(1, deps->config.caps.window_minutes_max)};
  {
    ToolSpec<WindowIn, RecentFailuresOut> t;
    t.name = "list_recent_failures";
    t.title = "List recent failed DAG runs";
    t.description =
        "Detect: failed runs of every DAG whose run_after (or end) lies in the last "
        "window_minutes, "
        "newest first, with each run's first failing task, the DAGs affected, and DAG files that "
        "fail to import. Start here when something is broken.";
    t.args.integer("window_minutes", &WindowIn::window_minutes, window,
                   "Look back this many minutes (default 60).", window_default(*deps, 60));
    t.run = [deps](const WindowIn& a, mcp::ToolContext&) { return list_recent_failures(*deps, a); };
    if (auto st = add_tool(server, deps, std::move(t)); !st) return st;
  }
  {
    ToolSpec<DagWindowIn, FailedRunsOut> t;
    t.name = "list_failed_runs";
    t.title = "List failed runs of one DAG";
    t.description =
        "Detect: failed runs of one DAG whose run_after lies in the last window_minutes (default "
        "1440 = one day), newest first.";
    t.args.text("dag_id", &DagWindowIn::dag_id, rules::dag_id(), "DAG id", Need::required)
        .integer("window_minutes", &DagWindowIn::window_minutes, window,
                 "Look back this many minutes (default 1440).", window_default(*deps, 1440));
    t.run = [deps](const DagWindowIn& a, mcp::ToolContext&) { return list_failed_runs(*deps, a); };
    if (auto st = add_tool(server, deps, std::move(t)); !st) return st;
  }
  ToolSpec<DagIn, LatestRunOut> t;
  t.name = "get_latest_run";
  t.title = "Latest run of a DAG";
  t.description =
      "Detect: the newest run of a DAG (any state), or found=false when it never ran. Use it to "
      "see whether a DAG is failing right now or already ran again.";
  t.args.text("dag_id", &DagIn::dag_id, rules::dag_id(), "DAG id", Need::required);
  t.run = [deps](const DagIn& a, mcp::ToolContext&) { return get_latest_run(*deps, a); };
  return add_tool(server, deps, std::move(t));
}

}  // namespace dm::runbook
