#include "store/store.h"

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
