// Postmortem stage tools (see docs/runbook.md): build_timeline and generate_postmortem. Also
// registers the incident resources and the incident_runbook prompt (resources.cpp, prompt.cpp).
#include <exception>

#include "common/iso_time.h"
#include "runbook/postmortem_internal.h"
#include "runbook/prompt.h"
#include "runbook/resources.h"
#include "runbook/runbook.h"
#include "runbook/tool_kit.h"

namespace dm::runbook {
namespace {

using json = nlohmann::json;
namespace pm = postmortem;

constexpr std::size_t kTimelineCap = 16 * 1024;
constexpr std::size_t kPostmortemCap = 32 * 1024;
// Room left in the postmortem cap for the text, the other structured fields and JSON escaping.
constexpr std::size_t kPostmortemOverhead = 6 * 1024;

json event_schema() {
  json str = {{"type", "string"}};
  return {{"type", "object"},
          {"properties",
           {{"at", str}, {"kind", str}, {"subject", str}, {"detail", str}, {"source", str}}},
          {"required", json::array({"at", "kind", "subject", "detail"})}};
}

json timeline_output_schema() {
  json str = {{"type", "string"}};
  return output_object_schema(
      {{"environment", str},
       {"dag_id", str},
       {"run_id", str},
       {"incident_id", str},
       {"incident_state", str},
       {"count", {{"type", "integer"}}},
       {"events", {{"type", "array"}, {"items", event_schema()}}},
       {"notes", {{"type", "array"}, {"items", str}}}},
      json::array({"environment", "dag_id", "run_id", "incident_id", "events"}));
}

json postmortem_output_schema() {
  json str = {{"type", "string"}};
  return output_object_schema(
      {{"environment", str},
       {"dag_id", str},
       {"run_id", str},
       {"incident_id", str},
       {"markdown", str},
       {"uri", str},
       {"stored", {{"type", "boolean"}}},
       {"diagnosed", {{"type", "boolean"}}},
       {"prevention_source", str},
       {"timings",
        {{"type", "object"},
         {"properties",
          {{"time_to_detect_s", {{"type", json::array({"number", "null"})}}},
           {"time_to_diagnose_s", {{"type", json::array({"number", "null"})}}},
           {"time_to_recover_s", {{"type", json::array({"number", "null"})}}}}}}},
       {"notes", {{"type", "array"}, {"items", str}}}},
      json::array({"environment", "dag_id", "run_id", "incident_id", "markdown", "uri"}));
}

int64_t now_ms(const Deps& deps) { return to_ms(deps.clock->now()); }

// Impact durations (-1 = unknown) as seconds, null when unknown.
json seconds_or_null(int64_t ms) { return ms >= 0 ? json(ms / 1000) : json(nullptr); }

json events_json(const std::vector<pm::Event>& events) {
  json out = json::array();
  for (const auto& e : events)
    out.push_back({{"at", ms_to_iso(e.at_ms)},
                   {"kind", e.kind},
                   {"subject", e.subject},
                   {"detail", e.detail},
                   {"source", e.source}});
  return out;
}

// Runs a handler body, turning a stray exception (e.g. from the JSON library) into an error.
template <class F>
Result<mcp::ToolResult> guarded(const char* tool, F&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    return make_error(Errc::internal, std::string(tool) + ": unexpected failure: " + e.what());
  }
}

Result<mcp::ToolResult> build_timeline(const Deps& deps, const RunIn& a) {
  auto target = resolve_target(deps, a);
  if (!target) return target.error();
  const std::string& dag = a.dag_id;
  const std::string& run = a.run_id;
  auto facts = pm::collect(deps, *target, dag, run, now_ms(deps));
  if (!facts) return facts.error();
  const pm::Facts& f = *facts;

  int failed_later = 0, ok_later = 0;
  for (const auto& r : f.later_runs) {
    failed_later += r.state == "failed";
    ok_later += r.state == "success";
  }
  std::string text = "Timeline of DAG " + dag + " run " + run + " (" + f.env +
                     "): " + std::to_string(f.events.size()) + " events";
  if (!f.events.empty())
    text +=
        " from " + ms_to_iso(f.events.front().at_ms) + " to " + ms_to_iso(f.events.back().at_ms);
  text += ". Run state: " + (f.run.state.empty() ? std::string("unknown") : f.run.state) + ".\n";
  text += "Later runs: " + std::to_string(f.later_runs.size()) + " (" + std::to_string(ok_later) +
          " succeeded, " + std::to_string(failed_later) +
          " failed). Actions recorded: " + std::to_string(f.action_events.size()) + ".\n";
  if (f.incident) text += "Incident " + f.incident_id + " is " + f.incident->state + ".\n";
  for (const auto& n : f.notes) text += "Note: " + n + ".\n";
  text += "Next: generate_postmortem(dag_id, run_id) writes the postmortem from these facts.";

  json s = {{"environment", f.env},
            {"dag_id", dag},
            {"run_id", run},
            {"incident_id", f.incident_id},
            {"incident_state", f.incident ? f.incident->state : ""},
            {"count", f.events.size()},
            {"events", events_json(f.events)},
            {"notes", f.notes}};
  return finish(deps, std::move(text), std::move(s), output_cap(deps, kTimelineCap));
}

Result<mcp::ToolResult> generate_postmortem(const Deps& deps, const RunIn& a) {
  auto target = resolve_target(deps, a);
  if (!target) return target.error();
  const std::string& dag = a.dag_id;
  const std::string& run = a.run_id;
  const int64_t now = now_ms(deps);
  auto facts = pm::collect(deps, *target, dag, run, now);
  if (!facts) return facts.error();
  pm::Facts& f = *facts;

  const bool diagnosed = f.incident && !f.incident->signature.empty();
  std::string prevention_source;
  auto prevention =
      pm::prevention_for(diagnosed ? f.incident->category : std::string(), prevention_source);
  pm::redact_facts(*deps.redactor, f);
  pm::Impact impact = pm::compute_impact(f, now);
  const std::size_t cap = output_cap(deps, kPostmortemCap);
  const std::size_t md_max = cap > kPostmortemOverhead + 1024 ? cap - kPostmortemOverhead : 1024;
  // Redacted here, before it is stored, so neither the store nor a resource read ever holds a
  // secret that slipped into an incident's fields.
  std::string markdown =
      deps.redactor->redact(pm::render_markdown(f, impact, prevention, prevention_source, md_max));

  bool stored = false;
  if (f.store_available) {
    auto st = deps.store();
    if (st) {
      // Only the postmortem (and the state it already has) is written: empty fields keep the
      // stored diagnosis and triage facts, so a concurrent update by another tool is not undone.
      store::Incident inc;
      inc.id = f.incident_id;
      inc.env = f.env;
      inc.dag_id = dag;
      inc.run_id = run;
      if (f.incident) {
        inc.state = f.incident->state;
      } else {
        inc.state = impact.recovered ? "recovered" : "open";
        inc.summary_json = "{}";
        inc.first_failing_task = pm::first_failing_task(f);
        inc.opened_at_ms = now;
      }
      inc.postmortem_md = markdown;
      inc.updated_at_ms = now;
      if (auto up = (*st)->upsert_incident(inc); up) {
        stored = true;
      } else {
        f.notes.push_back("postmortem not stored (" + up.error().message + ")");
      }
    }
  }

  std::string text = "Postmortem for DAG " + dag + " run " + run + " (" + f.env + ", " +
                     impact.severity + "): " + std::to_string(markdown.size()) +
                     " bytes of Markdown";
  text += stored ? ", stored on incident " + f.incident_id + ".\n" : ", NOT stored.\n";
  text += diagnosed ? "Root cause: " + f.incident->category + " (signature " +
                          f.incident->signature + ").\n"
                    : "Root cause: not diagnosed yet — run extract_task_errors and generate "
                      "again.\n";
  text += impact.recovered ? "Recovered; failed for " + pm::human_duration(impact.failed_ms) + ".\n"
                           : "Not recovered yet: follow the safe rerun playbook, then "
                             "check_recovery_rules.\n";
  for (const auto& n : f.notes) text += "Note: " + n + ".\n";
  if (stored) text += "Read it at " + pm::postmortem_uri(f.incident_id) + ".";

  json s = {{"environment", f.env},
            {"dag_id", dag},
            {"run_id", run},
            {"incident_id", f.incident_id},
            {"markdown", markdown},
            {"uri", stored ? pm::postmortem_uri(f.incident_id) : ""},
            {"stored", stored},
            {"diagnosed", diagnosed},
            {"prevention_source", prevention_source},
            {"timings",
             {{"time_to_detect_s", seconds_or_null(impact.time_to_detect_ms)},
              {"time_to_diagnose_s", seconds_or_null(impact.time_to_diagnose_ms)},
              {"time_to_recover_s", seconds_or_null(impact.time_to_recover_ms)}}},
            {"notes", f.notes}};
  return finish(deps, std::move(text), std::move(s), cap);
}

}  // namespace

Status register_postmortem_tools(mcp::Server& server, const std::shared_ptr<const Deps>& deps) {
  {
    ToolSpec<RunIn> t;
    t.name = "build_timeline";
    t.title = "Build an incident timeline";
    t.description =
        "Postmortem: the time-ordered events of a DAG run's incident — run queued/started/ended, "
        "each task try (\"try N of M\"; earlier tries that failed and were retried), later runs of "
        "the DAG (where recovery shows), the incident (opened, diagnosed, recovered/escalated) and "
        "approvals/writes from the audit. Read-only; all text redacted.";
    t.args = run_args("The DAG run of the incident");
    t.output_schema = timeline_output_schema();
    t.idempotent = true;
    t.run = [deps](const RunIn& a, mcp::ToolContext&) {
      return guarded("build_timeline", [&] { return build_timeline(*deps, a); });
    };
    if (auto st = add_tool(server, std::move(t)); !st) return st;
  }
  {
    ToolSpec<RunIn> t;
    t.effect = mcp::Effect::writes_local;
    t.name = "generate_postmortem";
    t.title = "Write the incident postmortem";
    t.description =
        "Postmortem: writes a Markdown postmortem (Summary, Impact, Timeline, Root cause, Actions, "
        "Prevention, Safe rerun playbook) from redacted summaries only — the incident's stored "
        "diagnosis, triage facts, the timeline and the audit — never raw logs. Stores it on the "
        "incident and returns it with its resource URI (dagmedic://postmortems/{incident_id}). "
        "Changes nothing in Airflow.";
    t.args = run_args("The DAG run of the incident");
    t.output_schema = postmortem_output_schema();
    t.idempotent = true;
    t.run = [deps](const RunIn& a, mcp::ToolContext&) {
      return guarded("generate_postmortem", [&] { return generate_postmortem(*deps, a); });
    };
    if (auto st = add_tool(server, std::move(t)); !st) return st;
  }
  if (auto st = register_resources(server, deps); !st) return st;
  return register_prompts(server, deps);
}

}  // namespace dm::runbook
