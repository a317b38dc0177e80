// failure_frequency: how often a DAG failed lately, grouped by error signature (never by task
// name), with a repeat / one-off verdict per group. Logs of failed tasks not yet in the signature
// history are diagnosed once and recorded, so asking again reads no logs.
#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <utility>

#include "common/iso_time.h"
#include "runbook/detect_common.h"
#include "runbook/diagnose_internal.h"
#include "runbook/tool_kit.h"

namespace dm::runbook::diagnose {
namespace {

using json = nlohmann::json;

constexpr std::size_t kMaxFailedRuns = 50;     // newest failed runs examined
constexpr std::size_t kMaxRunsCounted = 1000;  // runs counted in the window
constexpr std::size_t kMaxLogsRead = 100;      // logs diagnosed per call
constexpr std::size_t kMaxGroups = 50;
constexpr std::size_t kTailLines = 400;  // tail diagnosed per log
constexpr std::size_t kKnownSightings = 20000;
// Sightings are recorded at the failed try's end, which can fall before the window of the run's
// position in time (a long run): look this far back for them.
constexpr int64_t kSightingSlackMs = 48LL * 3600 * 1000;

struct GroupOut {
  std::string signature{}, category{}, exception_type{}, error{};
  std::int64_t count = 0, runs = 0;
  std::string first_seen{}, last_seen{};
  std::vector<std::string> task_ids{}, dags_affected{};
  std::string verdict = "one-off";
  template <class V>
  void fields(V& v) const {
    v.field("signature", signature, "Error signature");
    v.field("category", category, "Its category");
    v.field("exception_type", exception_type, "Exception type, as written");
    v.field("error", error, "The root-cause line last seen, redacted");
    v.field("count", count, "Sightings in the window");
    v.field("runs", runs, "Distinct runs in the window");
    v.field("first_seen", first_seen, "UTC");
    v.field("last_seen", last_seen, "UTC");
    v.field("task_ids", task_ids, "Tasks that failed with it");
    v.field("dags_affected", dags_affected, "Every DAG it was seen in, ever");
    v.one_of("verdict", verdict, {"repeat", "one-off"}, "repeat: seen in two runs or more");
  }
};

struct FrequencyOut {
  std::string environment{}, dag_id{};
  int lookback_hours = 0;
  std::string since{}, until{};
  std::size_t runs = 0, failed_runs = 0;
  bool failed_runs_capped = false;
  std::size_t examined_tasks = 0, logs_read = 0, unrecognized_tasks = 0;
  std::vector<GroupOut> groups{};
  std::optional<std::vector<std::string>> notes{};
  template <class V>
  void fields(V& v) const {
    v.field("environment", environment, "Environment name");
    v.field("dag_id", dag_id, "DAG id");
    v.field("lookback_hours", lookback_hours, "Hours looked back");
    v.field("since", since, "UTC");
    v.field("until", until, "UTC (now)");
    v.field("runs", runs, "Runs that ended in the window");
    v.field("failed_runs", failed_runs, "Of those, the failed ones");
    v.field("failed_runs_capped", failed_runs_capped, "Only the newest failed runs were examined");
    v.field("examined_tasks", examined_tasks, "Failed task instances examined");
    v.field("logs_read", logs_read, "Logs diagnosed by this call");
    v.field("unrecognized_tasks", unrecognized_tasks, "Logs with no recognizable error");
    v.field("groups", groups, "Failed tasks grouped by error signature, most frequent first");
    v.maybe("notes", notes, "What was left out or could not be read");
  }
};

std::string key(const std::string& run_id, const std::string& task_id) {
  return run_id + '\x1f' + task_id;
}

struct FrequencyIn : WithEnvironment {
  std::string dag_id;
  int lookback_hours = 24;
};

Result<Reply<FrequencyOut>> failure_frequency(const Deps& deps, const FrequencyIn& a,
                                              mcp::ToolContext& ctx) {
  const std::string& dag_id = a.dag_id;
  const int hours = a.lookback_hours;
  auto target = resolve_target(deps, a);
  if (!target) return target.error();
  auto& client = *target->client;
  const std::string env = target->env->name;
  const auto now = deps.clock->now();
  const auto since = now - std::chrono::hours(hours);
  const int64_t now_ms = to_ms(now), since_ms = to_ms(since);

  // Runs that ended in the lookback (end_date: the same meaning on both API dialects; a
  // scheduled Airflow 2 run's logical date is a whole interval before it ran).
  auto runs = client.list_dag_runs({.dag_id = dag_id,
                                    .states = {},
                                    .since = std::nullopt,
                                    .until = std::nullopt,
                                    .limit = kMaxRunsCounted + 1,
                                    .ended_since = since,
                                    .ended_until = now});
  if (!runs) return airflow_error(runs.error());
  std::vector<std::string> notes;
  if (runs->size() > kMaxRunsCounted) {
    runs->resize(kMaxRunsCounted);
    notes.push_back("more than " + std::to_string(kMaxRunsCounted) +
                    " runs in the window; counted the newest " + std::to_string(kMaxRunsCounted));
  }
  std::vector<airflow::DagRun> failed;
  for (const auto& r : *runs)
    if (r.state == "failed") failed.push_back(r);  // newest first, as listed
  const std::size_t failed_total = failed.size();
  const bool capped = failed.size() > kMaxFailedRuns;
  if (capped) failed.resize(kMaxFailedRuns);

  // Sightings already in the history: their logs are not read again.
  std::set<std::string> known;
  bool store_ok = false;
  store::Store* st = nullptr;
  if (auto s = deps.store(); s) {
    st = *s;
    auto occ = st->list_occurrences({"", dag_id, env, since_ms - kSightingSlackMs, INT64_MAX},
                                    kKnownSightings);
    if (occ) {
      store_ok = true;
      for (const auto& o : *occ) known.insert(key(o.run_id, o.task_id));
    } else {
      notes.push_back("signature history unavailable: " + occ.error().message);
    }
  } else {
    notes.push_back("signature history unavailable: " + s.error().message);
  }

  // Failed task instances (not upstream_failed) of each failed run.
  struct Todo {
    airflow::TaskInstance ti;
  };
  std::vector<Todo> todo;
  std::size_t examined = 0;
  for (const auto& r : failed) {
    if (ctx.cancelled()) break;
    auto tis = client.list_task_instances(dag_id, r.run_id, {"failed"});
    if (!tis) {
      notes.push_back("tasks of run " + r.run_id + " unreadable: " + tis.error().message);
      continue;
    }
    std::set<std::string> seen_tasks;  // one map index per task and run
    for (auto& ti : *tis) {
      if (ti.state != "failed" || !seen_tasks.insert(ti.task_id).second) continue;
      ++examined;
      if (known.count(key(r.run_id, ti.task_id))) continue;
      todo.push_back({std::move(ti)});
    }
  }

  std::size_t logs_read = 0, unrecognized = 0, log_errors = 0;
  const std::size_t to_read = std::min(todo.size(), kMaxLogsRead);
  if (todo.size() > kMaxLogsRead)
    notes.push_back(std::to_string(todo.size() - kMaxLogsRead) +
                    " failed task logs left for a later call (at most " +
                    std::to_string(kMaxLogsRead) + " are read per call)");
  if (!store_ok && !todo.empty())
    notes.push_back("logs are diagnosed but cannot be recorded: groups below miss them");
  for (std::size_t i = 0; i < to_read; ++i) {
    if (ctx.cancelled()) return make_error(Errc::cancelled, "failure_frequency cancelled");
    const auto& ti = todo[i].ti;
    ctx.progress(static_cast<double>(i), static_cast<double>(to_read),
                 "reading the log of " + ti.task_id + " in run " + ti.run_id);
    TryRef t{dag_id,        ti.run_id, ti.task_id,  ti.map_index,
             ti.try_number, true,      ti.end_date, ti.state};
    if (t.try_number <= 0) continue;
    LogRead read;
    auto d = diagnose_try(deps, client, t, kTailLines, &ctx, &read);
    ++logs_read;
    if (!d) {
      if (++log_errors <= 3)
        notes.push_back("log of " + ti.task_id + " in run " + ti.run_id +
                        " unreadable: " + d.error().message);
      continue;
    }
    if (read.cancelled) return make_error(Errc::cancelled, "failure_frequency cancelled");
    if (!d->found) {
      ++unrecognized;
      continue;
    }
    Recorded rec = record_sighting(deps, env, t, *d, seen_at_ms(t, now_ms));
    if (!rec.note.empty() && notes.size() < 10) notes.push_back(rec.note);
  }
  if (log_errors > 3)
    notes.push_back(std::to_string(log_errors - 3) + " more logs were unreadable");
  if (to_read > 0) ctx.progress(static_cast<double>(to_read), static_cast<double>(to_read), "done");

  // Groups from the history: this DAG, this window.
  std::vector<GroupOut> groups;
  if (st != nullptr) {
    auto g = st->occurrence_groups({"", dag_id, env, since_ms, now_ms + 1}, kMaxGroups);
    if (!g) {
      notes.push_back("signature history unavailable: " + g.error().message);
    } else {
      for (const auto& grp : *g) {
        std::vector<std::string> dags;
        if (auto all = st->occurrence_groups({grp.signature, "", "", 0, INT64_MAX}, 1);
            all && !all->empty()) {
          for (const auto& d : (*all)[0].dag_ids) dags.push_back(d);
        } else {
          dags.push_back(dag_id);
        }
        SignatureInfo info;
        if (auto i = signature_info(*st, grp.signature, dag_id); i) info = std::move(*i);
        groups.push_back({.signature = grp.signature,
                          .category = info.category.empty() ? "unknown" : info.category,
                          .exception_type = info.exception_type,
                          .error = info.error,
                          .count = grp.stats.count,
                          .runs = grp.stats.distinct_runs,
                          .first_seen = ms_to_iso(grp.stats.first_seen_ms),
                          .last_seen = ms_to_iso(grp.stats.last_seen_ms),
                          .task_ids = grp.task_ids,
                          .dags_affected = std::move(dags),
                          .verdict = grp.stats.distinct_runs >= 2 ? "repeat" : "one-off"});
      }
    }
  }

  FrequencyOut out{.environment = env,
                   .dag_id = dag_id,
                   .lookback_hours = hours,
                   .since = ms_to_iso(since_ms),
                   .until = ms_to_iso(now_ms),
                   .runs = runs->size(),
                   .failed_runs = failed_total,
                   .failed_runs_capped = capped,
                   .examined_tasks = examined,
                   .logs_read = logs_read,
                   .unrecognized_tasks = unrecognized};

  std::string text = "DAG " + dag_id + ": " + std::to_string(failed_total) + " of " +
                     std::to_string(runs->size()) + " runs failed in the last " +
                     std::to_string(hours) + " h";
  if (capped) text += " (the newest " + std::to_string(kMaxFailedRuns) + " examined)";
  text += "; " + std::to_string(examined) + " failed task(s), " + std::to_string(logs_read) +
          " log(s) read now.\n";
  if (groups.empty()) {
    text += failed_total == 0 ? "No failures: nothing to group."
                              : "No recognizable error signature in the failed tasks.";
  } else {
    std::size_t shown = 0;
    for (const auto& g : groups) {
      if (++shown > 3) break;
      text += "· " + g.signature + " (" + g.category + "): " + std::to_string(g.count) + "× in " +
              std::to_string(g.runs) + " run(s) — " + g.verdict;
      if (!g.exception_type.empty()) text += ", " + g.exception_type;
      text += "\n";
    }
    const bool repeat = groups[0].verdict == "repeat";
    text += repeat ? "Next: a repeat needs a fix, not a rerun: suggest_prevention_actions("
                     "signature) and summarize_root_cause(signature)."
                   : "Next: a one-off; fix the cause, then a safe rerun of the failed tasks.";
  }
  for (const auto& n : notes) text += "\n(" + n + ")";
  if (!notes.empty()) out.notes = std::move(notes);
  out.groups = std::move(groups);
  return Reply<FrequencyOut>{std::move(text), std::move(out)};
}

}  // namespace

constexpr int kTaskAfterHours = 24;

Status register_failure_frequency(mcp::Server& server, const std::shared_ptr<const Deps>& deps) {
  const int hmax = std::max(1, deps->config.caps.lookback_hours_max);
  ToolSpec<FrequencyIn, FrequencyOut> t;
  t.name = "failure_frequency";
  t.title = "How often a DAG failed, by error signature";
  t.description =
      "Diagnose: failed runs of a DAG in the last lookback_hours, their failed tasks grouped by "
      "error signature (the same cause on other runs/dates/hosts groups together, never by task "
      "name), with counts, first/last seen, the DAGs a signature affects and a repeat / one-off "
      "verdict. Diagnoses and records logs not seen before (a second call reads none).";
  t.args.text("dag_id", &FrequencyIn::dag_id, rules::dag_id(), "DAG id", Need::required)
      .integer("lookback_hours", &FrequencyIn::lookback_hours, {1, hmax}, "Hours to look back",
               std::clamp(deps->config.defaults.lookback_hours, 1, hmax));
  t.run = [deps](const FrequencyIn& a, mcp::ToolContext& ctx) {
    return failure_frequency(*deps, a, ctx);
  };
  // Over more than a day, a busy DAG's history means many runs and logs to read.
  t.long_call = [](const FrequencyIn& a) { return a.lookback_hours > kTaskAfterHours; };
  return add_tool(server, deps, std::move(t));
}

}  // namespace dm::runbook::diagnose
