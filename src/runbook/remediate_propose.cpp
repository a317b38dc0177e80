// Remediate stage: propose_action(signature, context) — the smallest safe action for an error
// category. Read-only: it proposes, never executes; a write it proposes comes with the exact
// request_approval arguments. `context.upstream_ready: false` given explicitly is never answered
// with a rerun (clear_failed_tasks / trigger_dag), whatever the category: it waits for upstream.
#include <map>

#include "logs/pipeline.h"
#include "runbook/diagnose_internal.h"
#include "runbook/remediate.h"
#include "runbook/tool_kit.h"

namespace dm::runbook::remediate {
namespace {

using json = nlohmann::json;

constexpr std::size_t kMaxLogTail = 256 * 1024;

struct CategoryDefault {
  const char* action;
  const char* risk;
  const char* reason;
};

// The category defaults of rules/categories.yaml, for callers that pass a category name instead
// of a log (the rules file stays the source when a log is given).
const std::map<std::string, CategoryDefault, std::less<>>& defaults() {
  static const std::map<std::string, CategoryDefault, std::less<>> d{
      {"permissions",
       {"escalate", "medium",
        "Access was denied: a rerun fails the same way until grants change."}},
      {"missing_upstream_data",
       {"wait_for_upstream", "low",
        "Input data is not there (yet): wait for or repair the upstream, then rerun."}},
      {"schema_drift",
       {"fix_code_then_rerun", "medium",
        "The data's shape changed: adapt code or contract first."}},
      {"resource_exhaustion",
       {"rerun_with_more_resources", "medium",
        "The task ran out of memory or disk: raise resources first."}},
      {"timeout",
       {"clear_failed_tasks", "medium",
        "The task hit a time limit; often transient: rerun once, then watch durations."}},
      {"network",
       {"clear_failed_tasks", "low",
        "A network or endpoint failure is usually transient: rerun the failed tasks."}},
      {"dependency_or_import",
       {"fix_environment_then_rerun", "medium",
        "Something is missing from the runtime environment: fix requirements or image."}},
      {"code_bug",
       {"fix_code_then_rerun", "medium",
        "The code raised an error a rerun will reproduce: fix the code first."}},
      {"quota_or_throttling",
       {"retry_after_backoff", "low",
        "A service limited the rate or quota: retry after a backoff."}},
      {"unknown",
       {"escalate", "high", "No known pattern matched: a human should read the error first."}}};
  return d;
}

// What the caller knows about the failure.
struct ProposeContext {
  std::string category, log_tail, dag_id, run_id;
  std::optional<json> conf;
  std::optional<bool> upstream_ready;  // explicitly false: never answered with a rerun
};
struct ProposeIn : WithEnvironment {
  std::string signature;
  std::optional<ProposeContext> context;
};

Args<ProposeIn> propose_args() {
  std::vector<std::string> cats;
  for (const auto& [k, v] : defaults()) cats.push_back(k);
  Args<ProposeContext> c;
  c.text("category", &ProposeContext::category, rules::one_of(std::move(cats)),
         "From extract_errors")
      .text("log_tail", &ProposeContext::log_tail, rules::prose(0, kMaxLogTail),
            "Log tail to categorize when no category is given (quoted data)")
      .text("dag_id", &ProposeContext::dag_id, rules::dag_id(), "DAG of the failure")
      .text("run_id", &ProposeContext::run_id, rules::run_id(), "Failed run")
      .object("conf", &ProposeContext::conf, "Conf for a proposed trigger")
      .boolean("upstream_ready", &ProposeContext::upstream_ready,
               "true once the upstream data has landed; false: never answered with a rerun");
  Args<ProposeIn> a;
  // Broader than rules::signature(): a signature may come from another tool's naming.
  a.text("signature", &ProposeIn::signature, Text(1, 64, "^[A-Za-z0-9_-]+$"),
         "Error signature from extract_errors", Need::required)
      .nested("context", &ProposeIn::context, std::move(c), "What is known about the failure");
  return a;
}

// The write's parameters, as request_approval takes them.
struct WriteParamsOut {
  std::string dag_id{};
  std::optional<shape::Object> conf{};  // trigger_dag
  std::optional<std::string> run_id{};  // clear_failed_tasks
  template <class V>
  void fields(V& v) const {
    v.field("dag_id", dag_id, "DAG id");
    v.maybe("conf", conf, "trigger_dag: the run's conf");
    v.maybe("run_id", run_id, "clear_failed_tasks: the failed run");
  }
};

// request_approval's arguments for the proposed write; {} when nothing is to be written.
struct RequestOut {
  std::optional<std::string> action{}, reason{}, environment{};
  std::optional<WriteParamsOut> params{};
  template <class V>
  void fields(V& v) const {
    v.maybe("action", action, "The write");
    v.maybe("params", params, "Its exact parameters");
    v.maybe("reason", reason, "Why");
    v.maybe("environment", environment, "Environment name");
  }
};

struct ProposalOut {
  std::string signature{}, category{};
  std::string category_source = "unknown";
  std::optional<std::vector<std::string>> notes{};
  std::string action = "escalate", risk = "medium", reason;
  bool requires_approval = false;
  RequestOut params{};
  std::string policy{}, environment{}, next_step{};
  template <class V>
  void fields(V& v) const {
    v.field("signature", signature, "Error signature");
    v.field("category", category, "Its category");
    v.one_of("category_source", category_source, {"context", "store", "unknown"},
             "Where the category came from");
    v.maybe("notes", notes, "What could not be read");
    v.one_of("action", action,
             {"clear_failed_tasks", "trigger_dag", "wait_for_upstream", "escalate", "none"},
             "The smallest safe action");
    v.one_of("risk", risk, {"low", "medium", "high"}, "Its risk");
    v.field("reason", reason, "Why");
    v.field("requires_approval", requires_approval, "A human must approve it first");
    v.field("params", params, "request_approval's arguments ({} when nothing is written)");
    v.field("policy", policy, "What the environment's policy says (allowed, why not, or n/a)");
    v.field("environment", environment, "Environment name (\"\" when none is configured)");
    v.field("next_step", next_step, "What to do next");
  }
};

// The category extract_task_errors recorded for `sig` (on the incidents of its latest sightings,
// preferring ones in `dag_id`), with the action and reason recorded next to it. Not found and
// store errors leave `category` empty; a store error is reported in `note`.
struct StoredCategory {
  std::string category, action, reason, note;
};
StoredCategory stored_category(const Deps& deps, const std::string& sig,
                               const std::string& dag_id) {
  StoredCategory out;
  auto st = deps.store();
  if (!st) {
    out.note = "incident store unavailable (" + st.error().message + ")";
    return out;
  }
  for (const std::string& dag : {dag_id, std::string()}) {
    auto info = diagnose::signature_info(**st, sig, dag);
    if (!info) {
      out.note = "signature history unreadable (" + info.error().message + ")";
      return out;
    }
    if (info->found && !info->category.empty()) {
      out.category = info->category;
      out.action = info->action;
      out.reason = info->reason;
      return out;
    }
    if (dag.empty()) break;
  }
  return out;
}

Result<Reply<ProposalOut>> propose(const Deps& deps, const ProposeIn& args) {
  const std::string& sig = args.signature;
  const ProposeContext ctx = args.context.value_or(ProposeContext{});
  std::string category = ctx.category;
  std::string cat_action, risk, reason, source = "context", store_note;
  if (category.empty() && ctx.log_tail.empty()) {
    // No category and no log: what diagnose recorded for this signature, if anything.
    StoredCategory sc = stored_category(deps, sig, ctx.dag_id);
    store_note = sc.note;
    if (!sc.category.empty()) {
      source = "store";
      category = sc.category;
      if (auto it = defaults().find(category); it != defaults().end()) {
        risk = it->second.risk;
        cat_action = !sc.action.empty() ? sc.action : it->second.action;
        reason = !sc.reason.empty() ? sc.reason : it->second.reason;
      } else if (!sc.action.empty()) {
        // A category of a newer rules file: its recorded action, handled with care.
        cat_action = sc.action;
        risk = "medium";
        reason = !sc.reason.empty() ? sc.reason : "Category " + category + " (recorded).";
      }
    } else {
      source = "unknown";
    }
  }
  if (category.empty() && !ctx.log_tail.empty()) {
    logs::DiagnoseOptions opt;
    opt.redactor = deps.redactor;
    opt.categorizer = deps.categorizer;
    auto d = logs::diagnose(ctx.log_tail, opt);
    if (!d) return d.error();
    category = d->category.name;
    cat_action = d->category.action;
    risk = d->category.risk;
    reason = d->category.reason;
  }
  if (category.empty()) category = "unknown";
  if (cat_action.empty()) {
    // A stored category without a default or a recorded action is handled as unknown.
    auto it = defaults().find(category);
    const auto& c = it != defaults().end() ? it->second : defaults().at("unknown");
    cat_action = c.action;
    risk = c.risk;
    reason = c.reason;
  }
  const std::string& dag = ctx.dag_id;
  const std::string& run = ctx.run_id;
  const json conf = ctx.conf.value_or(json::object());

  // The smallest safe action.
  std::string action = "escalate";
  std::string next;
  if (cat_action == "clear_failed_tasks" || cat_action == "retry_after_backoff") {
    if (!dag.empty() && !run.empty()) {
      action = "clear_failed_tasks";
      if (cat_action == "retry_after_backoff") reason += " Wait a few minutes before clearing.";
    } else if (!dag.empty()) {
      action = "trigger_dag";
    } else {
      reason += " (No DAG run given: nothing to rerun.)";
    }
  } else if (cat_action == "wait_for_upstream") {
    if (ctx.upstream_ready.value_or(false) && !dag.empty() && !run.empty()) {
      action = "clear_failed_tasks";
      reason = "The upstream data has landed: rerun the failed tasks.";
    } else {
      action = "wait_for_upstream";
    }
  } else if (cat_action == "none") {
    action = "none";
  }
  // The caller says the upstream data has not landed: a rerun now would fail the same way,
  // whatever the category says about reruns.
  if (ctx.upstream_ready == false && (action == "clear_failed_tasks" || action == "trigger_dag")) {
    action = "wait_for_upstream";
    reason =
        "context.upstream_ready is false: rerunning before the upstream data has landed would "
        "fail the same way. (" +
        reason + ")";
  }

  // Environment and policy (best effort: a proposal without Airflow configured still answers).
  std::string env, tier = "prod", policy = "n/a";
  bool requires_approval = action == "clear_failed_tasks" || action == "trigger_dag";
  if (auto wt = resolve_write(deps, args); wt) {
    env = wt->env;
    tier = wt->tier;
    if (requires_approval) {
      auto st = deps.policy->check({action, env, tier, dag,
                                    action == "trigger_dag" ? conf : json::object(),
                                    action == "clear_failed_tasks" ? run : ""});
      policy = st ? "allowed" : st.error().message;
      if (wt->rule.allow_without_approval && tier != "prod") requires_approval = false;
    }
  } else if (requires_approval) {
    policy = "unchecked: " + wt.error().message;
  }
  if (tier == "prod" && risk == "low" && requires_approval) risk = "medium";

  RequestOut params;
  if (action == "clear_failed_tasks" || action == "trigger_dag") {
    WriteParamsOut p{.dag_id = dag};
    if (action == "trigger_dag") p.conf = shape::Object{conf};
    if (action == "clear_failed_tasks") p.run_id = run;
    params = {.action = action,
              .reason = "signature " + sig + " (" + category + "): " + reason,
              .params = std::move(p)};
    if (!env.empty()) params.environment = env;
    if (policy != "allowed" && policy.rfind("unchecked", 0) != 0) {
      next = "The policy refuses this write (" + policy + "): escalate to a human.";
    } else {
      next = requires_approval
                 ? "Call request_approval with `params`; after a human approves, call " + action +
                       " with the approval_id and the same parameters."
                 : "The dev policy allows " + action + " without an approval: call it directly.";
    }
  } else if (action == "wait_for_upstream") {
    next =
        "Wait for the upstream data (check the upstream DAG / source), then call propose_action "
        "again with context.upstream_ready = true.";
  } else if (action == "none") {
    next = "Nothing to do.";
  } else {
    next = "Escalate: a human should look at the error before anything is rerun.";
  }
  if (source == "unknown" && action == "escalate")
    next +=
        " No category was given and the store has no diagnosis of this signature: run "
        "extract_task_errors on the failed task first, or pass context.category.";
  ProposalOut s{.signature = sig,
                .category = category,
                .category_source = source,
                .action = action,
                .risk = risk,
                .reason = reason,
                .requires_approval = requires_approval,
                .params = std::move(params),
                .policy = policy,
                .environment = env,
                .next_step = next};
  if (!store_note.empty()) s.notes = std::vector<std::string>{store_note};
  const std::string from = source == "store"     ? " (category from the stored diagnosis)"
                           : source == "unknown" ? " (category unknown)"
                                                 : "";
  std::string text = "Proposal for " + sig + " (" + category + ")" + from + ": " + action +
                     ", risk " + risk + ".\n" + reason + "\nNext: " + next +
                     (store_note.empty() ? "" : "\nNote: " + store_note + ".") +
                     "\n(Nothing was executed.)";
  return Reply<ProposalOut>{std::move(text), std::move(s)};
}

}  // namespace

Status register_propose_action(mcp::Server& server, const std::shared_ptr<const Deps>& deps) {
  ToolSpec<ProposeIn, ProposalOut> t;
  t.name = "propose_action";
  t.title = "Propose the smallest safe action";
  t.description =
      "Remediate: for an error signature (and its category, or the log tail; without either, "
      "the category extract_task_errors recorded for the signature), proposes the "
      "smallest safe action — clear the failed tasks for a rerun, trigger with a conf, wait for "
      "upstream, escalate or do nothing — with its risk, reason, whether it needs an approval and "
      "the exact request_approval parameters. Proposes only; never executes anything.";
  t.args = propose_args();
  t.open_world = false;
  t.run = [deps](const ProposeIn& a, mcp::ToolContext&) { return propose(*deps, a); };
  return add_tool(server, deps, std::move(t));
}

}  // namespace dm::runbook::remediate
