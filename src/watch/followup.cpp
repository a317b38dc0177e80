// The follow-up passes' recovery half (followup.h): recovery checks of failed runs' incidents and
// the resolve messages of every incident that recovered. The other kinds: import_errors.cpp,
// streaks.cpp, freshness.cpp, stuck.cpp.
#include "watch/followup.h"

#include <algorithm>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include "common/iso_time.h"
#include "runbook/failure.h"
#include "runbook/recovery.h"
#include "runbook/tool_kit.h"
#include "watch/kinds.h"

namespace dm::watch {
namespace {

using json = nlohmann::json;
using namespace kinds;

}  // namespace

void check_recoveries(const runbook::Deps& deps, const std::string& env,
                      airflow::AirflowClient& client, store::Store& s, int64_t since_ms,
                      EnvReport& rep) {
  const int budget = deps.config.watch.recovery_checks_per_cycle;
  if (budget <= 0) return;
  const int64_t now = runbook::to_ms(deps.clock->now());
  // The DAGs that ran to an end since the last cycle: a success may recover their incidents, a
  // failure (handled above) may escalate an older one.
  airflow::RunQuery q;
  q.dag_id = "~";
  q.states = {"success"};
  q.ended_since = runbook::from_ms(since_ms);
  auto ran = client.list_dag_runs(q);
  if (!ran) {
    rep.notes.push_back("recent successes could not be read, recovery not checked: " +
                        ran.error().message);
    return;
  }
  // Incidents this cycle opened or updated (failed runs, and the kinds opened before this pass):
  // nothing ran after them yet.
  std::set<std::string> handled_ids;
  for (const auto& h : rep.handled) handled_ids.insert(h.incident_id);
  std::set<std::string> succeeded;
  for (const auto& r : *ran) succeeded.insert(r.dag_id);
  std::set<std::string> dags = succeeded;
  for (const auto& h : rep.handled) dags.insert(h.dag_id);

  std::vector<store::Incident> todo;
  for (const char* state : {"open", "escalated"}) {
    std::string err;
    for (auto& i : incidents_in(s, env, state, 0, err)) {
      if (handled_ids.count(i.id)) continue;
      const json summary = summary_of(i);
      const std::string kind = kind_of(summary);
      if (kind == kNotSucceedingKind && succeeded.count(i.dag_id)) {
        // A DAG that keeps failing is over when one of its runs succeeds.
        const std::string reason = "a run of " + i.dag_id + " succeeded";
        mark_recovered(deps, std::move(i), reason, now, rep);
        continue;
      }
      if (kind != "dag_run" || i.dag_id.empty()) continue;
      const int64_t recheck = iso_to_ms(str_at(summary, "watch", "recheck_after")).value_or(0);
      if (dags.count(i.dag_id) || (recheck > 0 && recheck <= now)) todo.push_back(std::move(i));
    }
    if (!err.empty()) {
      rep.notes.push_back("incidents unreadable, recovery not checked: " + err);
      return;
    }
  }
  std::sort(todo.begin(), todo.end(), [](const store::Incident& a, const store::Incident& b) {
    return std::tie(a.opened_at_ms, a.id) < std::tie(b.opened_at_ms, b.id);
  });

  // A check left for later (the budget, a quiet period, Airflow failing) is written on the
  // incident, so a later cycle — of this process or of the next `watch --once` — does it.
  // at == 0 removes it.
  auto recheck_at = [&](const store::Incident& inc, int64_t at) {
    store::Incident upd = inc;
    if (auto fresh = s.get_incident(inc.id); fresh) upd = std::move(*fresh);
    json summary = summary_of(upd);
    if (at > 0)
      summary["watch"]["recheck_after"] = ms_to_iso(at);
    else if (summary.contains("watch") && summary["watch"].is_object())
      summary["watch"].erase("recheck_after");
    upd.summary_json = dump(summary);
    if (auto w = s.upsert_incident(upd); !w)
      rep.notes.push_back("recovery recheck of " + inc.id + " not recorded: " + w.error().message);
  };
  const std::size_t n = static_cast<std::size_t>(budget);
  for (std::size_t k = 0; k < todo.size(); ++k) {
    const store::Incident& inc = todo[k];
    if (k >= n) {
      recheck_at(inc, now);
      continue;
    }
    ++rep.recovery_checked;
    auto c = runbook::check_recovery(deps, env, client, inc.dag_id, inc.run_id);
    if (!c) {
      rep.notes.push_back("recovery of " + inc.id + " not checked: " + c.error().message);
      if (runbook::airflow_unreachable(c.error())) {
        for (std::size_t j = k; j < todo.size(); ++j) recheck_at(todo[j], now);
        return;
      }
      continue;
    }
    for (const auto& note : c->notes) rep.notes.push_back(inc.id + ": " + note);
    if (c->state_changed) {
      if (c->incident_state == "recovered") rep.recovered.push_back(inc.id);
      if (c->incident_state == "escalated") rep.escalated.push_back(inc.id);
    }
    // Recovered but for the quiet period: look again when it ends. Otherwise a recheck time that
    // brought it here is spent.
    if (c->verdict.verdict == "not_yet" && c->verdict.quiet_until_ms > 0)
      recheck_at(inc, c->verdict.quiet_until_ms);
    else if (!str_at(summary_of(inc), "watch", "recheck_after").empty())
      recheck_at(inc, 0);
  }
}

void enqueue_resolves(const std::string& env, store::Store& s, const Outbox& outbox,
                      int64_t since_ms, EnvReport& rep) {
  if (!outbox.enabled()) return;
  std::string err;
  auto recovered = incidents_in(s, env, "recovered", since_ms, err);
  if (!err.empty()) {
    rep.notes.push_back("recovered incidents unreadable, resolves not sent: " + err);
    return;
  }
  for (const auto& inc : recovered) {
    const json summary = summary_of(inc);
    IncidentFacts f;
    f.event_action = "resolve";
    f.kind = kind_of(summary);
    f.incident_id = inc.id;
    f.env = env;
    f.dag_id = inc.dag_id;
    f.run_id = inc.run_id;
    f.severity = str_at(summary, "triage", "severity");
    f.first_failing_task = inc.first_failing_task;
    f.signature = inc.signature;
    f.category = inc.category;
    f.failed_at_ms = iso_to_ms(str_at(summary, "triage", "end_date")).value_or(0);
    // One resolve per recovery: the moment the incident became recovered (set_incident_state's
    // verify.checked_at) stays the same however often the incident is updated afterwards, and a
    // later recovery (after a new failure reopened it) has a new one.
    f.occurrence_ms = iso_to_ms(str_at(summary, "verify", "checked_at")).value_or(0);
    if (auto reason = str_at(summary, "verify", "reason"); !reason.empty())
      f.notes.push_back(reason);
    auto m = outbox.messages_for(std::move(f), s);
    auto q = m ? s.enqueue_messages(*m) : Result<int64_t>(m.error());
    if (!q) {
      rep.notes.push_back("resolve of " + inc.id + " not enqueued: " + q.error().message);
      continue;
    }
    rep.resolves += static_cast<std::size_t>(*q);
  }
}

}  // namespace dm::watch
