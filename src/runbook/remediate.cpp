// Remediate stage: registration, request_approval and the helpers the write tools share.
#include "runbook/remediate.h"

#include <algorithm>
#include <set>

#include "common/iso_time.h"
#include "guard/canonical.h"
#include "runbook/tool_kit.h"

namespace dm::runbook {
namespace remediate {

using json = nlohmann::json;

Result<WriteTarget> resolve_write(const Deps& deps, const WithEnvironment& args) {
  auto t = resolve_target(deps, args);
  if (!t) return t.error();
  WriteTarget w;
  w.env = t->env->name;
  w.tier = config::tier_name(t->env->tier);
  auto rule = deps.policy->tier(w.tier);
  if (!rule) return rule.error();
  w.rule = *rule;
  w.target = std::move(*t);
  return w;
}

Result<std::vector<std::string>> failed_task_ids(airflow::AirflowClient& client,
                                                 const std::string& dag_id,
                                                 const std::string& run_id) {
  auto tis = client.list_task_instances(dag_id, run_id, {"failed", "upstream_failed"});
  if (!tis) return tis.error();
  std::set<std::string> ids;
  for (const auto& t : *tis)
    if (t.state == "failed" || t.state == "upstream_failed") ids.insert(t.task_id);
  if (ids.empty())
    return make_error(Errc::failed_precondition, "run \"" + run_id + "\" of DAG \"" + dag_id +
                                                     "\" has no failed tasks: nothing to clear");
  return std::vector<std::string>(ids.begin(), ids.end());
}

std::string client_name(mcp::ToolContext& ctx) {
  const json& ci = ctx.client_info();
  if (ci.is_object())
    if (auto it = ci.find("name"); it != ci.end() && it->is_string()) return *it;
  return {};
}

std::string how_to_approve(const Deps& deps, const store::ApprovalRecord& a) {
  std::string s = "A human other than the requester runs: dagmedic approvals approve " + a.id +
                  " --reason \"...\"";
  if (a.required_approvals > 1)
    s += " (" + std::to_string(a.required_approvals) + " distinct approvers needed)";
  if (deps.approval_url) s += ", or approves on the page " + deps.approval_url(a.id);
  s += ". Check it with: dagmedic approvals show " + a.id;
  return s;
}

namespace {

std::string describe(const Deps& deps, const store::ApprovalRecord& a) {
  json p = json::parse(a.params_json, nullptr, false);
  if (!p.is_object()) p = json::object();
  std::string s = "dagmedic asks you to approve one write (approval " + a.id + "):\n";
  s += "  action: " + a.action + "\n  environment: " + a.env + " (tier " + a.tier + ")\n";
  s += "  DAG: " + p.value("dag_id", "") + "\n";
  if (a.action == "trigger_dag") s += "  conf: " + p.value("conf", json::object()).dump(2) + "\n";
  if (!p.value("run_id", "").empty()) s += "  run: " + p.value("run_id", "") + "\n";
  if (p.contains("task_ids") && !p["task_ids"].empty())
    s += "  failed tasks to clear: " + p["task_ids"].dump() + "\n";
  s += "  parameters hash: " + a.params_hash + "\n  requested by: " + a.requester +
       (a.requester_for.empty() ? "" : " acting for " + a.requester_for) +
       "\n  reason: " + a.reason + "\n";
  s += "Approving records " + deps.operator_principal.id +
       " as the approver of exactly these parameters.";
  return deps.redactor->redact(s);
}

bool declared(const json& caps, const char* mode) {
  auto it = caps.find("elicitation");
  if (it == caps.end() || !it->is_object()) return false;
  if (std::string(mode) == "form") return it->empty() || it->contains("form");
  return it->contains(mode);
}

}  // namespace

namespace {
constexpr const char* kApprovalKey = "approval";  // the input request's key and state field

// The answer the client gave to our input request, when this call is a retry that carries it for
// approval `id`.
const json* answer_for(mcp::ToolContext& ctx, const std::string& id) {
  const auto& state = ctx.request_state();
  if (!state || !state->is_object() || state->value(kApprovalKey, "") != id) return nullptr;
  const json& answers = ctx.input_responses();
  auto it = answers.find(kApprovalKey);
  return it != answers.end() && it->is_object() ? &*it : nullptr;
}
}  // namespace

Result<std::optional<store::ApprovalRecord>> resumed_approval(const Deps& deps,
                                                              mcp::ToolContext& ctx,
                                                              const std::string& action,
                                                              const guard::ActionParams& params,
                                                              const std::string& env) {
  const auto& state = ctx.request_state();
  if (!state || !state->is_object() || !state->contains(kApprovalKey))
    return std::optional<store::ApprovalRecord>();
  auto approvals = deps.approvals();
  if (!approvals) return approvals.error();
  auto rec = (*approvals)->get(state->value(kApprovalKey, ""));
  if (!rec) return rec.error();
  auto hash = guard::params_hash(action, params, env);
  if (!hash) return hash.error();
  // The core sealed the state to this tool and these arguments; this is the store's own check.
  if (rec->action != action || rec->env != env || rec->params_hash != *hash)
    return make_error(Errc::failed_precondition, "the request state names approval " + rec->id +
                                                     ", which is for other "
                                                     "parameters; call again without it");
  return std::optional<store::ApprovalRecord>(std::move(*rec));
}

Result<Asked> elicit_approval(const Deps& deps, mcp::ToolContext& ctx, const WriteTarget& wt,
                              store::ApprovalRecord a) {
  Asked out{a};
  auto approvals = deps.approvals();
  if (!approvals) return approvals.error();
  if (a.state != store::ApprovalState::pending) return out;
  const json& caps = ctx.client_capabilities();
  const json* answer = answer_for(ctx, a.id);
  const json state = {{kApprovalKey, a.id}};
  if (wt.rule.elicitation == "form" && wt.tier != "prod") {
    if (ctx.caller()) {
      // The person at the client is the human the agent acts for: in the requester set, they
      // may not approve (another person approves out of band).
      out.mode = "form:not_with_authorization";
      return out;
    }
    if (!declared(caps, "form")) {
      out.mode = "form:unsupported_by_client";
      return out;
    }
    if (!answer) {
      json schema = {{"type", "object"},
                     {"properties",
                      {{"approve",
                        {{"type", "boolean"},
                         {"title", "Approve exactly these parameters"},
                         {"default", false}}},
                       {"reason", {{"type", "string"}, {"title", "Reason"}, {"maxLength", 500}}}}},
                     {"required", json::array({"approve"})}};
      mcp::InputRequired ir;
      ir.elicit(kApprovalKey, describe(deps, a), std::move(schema));
      ir.state = state;
      out.input = std::move(ir);
      out.mode = "form:asked";
      return out;
    }
    const std::string action = answer->value("action", "");
    const json content = answer->value("content", json::object());
    const bool approve = content.is_object() && content.value("approve", false) == true;
    if (action == "accept" && approve) {
      std::string reason = content.is_object() ? content.value("reason", "") : "";
      if (reason.empty()) reason = "confirmed at the MCP client (form elicitation)";
      auto d = (*approvals)->approve(a.id, deps.operator_principal, reason);
      if (!d) return d.error();
      out.record = *d;
      out.mode = "form:accepted";
      return out;
    }
    if (action == "decline" || action == "accept") {
      auto d = (*approvals)->deny(a.id, deps.operator_principal, "declined at the MCP client");
      if (d) out.record = *d;
      out.mode = "form:declined";
      return out;
    }
    out.mode = "form:" + (action.empty() ? std::string("no_answer") : action);
    return out;
  }
  if (wt.rule.elicitation == "url") {
    if (!deps.approval_url) {
      out.mode = "url:no_approval_page";
      return out;
    }
    if (!declared(caps, "url")) {
      out.mode = "url:unsupported_by_client";
      return out;
    }
    if (!answer) {
      mcp::InputRequired ir;
      ir.elicit_url(kApprovalKey, describe(deps, a) + "\nOpen the approval page to decide.",
                    deps.approval_url(a.id), a.id);
      ir.state = state;
      out.input = std::move(ir);
      out.mode = "url:asked";
      return out;
    }
    // The answer only says whether the human went to the page; the store says what was decided.
    out.mode = "url:" + answer->value("action", std::string("answered"));
    auto now = (*approvals)->get(a.id);
    if (now) out.record = *now;
  }
  return out;
}

namespace {

// The write to approve and its exact parameters.
struct ApprovalParamsIn {
  std::string dag_id, run_id;
  std::optional<json> conf;
};
struct RequestIn : WithEnvironment {
  std::string action, reason;
  std::optional<ApprovalParamsIn> params;
  long long ttl_minutes = 0;
};

Args<RequestIn> request_args(const Deps& deps) {
  Args<ApprovalParamsIn> p;
  p.text("dag_id", &ApprovalParamsIn::dag_id, rules::dag_id(),
         "DAG to trigger or whose run to clear", Need::required)
      .object("conf", &ApprovalParamsIn::conf,
              "trigger_dag: the run's conf (checked against the DAG's conf schema)")
      .text("run_id", &ApprovalParamsIn::run_id, rules::run_id(),
            "clear_failed_tasks: the failed run");
  const long long max_ttl = std::max<long long>(1, deps.config.policy.max_ttl_minutes);
  Args<RequestIn> a;
  a.text("action", &RequestIn::action, rules::one_of({"trigger_dag", "clear_failed_tasks"}),
         "The write to approve", Need::required)
      .nested("params", &RequestIn::params, std::move(p), "The write's exact parameters",
              Need::required)
      .text("reason", &RequestIn::reason, rules::prose(1, 1000), "Why (shown to the approvers)",
            Need::required)
      .integer("ttl_minutes", &RequestIn::ttl_minutes, {1, max_ttl},
               "Expiry of the request in minutes",
               std::clamp<long long>(deps.config.policy.approval_ttl_minutes, 1, max_ttl));
  return a;
}

// request_approval's answer: the approval as it stands after any elicitation.
struct ApprovalOut {
  std::string approval_id{}, state{}, action{}, environment{}, tier{}, dag_id{};
  shape::Object conf{};
  std::string run_id{};
  std::vector<std::string> task_ids{};
  std::string params_hash{}, expires_at{};
  int required_approvals = 0, approvals_so_far = 0;
  std::string requester{}, requester_for{}, how_to_approve{}, approval_url{}, elicitation{},
      next_step{};
  template <class V>
  void fields(V& v) const {
    v.field("approval_id", approval_id, "The approval's id");
    v.field("state", state, "pending, approved, denied, expired or consumed");
    v.field("action", action, "The write it approves");
    v.field("environment", environment, "Environment name");
    v.field("tier", tier, "The environment's tier");
    v.field("dag_id", dag_id, "DAG id");
    v.field("conf", conf, "trigger_dag: the run's conf");
    v.field("run_id", run_id, "clear_failed_tasks: the failed run");
    v.field("task_ids", task_ids, "clear_failed_tasks: the tasks it covers");
    v.field("params_hash", params_hash, "SHA-256 of the exact parameters it is bound to");
    v.field("expires_at", expires_at, "UTC");
    v.field("required_approvals", required_approvals, "Distinct approvers needed");
    v.field("approvals_so_far", approvals_so_far, "Approvals given");
    v.field("requester", requester, "Who asked");
    v.field("requester_for", requester_for,
            "The human the requesting agent acts for (\"\" when none is recorded); they may not "
            "approve it either");
    v.field("how_to_approve", how_to_approve, "How a human approves it");
    v.field("approval_url", approval_url, "The approval page (\"\" when not served)");
    v.field("elicitation", elicitation, "What asking the human at the client gave");
    v.field("next_step", next_step, "What to do next");
  }
};

ApprovalOut approval_out(const Deps& deps, const store::ApprovalRecord& a) {
  json p = json::parse(a.params_json, nullptr, false);
  if (!p.is_object()) p = json::object();
  ApprovalOut o{.approval_id = a.id,
                .state = store::approval_state_name(a.state),
                .action = a.action,
                .environment = a.env,
                .tier = a.tier,
                .dag_id = p.value("dag_id", ""),
                .conf = {p.value("conf", json::object())},
                .run_id = p.value("run_id", ""),
                .params_hash = a.params_hash,
                .expires_at = ms_to_iso(a.expires_at_ms),
                .required_approvals = a.required_approvals,
                .requester = a.requester,
                .requester_for = a.requester_for,
                .how_to_approve = how_to_approve(deps, a),
                .approval_url = deps.approval_url ? deps.approval_url(a.id) : std::string()};
  if (p.contains("task_ids") && p["task_ids"].is_array())
    for (const auto& t : p["task_ids"])
      if (t.is_string()) o.task_ids.push_back(t.get<std::string>());
  for (const auto& d : a.decisions) o.approvals_so_far += d.approve ? 1 : 0;
  return o;
}

Result<Reply<ApprovalOut>> request_approval(const Deps& deps, const RequestIn& args,
                                            mcp::ToolContext& ctx) {
  auto wt = resolve_write(deps, args);
  if (!wt) return wt.error();
  const std::string& action = args.action;
  const ApprovalParamsIn p = args.params.value_or(ApprovalParamsIn{});
  guard::ActionParams params;
  params.dag_id = p.dag_id;
  params.conf = p.conf.value_or(json::object());
  params.run_id = p.run_id;
  if (action == "trigger_dag" && !params.run_id.empty())
    return make_error(Errc::invalid_argument,
                      "request_approval: trigger_dag takes no run_id (dagmedic picks the run id)");
  if (action == "clear_failed_tasks") {
    if (params.run_id.empty())
      return make_error(Errc::invalid_argument,
                        "request_approval: clear_failed_tasks needs params.run_id");
    if (!params.conf.empty())
      return make_error(Errc::invalid_argument,
                        "request_approval: clear_failed_tasks takes no conf");
  }
  if (auto st = deps.policy->check(
          {action, wt->env, wt->tier, params.dag_id, params.conf, params.run_id});
      !st)
    return st.error();
  auto& client = *wt->target.client;
  if (action == "trigger_dag") {
    auto dag = client.get_dag(params.dag_id);
    if (!dag) return dag.error();
  } else {
    auto ids = failed_task_ids(client, params.dag_id, params.run_id);
    if (!ids) return ids.error();
    params.task_ids = std::move(*ids);
  }
  auto approvals = deps.approvals();
  if (!approvals) return approvals.error();
  // A retry after input_required continues its approval; a first call requests one.
  auto resumed = resumed_approval(deps, ctx, action, params, wt->env);
  if (!resumed) return resumed.error();
  store::ApprovalRecord rec;
  if (*resumed) {
    rec = std::move(**resumed);
  } else {
    auto made = (*approvals)
                    ->request(action, params, requester_of(deps, ctx).agent, args.reason, wt->env,
                              wt->tier, std::chrono::minutes(args.ttl_minutes));
    if (!made) return made.error();
    rec = std::move(*made);
  }
  auto asked = elicit_approval(deps, ctx, *wt, std::move(rec));
  if (!asked) return asked.error();
  if (asked->input) return Reply<ApprovalOut>{.input = std::move(asked->input)};
  const store::ApprovalRecord* now = &asked->record;
  ApprovalOut out = approval_out(deps, *now);
  out.elicitation = asked->mode;
  std::string next;
  if (now->state == store::ApprovalState::approved)
    next =
        "Approved: call " + action + " with approval_id " + now->id + " and the same parameters.";
  else if (now->state == store::ApprovalState::denied)
    next = "Denied: nothing will run. Escalate to a human.";
  else
    next = "Wait for the approval (" + how_to_approve(deps, *now) + "), then call " + action +
           " with approval_id " + now->id + " and exactly these parameters.";
  out.next_step = next;
  std::string text = "Approval " + now->id + " for " + action + " of DAG " + params.dag_id +
                     " in " + wt->env + ": " + store::approval_state_name(now->state) + " (needs " +
                     std::to_string(now->required_approvals) + " approver(s), expires " +
                     ms_to_iso(now->expires_at_ms) + ").\n" + next;
  return Reply<ApprovalOut>{std::move(text), std::move(out)};
}

}  // namespace
}  // namespace remediate

Status register_remediate_tools(mcp::Server& server, const std::shared_ptr<const Deps>& deps) {
  if (auto st = remediate::register_propose_action(server, deps); !st) return st;
  ToolSpec<remediate::RequestIn, remediate::ApprovalOut> t;
  t.effect = mcp::Effect::writes_local;
  t.name = "request_approval";
  t.title = "Request approval for a write";
  t.description =
      "Remediate: records a PENDING approval for exactly one write (trigger_dag with a conf, or "
      "clear_failed_tasks of one run), bound to a SHA-256 of its parameters. It runs nothing. A "
      "human other than the requester approves out of band (dagmedic approvals approve ID, or the "
      "approval page); then call the write tool with approval_id and the same parameters.";
  t.args = remediate::request_args(*deps);
  t.run = [deps](const remediate::RequestIn& args, mcp::ToolContext& ctx) {
    return remediate::request_approval(*deps, args, ctx);
  };
  if (auto st = add_tool(server, deps, std::move(t)); !st) return st;
  return remediate::register_writes(server, deps);
}

}  // namespace dm::runbook
