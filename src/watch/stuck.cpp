// watch_stuck (followup.h): a task running or queued far longer than usual is stuck.
#include <algorithm>
#include <map>
#include <set>

#include "common/iso_time.h"
#include "runbook/failure.h"
#include "runbook/tool_kit.h"
#include "runbook/triage_facts.h"
#include "watch/followup.h"
#include "watch/kinds.h"

namespace dm::watch {
namespace {

using json = nlohmann::json;
using namespace kinds;

const char* const kAdvice =
    "Look at the task's log and its worker (hostname): a hung connection, a lock wait or a lost "
    "worker keeps a task running or queued; queued for long means no free slot (pools, "
    "parallelism, executor capacity). Do not clear it blindly: the first try may still be writing.";
const char* const kPrevention =
    "Give the task an execution_timeout a little above its usual duration, and timeouts on its "
    "network and database calls; watch pool and executor capacity.";
// Recent successful durations of a task are read again after this long.
constexpr int64_t kDurationsTtlMs = 3'600'000;
constexpr std::size_t kDurationSamples = 200;

std::string span(int64_t seconds) {
  if (seconds < 120) return std::to_string(seconds) + " s";
  if (seconds < 7200) return std::to_string(seconds / 60) + " min";
  return std::to_string(seconds / 3600) + " h " + std::to_string(seconds % 3600 / 60) + " min";
}

// The 95th percentile (nearest rank) of the durations of `tis`; nullopt under 5 samples.
std::optional<double> p95_of(const std::vector<airflow::TaskInstance>& tis, std::size_t& samples) {
  std::vector<double> d;
  for (const auto& t : tis) {
    if (t.duration) {
      d.push_back(*t.duration);
    } else if (auto s = iso_to_ms(t.start_date), e = iso_to_ms(t.end_date); s && e && *e >= *s) {
      d.push_back(static_cast<double>(*e - *s) / 1000.0);
    }
  }
  samples = d.size();
  if (d.size() < 5) return std::nullopt;
  std::sort(d.begin(), d.end());
  const std::size_t rank = (d.size() * 95 + 99) / 100;  // ceil(0.95 n), 1-based
  return d[rank - 1];
}

}  // namespace

void watch_stuck(const runbook::Deps& deps, const std::string& env, airflow::AirflowClient& client,
                 store::Store& s, const Outbox* outbox, DurationCache& durations, EnvReport& rep) {
  const config::StuckSettings& ss = deps.config.watch.stuck;
  if (!ss.enabled) return;
  auto active = client.list_task_instances_in({"running", "queued"});
  if (!active) {
    rep.notes.push_back("running tasks could not be listed, stuck tasks not checked: " +
                        active.error().message);
    return;
  }
  const int64_t now = runbook::to_ms(deps.clock->now());
  std::set<std::string> active_ids;
  std::map<std::string, std::string> severity_of;  // dag -> severity (one get_dag per DAG)
  for (const auto& ti : *active) {
    const std::string task = runbook::task_label(ti.task_id, ti.map_index);
    const std::string id = store::incident_id_for(
        env, ti.dag_id, "stuck:" + ti.run_id + ":" + task + ":" + std::to_string(ti.try_number));
    active_ids.insert(id);
    const bool queued = ti.state == "queued";
    auto since = iso_to_ms(queued ? ti.queued_at : ti.start_date);
    if (!since) continue;
    const int64_t age = (now - *since) / 1000;
    std::string why;
    if (queued) {
      if (ss.queued_seconds > 0 && age >= ss.queued_seconds)
        why = "queued for " + span(age) + " (limit " + span(ss.queued_seconds) + ")";
    } else if (age >= ss.min_seconds) {
      ++rep.stuck_checked;
      DurationStats& st = durations[{ti.dag_id, ti.task_id}];
      if (st.read_at_ms == 0 || now - st.read_at_ms > kDurationsTtlMs) {
        auto hist = client.recent_successes(
            ti.dag_id, ti.task_id, runbook::from_ms(now - int64_t{ss.history_days} * 86'400'000),
            kDurationSamples);
        if (!hist) {
          rep.notes.push_back("durations of " + ti.dag_id + "." + ti.task_id +
                              " could not be read: " + hist.error().message);
          if (runbook::airflow_unreachable(hist.error())) return;
        } else {
          st.p95 = p95_of(*hist, st.samples);
          st.read_at_ms = now;
        }
      }
      if (st.p95 && static_cast<double>(age) > ss.factor * std::max(*st.p95, 1.0)) {
        why = "running for " + span(age) + ", more than " + std::to_string(ss.factor) +
              " x its p95 of " + span(static_cast<int64_t>(*st.p95)) + " over " +
              std::to_string(st.samples) + " recent successes";
      } else if (ss.max_seconds > 0 && age > ss.max_seconds) {
        why = "running for " + span(age) + ", past the limit of " + span(ss.max_seconds) +
              (st.p95 ? "" : " (too few recent successes for a p95)");
      }
    }
    if (why.empty()) continue;

    const std::string what = "stuck task " + task;
    std::optional<store::Incident> before;
    if (!load(s, id, what, before, rep)) continue;
    if (before) continue;  // this try was found stuck before: nothing new
    auto sev = severity_of.find(ti.dag_id);
    if (sev == severity_of.end()) {
      std::string v = "sev3";
      if (auto dag = client.get_dag(ti.dag_id); dag)
        v = runbook::severity_for(runbook::tier_from_tags(dag->tags),
                                  runbook::business_critical_from_tags(dag->tags));
      else
        rep.notes.push_back("DAG " + ti.dag_id + " (tags) could not be read: severity sev3");
      sev = severity_of.emplace(ti.dag_id, v).first;
    }
    store::Incident inc = reopen_or_new(std::nullopt, id, env, ti.dag_id, ti.run_id, now);
    inc.category = kStuckKind;
    inc.first_failing_task = ti.task_id;
    inc.error = "task " + task + " " + why;
    inc.summary_json =
        dump({{"kind", kStuckKind},
              {"stuck",
               {{"task_id", ti.task_id},
                {"map_index", ti.map_index},
                {"try_number", ti.try_number},
                {"state", ti.state},
                {"since", ms_to_iso(*since)},
                {"hostname", ti.hostname},
                {"why", why}}},
              {"triage",
               {{"source", "watch"}, {"severity", sev->second}, {"end_date", ms_to_iso(*since)}}},
              {"advice", kAdvice},
              {"prevention", kPrevention}});
    IncidentFacts f = facts_of(inc, kStuckKind, sev->second, *since, true);
    f.first_failing_task = task;
    f.notes = {kAdvice};
    HandledRun e = entry_of(inc, kStuckKind, sev->second, ms_to_iso(*since), true);
    e.first_failing_map_index = ti.map_index;
    e.notes = {why};
    record(s, outbox, inc, std::move(f), std::move(e), what, rep);
  }

  // A stuck try that is no longer running or queued is over (finished, failed, cleared, killed).
  std::string err;
  for (auto& inc : incidents_in(s, env, "open", 0, err)) {
    if (kind_of(summary_of(inc)) != kStuckKind || active_ids.count(inc.id)) continue;
    mark_recovered(deps, std::move(inc), "the task is no longer running or queued", now, rep);
  }
  if (!err.empty()) rep.notes.push_back("stuck-task incidents unreadable: " + err);
}

}  // namespace dm::watch
