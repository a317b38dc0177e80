#include "runbook/door.h"

#include <algorithm>

#include "guard/canonical.h"
#include "runbook/access.h"
#include "runbook/tool_kit.h"

namespace dm::runbook {
namespace {

// "args_sha256:<hex>" of the canonical, redacted arguments: the audit never holds raw arguments.
std::string args_digest(const Deps& deps, const json& args) {
  json red = args;
  redact_json(*deps.redactor, red);
  auto c = guard::canonical_json(red);
  return "args_sha256:" + guard::sha256_hex(c ? *c : red.dump());
}

// The first text block of a tool result, or the JSON-RPC error message.
std::string answer_text(const mcp::Answer& a) {
  if (a.code != 0) return a.message;
  if (auto c = a.result.find("content"); c != a.result.end() && c->is_array())
    for (const auto& b : *c)
      if (b.is_object() && b.value("type", "") == "text" && b.contains("text") &&
          b["text"].is_string())
        return b["text"].get<std::string>();
  return {};
}

// A note for the client that the audit could not record the call (reads only).
void add_note(const mcp::Call& call, mcp::Answer& a, const std::string& note) {
  if (call.method == "tools/call" && a.code == 0 && a.result.is_object()) {
    a.result["content"].push_back({{"type", "text"}, {"text", note}});
  } else if (a.code != 0) {
    a.message += " " + note;
  }
  // resources/read, prompts/get and completion results have no place for a note: the server's
  // own log (stderr) is the only trace, as for any read when the audit store is down.
}

mcp::Answer audited(const Deps& deps, const mcp::Call& call, mcp::RequestContext& ctx,
                    const mcp::Next& next) {
  guard::AuditEvent ev;
  ev.principal = requester_of(deps, ctx).audit;
  ev.tool = call.method == "tools/call" ? call.target : call.method + " " + call.target;
  ev.args_digest = args_digest(deps, call.arguments);
  // With authorization, a caller reaches only the environments its token maps to (access.h).
  if (const mcp::Caller* who = ctx.caller())
    if (auto env = call_environment(deps, call);
        env && !std::binary_search(who->environments.begin(), who->environments.end(), *env)) {
      std::string mine;
      for (const auto& e : who->environments) mine += (mine.empty() ? "" : ", ") + e;
      const std::string why = who->principal + " may not act in environment " + *env +
                              " (the token grants: " + (mine.empty() ? "none" : mine) + ")";
      ev.decision = "refused";
      ev.upstream_status = "permission_denied";
      ev.upstream_summary = why;
      auto audit = deps.audit();
      auto row = audit ? (*audit)->append(ev) : Result<store::AuditRow>(audit.error());
      std::string msg = call.target + " refused: " + why + "; nothing was run.";
      if (!row) msg += " (Note: the audit log could not record this refusal.)";
      return mcp::Answer::refuse(call, msg);
    }
  // Fail closed before anything outside changes (an undeclared effect counts as such). A local
  // write goes to the store that also holds the audit: it reports its own store failures, and
  // the approvals it creates are audited by guard::Approvals, which fails closed itself.
  if (!call.effect || *call.effect == mcp::Effect::writes_remote) {
    guard::AuditEvent pre = ev;
    pre.decision = "call";
    auto audit = deps.audit();
    auto row = audit ? (*audit)->append(pre) : Result<store::AuditRow>(audit.error());
    if (!row)
      return mcp::Answer::refuse(
          call, call.target + " refused: the audit log cannot record this call (" +
                    deps.redactor->redact(row.error().message) + "); nothing was run.");
  }
  mcp::Answer a = next();
  if (!a.failed()) {
    // An input_required answer (MCP 2026-07-28) asked the client for input; nothing was done yet.
    const bool asked = a.result.is_object() && a.result.value("resultType", "") == "input_required";
    ev.decision = asked ? "input_required" : "answered";
    ev.upstream_status = "ok";
  } else {
    ev.decision = "error";
    ev.upstream_status = a.code != 0 ? "rpc " + std::to_string(a.code) : "error";
    ev.upstream_summary = deps.redactor->redact(answer_text(a).substr(0, 300));
  }
  auto audit = deps.audit();
  auto post = audit ? (*audit)->append(ev) : Result<store::AuditRow>(audit.error());
  if (!post)
    add_note(call, a,
             "(Note: this call could not be recorded in the audit log: " +
                 deps.redactor->redact(post.error().message) + ")");
  return a;
}

}  // namespace

Status install_door(mcp::Server& server, const std::shared_ptr<const Deps>& deps) {
  if (!deps) return make_error(Errc::invalid_argument, "the runbook needs its dependencies");
  server.use([deps](const mcp::Call& call, mcp::RequestContext& ctx, const mcp::Next& next) {
    return audited(*deps, call, ctx, next);
  });
  return Status::Ok();
}

}  // namespace dm::runbook
