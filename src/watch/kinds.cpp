#include "watch/kinds.h"

#include <utility>

#include "common/iso_time.h"
#include "runbook/triage_incident.h"

namespace dm::watch::kinds {

using json = nlohmann::json;

namespace {
// Incidents read per state and cycle (far more than a team keeps open).
constexpr std::size_t kIncidentsMax = 10'000;
}  // namespace

json summary_of(const store::Incident& i) {
  json j = json::parse(i.summary_json, nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : json::object();
}

std::string kind_of(const json& summary) {
  auto k = summary.find("kind");
  return k != summary.end() && k->is_string() ? k->get<std::string>() : std::string("dag_run");
}

std::string str_at(const json& j, const char* obj, const char* key) {
  auto o = j.find(obj);
  if (o == j.end() || !o->is_object()) return "";
  auto v = o->find(key);
  return v != o->end() && v->is_string() ? v->get<std::string>() : std::string();
}

int64_t int_at(const json& j, const char* obj, const char* key) {
  auto o = j.find(obj);
  if (o == j.end() || !o->is_object()) return 0;
  auto v = o->find(key);
  return v != o->end() && v->is_number_integer() ? v->get<int64_t>() : 0;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::vector<store::Incident> incidents_in(store::Store& s, const std::string& env,
                                          const std::string& state, int64_t updated_from_ms,
                                          std::string& error) {
  store::IncidentQuery q;
  q.env = env;
  q.state = state;
  q.updated_from_ms = updated_from_ms;
  auto l = s.list_incidents(q, kIncidentsMax);
  if (!l) {
    error = l.error().message;
    return {};
  }
  return std::move(*l);
}

bool load(store::Store& s, const std::string& id, const std::string& what,
          std::optional<store::Incident>& out, EnvReport& rep) {
  out.reset();
  auto got = s.get_incident(id);
  if (got) {
    out = std::move(*got);
    return true;
  }
  if (got.error().code == Errc::not_found) return true;
  rep.notes.push_back(what + " not recorded: " + got.error().message);
  return false;
}

store::Incident reopen_or_new(std::optional<store::Incident> before, const std::string& id,
                              const std::string& env, const std::string& dag_id,
                              const std::string& run_id, int64_t now_ms) {
  store::Incident inc = before.value_or(store::Incident{});
  if (!before) {
    inc.id = id;
    inc.env = env;
    inc.dag_id = dag_id;
    inc.opened_at_ms = now_ms;
  }
  inc.run_id = run_id;
  inc.state = "open";
  inc.updated_at_ms = now_ms;
  return inc;
}

IncidentFacts facts_of(const store::Incident& inc, const std::string& kind,
                       const std::string& severity, int64_t at_ms, bool opened) {
  IncidentFacts f;
  f.kind = kind;
  f.incident_id = inc.id;
  f.env = inc.env;
  f.dag_id = inc.dag_id;
  f.run_id = inc.run_id;
  f.severity = severity;
  f.first_failing_task = inc.first_failing_task;
  f.signature = inc.signature;
  f.category = inc.category;
  f.error = inc.error;
  f.failed_at_ms = at_ms;
  f.opened = opened;
  return f;
}

HandledRun entry_of(const store::Incident& inc, const std::string& kind,
                    const std::string& severity, const std::string& at, bool opened) {
  HandledRun h;
  h.kind = kind;
  h.dag_id = inc.dag_id;
  h.run_id = inc.run_id;
  h.end_date = at;
  h.incident_id = inc.id;
  h.opened = opened;
  h.first_failing_task = inc.first_failing_task;
  h.severity = severity;
  h.signature = inc.signature;
  h.category = inc.category;
  return h;
}

bool record(store::Store& s, const Outbox* outbox, const store::Incident& inc, IncidentFacts facts,
            HandledRun entry, const std::string& what, EnvReport& rep) {
  if (outbox && outbox->enabled()) {
    auto m = outbox->messages_for(std::move(facts), s);
    auto q = m ? s.enqueue_messages(*m) : Result<int64_t>(m.error());
    if (!q) {
      rep.notes.push_back(what + " not announced: " + q.error().message);
      return false;
    }
  }
  if (auto w = s.upsert_incident(inc); !w) {
    rep.notes.push_back(what + " not recorded: " + w.error().message);
    return false;
  }
  if (entry.opened) ++rep.opened;
  rep.handled.push_back(std::move(entry));
  return true;
}

void mark_recovered(const runbook::Deps& deps, store::Incident inc, const std::string& reason,
                    int64_t now_ms, EnvReport& rep) {
  json facts = {{"verdict", "recovered"}, {"reason", reason}, {"checked_at", ms_to_iso(now_ms)}};
  const std::string id = inc.id;
  if (auto st = runbook::set_incident_state(deps, std::move(inc), "recovered", std::move(facts));
      st)
    rep.recovered.push_back(id);
  else
    rep.notes.push_back("incident " + id + " not moved to recovered: " + st.error().message);
}

}  // namespace dm::watch::kinds
