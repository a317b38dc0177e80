// Approvals bound to exact parameters (docs/guard.md).
//
// A write (trigger a DAG, clear failed tasks) runs only with an approval that:
// - was requested for exactly this action, environment, DAG and conf / run target — the request
//   stores params_hash = SHA-256(canonical JSON, see params_document()) and consume() recomputes it
//   from what is about to run: any changed parameter fails with "parameters changed since
//   approval";
// - was approved by enough DISTINCT humans (required_by_tier: dev 1, prod configurable >= 1), none
//   of them in the requester set (the requester, and the human an agent requester acts for) and
//   none flagged as an agent; each approve/deny needs a reason;
// - is not denied, not expired (pending TTL, default 1 h, from the injected Clock) and not used:
//   consume() succeeds exactly once, atomically across replicas sharing the store.
// run_id_for() gives the Airflow run id to trigger with, so a retried trigger cannot start a second
// run (Airflow answers 409 for a duplicate run id).
//
// Thread-safety: all methods may be called concurrently (the Store serializes and decides races).
// Errors: invalid_argument (malformed input), permission_denied (self-approval, agent approval),
// not_found, conflict (same principal twice, already used), failed_precondition (expired, denied,
// pending, parameters changed), and whatever the store returns (unavailable…).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "guard/audit.h"
#include "store/store.h"

namespace dm::guard {

// Who asks or decides. Ids are normalized (trimmed, ASCII lower-cased) before any comparison, so
// "Alice" cannot approve a request by "alice".
struct Principal {
  std::string id;
  bool is_agent = false;  // an AI agent / service identity: may request and deny, never approve
  // For an agent: the human it acts for (from the caller's verified token). A request records
  // them with the requester (ApprovalRecord::requester_for): they can never approve it either.
  std::string acting_for{};
  // The identity provider's word for a decider who signed in through it (the approval page's
  // OIDC sign-in): issuer and subject, recorded with the decision. N-of-M counts distinct
  // (idp_issuer, idp_subject). Both empty when the identity did not come from an IdP.
  std::string idp_issuer{};
  std::string idp_subject{};
};

// The parameters an approval is bound to (besides action and environment).
struct ActionParams {
  std::string dag_id;
  // trigger_dag conf; must be a JSON object (empty object when none).
  nlohmann::json conf = nlohmann::json::object();
  // Run target for clear_failed_tasks: the run and (optionally) the tasks. Empty for trigger_dag.
  std::string run_id;
  std::vector<std::string> task_ids;  // treated as a set: order and duplicates don't matter
};

struct ApprovalPolicy {
  // Distinct human approvals needed per environment tier. Unknown tiers are refused.
  std::map<std::string, int, std::less<>> required_by_tier{{"dev", 1}, {"prod", 2}};
  std::chrono::seconds max_ttl{std::chrono::hours(24)};
  // auth: configured: an approval counts only when its approver carries an IdP identity
  // (Principal::idp_subject); approve() without one is permission_denied. Denials stay open to
  // any identified principal (a denial only stops a write).
  bool require_idp_approvers = false;
};

// {"action","conf","dag_id","environment","run_id","task_ids"} as canonical JSON (canonical.h);
// task_ids sorted and de-duplicated. invalid_argument if a field is malformed.
Result<std::string> params_document(std::string_view action, const ActionParams& params,
                                    std::string_view env);
// Lowercase hex SHA-256 of params_document().
Result<std::string> params_hash(std::string_view action, const ActionParams& params,
                                std::string_view env);

// The deterministic Airflow dag_run_id for an approved write: "dagmedic__<approval id>".
std::string run_id_for(const store::ApprovalRecord& approval);

class Approvals {
 public:
  // `store` and `clock` must be non-null; both are shared and must be thread-safe.
  // invalid policies (a tier requiring < 1 approval) are clamped to 1.
  // With `audit`, every request, decision and consume — refused ones included — appends an audit
  // event (principal, tool, params_hash as args_digest, decision, approval id/event, outcome). If
  // that append fails the call returns the audit error (fail closed), even if the store changed.
  Approvals(std::shared_ptr<store::Store> store, std::shared_ptr<Clock> clock,
            ApprovalPolicy policy = {}, std::shared_ptr<AuditLog> audit = nullptr);

  // Creates a pending approval for exactly (action, params, env), expiring after `ttl`
  // (0 < ttl <= policy.max_ttl). The requester may be an agent. A reason is required.
  Result<store::ApprovalRecord> request(std::string_view action, const ActionParams& params,
                                        const Principal& requester, std::string_view reason,
                                        std::string_view env, std::string_view tier,
                                        std::chrono::seconds ttl = std::chrono::hours(1));

  // Records an approval by a human who is not the requester. Reaching the tier's threshold moves
  // the approval to approved. The same principal — or the same IdP subject under another
  // principal — counts once (a second decision is a conflict). With
  // policy.require_idp_approvers, a principal without idp_subject is permission_denied.
  Result<store::ApprovalRecord> approve(const std::string& id, const Principal& principal,
                                        std::string_view reason);
  // Denies (final). Anyone identified may deny, including the requester (withdrawal) and agents.
  Result<store::ApprovalRecord> deny(const std::string& id, const Principal& principal,
                                     std::string_view reason);

  // Marks the approval used, exactly once, if approved, unexpired and bound to exactly these
  // parameters. Call right before running the write; on success run it with run_id_for().
  // `consumer`: who is about to run the write, recorded as the audit entry's principal, refusals
  // included (someone trying another's approval id is named); "" records the requester on
  // success and no one on a refusal.
  Result<store::ApprovalRecord> consume(const std::string& id, std::string_view action,
                                        const ActionParams& params, std::string_view env,
                                        std::string_view consumer = {});

  Result<store::ApprovalRecord> get(const std::string& id);
  Result<std::vector<store::ApprovalRecord>> list(store::ApprovalState state, size_t limit = 100);

 private:
  Result<store::ApprovalRecord> do_request(std::string_view action, const ActionParams& params,
                                           const Principal& requester, std::string_view reason,
                                           std::string_view env, std::string_view tier,
                                           std::chrono::seconds ttl);
  Result<store::ApprovalRecord> do_consume(const std::string& id, const Result<std::string>& hash);
  Result<store::ApprovalRecord> decide(const std::string& id, const Principal& principal,
                                       std::string_view reason, bool approve);
  int64_t now_ms() const;
  // Records `r` (the outcome of `tool` by `who`) in the audit log, if any; returns `r` or the
  // audit error.
  Result<store::ApprovalRecord> audited(Result<store::ApprovalRecord> r, std::string_view who,
                                        const char* tool, const char* event, const std::string& id,
                                        const std::string& digest);

  std::shared_ptr<store::Store> store_;
  std::shared_ptr<Clock> clock_;
  ApprovalPolicy policy_;
  std::shared_ptr<AuditLog> audit_;
};

// Trimmed, ASCII-lowercased principal id; invalid_argument if empty, > 256 bytes or with any
// character outside [A-Za-z0-9._@+:|~-]. The strict ASCII rule (docs/guard.md) is what makes two
// principals that look alike compare alike: a Cyrillic "а", a full-width "ａ" or a zero-width space
// can never pose as another principal or slip past the reserved "agent:" prefix.
Result<std::string> normalize_principal(std::string_view id);

}  // namespace dm::guard
