// Internal to src/watch: what the follow-up passes (followup.h) share about the incidents the
// watcher opens itself — kinds other than a failed run's, told apart by summary_json "kind" — and
// about reading incidents back. Not thread-safe: used by one Watcher's cycle.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "runbook/deps.h"
#include "store/store.h"
#include "watch/notify.h"
#include "watch/outbox.h"
#include "watch/watch.h"

namespace dm::watch::kinds {

// summary_json as an object ({} when empty or not an object).
nlohmann::json summary_of(const store::Incident& i);
// summary_json "kind": "dag_run" when absent (a failed run's incident, as the tools open).
std::string kind_of(const nlohmann::json& summary);
// summary[obj][key] as a string / an integer ("" / 0 when absent or of another type).
std::string str_at(const nlohmann::json& summary, const char* obj, const char* key);
int64_t int_at(const nlohmann::json& summary, const char* obj, const char* key);
std::string dump(const nlohmann::json& j);  // for summary_json: invalid UTF-8 replaced

// The incidents of `env` in `state` updated since `updated_from_ms`. On a store error, `error`
// says why and the list is empty.
std::vector<store::Incident> incidents_in(store::Store& s, const std::string& env,
                                          const std::string& state, int64_t updated_from_ms,
                                          std::string& error);

// The stored incident `id` into `out` (nullopt: none yet). false, with the note "<what> not
// recorded: …", when the store fails.
bool load(store::Store& s, const std::string& id, const std::string& what,
          std::optional<store::Incident>& out, EnvReport& rep);

// `before` reopened, or a new incident (id, env, dag_id, run_id; opened now): state open,
// updated now. Summary, category and the rest are the caller's.
store::Incident reopen_or_new(std::optional<store::Incident> before, const std::string& id,
                              const std::string& env, const std::string& dag_id,
                              const std::string& run_id, int64_t now_ms);

// What a trigger message says about `inc` (kind, ids, severity, task, signature, category, error,
// failed_at_ms = at_ms).
IncidentFacts facts_of(const store::Incident& inc, const std::string& kind,
                       const std::string& severity, int64_t at_ms, bool opened);
// The cycle report's entry for `inc` (end_date = at, an ISO time).
HandledRun entry_of(const store::Incident& inc, const std::string& kind,
                    const std::string& severity, const std::string& at, bool opened);

// Records a new or reopened incident of the watcher's own kinds. Its messages first (when
// `outbox` has targets), then the incident: a crash in between enqueues them again at the next
// cycle under the same idempotency keys (a no-op), and no incident is left unannounced. On
// success `entry` joins rep.handled and rep.opened counts it when entry.opened; otherwise a note
// ("<what> not announced: …" / "not recorded: …") and false.
bool record(store::Store& s, const Outbox* outbox, const store::Incident& inc, IncidentFacts facts,
            HandledRun entry, const std::string& what, EnvReport& rep);

// Moves `inc` to recovered (set_incident_state: verify {verdict recovered, reason, checked_at
// now}) and lists it in rep.recovered; a note when the store fails.
void mark_recovered(const runbook::Deps& deps, store::Incident inc, const std::string& reason,
                    int64_t now_ms, EnvReport& rep);

}  // namespace dm::watch::kinds
