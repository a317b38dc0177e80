#include "guard/approval.h"

#include <algorithm>
#include <set>

#include "guard/canonical.h"

namespace dm::guard {
namespace {

using store::ApprovalRecord;
using store::ApprovalState;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

// Identifier-like field (action, env, dag id, run id, task id).
Status check_ident(std::string_view what, std::string_view v, size_t max, bool allow_empty) {
  if (v.empty()) {
    if (allow_empty) return {};
    return make_error(Errc::invalid_argument, std::string(what) + " is required");
  }
  if (v.size() > max) return make_error(Errc::invalid_argument, std::string(what) + " is too long");
  if (has_control(v) || v.find(' ') != std::string_view::npos)
    return make_error(Errc::invalid_argument,
                      std::string(what) + " must not contain spaces or control characters");
  return {};
}

Result<std::string> check_reason(std::string_view reason) {
  auto r = trim(reason);
  if (r.empty()) return make_error(Errc::invalid_argument, "a reason is required");
  if (r.size() > 2000) return make_error(Errc::invalid_argument, "reason is too long");
  if (std::any_of(r.begin(), r.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return (u < 0x20 && c != '\n' && c != '\t') || u == 0x7f;
      }))
    return make_error(Errc::invalid_argument, "reason contains control characters");
  return std::string(r);
}

}  // namespace

Result<std::string> normalize_principal(std::string_view id) {
  auto t = trim(id);
  if (t.empty()) return make_error(Errc::invalid_argument, "principal id is required");
  if (t.size() > 256) return make_error(Errc::invalid_argument, "principal id is too long");
  if (has_control(t))
    return make_error(Errc::invalid_argument, "principal id contains control characters");
  std::string out(t);
  for (std::size_t i = 0; i < out.size(); ++i) {
    char& c = out[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    std::string_view("._@+:|~-").find(c) != std::string_view::npos;
    if (!ok)
      return make_error(Errc::invalid_argument,
                        "principal id has a character outside [A-Za-z0-9._@+:|~-] at byte " +
                            std::to_string(i + 1) +
                            " (rule: principals are ASCII, so look-alike letters cannot pose as "
                            "another principal)");
  }
  return out;
}

Result<std::string> params_document(std::string_view action, const ActionParams& p,
                                    std::string_view env) {
  if (auto s = check_ident("action", action, 64, false); !s) return s.error();
  if (auto s = check_ident("environment", env, 128, false); !s) return s.error();
  if (auto s = check_ident("dag_id", p.dag_id, 250, false); !s) return s.error();
  if (auto s = check_ident("run_id", p.run_id, 250, true); !s) return s.error();
  if (!p.conf.is_object()) return make_error(Errc::invalid_argument, "conf must be a JSON object");
  std::vector<std::string> tasks = p.task_ids;
  for (const auto& t : tasks)
    if (auto s = check_ident("task_id", t, 250, false); !s) return s.error();
  std::sort(tasks.begin(), tasks.end());
  tasks.erase(std::unique(tasks.begin(), tasks.end()), tasks.end());
  nlohmann::json doc = {{"action", std::string(action)},
                        {"environment", std::string(env)},
                        {"dag_id", p.dag_id},
                        {"conf", p.conf},
                        {"run_id", p.run_id},
                        {"task_ids", tasks}};
  return canonical_json(doc);
}

Result<std::string> params_hash(std::string_view action, const ActionParams& params,
                                std::string_view env) {
  auto doc = params_document(action, params, env);
  if (!doc) return doc.error();
  return sha256_hex(*doc);
}

std::string run_id_for(const ApprovalRecord& approval) { return "dagmedic__" + approval.id; }

Approvals::Approvals(std::shared_ptr<store::Store> store, std::shared_ptr<Clock> clock,
                     ApprovalPolicy policy, std::shared_ptr<AuditLog> audit)
    : store_(std::move(store)),
      clock_(std::move(clock)),
      policy_(std::move(policy)),
      audit_(std::move(audit)) {
  for (auto& [tier, n] : policy_.required_by_tier) n = std::max(n, 1);
}

int64_t Approvals::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_->now().time_since_epoch())
      .count();
}

Result<ApprovalRecord> Approvals::audited(Result<ApprovalRecord> r, std::string_view who,
                                          const char* tool, const char* event,
                                          const std::string& id, const std::string& digest) {
  if (!audit_) return r;
  AuditEvent e;
  auto norm = normalize_principal(who);
  e.principal = norm.ok() ? *norm : r.ok() ? r->requester : std::string(who);
  e.tool = tool;
  e.args_digest = digest.empty() ? "" : "params_sha256:" + digest;
  e.approval_id = r.ok() ? r->id : id;
  if (r.ok()) {
    e.decision = "allowed";
    e.approval_event = event;
    e.upstream_status = store::approval_state_name(r->state);
  } else {
    e.decision = "refused";
    e.upstream_status = errc_name(r.error().code);
    e.upstream_summary = r.error().message;
  }
  if (auto a = audit_->append(e); !a)
    return make_error(Errc::failed_precondition,
                      std::string(tool) + ": audit log unavailable: " + a.error().message);
  return r;
}

Result<ApprovalRecord> Approvals::request(std::string_view action, const ActionParams& params,
                                          const Principal& requester, std::string_view reason,
                                          std::string_view env, std::string_view tier,
                                          std::chrono::seconds ttl) {
  auto h = params_hash(action, params, env);
  auto r = do_request(action, params, requester, reason, env, tier, ttl);
  return audited(std::move(r), requester.id, "request_approval", "requested", "",
                 h.ok() ? *h : std::string());
}

Result<ApprovalRecord> Approvals::do_request(std::string_view action, const ActionParams& params,
                                             const Principal& requester, std::string_view reason,
                                             std::string_view env, std::string_view tier,
                                             std::chrono::seconds ttl) {
  auto who = normalize_principal(requester.id);
  if (!who) return who.error();
  auto why = check_reason(reason);
  if (!why) return why.error();
  auto it = policy_.required_by_tier.find(tier);
  if (it == policy_.required_by_tier.end())
    return make_error(Errc::invalid_argument,
                      "unknown environment tier '" + std::string(tier) + "'");
  if (ttl.count() <= 0 || ttl > policy_.max_ttl)
    return make_error(Errc::invalid_argument, "approval TTL must be > 0 and <= " +
                                                  std::to_string(policy_.max_ttl.count()) + " s");
  auto doc = params_document(action, params, env);
  if (!doc) return doc.error();
  auto id = random_hex(16);
  if (!id) return id.error();

  ApprovalRecord a;
  a.id = *id;
  a.action = std::string(action);
  a.env = std::string(env);
  a.tier = std::string(tier);
  a.params_json = *doc;
  a.params_hash = sha256_hex(*doc);
  a.requester = *who;
  a.requester_is_agent = requester.is_agent;
  if (!requester.acting_for.empty()) {
    auto human = normalize_principal(requester.acting_for);
    if (!human) return human.error();
    if (*human != *who) a.requester_for = *human;
  }
  a.reason = *why;
  a.created_at_ms = now_ms();
  a.expires_at_ms =
      a.created_at_ms + std::chrono::duration_cast<std::chrono::milliseconds>(ttl).count();
  a.required_approvals = it->second;
  a.state = ApprovalState::pending;
  if (auto s = store_->create_approval(a); !s) return s.error();
  return a;
}

Result<ApprovalRecord> Approvals::decide(const std::string& id, const Principal& principal,
                                         std::string_view reason, bool approve) {
  auto who = normalize_principal(principal.id);
  if (!who) return who.error();
  auto why = check_reason(reason);
  if (!why) return why.error();
  if (approve && principal.is_agent)
    return make_error(Errc::permission_denied,
                      "agent identity " + *who + " cannot approve; a human must approve");
  if (approve && policy_.require_idp_approvers &&
      (principal.idp_subject.empty() || principal.idp_issuer.empty()))
    return make_error(Errc::permission_denied,
                      "with auth: configured, an approval counts only when the approver signed in "
                      "through the identity provider: approve on the approval page "
                      "(dagmedic serve --approval-port)");
  auto cur = store_->get_approval(id);
  if (!cur) return cur.error();
  // The requester is immutable once stored, so checking outside the store's transaction is safe.
  if (approve && cur->requester == *who)
    return make_error(Errc::permission_denied,
                      "the requester (" + *who + ") cannot approve their own request");
  if (approve && !cur->requester_for.empty() && cur->requester_for == *who)
    return make_error(Errc::permission_denied,
                      *who + " cannot approve a request made by their own agent (" +
                          cur->requester + " acting for " + *who + ")");
  return store_->record_decision(
      id,
      store::Decision{*who, approve, *why, now_ms(), principal.idp_issuer, principal.idp_subject},
      now_ms());
}

Result<ApprovalRecord> Approvals::approve(const std::string& id, const Principal& principal,
                                          std::string_view reason) {
  return audited(decide(id, principal, reason, true), principal.id, "approve", "approved", id, "");
}

Result<ApprovalRecord> Approvals::deny(const std::string& id, const Principal& principal,
                                       std::string_view reason) {
  return audited(decide(id, principal, reason, false), principal.id, "deny", "denied", id, "");
}

Result<ApprovalRecord> Approvals::consume(const std::string& id, std::string_view action,
                                          const ActionParams& params, std::string_view env,
                                          std::string_view consumer) {
  auto hash = params_hash(action, params, env);
  auto r = do_consume(id, hash);
  return audited(std::move(r), consumer, "consume_approval", "consumed", id,
                 hash.ok() ? *hash : std::string());
}

Result<ApprovalRecord> Approvals::do_consume(const std::string& id,
                                             const Result<std::string>& hash) {
  if (!hash) return hash.error();
  // Defence in depth before the one-shot transition: the row must carry enough distinct human,
  // non-requester approvals (a row edited to state='approved' without them is refused).
  auto cur = store_->get_approval(id);
  if (!cur) return cur.error();
  if (cur->state == ApprovalState::approved) {
    // Distinct people: by IdP subject where the decision has one, else by principal.
    std::set<std::string> humans;
    for (const auto& d : cur->decisions)
      if (d.approve && d.principal != cur->requester &&
          (cur->requester_for.empty() || d.principal != cur->requester_for))
        humans.insert(d.idp_subject.empty() ? "principal\n" + d.principal
                                            : "idp\n" + d.idp_issuer + "\n" + d.idp_subject);
    if (static_cast<int>(humans.size()) < cur->required_approvals)
      return make_error(Errc::failed_precondition,
                        "approval " + id + " does not carry enough distinct approvals");
  }
  return store_->consume_approval(id, *hash, now_ms());
}

Result<ApprovalRecord> Approvals::get(const std::string& id) { return store_->get_approval(id); }

Result<std::vector<ApprovalRecord>> Approvals::list(ApprovalState state, size_t limit) {
  return store_->list_approvals(state, limit);
}

}  // namespace dm::guard
