// Watch mode's notification outbox (docs/watch.md "Notifications"): messages about incidents are
// written to the store (store::OutboxMessage, one row per (message, target)) in the same
// transaction that marks their run handled, then sent after each cycle by deliver_due.
//
// Guarantees:
// - At-least-once. A message is marked delivered only after its receiver answered 2xx; a crash
//   before that mark sends it again later (with the same Idempotency-Key header). Nothing is lost
//   across a crash: the row is written with the run's mark, or neither is.
// - Idempotency key: sha256(incident id, event, target), the same on every attempt and enqueue.
// - Retries: 5xx, 408, 429 and transport errors (refused, timeout, reset) are retried with
//   exponential backoff and full jitter: the n-th retry waits uniform[0, min(backoff_max,
//   backoff_initial * 2^(n-1))). After the target's max_attempts attempts the message is dead.
//   Any other status (4xx, 3xx: redirects are not followed) is dead at once. A Retry-After header
//   on a retried answer (delta-seconds or HTTP-date) delays the next attempt at least that long
//   (at most backoff_max), and the target's other due messages wait for a later pass.
// - A receiver that hangs costs one timeout (the target's timeout_seconds) per delivery pass:
//   after a timeout or a transport error, the target's other due messages wait for the next pass
//   (they are not charged an attempt).
// Thread-safety: an Outbox is immutable after construction except for its random source, which
// deliver_due uses; call deliver_due from one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "config/config.h"
#include "http/http_client.h"
#include "logs/redact.h"
#include "store/store.h"
#include "watch/notify.h"

namespace dm::watch {

// What start-up (app) or a test gives the outbox.
struct OutboxDeps {
  std::shared_ptr<http::HttpClient> http;  // never null: the HTTP seam (tests: FakeHttpClient)
  std::shared_ptr<Clock> clock;            // never null
  // The value of the environment variable a target names (secret_env, routing_key_env).
  // Errors (e.g. unset or empty) are the message's last_error, and the message is retried.
  std::function<Result<std::string>(const std::string& var)> secret;
  // Uniform in [0, 1): the backoff's jitter. Unset: a std::mt19937_64 from std::random_device.
  std::function<double()> random;
  // The approval page of approval `id` (app: the served page, or auth.approval_page.public_url).
  // Unset: messages carry no approval link.
  std::function<std::string(const std::string& id)> approval_url;
};

// What one delivery pass did.
struct DeliveryReport {
  bool ok = true;  // false when the store could not be read (error says why)
  std::string error;
  std::size_t attempted = 0, delivered = 0, retried = 0, dead = 0;
  std::size_t deferred = 0;  // due, but their target failed earlier in this pass
  std::vector<std::string> notes;
};

// `dagmedic watch status`'s outbox part.
struct OutboxStatus {
  std::vector<store::OutboxCounts> targets;  // every configured target, then any other name
  std::vector<store::OutboxMessage> dead;    // newest first, at most 100 (payload omitted)
};

class Outbox {
 public:
  // `settings` and `redactor` are copied / shared; `d.http` and `d.clock` must not be null.
  Outbox(config::NotifySettings settings, std::shared_ptr<const logs::Redactor> redactor,
         OutboxDeps d);

  // At least one target is configured.
  bool enabled() const { return !settings_.targets.empty(); }
  const config::NotifySettings& settings() const { return settings_; }

  // Every variable the targets name is set: failed_precondition naming the key and variable.
  Status check_secrets() const;

  // One message per target for `f` (pending, due now), payloads redacted. incident_url is filled
  // from notify.base_url when empty; approval_url, when empty, from the newest pending approval
  // in `s` that concerns the incident (pending_approval_for), unless f is a resolve or no
  // approval page is known. Errors: a payload that cannot be built (a bug); a store that cannot
  // list approvals only costs the link.
  Result<std::vector<store::OutboxMessage>> messages_for(IncidentFacts f, store::Store& s) const;

  // The delay before the next attempt after `attempts_made` failed ones (>= 1): full jitter.
  std::chrono::milliseconds backoff(int64_t attempts_made) const;

  // Sends the due messages (at most notify.max_per_cycle), recording each attempt.
  DeliveryReport deliver_due(store::Store& s);

 private:
  config::NotifySettings settings_;
  std::shared_ptr<const logs::Redactor> redactor_;
  OutboxDeps d_;
};

// The newest approval in `approvals` that is pending, unexpired at `now_ms`, in f.env, and whose
// parameters name f.dag_id and, when both name a run, f.run_id: the write a human is asked to
// approve for this incident. nullopt: none.
std::optional<store::ApprovalRecord> pending_approval_for(
    const std::vector<store::ApprovalRecord>& approvals, const IncidentFacts& f, int64_t now_ms);

// Counts per target and the dead letters. Errors: the store's.
Result<OutboxStatus> outbox_status(store::Store& s, const config::NotifySettings& n);
std::string format_outbox_status(const OutboxStatus& o);
nlohmann::json outbox_status_json(const OutboxStatus& o);
nlohmann::json delivery_json(const DeliveryReport& r);

}  // namespace dm::watch
