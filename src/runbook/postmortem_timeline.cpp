// build_timeline's data: events from Airflow (run, task tries, later runs), the incident in the
// store, and approvals/writes from the approval records and the audit chain.
#include <algorithm>
#include <set>

#include "common/iso_time.h"
#include "runbook/postmortem_internal.h"
#include "runbook/tool_kit.h"
#include "runbook/triage_facts.h"

namespace dm::runbook::postmortem {
namespace {

// "try N of M" (M = max_tries + 1 as Airflow counts retries, never below N).
std::string try_text(const airflow::TaskInstance& t) {
  int n = std::max(t.try_number, 1);
  int m = std::max(t.max_tries + 1, n);
  return "try " + std::to_string(n) + " of " + std::to_string(m);
}

std::string end_kind(const std::string& state) {
  if (state == "success") return "task_succeeded";
  if (state == "failed") return "task_failed";
  if (state == "up_for_retry") return "task_retry";
  if (state == "upstream_failed") return "task_upstream_failed";
  if (state == "skipped") return "task_skipped";
  return "task_ended";
}

void add_if(std::vector<Event>& out, const std::string& iso, std::string kind, std::string subject,
            std::string detail) {
  if (auto at = iso_to_ms(iso))
    out.push_back(Event{*at, std::move(kind), std::move(subject), std::move(detail), "airflow"});
}

}  // namespace

bool never_ran(const airflow::TaskInstance& t) {
  // upstream_failed and removed are decided by the scheduler, never by a try of the task; a try
  // number of 0 means no try was ever handed out.
  return t.try_number <= 0 || t.state == "upstream_failed" || t.state == "removed";
}

namespace {

void task_events(const airflow::TaskInstance& t, std::vector<Event>& out) {
  const std::string subj = task_label(t.task_id, t.map_index);
  const std::string state = t.state.empty() ? "none" : t.state;
  if (never_ran(t)) {
    // Airflow 3 stamps such a task instance with start_date = end_date = when the scheduler
    // marked it, and may keep the try number of an earlier (cleared) try: neither is a try that
    // ran, so only the marking is an event.
    const std::string& when = !t.end_date.empty() ? t.end_date : t.start_date;
    add_if(out, when, end_kind(t.state), subj, "never ran, state " + state);
    return;
  }
  const std::string tries = try_text(t);
  const std::string& first_time = !t.start_date.empty() ? t.start_date : t.end_date;
  if (t.try_number > 1) {
    // Airflow keeps only the latest try here: an earlier one may have been retried by Airflow or
    // cleared by someone (a clear_failed_tasks of dagmedic shows as its own event), so say neither.
    int earlier = t.try_number - 1;
    add_if(out, first_time, "task_retried", subj,
           tries + ": after " + std::to_string(earlier) +
               (earlier == 1 ? " earlier try" : " earlier tries") +
               " (retried by Airflow or cleared)");
  }
  add_if(out, t.start_date, "task_started", subj, tries);
  if (!t.end_date.empty()) {
    std::string detail = tries + ", state " + state;
    if (t.duration) detail += ", " + human_duration(static_cast<int64_t>(*t.duration * 1000));
    add_if(out, t.end_date, end_kind(t.state), subj, std::move(detail));
  }
}

std::string str_field(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

void sort_events(std::vector<Event>& events) {
  std::stable_sort(events.begin(), events.end(),
                   [](const Event& a, const Event& b) { return a.at_ms < b.at_ms; });
}

std::vector<Event> airflow_events(const airflow::DagRun& run,
                                  const std::vector<airflow::TaskInstance>& tasks,
                                  const std::vector<airflow::DagRun>& later_runs,
                                  std::vector<std::string>& notes) {
  std::vector<Event> out;
  add_if(out, run.queued_at, "run_queued", run.run_id,
         "run type " + (run.run_type.empty() ? std::string("unknown") : run.run_type));
  add_if(out, run.start_date, "run_started", run.run_id, "");
  add_if(out, run.end_date, "run_ended", run.run_id, "state " + run.state);

  // Failed/retried tasks always make it; successful ones only while the budget lasts, so a DAG
  // of thousands of tasks still shows what went wrong.
  std::vector<Event> trouble, fine;
  for (const auto& t : tasks) task_events(t, t.state == "success" ? fine : trouble);
  if (trouble.size() + fine.size() > kMaxTaskEvents) {
    if (!fine.empty())
      notes.push_back(std::to_string(fine.size()) +
                      " events of successful tasks left out (large DAG)");
    fine.clear();
    if (trouble.size() > kMaxTaskEvents) {
      sort_events(trouble);
      notes.push_back(std::to_string(trouble.size() - kMaxTaskEvents) +
                      " later task events left out (large DAG)");
      trouble.resize(kMaxTaskEvents);
    }
  }
  out.insert(out.end(), trouble.begin(), trouble.end());
  out.insert(out.end(), fine.begin(), fine.end());

  for (const auto& r : later_runs) {
    const std::string& q = !r.queued_at.empty()    ? r.queued_at
                           : !r.start_date.empty() ? r.start_date
                                                   : r.run_after;
    std::string detail =
        "later run (" + (r.run_type.empty() ? std::string("unknown") : r.run_type) + ")";
    if (r.end_date.empty()) detail += ", state now " + (r.state.empty() ? "none" : r.state);
    add_if(out, q, "later_run_queued", r.run_id, std::move(detail));
    add_if(out, r.end_date, "later_run_ended", r.run_id, "state " + r.state);
  }
  return out;
}

std::vector<Event> incident_events(const store::Incident& inc,
                                   std::optional<int64_t> diagnosed_seen_ms) {
  std::vector<Event> out;
  std::string opened = "incident opened";
  if (!inc.first_failing_task.empty()) opened += "; first failing task " + inc.first_failing_task;
  out.push_back(Event{inc.opened_at_ms, "incident_opened", inc.id, opened, "store"});
  if (!inc.signature.empty()) {
    std::string d = "signature " + inc.signature + ", category " +
                    (inc.category.empty() ? std::string("unknown") : inc.category);
    int64_t at = 0;
    // updated_at moves with every later write (state, postmortem), so it can't date the
    // diagnosis: diagnosed_at (schema 3) does; for older incidents the sighting's time is used,
    // else the incident's opening.
    if (inc.diagnosed_at_ms > 0) {
      at = inc.diagnosed_at_ms;
      d += " (diagnosed by dagmedic)";
    } else if (diagnosed_seen_ms) {
      at = *diagnosed_seen_ms;
      d += " (when the error happened in this run)";
    } else {
      at = inc.opened_at_ms;
      d += " (diagnosis time not recorded)";
    }
    out.push_back(Event{at, "incident_diagnosed", inc.id, std::move(d), "store"});
  }
  if (inc.state == "recovered" || inc.state == "escalated") {
    // Verify records when it decided (summary "verify".checked_at); updated_at is the fallback.
    int64_t at = inc.updated_at_ms;
    std::string detail = "state " + inc.state;
    nlohmann::json sum = nlohmann::json::parse(inc.summary_json, nullptr, false);
    if (sum.is_object() && sum.contains("verify") && sum["verify"].is_object()) {
      const auto& v = sum["verify"];
      if (auto t = iso_to_ms(str_field(v, "checked_at"))) at = *t;
      if (std::string reason = str_field(v, "reason"); !reason.empty()) detail += ": " + reason;
    }
    out.push_back(Event{at, "incident_" + inc.state, inc.id, std::move(detail), "store"});
  }
  return out;
}

std::vector<Event> action_events(const std::vector<store::ApprovalRecord>& approvals,
                                 const std::vector<store::AuditRow>& audit, const std::string& env,
                                 const std::string& dag_id, const std::string& run_id,
                                 int64_t run_started_ms) {
  std::vector<Event> out;
  std::set<std::string> matched;
  for (const auto& a : approvals) {
    if (a.env != env) continue;
    nlohmann::json p = nlohmann::json::parse(a.params_json, nullptr, false);
    if (!p.is_object() || str_field(p, "dag_id") != dag_id) continue;
    const bool same_run = str_field(p, "run_id") == run_id;
    const bool recovery_trigger = a.action == "trigger_dag" && a.created_at_ms >= run_started_ms;
    if (!same_run && !recovery_trigger) continue;
    if (!matched.insert(a.id).second) continue;
    std::string req = a.action + " requested by " + a.requester +
                      (a.requester_is_agent ? " (agent)" : "") +
                      (a.requester_for.empty() ? "" : " acting for " + a.requester_for) +
                      "; needs " + std::to_string(a.required_approvals) + " approval(s)";
    if (!a.reason.empty()) req += "; reason: " + a.reason;
    out.push_back(Event{a.created_at_ms, "approval_requested", a.id, std::move(req), "store"});
    for (const auto& d : a.decisions) {
      std::string t = (d.approve ? "approved by " : "denied by ") + d.principal;
      if (!d.reason.empty()) t += ": " + d.reason;
      out.push_back(Event{d.at_ms, d.approve ? "approval_approved" : "approval_denied", a.id,
                          std::move(t), "store"});
    }
    if (a.consumed_at_ms > 0)
      out.push_back(Event{a.consumed_at_ms, "approval_consumed", a.id,
                          "approval used to run " + a.action, "store"});
  }

  for (const auto& row : audit) {
    nlohmann::json b = nlohmann::json::parse(row.body, nullptr, false);
    if (!b.is_object()) continue;  // unknown shape: skipped
    int64_t at = row.time_ms;
    if (auto it = b.find("time_ms"); it != b.end() && it->is_number_integer())
      at = it->get<int64_t>();
    const std::string approval_id = str_field(b, "approval_id");
    const bool mentions =
        row.body.find(dag_id) != std::string::npos && row.body.find(run_id) != std::string::npos;
    if (!(mentions || (!approval_id.empty() && matched.count(approval_id)))) continue;
    const std::string phase = str_field(b, "phase");
    const std::string tool = str_field(b, "tool");
    const std::string who = str_field(b, "principal");
    const std::string ran = str_field(b, "ran");
    const std::string status = str_field(b, "upstream_status");
    const std::string summary = str_field(b, "upstream_summary");
    const std::string subject = !approval_id.empty() ? approval_id : tool;
    std::string kind, detail;
    if (phase == "begin") {
      kind = "action_started";
      detail = tool + (who.empty() ? "" : " by " + who) + (ran.empty() ? "" : ": " + ran);
    } else if (phase == "complete") {
      kind = (status == "ok" || status.rfind('2', 0) == 0 || status == "409") ? "action_completed"
                                                                              : "action_failed";
      detail = tool + " → " + (status.empty() ? "done" : status) +
               (summary.empty() ? "" : ": " + summary);
    } else if (phase == "abandoned") {
      kind = "action_abandoned";
      detail = tool + ": outcome never recorded";
    } else if (str_field(b, "decision") == "refused") {
      kind = "action_refused";
      detail = tool + " refused" + (summary.empty() ? "" : ": " + summary);
    } else if (const std::string ev = str_field(b, "approval_event");
               !ev.empty() && !matched.count(approval_id)) {
      // An approval event whose record we could not read: the audit is the only witness.
      kind = "approval_" + ev;
      detail = tool + (who.empty() ? "" : " by " + who);
    } else {
      continue;  // reads and events the approval records already show
    }
    out.push_back(Event{at, std::move(kind), subject, std::move(detail), "audit"});
  }
  sort_events(out);
  return out;
}

Result<Facts> collect(const Deps& deps, const Target& target, const std::string& dag_id,
                      const std::string& run_id, int64_t now_ms) {
  Facts f;
  f.env = target.env->name;
  f.env_tier = config::tier_name(target.env->tier);
  f.dag_id = dag_id;
  f.run_id = run_id;
  f.incident_id = store::incident_id_for(f.env, dag_id, run_id);
  auto& client = *target.client;

  auto run = client.get_dag_run(dag_id, run_id);
  if (!run) return run.error();
  f.run = std::move(*run);
  auto tis = client.list_task_instances(dag_id, run_id, {});
  if (!tis) return tis.error();
  f.tasks = std::move(*tis);

  if (auto dag = client.get_dag(dag_id); dag) {
    f.dag = std::move(*dag);
  } else {
    f.notes.push_back("DAG details unavailable (" + dag.error().message + ")");
  }

  // Later runs of the DAG, up to now: the earliest ones after this run show the recovery.
  const std::string& pos = !f.run.run_after.empty()      ? f.run.run_after
                           : !f.run.logical_date.empty() ? f.run.logical_date
                                                         : f.run.start_date;
  if (auto at = iso_to_ms(pos)) {
    airflow::RunQuery q;
    q.dag_id = dag_id;
    q.since = from_ms(*at);
    q.until = from_ms(std::max(now_ms, *at));
    q.limit = kLaterRunsQueried;
    if (auto later = client.list_dag_runs(q); later) {
      std::vector<airflow::DagRun> after;
      for (auto& r : *later) {
        auto rat = iso_to_ms(r.run_after.empty() ? r.logical_date : r.run_after);
        if (r.run_id == run_id || !rat || *rat <= *at) continue;
        after.push_back(std::move(r));
      }
      std::reverse(after.begin(), after.end());  // oldest first
      if (after.size() > kMaxLaterRuns) {
        f.later_runs_capped = true;
        f.notes.push_back("showing the first " + std::to_string(kMaxLaterRuns) + " of " +
                          std::to_string(after.size()) +
                          (later->size() >= kLaterRunsQueried ? "+" : "") + " later runs");
        after.resize(kMaxLaterRuns);
      }
      f.later_runs = std::move(after);
    } else {
      f.notes.push_back("later runs unavailable (" + later.error().message + ")");
    }
  }

  std::vector<Event> events = airflow_events(f.run, f.tasks, f.later_runs, f.notes);

  auto st = deps.store();
  if (!st) {
    f.notes.push_back("incident store unavailable (" + st.error().message +
                      "): timeline from Airflow only");
  } else {
    store::Store& s = **st;
    f.store_available = true;
    if (auto inc = s.get_incident(f.incident_id); inc) {
      f.incident = std::move(*inc);
    } else if (inc.error().code == Errc::not_found) {
      f.notes.push_back("no incident recorded for this run yet (get_run_summary opens one)");
    } else {
      f.notes.push_back("incident unavailable (" + inc.error().message + ")");
    }
    if (f.incident) {
      std::optional<int64_t> seen;
      if (!f.incident->signature.empty()) {
        store::OccurrenceQuery oq;
        oq.signature = f.incident->signature;
        oq.dag_id = dag_id;
        oq.env = f.env;
        if (auto occ = s.list_occurrences(oq, 200); occ) {
          for (const auto& o : *occ)
            if (o.run_id == run_id && (!seen || o.seen_at_ms < *seen)) seen = o.seen_at_ms;
        }
      }
      auto ev = incident_events(*f.incident, seen);
      events.insert(events.end(), ev.begin(), ev.end());
    }

    std::vector<store::ApprovalRecord> approvals;
    for (auto state : {store::ApprovalState::pending, store::ApprovalState::approved,
                       store::ApprovalState::denied, store::ApprovalState::consumed}) {
      auto list = s.list_approvals(state, kApprovalsPerState);
      if (!list) {
        f.notes.push_back("approvals unavailable (" + list.error().message + ")");
        break;
      }
      approvals.insert(approvals.end(), list->begin(), list->end());
    }
    std::vector<store::AuditRow> rows;
    if (auto head = s.audit_head(); head && head->seq > 0) {
      int64_t from = std::max<int64_t>(1, head->seq - static_cast<int64_t>(kAuditRowsScanned) + 1);
      if (auto r = s.read_audit(from, kAuditRowsScanned); r) {
        rows = std::move(*r);
      } else {
        f.notes.push_back("audit unavailable (" + r.error().message + ")");
      }
    } else if (!head) {
      f.notes.push_back("audit unavailable (" + head.error().message + ")");
    }
    const std::string& started = !f.run.start_date.empty() ? f.run.start_date : f.run.queued_at;
    int64_t run_started = iso_to_ms(started).value_or(iso_to_ms(pos).value_or(0));
    f.action_events = action_events(approvals, rows, f.env, dag_id, run_id, run_started);
    events.insert(events.end(), f.action_events.begin(), f.action_events.end());
  }

  sort_events(events);
  f.events = std::move(events);
  return f;
}

}  // namespace dm::runbook::postmortem
