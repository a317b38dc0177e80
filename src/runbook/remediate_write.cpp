// Remediate stage: the write tools trigger_dag and clear_failed_tasks.
//
// Order (docs/guard.md): validate arguments + policy → consume the approval (atomic, once) → audit
// begin_write (fail closed: nothing runs if it fails) → the write → audit complete with Airflow's
// answer. trigger_dag uses run_id_for(approval) as the dag_run_id, so a retry after a crash gets
// Airflow's 409 and reports "already done" instead of starting a second run.
#include <optional>

#include "guard/canonical.h"
#include "runbook/remediate.h"
#include "runbook/tool_kit.h"

namespace dm::runbook::remediate {
namespace {

using json = nlohmann::json;

// How far back the audit is searched for an earlier, completed use of an approval.
constexpr int64_t kReplayWindow = 5000;

// The arguments both writes take; each adds what it acts on.
struct WriteIn : WithEnvironment {
  std::string dag_id, approval_id, reason;
};
struct TriggerIn : WriteIn {
  std::optional<json> conf;
};
struct ClearIn : WriteIn {
  std::string run_id;
};

// dag_id, approval_id and reason, declared once for both writes.
template <class In>
Args<In> write_args(std::string dag_description) {
  Args<In> a;
  a.text("dag_id", &In::dag_id, rules::dag_id(), std::move(dag_description), Need::required)
      .text("approval_id", &In::approval_id, rules::approval_id(),
            "Approval id from request_approval, approved by a human")
      .text("reason", &In::reason, rules::prose(1, 1000),
            "Why (used when no approval_id is given and one is requested)");
  return a;
}

struct ClearedOut {
  std::string task_id{};
  int map_index = -1;
  std::string state{};
  template <class V>
  void fields(V& v) const {
    v.field("task_id", task_id, "Task id");
    v.field("map_index", map_index, "Map index (-1: not mapped)");
    v.field("state", state, "State after the clear");
  }
};

// What trigger_dag and clear_failed_tasks answer.
struct WriteOut {
  std::string status = "triggered";
  std::string environment{}, dag_id{}, run_id{};
  std::optional<std::string> state{};                  // trigger_dag
  std::optional<shape::Object> conf{};                 // trigger_dag
  std::optional<std::vector<std::string>> task_ids{};  // clear_failed_tasks
  std::optional<std::vector<ClearedOut>> cleared{};    // clear_failed_tasks
  std::string approval_id{}, decision{};
  std::int64_t audit_seq = 0;
  std::string next_step{};
  template <class V>
  void fields(V& v) const {
    v.one_of("status", status, {"triggered", "already_done", "cleared"}, "What happened");
    v.field("environment", environment, "Environment name");
    v.field("dag_id", dag_id, "DAG id");
    v.field("run_id", run_id, "The run triggered or cleared");
    v.maybe("state", state, "trigger_dag: the new run's state");
    v.maybe("conf", conf, "trigger_dag: the run's conf");
    v.maybe("task_ids", task_ids, "clear_failed_tasks: the tasks the approval covers");
    v.maybe("cleared", cleared, "clear_failed_tasks: the task instances Airflow cleared");
    v.field("approval_id", approval_id, "The approval used (\"\" under a dev allowance)");
    v.field("decision", decision, "Why the write was allowed");
    v.field("audit_seq", audit_seq, "The audit entry of this write");
    v.field("next_step", next_step, "What to do next");
  }
};

// True when the audit shows an earlier use of this approval that completed (a replay, not a
// retry after a crash between the write and its audit).
bool completed_before(store::Store& st, const std::string& tool, const std::string& approval_id) {
  auto head = st.audit_head();
  if (!head) return false;
  int64_t from = std::max<int64_t>(1, head->seq - kReplayWindow);
  auto rows = st.read_audit(from, static_cast<std::size_t>(kReplayWindow + 1));
  if (!rows) return false;
  for (const auto& r : *rows) {
    json b = json::parse(r.body, nullptr, false);
    if (!b.is_object()) continue;
    if (b.value("phase", "") == "complete" && b.value("tool", "") == tool &&
        b.value("approval_id", "") == approval_id) {
      std::string s = b.value("upstream_status", "");
      if (s == "ok" || s == "409") return true;
    }
  }
  return false;
}

struct Authorized {
  std::string approval_id;  // "" when the policy allowed it without one
  std::optional<store::ApprovalRecord> record;
  std::string decision;  // approved | allowed_by_policy | retry_of_consumed_approval
  std::string elicitation = "none";
  std::optional<mcp::InputRequired> input{};  // set: answer input_required with it, nothing ran
};

// Steps 1–2: an approval (given, or obtained by elicitation) consumed for exactly these
// parameters, or the dev policy's allowance.
Result<Authorized> authorize(const Deps& deps, mcp::ToolContext& ctx, const WriteTarget& wt,
                             const std::string& action, guard::ActionParams& params,
                             const WriteIn& args) {
  auto approvals = deps.approvals();
  if (!approvals)
    return make_error(Errc::failed_precondition, action +
                                                     " refused: approvals/audit unavailable (" +
                                                     approvals.error().message + "); nothing ran.");
  Authorized a;
  std::string id = args.approval_id;
  if (id.empty()) {
    if (wt.rule.allow_without_approval && wt.tier != "prod") {
      a.decision = "allowed_by_policy";
      return a;
    }
    // Ask for one through the client when the tier allows it; a retry after input_required
    // continues the approval it asked about.
    auto resumed = resumed_approval(deps, ctx, action, params, wt.env);
    if (!resumed) return resumed.error();
    store::ApprovalRecord rec;
    if (*resumed) {
      rec = std::move(**resumed);
    } else {
      std::string reason = args.reason;
      if (reason.empty()) reason = "requested through " + action + " (no approval id given)";
      auto made = (*approvals)
                      ->request(action, params, requester_of(deps, ctx).agent, reason, wt.env,
                                wt.tier, deps.policy->rules().default_ttl);
      if (!made) return made.error();
      rec = std::move(*made);
    }
    auto asked = elicit_approval(deps, ctx, wt, std::move(rec));
    if (!asked) return asked.error();
    a.elicitation = asked->mode;
    if (asked->input) {
      a.input = std::move(asked->input);
      return a;
    }
    const store::ApprovalRecord* now = &asked->record;
    if (now->state != store::ApprovalState::approved)
      return make_error(Errc::failed_precondition,
                        action + " needs an approval: approval " + now->id + " is " +
                            store::approval_state_name(now->state) +
                            " (elicitation: " + a.elicitation + "). " + how_to_approve(deps, *now) +
                            ". Then call " + action + " again with approval_id " + now->id +
                            " and exactly the same parameters. Nothing ran.");
    id = now->id;
  }
  if (action == "clear_failed_tasks") {
    // The failed tasks listed at approval time are part of what was approved.
    auto rec = (*approvals)->get(id);
    if (!rec) return rec.error();
    json p = json::parse(rec->params_json, nullptr, false);
    params.task_ids.clear();
    if (p.is_object() && p.contains("task_ids") && p["task_ids"].is_array())
      for (const auto& t : p["task_ids"])
        if (t.is_string()) params.task_ids.push_back(t.get<std::string>());
  }
  auto c = (*approvals)->consume(id, action, params, wt.env, requester_of(deps, ctx).agent.id);
  if (c) {
    a.approval_id = id;
    a.record = *c;
    a.decision = "approved";
    return a;
  }
  if (c.error().code == Errc::conflict && action == "trigger_dag") {
    // Already used. A retry of the same approved trigger (e.g. the audit failed after Airflow
    // accepted it) may go on: the run id is fixed, so Airflow answers 409 and nothing new starts.
    // A replay of a completed use is refused.
    auto rec = (*approvals)->get(id);
    auto hash = guard::params_hash(action, params, wt.env);
    auto st = deps.store();
    if (rec && hash && st && rec->action == action && rec->env == wt.env &&
        rec->params_hash == *hash && rec->state == store::ApprovalState::consumed &&
        !completed_before(**st, action, id)) {
      a.approval_id = id;
      a.record = *rec;
      a.decision = "retry_of_consumed_approval";
      return a;
    }
  }
  return make_error(c.error().code, action + " refused: approval " + id + ": " + c.error().message +
                                        ". Nothing ran.");
}

guard::AuditEvent intent(const Deps& deps, mcp::ToolContext& ctx, const std::string& action,
                         const std::string& hash, const Authorized& a, const std::string& ran) {
  guard::AuditEvent e;
  e.principal = requester_of(deps, ctx).audit;
  e.tool = action;
  e.args_digest = "params_sha256:" + hash;
  e.decision = a.decision;
  e.approval_id = a.approval_id;
  e.approval_event = a.approval_id.empty() ? "" : "consumed";
  e.ran = ran;
  return e;
}

Result<Reply<WriteOut>> trigger_dag(const Deps& deps, const TriggerIn& args,
                                    mcp::ToolContext& ctx) {
  auto wt = resolve_write(deps, args);
  if (!wt) return wt.error();
  guard::ActionParams params;
  params.dag_id = args.dag_id;
  params.conf = args.conf.value_or(json::object());
  if (auto st =
          deps.policy->check({"trigger_dag", wt->env, wt->tier, params.dag_id, params.conf, ""});
      !st)
    return make_error(st.error().code, "trigger_dag refused: " + st.error().message);
  auto hash = guard::params_hash("trigger_dag", params, wt->env);
  if (!hash) return hash.error();
  auto a = authorize(deps, ctx, *wt, "trigger_dag", params, args);
  if (!a) return a.error();
  if (a->input) return Reply<WriteOut>{.input = std::move(a->input)};
  std::string run_id;
  if (a->record) {
    run_id = guard::run_id_for(*a->record);
  } else {
    auto rnd = guard::random_hex(16);
    if (!rnd) return rnd.error();
    run_id = "dagmedic__" + *rnd;
  }
  auto audit = deps.audit();
  if (!audit)
    return make_error(Errc::failed_precondition,
                      "trigger_dag refused: " + audit.error().message + "; nothing ran.");
  auto ticket = (*audit)->begin_write(
      intent(deps, ctx, "trigger_dag", *hash, *a,
             "trigger_dag env=" + wt->env + " dag=" + params.dag_id + " run_id=" + run_id));
  if (!ticket)
    return make_error(Errc::failed_precondition,
                      "trigger_dag refused: the audit log cannot record the write (" +
                          ticket.error().message + "); nothing ran.");
  const int64_t seq = ticket->seq();
  auto& client = *wt->target.client;
  auto tr = client.trigger_dag_run({.dag_id = params.dag_id,
                                    .dag_run_id = run_id,
                                    .conf = params.conf,
                                    .note = a->approval_id.empty()
                                                ? "dagmedic: allowed by dev policy"
                                                : "dagmedic: approval " + a->approval_id});
  const bool already = !tr && tr.error().code == Errc::conflict;
  airflow::DagRun run;
  guard::AuditOutcome out;
  if (tr) {
    run = *tr;
    out = {"ok", "triggered " + run_id};
  } else if (already) {
    auto g = client.get_dag_run(params.dag_id, run_id);
    if (g) run = *g;
    run.dag_id = params.dag_id;
    run.run_id = run_id;
    out = {"409", "run " + run_id + " already exists: already done"};
  } else {
    out = {errc_name(tr.error().code), deps.redactor->redact(tr.error().message.substr(0, 300))};
  }
  if (auto st = (*audit)->complete(std::move(*ticket), out); !st)
    return make_error(Errc::internal,
                      "trigger_dag: the write " + std::string(tr || already ? "ran" : "was tried") +
                          " but its outcome could not be audited (" + st.error().message +
                          "). Retry trigger_dag with the same approval_id and parameters: the run "
                          "id is fixed, so no second run can start.");
  if (!tr && !already) return make_error(tr.error().code, "trigger_dag: " + tr.error().message);
  std::string status = already ? "already_done" : "triggered";
  std::string next =
      "Watch run " + run_id + " with get_run_summary until it is final, then check_recovery_rules.";
  WriteOut s{.status = status,
             .environment = wt->env,
             .dag_id = params.dag_id,
             .run_id = run_id,
             .state = run.state,
             .conf = shape::Object{already ? run.conf : params.conf},
             .approval_id = a->approval_id,
             .decision = a->decision,
             .audit_seq = seq,
             .next_step = next};
  std::string text = already ? "Already done: run " + run_id + " of DAG " + params.dag_id + " in " +
                                   wt->env +
                                   " exists (Airflow answered 409); no second "
                                   "run was started.\n" +
                                   next
                             : "Triggered DAG " + params.dag_id + " in " + wt->env + " as run " +
                                   run_id + " (state " + run.state + ").\n" + next;
  return Reply<WriteOut>{std::move(text), std::move(s)};
}

Result<Reply<WriteOut>> clear_failed_tasks(const Deps& deps, const ClearIn& args,
                                           mcp::ToolContext& ctx) {
  auto wt = resolve_write(deps, args);
  if (!wt) return wt.error();
  guard::ActionParams params;
  params.dag_id = args.dag_id;
  params.run_id = args.run_id;
  if (auto st = deps.policy->check(
          {"clear_failed_tasks", wt->env, wt->tier, params.dag_id, json::object(), params.run_id});
      !st)
    return make_error(st.error().code, "clear_failed_tasks refused: " + st.error().message);
  auto& client = *wt->target.client;
  if (args.approval_id.empty()) {
    // Bind the run's failed tasks now (the approval, or the dev allowance, covers exactly these).
    auto ids = failed_task_ids(client, params.dag_id, params.run_id);
    if (!ids) return ids.error();
    params.task_ids = *ids;
  }
  auto a = authorize(deps, ctx, *wt, "clear_failed_tasks", params, args);
  if (!a) return a.error();
  if (a->input) return Reply<WriteOut>{.input = std::move(a->input)};
  if (!a->record && params.task_ids.empty()) {
    auto ids = failed_task_ids(client, params.dag_id, params.run_id);
    if (!ids) return ids.error();
    params.task_ids = *ids;
  }
  if (a->record) {  // exactly the tasks bound into the approval
    params.task_ids.clear();
    json p = json::parse(a->record->params_json, nullptr, false);
    if (p.is_object() && p["task_ids"].is_array())
      for (const auto& t : p["task_ids"]) params.task_ids.push_back(t.get<std::string>());
  }
  auto hash = guard::params_hash("clear_failed_tasks", params, wt->env);
  if (!hash) return hash.error();
  auto audit = deps.audit();
  if (!audit)
    return make_error(Errc::failed_precondition,
                      "clear_failed_tasks refused: " + audit.error().message + "; nothing ran.");
  std::string tasks;
  for (const auto& t : params.task_ids) tasks += (tasks.empty() ? "" : ",") + t;
  auto ticket =
      (*audit)->begin_write(intent(deps, ctx, "clear_failed_tasks", *hash, *a,
                                   "clear_failed_tasks env=" + wt->env + " dag=" + params.dag_id +
                                       " run_id=" + params.run_id + " tasks=" + tasks));
  if (!ticket)
    return make_error(Errc::failed_precondition,
                      "clear_failed_tasks refused: the audit log cannot record the write (" +
                          ticket.error().message + "); nothing ran.");
  const int64_t seq = ticket->seq();
  auto cr = client.clear_task_instances({.dag_id = params.dag_id,
                                         .dag_run_id = params.run_id,
                                         .task_ids = params.task_ids,
                                         .only_failed = true,
                                         .dry_run = false,
                                         .include_downstream = false});
  guard::AuditOutcome out =
      cr ? guard::AuditOutcome{"ok", "cleared " + std::to_string(cr->size()) + " task instance(s)"}
         : guard::AuditOutcome{errc_name(cr.error().code),
                               deps.redactor->redact(cr.error().message.substr(0, 300))};
  if (auto st = (*audit)->complete(std::move(*ticket), out); !st)
    return make_error(Errc::internal,
                      "clear_failed_tasks: the clear " + std::string(cr ? "ran" : "was tried") +
                          " but its outcome could not be audited: " + st.error().message);
  if (!cr) return make_error(cr.error().code, "clear_failed_tasks: " + cr.error().message);
  std::vector<ClearedOut> cleared;
  for (const auto& c : *cr) cleared.push_back({c.task_id, c.map_index, c.state});
  std::string next = "Airflow reruns the cleared tasks: watch run " + params.run_id +
                     " with get_run_summary until it is final, then check_recovery_rules.";
  WriteOut s{.status = "cleared",
             .environment = wt->env,
             .dag_id = params.dag_id,
             .run_id = params.run_id,
             .task_ids = params.task_ids,
             .cleared = std::move(cleared),
             .approval_id = a->approval_id,
             .decision = a->decision,
             .audit_seq = seq,
             .next_step = next};
  std::string text = "Cleared " + std::to_string(cr->size()) + " failed task instance(s) of run " +
                     params.run_id + " of DAG " + params.dag_id + " in " + wt->env + ".\n" + next;
  return Reply<WriteOut>{std::move(text), std::move(s)};
}

}  // namespace

Status register_writes(mcp::Server& server, const std::shared_ptr<const Deps>& deps) {
  {
    ToolSpec<TriggerIn, WriteOut> t;
    t.name = "trigger_dag";
    t.effect = mcp::Effect::writes_remote;
    t.title = "Trigger a DAG run (approved)";
    t.description =
        "Remediate (WRITE): starts one run of a DAG with a conf, only with an approval bound to "
        "exactly this DAG, conf and environment (request_approval, then a human approves), or "
        "within a dev policy that allows it. The run id is dagmedic__<approval id>: a retry never "
        "starts a second run. Every call is audited.";
    t.args = write_args<TriggerIn>("DAG to trigger");
    t.args.object("conf", &TriggerIn::conf, "Run conf (as approved); default {}");
    t.run = [deps](const TriggerIn& a, mcp::ToolContext& ctx) {
      return trigger_dag(*deps, a, ctx);
    };
    if (auto st = add_tool(server, deps, std::move(t)); !st) return st;
  }
  ToolSpec<ClearIn, WriteOut> t;
  t.name = "clear_failed_tasks";
  t.effect = mcp::Effect::writes_remote;
  t.title = "Clear the failed tasks of a run (approved)";
  t.description =
      "Remediate (WRITE): clears (reruns) the failed tasks of one DAG run — exactly those listed "
      "when the approval was requested — only with an approval bound to this DAG, run and "
      "environment, or within a dev policy that allows it. Sends dry_run=false, only_failed=true. "
      "Every call is audited.";
  t.args = write_args<ClearIn>("DAG of the failed run");
  t.args.text("run_id", &ClearIn::run_id, rules::run_id(), "The failed run", Need::required);
  t.run = [deps](const ClearIn& a, mcp::ToolContext& ctx) {
    return clear_failed_tasks(*deps, a, ctx);
  };
  return add_tool(server, deps, std::move(t));
}

}  // namespace dm::runbook::remediate
