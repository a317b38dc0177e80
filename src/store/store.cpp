#include "store/store.h"

#include <openssl/sha.h>

namespace dm::store {

const char* approval_state_name(ApprovalState s) noexcept {
  switch (s) {
    case ApprovalState::pending:
      return "pending";
    case ApprovalState::approved:
      return "approved";
    case ApprovalState::denied:
      return "denied";
    case ApprovalState::consumed:
      return "consumed";
  }
  return "pending";
}

std::optional<ApprovalState> parse_approval_state(std::string_view s) noexcept {
  if (s == "pending") return ApprovalState::pending;
  if (s == "approved") return ApprovalState::approved;
  if (s == "denied") return ApprovalState::denied;
  if (s == "consumed") return ApprovalState::consumed;
  return std::nullopt;
}

const std::string& genesis_hash() {
  static const std::string g(64, '0');
  return g;
}

Status check_decision(const ApprovalRecord& a, const Decision& d, int64_t now_ms) {
  if (a.state != ApprovalState::pending)
    return make_error(Errc::failed_precondition,
                      "approval " + a.id + " is " + approval_state_name(a.state) + ", not pending");
  if (a.expires_at_ms <= now_ms)
    return make_error(Errc::failed_precondition, "approval " + a.id + " has expired");
  for (const auto& prev : a.decisions) {
    if (prev.principal == d.principal)
      return make_error(Errc::conflict,
                        "principal " + d.principal + " already decided on approval " + a.id);
    if (!d.idp_subject.empty() && prev.idp_subject == d.idp_subject &&
        prev.idp_issuer == d.idp_issuer)
      return make_error(Errc::conflict, "the same person (IdP subject " + d.idp_subject +
                                            ") already decided on approval " + a.id + " as " +
                                            prev.principal);
  }
  return Status::Ok();
}

std::optional<ApprovalState> state_after_decision(const ApprovalRecord& a) {
  if (a.decisions.empty()) return std::nullopt;
  if (!a.decisions.back().approve) return ApprovalState::denied;
  int approvals = 0;
  for (const auto& x : a.decisions) approvals += x.approve ? 1 : 0;
  if (approvals >= a.required_approvals) return ApprovalState::approved;
  return std::nullopt;
}

Error explain_consume_failure(const ApprovalRecord& a, const std::string& params_hash,
                              int64_t now_ms) {
  if (a.params_hash != params_hash)
    return make_error(Errc::failed_precondition,
                      "parameters changed since approval " + a.id +
                          ": the action, environment, DAG, conf or run target differ from "
                          "what was approved; request a new approval");
  switch (a.state) {
    case ApprovalState::consumed:
      return make_error(Errc::conflict, "approval " + a.id + " was already used");
    case ApprovalState::denied:
      return make_error(Errc::failed_precondition, "approval " + a.id + " was denied");
    case ApprovalState::pending:
      if (a.expires_at_ms <= now_ms) break;
      return make_error(Errc::failed_precondition,
                        "approval " + a.id + " is still pending (needs " +
                            std::to_string(a.required_approvals) + " approvals)");
    case ApprovalState::approved:
      break;
  }
  if (a.expires_at_ms <= now_ms)
    return make_error(Errc::failed_precondition, "approval " + a.id + " has expired");
  return make_error(Errc::conflict, "approval " + a.id + " changed concurrently; retry");
}

}  // namespace dm::store

// Defaults for stores that predate these calls; both shipped stores override them.
namespace dm::store {
namespace {
Error unsupported(const Store& s, const char* what) {
  return make_error(Errc::failed_precondition,
                    std::string(s.backend()) + " store: " + what + " is not supported");
}
}  // namespace

Result<std::vector<SignatureGroup>> Store::occurrence_groups(const OccurrenceQuery&, size_t) {
  return unsupported(*this, "occurrence_groups");
}
Result<std::vector<Occurrence>> Store::list_occurrences(const OccurrenceQuery&, size_t) {
  return unsupported(*this, "list_occurrences");
}
Status Store::upsert_incident(const Incident&) { return unsupported(*this, "upsert_incident"); }
Result<Incident> Store::get_incident(const std::string&) {
  return unsupported(*this, "get_incident");
}
Result<std::vector<Incident>> Store::list_incidents(const IncidentQuery&, size_t) {
  return unsupported(*this, "list_incidents");
}
Result<std::optional<WatchCursor>> Store::get_watch_cursor(const std::string&) {
  return unsupported(*this, "get_watch_cursor");
}
Result<std::vector<WatchCursor>> Store::list_watch_cursors() {
  return unsupported(*this, "list_watch_cursors");
}
Status Store::put_watch_cursor(const WatchCursor&, std::optional<int64_t>) {
  return unsupported(*this, "put_watch_cursor");
}
Status Store::mark_watched_run(const WatchedRun&, std::optional<int64_t>) {
  return unsupported(*this, "mark_watched_run");
}
Result<std::vector<WatchedRun>> Store::list_watched_runs(const std::string&, int64_t, size_t) {
  return unsupported(*this, "list_watched_runs");
}
Result<int64_t> Store::prune_watched_runs(const std::string&, int64_t, std::optional<int64_t>) {
  return unsupported(*this, "prune_watched_runs");
}
Result<LeaseGrant> Store::acquire_watch_lease(const std::string&, const std::string&, int64_t,
                                              int64_t) {
  return unsupported(*this, "acquire_watch_lease");
}
Result<bool> Store::release_watch_lease(const std::string&, const std::string&, int64_t) {
  return unsupported(*this, "release_watch_lease");
}
Result<std::vector<WatchLease>> Store::list_watch_leases() {
  return unsupported(*this, "list_watch_leases");
}
Status Store::mark_watched_run_and_enqueue(const WatchedRun&, const std::vector<OutboxMessage>&,
                                           std::optional<int64_t>) {
  return unsupported(*this, "mark_watched_run_and_enqueue");
}
Result<int64_t> Store::enqueue_messages(const std::vector<OutboxMessage>&) {
  return unsupported(*this, "enqueue_messages");
}
Result<std::vector<OutboxMessage>> Store::due_messages(int64_t, size_t) {
  return unsupported(*this, "due_messages");
}
Status Store::record_outbox_attempt(int64_t, const OutboxAttempt&) {
  return unsupported(*this, "record_outbox_attempt");
}
Result<std::vector<OutboxCounts>> Store::outbox_counts() {
  return unsupported(*this, "outbox_counts");
}
Result<std::vector<OutboxMessage>> Store::list_outbox(const std::string&, size_t) {
  return unsupported(*this, "list_outbox");
}

Status check_lease_request(const std::string& env, const std::string& holder, int64_t ttl_ms) {
  if (env.empty()) return make_error(Errc::invalid_argument, "watch lease without an environment");
  if (holder.empty()) return make_error(Errc::invalid_argument, "watch lease without a holder");
  if (ttl_ms <= 0)
    return make_error(
        Errc::invalid_argument,
        "watch lease of " + env + ": ttl must be positive, got " + std::to_string(ttl_ms) + " ms");
  return {};
}

LeaseGrant decide_lease(const WatchLease& current, const std::string& holder, int64_t now_ms,
                        int64_t ttl_ms) {
  const bool live = current.expires_at_ms > now_ms;
  if (live && current.holder != holder) return LeaseGrant{false, current};
  WatchLease next = current;
  next.holder = holder;
  next.expires_at_ms = now_ms + ttl_ms;
  if (!live) {  // a new holding (also `holder` again after an expiry or a release): a new token
    next.token = current.token + 1;
    next.acquired_at_ms = now_ms;
  }
  return LeaseGrant{true, next};
}

Error fenced_error(const std::string& env, int64_t fence, std::optional<int64_t> current) {
  return make_error(
      Errc::failed_precondition,
      "fenced: the lease of environment " + env + " " +
          (current ? "carries token " + std::to_string(*current) : std::string("does not exist")) +
          ", this write carries token " + std::to_string(fence) +
          " (another watcher holds it now); nothing written");
}

bool is_fenced(const Error& e) {
  return e.code == Errc::failed_precondition && e.message.rfind("fenced: ", 0) == 0;
}

std::string incident_id_for(const std::string& env, const std::string& dag_id,
                            const std::string& run_id) {
  std::string key = env;
  key.push_back('\0');
  key += dag_id;
  key.push_back('\0');
  key += run_id;
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), md);
  static const char* hex = "0123456789abcdef";
  std::string out = "inc-";
  for (int i = 0; i < 8; ++i) {
    out.push_back(hex[md[i] >> 4]);
    out.push_back(hex[md[i] & 15]);
  }
  return out;
}

}  // namespace dm::store
