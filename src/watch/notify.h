// Notification payloads of watch mode's outbox (docs/watch.md "Notifications"): what a message
// about an incident looks like for each target kind, and the secrets and headers added when it is
// sent. Pure functions; thread-safe.
//
// Every free text of a message (signature, error line, notes, task id) goes through the
// project's redaction (logs::Redactor) before it is put in a payload, so the stored outbox row
// and what a receiver gets are redacted. Secrets (a PagerDuty routing key, the HMAC key of a json
// target) are never in a stored payload: prepare_request adds them at send time.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.h"
#include "config/config.h"
#include "http/http_client.h"
#include "logs/redact.h"

namespace dm::watch {

// What a message says about one incident (built by the watcher from the handled run).
struct IncidentFacts {
  std::string event_action = "trigger";  // trigger | resolve
  // What failed: "dag_run" (dag_id/run_id name a failed run), "import_error" (run_id holds the
  // DAG file that fails to import; dag_id is "") or "not_succeeding" (the DAG's last runs all
  // failed; run_id is the newest of them) or "late" (no run of dag_id since failed_at_ms, when
  // its schedule expected one) or "stuck" (first_failing_task of run_id has been running or
  // queued far longer than usual since failed_at_ms).
  std::string kind = "dag_run";
  std::string incident_id, env, dag_id, run_id;
  std::string severity;  // sev1 | sev2 | sev3 ("" = unknown)
  std::string first_failing_task, signature, category, error;
  std::vector<std::string> notes;
  int64_t failed_at_ms = 0;  // the run's end (Airflow's clock); 0 = unknown
  // Which failure of the incident this message is about, in its idempotency key (see event_of);
  // 0 = failed_at_ms. Set when failed_at_ms is not stable across retries (an import error's
  // timestamp moves at every parse of its file).
  int64_t occurrence_ms = 0;
  bool opened = false;       // the incident is new
  std::string incident_url;  // notify.base_url + "/incidents/" + id ("" = none)
  std::string approval_url;  // the approval page of a pending approval ("" = none)
};

// The event a message is about: "trigger:<ms>" or "resolve:<ms>", with ms = occurrence_ms, else
// failed_at_ms. So each failure of an incident (a run failing again after a clear, an import
// error coming back) is announced once and resolved once.
std::string event_of(const IncidentFacts& f);

// Lowercase hex SHA-256 of incident_id "\0" event "\0" target: the same for every attempt and
// every enqueue of the same message, so it de-duplicates in the store and at the receiver.
std::string idempotency_key(const std::string& incident_id, const std::string& event,
                            const std::string& target);

// PagerDuty severity of a dagmedic severity: sev1 critical, sev2 error, sev3 warning, else info.
std::string pagerduty_severity(const std::string& sev);

// The stored body for `kind` (slack | pagerduty | teams | json), every free text redacted with
// `r`. A pagerduty body has "routing_key": "" (filled in by prepare_request). invalid_argument
// for an unknown kind.
Result<nlohmann::json> build_payload(const std::string& kind, const IncidentFacts& f,
                                     const logs::Redactor& r);

// The signed content of a json target: timestamp "." body (docs/watch.md "Signed JSON").
// Returns "sha256=" + hex HMAC-SHA256(key, that).
std::string json_signature(const std::string& key, const std::string& timestamp,
                           const std::string& body);

// The request that sends a stored message to `t`: POST, Content-Type application/json,
// Idempotency-Key, timeout t.timeout_seconds (connect timeout at most that, at most 10 s).
// pagerduty: routing_key set from `secret` (the value of t.routing_key_env); json: headers
// X-Dagmedic-Timestamp (unix seconds `now_s`) and X-Dagmedic-Signature over that and the exact
// body, keyed with `secret` (the value of t.secret_env). invalid_argument when the stored
// pagerduty payload is not JSON.
Result<http::Request> prepare_request(const config::NotifyTarget& t, const std::string& payload,
                                      const std::string& key, const std::string& secret,
                                      int64_t now_s);

}  // namespace dm::watch
