#include <algorithm>

#include "common/iso_time.h"
#include "logs/line_run.h"
#include "runbook/detect_common.h"
#include "runbook/diagnose_internal.h"
#include "runbook/tool_kit.h"

namespace dm::runbook::diagnose {

using json = nlohmann::json;

namespace {

// Newest sightings examined to find a signature's diagnosis on an incident.
constexpr std::size_t kSightingsForInfo = 5;
// Signatures kept in an incident's summary_json "diagnoses" map.
constexpr std::size_t kDiagnosesPerIncident = 20;

json diagnosis_facts(const logs::Diagnosis& d, const TryRef& t) {
  return {{"signature", d.signature},
          {"category", d.category.name},
          {"action", d.category.action},
          {"reason", d.category.reason},
          {"exception_type", d.exception_type},
          {"error", d.error},
          {"task_id", t.task_id},
          {"map_index", t.map_index},
          {"try_number", t.try_number}};
}

// o[key] when it is a string, else "" (stored JSON is not trusted to have the right shape).
std::string text_of(const json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

Result<TryRef> resolve_try(airflow::AirflowClient& client, const std::string& dag_id,
                           const std::string& run_id, const std::string& task_id, int map_index,
                           std::optional<int> try_number) {
  auto tis = client.list_task_instances(dag_id, run_id, {});
  if (!tis) return airflow_error(tis.error());
  const airflow::TaskInstance* ti = nullptr;
  std::vector<int> indexes;
  for (const auto& t : *tis) {
    if (t.task_id != task_id) continue;
    if (t.map_index == map_index) ti = &t;
    indexes.push_back(t.map_index);
  }
  if (ti == nullptr) {
    if (indexes.empty())
      return make_error(Errc::not_found, "task \"" + task_id + "\" is not in run \"" + run_id +
                                             "\" of DAG \"" + dag_id +
                                             "\"; get_failed_tasks lists the run's tasks");
    std::string list;
    for (std::size_t i = 0; i < indexes.size() && i < 10; ++i)
      list += (list.empty() ? "" : ", ") + std::to_string(indexes[i]);
    if (indexes.size() > 10) list += ", …";
    return make_error(Errc::not_found, "task \"" + task_id + "\" has no map index " +
                                           std::to_string(map_index) + " in run \"" + run_id +
                                           "\" (map indexes: " + list + "); pass map_index");
  }
  if (ti->try_number <= 0)
    return make_error(Errc::failed_precondition,
                      "task \"" + task_id + "\" of run \"" + run_id + "\" has not run yet (state " +
                          (ti->state.empty() ? std::string("none") : ti->state) +
                          "), so it has no log");
  TryRef r;
  r.dag_id = dag_id;
  r.run_id = run_id;
  r.task_id = task_id;
  r.map_index = map_index;
  r.state = ti->state;
  r.try_number = ti->try_number;
  if (try_number) {
    if (*try_number > ti->try_number)
      return make_error(Errc::invalid_argument, "try_number " + std::to_string(*try_number) +
                                                    " does not exist: task \"" + task_id +
                                                    "\" has run " + std::to_string(ti->try_number) +
                                                    " time(s) in this run");
    r.try_number = *try_number;
  }
  r.latest = r.try_number == ti->try_number;
  r.latest_try = ti->try_number;
  if (r.latest) r.end_date = ti->end_date;
  return r;
}

std::size_t log_output_cap(const Deps& deps) { return output_cap(deps, kOutputCap); }

Result<LogRead> stream_log(airflow::AirflowClient& client, const TryRef& t,
                           const std::function<void(const airflow::LogLine&)>& line,
                           const mcp::ToolContext* ctx, std::size_t tail_lines) {
  LogRead out;
  // Lines go on in runs (logs/line_run.h): the consumer's per-line redaction then scans a run
  // with one vectorscan call instead of one per line. Same lines, same order, same bytes.
  logs::LineRunBatcher runs([&](std::string_view text, std::string_view level) {
    line(airflow::LogLine{text, level});
  });
  auto sink = [&](const airflow::LogLine& l) {
    if (ctx != nullptr && ctx->cancelled()) {
      out.cancelled = true;
      return false;
    }
    runs.push(l.text, l.level);
    return true;
  };
  airflow::LogRequest req{t.dag_id, t.run_id, t.task_id, t.try_number, t.map_index};
  Status st = tail_lines > 0 ? client.read_task_log_tail(req, tail_lines, sink, &out.stats)
                             : client.read_task_log(req, sink, &out.stats);
  if (!st) return airflow_error(st.error());
  runs.flush();
  out.capped = out.stats.capped;
  return out;
}

Result<logs::Diagnosis> diagnose_try(const Deps& deps, airflow::AirflowClient& client,
                                     const TryRef& t, std::size_t tail_lines,
                                     const mcp::ToolContext* ctx, LogRead* read) {
  const std::size_t cap = log_output_cap(deps);
  logs::DiagnoseOptions opt;
  opt.redactor = deps.redactor;
  opt.categorizer = deps.categorizer;
  opt.max_output_bytes = log_content_budget(cap);
  // tail_lines is bounded once, by the tools' argument declaration (1..caps.tail_lines_max).
  opt.tail.max_lines = opt.tail.hard_max_lines = std::max<std::size_t>(1, tail_lines);
  opt.tail.max_bytes = cap;  // Tail::text() is not used here; no cap of its own
  auto stream = logs::DiagnoseStream::create(opt);
  if (!stream) return stream.error();
  auto r = stream_log(
      client, t, [&](const airflow::LogLine& l) { (*stream)->feed_line(l.text, l.level); }, ctx);
  if (!r) return r.error();
  if (read != nullptr) *read = *r;
  return (*stream)->finish();
}

int64_t seen_at_ms(const TryRef& t, int64_t now_ms) {
  if (t.latest)
    if (auto e = iso_to_ms(t.end_date)) return *e;
  return now_ms;
}

Recorded record_sighting(const Deps& deps, const std::string& env, const TryRef& t,
                         const logs::Diagnosis& d, int64_t seen_at) {
  Recorded out;
  if (!d.found || d.signature.empty()) return out;
  auto s = deps.store();
  if (!s) {
    out.note = "history not recorded (store unavailable: " + s.error().message + ")";
    return out;
  }
  store::Store& st = **s;
  if (auto r = st.record_occurrence({d.signature, t.dag_id, t.run_id, t.task_id, env, seen_at});
      r) {
    out.occurrence = true;
  } else {
    out.note = "sighting not recorded (" + r.error().message + ")";
  }
  if (recovered_by_later_try(t)) return out;  // a retry recovered it: not an incident
  const std::string id = store::incident_id_for(env, t.dag_id, t.run_id);
  const int64_t now = to_ms(deps.clock->now());
  store::Incident inc;
  auto existing = st.get_incident(id);
  if (existing) {
    inc = std::move(*existing);
  } else if (existing.error().code == Errc::not_found) {
    inc.id = id;
    inc.env = env;
    inc.dag_id = t.dag_id;
    inc.run_id = t.run_id;
    inc.state = "open";
    inc.opened_at_ms = now;
    inc.first_failing_task = t.task_id;
  } else {
    out.note += (out.note.empty() ? "" : "; ") + std::string("incident not updated (") +
                existing.error().message + ")";
    return out;
  }
  inc.signature = d.signature;
  inc.category = d.category.name;
  inc.error = deps.redactor->redact(d.error);
  json summary = json::parse(inc.summary_json, nullptr, /*allow_exceptions=*/false);
  if (!summary.is_object()) summary = json::object();
  json facts = diagnosis_facts(d, t);
  redact_json(*deps.redactor, facts);
  summary["diagnose"] = facts;
  json& all = summary["diagnoses"];
  if (!all.is_object()) all = json::object();
  if (!all.contains(d.signature) && all.size() >= kDiagnosesPerIncident) all.erase(all.begin());
  all[d.signature] = facts;
  inc.summary_json = summary.dump(-1, ' ', false, json::error_handler_t::replace);
  inc.updated_at_ms = now;
  if (auto r = st.upsert_incident(inc); r) {
    out.incident_id = id;
  } else {
    out.note += (out.note.empty() ? "" : "; ") + std::string("incident not updated (") +
                r.error().message + ")";
  }
  return out;
}

Result<SignatureInfo> signature_info(store::Store& s, const std::string& signature,
                                     const std::string& dag_id) {
  SignatureInfo info;
  auto occ = s.list_occurrences({signature, dag_id, "", 0, INT64_MAX}, kSightingsForInfo);
  if (!occ) return occ.error();
  for (const auto& o : *occ) {
    auto inc = s.get_incident(store::incident_id_for(o.env, o.dag_id, o.run_id));
    if (!inc) {
      if (inc.error().code == Errc::not_found) continue;
      return inc.error();
    }
    json summary = json::parse(inc->summary_json, nullptr, false);
    const json* facts = nullptr;
    if (summary.is_object() && summary.contains("diagnoses") && summary["diagnoses"].is_object() &&
        summary["diagnoses"].contains(signature))
      facts = &summary["diagnoses"][signature];
    if (facts != nullptr && facts->is_object()) {
      info.found = true;
      info.category = text_of(*facts, "category");
      info.exception_type = text_of(*facts, "exception_type");
      info.error = text_of(*facts, "error");
      info.action = text_of(*facts, "action");
      info.reason = text_of(*facts, "reason");
      return info;
    }
    if (inc->signature == signature) {
      info.found = true;
      info.category = inc->category;
      info.error = inc->error;
      return info;
    }
  }
  return info;
}

}  // namespace dm::runbook::diagnose
