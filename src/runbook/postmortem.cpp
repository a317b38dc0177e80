// Postmortem stage tools (see docs/runbook.md): build_timeline and generate_postmortem. Also
// registers the incident resources and the incident_runbook prompt (resources.cpp, prompt.cpp).
#include <exception>

#include "common/iso_time.h"
#include "runbook/detect_common.h"
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

struct EventOut {
  pm::Event e{};
  template <class V>
  void fields(V& v) const {
    v.field("at", ms_to_iso(e.at_ms), "UTC");
    v.field("kind", e.kind, "What happened");
    v.field("subject", e.subject, "To what");
    v.field("detail", e.detail, "Details, redacted");
    v.field("source", e.source, "Where it was read");
  }
};

struct TimelineOut {
  RunRefOut ref{};  // the incident's run
  std::string incident_id{}, incident_state{};
  std::size_t count = 0;
  std::vector<EventOut> events{};
  std::vector<std::string> notes{};
  template <class V>
  void fields(V& v) const {
    v.flatten(ref);
    v.field("incident_id", incident_id, "The run's incident");
    v.field("incident_state", incident_state, "Its state (\"\" when there is none)");
    v.field("count", count, "Events");
    v.field("events", events, "Events, oldest first");
    v.field("notes", notes, "What could not be read");
  }
};

struct TimingsOut {
  std::optional<std::int64_t> time_to_detect_s{}, time_to_diagnose_s{}, time_to_recover_s{};
  template <class V>
  void fields(V& v) const {
    v.field("time_to_detect_s", time_to_detect_s, "Failure to incident (null: unknown)");
    v.field("time_to_diagnose_s", time_to_diagnose_s, "Failure to diagnosis (null: unknown)");
    v.field("time_to_recover_s", time_to_recover_s, "Failure to recovery (null: unknown)");
  }
};

struct PostmortemOut {
  RunRefOut ref{};  // the incident's run
  std::string incident_id{}, markdown{}, uri{};
  bool stored = false, diagnosed = false;
  std::string prevention_source{};
  TimingsOut timings{};
  std::vector<std::string> notes{};
  template <class V>
  void fields(V& v) const {
    v.flatten(ref);
    v.field("incident_id", incident_id, "The run's incident");
    v.field("markdown", markdown, "The postmortem");
    v.field("uri", uri, "Its resource URI (\"\" when not stored)");
    v.field("stored", stored, "Stored on the incident");
    v.field("diagnosed", diagnosed, "The incident has a diagnosis");
    v.field("prevention_source", prevention_source, "Where the prevention actions came from");
    v.field("timings", timings, "Incident timings in seconds");
    v.field("notes", notes, "What could not be read or stored");
  }
};

int64_t now_ms(const Deps& deps) { return to_ms(deps.clock->now()); }

// Impact durations (-1 = unknown) as seconds, null when unknown.
std::optional<std::int64_t> seconds_or_null(int64_t ms) {
  return ms >= 0 ? std::optional<std::int64_t>(ms / 1000) : std::nullopt;
}

// Runs a handler body, turning a stray exception (e.g. from the JSON library) into an error.
template <class F>
auto guarded(const char* tool, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const std::exception& e) {
    return make_error(Errc::internal, std::string(tool) + ": unexpected failure: " + e.what());
  }
}

Result<Reply<TimelineOut>> build_timeline(const Deps& deps, const RunIn& a) {
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

  TimelineOut s{.ref = {f.env, dag, run},
                .incident_id = f.incident_id,
                .incident_state = f.incident ? f.incident->state : "",
                .count = f.events.size(),
                .notes = f.notes};
  for (const auto& e : f.events) s.events.push_back({e});
  return Reply<TimelineOut>{std::move(text), std::move(s)};
}

Result<Reply<PostmortemOut>> generate_postmortem(const Deps& deps, const RunIn& a) {
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

  PostmortemOut s{.ref = {f.env, dag, run},
                  .incident_id = f.incident_id,
                  .markdown = std::move(markdown),
                  .uri = stored ? pm::postmortem_uri(f.incident_id) : "",
                  .stored = stored,
                  .diagnosed = diagnosed,
                  .prevention_source = prevention_source,
                  .timings = {seconds_or_null(impact.time_to_detect_ms),
                              seconds_or_null(impact.time_to_diagnose_ms),
                              seconds_or_null(impact.time_to_recover_ms)},
                  .notes = f.notes};
  return Reply<PostmortemOut>{std::move(text), std::move(s)};
}

}  // namespace

Status register_postmortem_tools(mcp::Server& server, const std::shared_ptr<const Deps>& deps) {
  {
    ToolSpec<RunIn, TimelineOut> t;
    t.name = "build_timeline";
    t.title = "Build an incident timeline";
    t.description =
        "Postmortem: the time-ordered events of a DAG run's incident — run queued/started/ended, "
        "each task try (\"try N of M\"; a try after earlier ones, retried or cleared), later runs of "
        "the DAG (where recovery shows), the incident (opened, diagnosed, recovered/escalated) and "
        "approvals/writes from the audit. Read-only; all text redacted.";
    t.args = run_args("The DAG run of the incident");
    t.output_bytes = kTimelineCap;
    t.idempotent = true;
    t.run = [deps](const RunIn& a, mcp::ToolContext&) {
      return guarded("build_timeline", [&] { return build_timeline(*deps, a); });
    };
    if (auto st = add_tool(server, deps, std::move(t)); !st) return st;
  }
  {
    ToolSpec<RunIn, PostmortemOut> t;
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
    t.output_bytes = kPostmortemCap;
    t.idempotent = true;
    t.run = [deps](const RunIn& a, mcp::ToolContext&) {
      return guarded("generate_postmortem", [&] { return generate_postmortem(*deps, a); });
    };
    // It reads the incident's whole history (runs, tries, audit): a task when the client can.
    t.long_call = [](const RunIn&) { return true; };
    if (auto st = add_tool(server, deps, std::move(t)); !st) return st;
  }
  if (auto st = register_resources(server, deps); !st) return st;
  return register_prompts(server, deps);
}

}  // namespace dm::runbook
