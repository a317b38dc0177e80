// Store seam: approvals, the audit chain and incident occurrences behind one interface.
// Two implementations: SQLite (default, embedded, one file; sqlite_store.h) and PostgreSQL
// (several dagmedic replicas sharing approvals and audit; pg_store.h). The guard layer builds the
// rules on top (who may approve, hashing, HMAC); the store only guarantees atomic state changes.
//
// Contract common to every implementation:
// - Errors are values. Nothing throws out of a Store. A write that cannot be made durable
//   (read-only file, disk full, database down) returns an error; nothing is silently dropped.
// - Thread-safety: every method may be called from any thread; calls on ONE Store object are
//   serialized by an internal mutex (one connection per object). For parallelism open several
//   Store objects (several connections); the atomicity guarantees below hold across objects and
//   across processes/replicas sharing the same file or database.
// - Times are milliseconds since the Unix epoch (UTC), supplied by the caller (dm::Clock), so the
//   store never reads a clock itself.
// - Schema migrations are versioned (table schema_version) and applied at open.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace dm::store {

enum class ApprovalState { pending, approved, denied, consumed };
const char* approval_state_name(ApprovalState s) noexcept;
std::optional<ApprovalState> parse_approval_state(std::string_view s) noexcept;

// One human (or agent) decision on an approval.
struct Decision {
  std::string principal{};  // normalized principal id
  bool approve = false;     // false = deny
  std::string reason{};
  int64_t at_ms = 0;
  // The identity provider's word for the decider (auth: on, the approval page's OIDC sign-in):
  // its issuer and subject ("" when the decision was not made through the IdP). N-of-M counts
  // distinct (idp_issuer, idp_subject): the same person under two principal spellings counts once.
  std::string idp_issuer{};
  std::string idp_subject{};
};

// A request to run one write with exactly these parameters.
struct ApprovalRecord {
  std::string id{};
  std::string action{};
  std::string env{};
  std::string tier{};
  std::string params_json{};  // canonical JSON the hash was computed over (for display/audit)
  std::string params_hash{};  // lowercase hex SHA-256 of params_json
  std::string requester{};
  bool requester_is_agent = false;
  // The human an agent requester acts for ("" = none recorded): part of the requester set, so
  // that person can never approve the request either.
  std::string requester_for{};
  std::string reason{};
  int64_t created_at_ms = 0;
  int64_t expires_at_ms = 0;
  int required_approvals = 1;
  ApprovalState state = ApprovalState::pending;
  int64_t decided_at_ms = 0;        // when it became approved/denied (0 while pending)
  int64_t consumed_at_ms = 0;       // 0 unless consumed
  std::vector<Decision> decisions;  // in decision order
};

// One link of the audit hash chain, as stored.
struct AuditRow {
  int64_t seq = 0;  // 1, 2, 3 … without gaps
  int64_t time_ms = 0;
  std::string prev_hash{};  // hex; 64 zeros for seq 1
  std::string hash{};       // hex SHA-256(prev_hash || body)
  std::string body{};       // canonical JSON of the entry (includes seq and time)
};

// The last link of the chain (seq 0 and 64 zeros when empty).
struct AuditHead {
  int64_t seq = 0;
  std::string hash{};
};

// A signed anchor of the chain head (the MAC is computed by the guard layer).
struct Checkpoint {
  int64_t seq = 0;
  std::string hash{};
  int64_t time_ms = 0;
  std::string mac{};  // hex HMAC-SHA256
};

// What an audit append writes: the new row, and optionally a checkpoint written in the same
// transaction.
struct AuditAppend {
  AuditRow row;
  std::optional<Checkpoint> checkpoint;
};
// Builds the next row from the current head. Called with the chain locked; must not call back into
// the store. An error aborts the append (nothing is written).
using AuditBuilder = std::function<Result<AuditAppend>(const AuditHead& head)>;

// A sighting of an error signature in a task run (read-side tools: failure_frequency…).
// seen_at_ms is when the failure happened (the failed try's end), not when a tool looked at it.
struct Occurrence {
  std::string signature{};
  std::string dag_id{};
  std::string run_id{};
  std::string task_id{};
  std::string env{};
  int64_t seen_at_ms = 0;
};
// Filter for occurrence_stats: empty strings match anything; window is [from_ms, to_ms).
struct OccurrenceQuery {
  std::string signature{};
  std::string dag_id{};
  std::string env{};
  int64_t from_ms = 0;
  int64_t to_ms = INT64_MAX;
};
struct OccurrenceStats {
  int64_t count = 0;
  int64_t first_seen_ms = 0;  // 0 when count == 0
  int64_t last_seen_ms = 0;
  int64_t distinct_runs = 0;  // distinct (dag_id, run_id)
  int64_t distinct_dags = 0;
};

// failure_frequency: one signature's history.
struct SignatureGroup {
  std::string signature{};
  OccurrenceStats stats;
  std::vector<std::string> dag_ids;   // distinct, most recently seen first, at most 20
  std::vector<std::string> task_ids;  // distinct, most recently seen first, at most 20
};

// One incident: a failed DAG run dagmedic looked at. The id is stable per (env, dag_id, run_id)
// (incident_id_for), so looking at the same failure twice updates one incident.
struct Incident {
  std::string id{};
  std::string env{};
  std::string dag_id{};
  std::string run_id{};
  std::string state = "open";  // open | recovered | escalated
  std::string signature{};     // "" until diagnosed
  std::string category{};
  std::string first_failing_task{};
  std::string error{};          // redacted root-cause line
  std::string summary_json{};   // redacted JSON object (triage/diagnose facts), "{}" when none
  std::string postmortem_md{};  // "" until a postmortem is written
  int64_t opened_at_ms = 0;     // kept from the first upsert
  int64_t updated_at_ms = 0;
  // When the incident was first diagnosed: set by the store once, by the upsert that stores the
  // first non-empty signature (to this field if non-zero, else to that upsert's updated_at_ms),
  // and never changed afterwards (a re-diagnosis keeps it). 0 = not diagnosed yet, or diagnosed
  // by a dagmedic older than schema version 3 (unknown). Ignored by upserts otherwise.
  int64_t diagnosed_at_ms = 0;
};
struct IncidentQuery {
  std::string env{};     // "" = any
  std::string dag_id{};  // "" = any
  std::string state{};   // "" = any
  int64_t updated_from_ms = 0;
};

// Watch mode (src/watch/, docs/watch.md): one row per environment with the loop's durable cursor
// and what its last cycle did. Times as everywhere in the store: ms since the epoch, from the
// caller. cursor_ms is on AIRFLOW's clock (the newest end_date handled), last_cycle_ms on
// dagmedic's.
struct WatchCursor {
  std::string env{};
  int64_t cursor_ms = 0;         // newest failed-run end time handled; 0 = no cycle read yet
  int64_t last_cycle_ms = 0;     // when the last cycle finished (0 = never)
  std::string last_outcome{};    // "ok" | "error" ("" = never)
  std::string last_message{};    // what the last cycle said (an error's message when "error")
  int64_t cycles = 0;            // cycles run
  int64_t incidents_opened = 0;  // incidents opened by the watcher, all cycles
  int64_t last_opened = 0;       // of those, by the last cycle
};
// A failed run the watcher has handled (its de-duplication key is (env, dag_id, run_id)).
struct WatchedRun {
  std::string env{};
  std::string dag_id{};
  std::string run_id{};
  int64_t end_ms = 0;      // the run's end (Airflow's clock)
  int64_t handled_ms = 0;  // when the watcher handled it (dagmedic's clock)
  std::string incident_id{};
};

// Watch mode's notification outbox (schema 7; docs/watch.md "Notifications"): one row per
// (message, target). The payload is stored already redacted and without secrets (a PagerDuty
// routing key, a signature are added when the message is sent).
struct OutboxMessage {
  int64_t id = 0;                 // assigned by the store
  std::string idempotency_key{};  // unique: enqueueing the same key again is a no-op
  std::string target{};           // notify.targets name
  std::string kind{};             // slack | pagerduty | teams | json
  std::string incident_id{};
  std::string event{};            // what the message says, e.g. "trigger:<end ms>", "resolve"
  std::string payload{};          // the body, redacted, without secrets
  std::string state = "pending";  // pending | delivered | dead
  int64_t attempts = 0;           // attempts made
  int64_t next_attempt_ms = 0;    // a pending message is due at or after this (dagmedic's clock)
  std::string last_error{};       // why the last attempt failed ("" = none yet)
  int64_t created_ms = 0;
  int64_t done_ms = 0;  // when it was delivered or dead-lettered (0 while pending)
};
// The outcome of one delivery attempt (record_outbox_attempt).
struct OutboxAttempt {
  std::string state{};  // pending (retry at next_attempt_ms) | delivered | dead
  int64_t next_attempt_ms = 0;
  std::string last_error{};
  int64_t at_ms = 0;
};
// Per target: how many messages are in each state.
struct OutboxCounts {
  std::string target{};
  int64_t pending = 0, delivered = 0, dead = 0;
};

// Watch mode with several watchers (schema 8; docs/watch.md "Several watchers: leases"): the lease
// of one environment, one row per environment. The holder watches the environment until
// expires_at_ms (the holders' clocks: keep them in sync far better than a lease period) and puts
// its fencing token on every write of the environment's watch state (the `fence` parameters
// below), which the store refuses once another holder has been granted the lease.
struct WatchLease {
  std::string env{};
  std::string holder{};  // who holds or last held it (e.g. "host:pid")
  // Fencing token: grows by one at every grant that is not a live renewal, so one token names one
  // uninterrupted holding; never reused, never decreasing.
  int64_t token = 0;
  int64_t expires_at_ms = 0;   // the lease is live while now < expires_at_ms; 0 once released
  int64_t acquired_at_ms = 0;  // when this token was granted
};
// What acquire_watch_lease decided.
struct LeaseGrant {
  bool granted = false;  // true: `lease` is the caller's (new or renewed)
  WatchLease lease;      // granted ? the caller's lease : the live lease of its other holder
};

// "inc-" + the first 16 hex digits of SHA-256(env "\0" dag_id "\0" run_id).
std::string incident_id_for(const std::string& env, const std::string& dag_id,
                            const std::string& run_id);

class Store {
 public:
  virtual ~Store() = default;

  // "sqlite" or "postgres".
  virtual const char* backend() const noexcept = 0;

  // ---- approvals ----
  // Inserts a new pending approval (decisions ignored). conflict if the id exists.
  virtual Status create_approval(const ApprovalRecord& a) = 0;
  // not_found if unknown.
  virtual Result<ApprovalRecord> get_approval(const std::string& id) = 0;
  // Newest first, at most `limit`.
  virtual Result<std::vector<ApprovalRecord>> list_approvals(ApprovalState state, size_t limit) = 0;
  // Atomically records one decision on a PENDING, unexpired approval (expires_at_ms > now_ms):
  // a deny moves it to denied; an approve that brings the number of distinct approving principals
  // to required_approvals moves it to approved. Errors: not_found; failed_precondition if not
  // pending or expired; conflict if this principal already decided. Returns the updated record.
  // (Who may decide is the guard's business; the store enforces state and uniqueness.)
  virtual Result<ApprovalRecord> record_decision(const std::string& id, const Decision& d,
                                                 int64_t now_ms) = 0;
  // Atomically moves an APPROVED, unexpired approval whose params_hash equals `params_hash` to
  // consumed. Exactly one of any number of concurrent callers (any connection/replica) succeeds.
  // Errors: not_found; failed_precondition "parameters changed since approval" on hash mismatch;
  // conflict if already consumed; failed_precondition if denied, pending or expired.
  virtual Result<ApprovalRecord> consume_approval(const std::string& id,
                                                  const std::string& params_hash,
                                                  int64_t now_ms) = 0;

  // ---- audit chain ----
  // Serialized across connections/replicas: reads the head, calls `build`, inserts its row
  // (must be head.seq+1 and chain onto head.hash, else internal error) and moves the head, in one
  // transaction. Returns the row written.
  virtual Result<AuditRow> append_audit(const AuditBuilder& build) = 0;
  // Rows with from_seq <= seq, ascending, at most `limit`.
  virtual Result<std::vector<AuditRow>> read_audit(int64_t from_seq, size_t limit) = 0;
  virtual Result<AuditHead> audit_head() = 0;
  virtual Status put_checkpoint(const Checkpoint& c) = 0;
  // All checkpoints, ascending by seq.
  virtual Result<std::vector<Checkpoint>> checkpoints() = 0;

  // ---- incidents / signature occurrences ----
  // Idempotent per (signature, env, dag_id, run_id, task_id): recording the same sighting again
  // keeps one row (the earliest seen_at_ms), so re-running a diagnosis never inflates counts.
  virtual Status record_occurrence(const Occurrence& o) = 0;
  virtual Result<OccurrenceStats> occurrence_stats(const OccurrenceQuery& q) = 0;
  // Occurrences matching `q`, grouped by signature, most occurrences first (ties: most recent
  // last_seen first), at most `limit` groups.
  virtual Result<std::vector<SignatureGroup>> occurrence_groups(const OccurrenceQuery& q,
                                                                size_t limit);
  // Occurrences matching `q`, newest first, at most `limit`.
  virtual Result<std::vector<Occurrence>> list_occurrences(const OccurrenceQuery& q, size_t limit);

  // ---- incidents ----
  // Inserts, or updates every field of the incident with this id except opened_at_ms and
  // diagnosed_at_ms (set once, see Incident); an empty signature/category/first_failing_task/
  // error/summary_json/postmortem_md in `i` keeps the stored value (so a later partial update
  // never erases a diagnosis).
  virtual Status upsert_incident(const Incident& i);
  // not_found if unknown.
  virtual Result<Incident> get_incident(const std::string& id);
  // Most recently updated first, at most `limit`.
  virtual Result<std::vector<Incident>> list_incidents(const IncidentQuery& q, size_t limit);

  // ---- watch mode ----
  // Fencing (watch.lease, several watchers): a write below called with `fence` set to a token is
  // made only if the lease of the row's environment still carries that token, checked in the
  // write's own transaction against a concurrent grant (PostgreSQL: the lease row is locked FOR
  // SHARE; SQLite: the write lock). A stale token writes nothing and fails with
  // failed_precondition, message "fenced: …" (is_fenced). Without a fence (nullopt: one watcher,
  // leases off) the write is made as before.
  //
  // The environment's cursor row; nullopt when the watcher never recorded a cycle for it.
  virtual Result<std::optional<WatchCursor>> get_watch_cursor(const std::string& env);
  // Every environment's row, by env.
  virtual Result<std::vector<WatchCursor>> list_watch_cursors();
  // Inserts or replaces the row of c.env (every field).
  virtual Status put_watch_cursor(const WatchCursor& c,
                                  std::optional<int64_t> fence = std::nullopt);
  // Records a handled run; one row per (env, dag_id, run_id). A second call with the same or an
  // older end_ms keeps the row and succeeds (idempotent); one with a newer end_ms (the run failed
  // again after a clear) replaces end_ms, handled_ms and incident_id.
  virtual Status mark_watched_run(const WatchedRun& r, std::optional<int64_t> fence = std::nullopt);
  // The handled runs of `env` whose end_ms >= from_end_ms, at most `limit`, newest end first.
  virtual Result<std::vector<WatchedRun>> list_watched_runs(const std::string& env,
                                                            int64_t from_end_ms, size_t limit);
  // Forgets the handled runs of `env` that ended before `before_end_ms` (the cursor has moved
  // past them by more than the overlap, so no cycle asks for them again). Returns how many.
  virtual Result<int64_t> prune_watched_runs(const std::string& env, int64_t before_end_ms,
                                             std::optional<int64_t> fence = std::nullopt);

  // ---- watch mode: leases (several watchers on one store) ----
  // Atomically across connections and processes: when env's lease is free (no row yet, expired:
  // expires_at_ms <= now_ms, or released) or held live by `holder`, grants it to `holder` until
  // now_ms + ttl_ms and returns {granted: true, the lease}; otherwise changes nothing and returns
  // {granted: false, the other holder's live lease}. The token is kept when `holder` renews a
  // lease it holds live, and is the previous token + 1 at any other grant (a takeover, a new row,
  // or `holder` again after its lease expired or was released). Errors: invalid_argument for an
  // empty env or holder or ttl_ms <= 0; the store's.
  virtual Result<LeaseGrant> acquire_watch_lease(const std::string& env, const std::string& holder,
                                                 int64_t now_ms, int64_t ttl_ms);
  // Releases env's lease if `holder` holds it with `token` (expires_at_ms = 0; the row and its
  // token stay, so the next grant gets a higher token): another watcher may take it at once.
  // Returns whether it did (false: not held with that token any more; nothing changed).
  virtual Result<bool> release_watch_lease(const std::string& env, const std::string& holder,
                                           int64_t token);
  // Every environment's lease row (live, expired or released), by env.
  virtual Result<std::vector<WatchLease>> list_watch_leases();

  // ---- watch mode: the notification outbox ----
  // In ONE transaction: mark_watched_run(r) and insert each message (state pending, attempts 0;
  // its id ignored). A message whose idempotency_key is already stored is skipped (whatever its
  // state), so repeating the call after a crash neither loses nor duplicates a message. Either
  // everything is written or nothing (error).
  // With `fence`: only while r.env's lease carries that token (see "Fencing" above).
  virtual Status mark_watched_run_and_enqueue(const WatchedRun& r,
                                              const std::vector<OutboxMessage>& messages,
                                              std::optional<int64_t> fence = std::nullopt);
  // Inserts messages like mark_watched_run_and_enqueue, without a run. Returns how many were new.
  virtual Result<int64_t> enqueue_messages(const std::vector<OutboxMessage>& messages);
  // Pending messages with next_attempt_ms <= now_ms, oldest (next_attempt_ms, id) first, at most
  // `limit`.
  virtual Result<std::vector<OutboxMessage>> due_messages(int64_t now_ms, size_t limit);
  // Records an attempt on a PENDING message: attempts + 1, and a.state / next_attempt_ms /
  // last_error (done_ms = a.at_ms when delivered or dead). failed_precondition when the message is
  // not pending any more (another sender finished it), not_found when there is no such id.
  virtual Status record_outbox_attempt(int64_t id, const OutboxAttempt& a);
  // Per target (by name), the number of messages in each state.
  virtual Result<std::vector<OutboxCounts>> outbox_counts();
  // Messages in `state` ("" = any), newest (id) first, at most `limit`.
  virtual Result<std::vector<OutboxMessage>> list_outbox(const std::string& state, size_t limit);
};

// Hex string of 64 '0': prev_hash of the first audit row and hash of the empty chain.
const std::string& genesis_hash();

// The rules of record_decision, shared by the implementations (inside their transaction):
// check_decision refuses a decision on an approval that is not pending (failed_precondition), has
// expired (failed_precondition) or that `d.principal` — or the same IdP subject (idp_issuer,
// idp_subject, when set) under another principal — already decided (conflict);
// state_after_decision, given the record with the new decision appended, is denied on a denial,
// approved once enough approvals are in, and nullopt while it stays pending.
Status check_decision(const ApprovalRecord& a, const Decision& d, int64_t now_ms);
std::optional<ApprovalState> state_after_decision(const ApprovalRecord& a);

// The rules of acquire_watch_lease, shared by the implementations: check_lease_request refuses
// an empty env or holder and ttl_ms <= 0 (invalid_argument); decide_lease, given env's current row
// (token 0 and holder "" when there is none), says whether `holder` gets it and with which row.
Status check_lease_request(const std::string& env, const std::string& holder, int64_t ttl_ms);
LeaseGrant decide_lease(const WatchLease& current, const std::string& holder, int64_t now_ms,
                        int64_t ttl_ms);
// The error of a write whose fence is stale: failed_precondition, "fenced: …", naming env, the
// write's token and the lease's current one (nullopt: env has no lease row).
Error fenced_error(const std::string& env, int64_t fence, std::optional<int64_t> current);
// `e` is a fenced write's error (another watcher holds the environment now).
bool is_fenced(const Error& e);

// Explains why consume_approval's conditional update matched nothing, given the current row.
// Shared by the implementations so both report the same errors.
Error explain_consume_failure(const ApprovalRecord& a, const std::string& params_hash,
                              int64_t now_ms);

}  // namespace dm::store
