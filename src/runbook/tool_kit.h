// Shared building blocks of the runbook tools: one declaration per tool (ToolSpec, with its
// arguments declared in tool_args.h), resolving the `environment` argument, redaction of every
// string a tool returns, and the output byte cap. Every tool ends with finish(): nothing leaves a
// tool without passing through it. Functions here are pure or thread-safe; none throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/json_shape.h"
#include "common/result.h"
#include "mcp/server.h"
#include "runbook/deps.h"
#include "runbook/tool_args.h"

namespace dm::runbook {

using json = nlohmann::json;

// ---- output ----
// Byte cap for one tool: min(tool_default, config caps.output_bytes_max).
std::size_t output_cap(const Deps& deps, std::size_t tool_default);

// Replaces every string VALUE in `v` (recursively; keys are left alone) with its redacted form.
void redact_json(const logs::Redactor& redactor, json& v);

// The last step of every tool. Redacts `text` and every string in `structured`, then makes
// text + serialized structured content fit `cap` bytes: the array holding the most bytes loses
// elements from its end (repeatedly), then over-long strings are cut with "…[cut]"; when anything
// was dropped, structured["truncated"] = true and the text says so. `structured` must be an object.
mcp::ToolResult finish(const Deps& deps, std::string text, json structured, std::size_t cap);

// ---- declaration ----
// A tool's answer: the text a human reads and the structured value (`Out`, a shape declared as in
// common/json_shape.h). Both go through finish() (redaction and the byte cap) in add_tool.
// Or, when `input` is set, a request for input first (MCP input_required; text and value are then
// unused): the client answers it and calls the tool again (mcp/server.h InputRequired). Every
// string of the input requests is redacted.
template <class Out>
struct Reply {
  std::string text{};
  Out value{};
  std::optional<mcp::InputRequired> input{};
};

// `ir` with every string value in its requests redacted.
mcp::ToolResult needs_input(const Deps& deps, mcp::InputRequired ir);

// The output schema of a tool answering `Out`: Out's shape plus `truncated`, which finish() sets
// when it cut the answer to the byte cap.
template <class Out>
json output_schema() {
  json s = shape::schema<Out>();
  s["properties"]["truncated"] = {
      {"type", "boolean"}, {"description", "true when lists or texts were cut to the byte cap"}};
  return s;
}

// One tool, declared once: its arguments (`args`, which gives the input schema, the parsing and the
// validation), what it does to the world (`effect`) and its handler on the parsed arguments.
//   writes_remote: changes Airflow (trigger_dag, clear_failed_tasks);
//   writes_local:  a deliberate write to dagmedic's store (request_approval, generate_postmortem);
//   reads:         everything else. A read may keep dagmedic's own notes as it goes (the incident
//                  of a failed run, an error's occurrence): that bookkeeping is not the call's
//                  purpose, changes nothing a human must approve, and degrades to a note in the
//                  answer when the store is down.
// The effect sets the MCP annotations (readOnlyHint, …) and what the server's door (door.h) does
// before the call; the audit of every request is middleware on the server, not part of this.
template <class In, class Out>
struct ToolSpec {
  std::string name, title, description;
  mcp::Effect effect = mcp::Effect::reads;
  bool open_world = true;   // talks to Airflow (false: works on dagmedic's own store only)
  bool idempotent = false;  // a repeat with the same arguments has no further effect
  Args<In> args;
  // The answer's byte cap before the config's caps.output_bytes_max (output_cap()).
  std::size_t output_bytes = 16 * 1024;
  std::function<Result<Reply<Out>>(const In&, mcp::ToolContext&)> run;
  // Long calls as tasks (MCP 2026-07-28 tasks extension): when set and true for the parsed
  // arguments, the call is answered with a task (status, result, cancel through tasks/*) if the
  // client declared the extension, and runs as a plain call otherwise. `run` is the same either
  // way; in a task, ctx.in_task() is true and progress/log go nowhere.
  std::function<bool(const In&)> long_call{};
};

// Registers `spec`: the input schema comes from spec.args and the output schema from Out's shape;
// the server validates arguments against the input schema, and the handler parses them into In (a
// value the schema let through but the rule refuses is an invalid_argument error, never a call of
// `run`). What `run` returns leaves through finish(*deps, …, output_cap(*deps, output_bytes)).
// `deps` must not be null. Errors as mcp::Server::add_tool.
// (One declaration per tool: the In and Out structs, the Args<In> and Out::fields.)
template <class In, class Out>
Status add_tool(mcp::Server& server, std::shared_ptr<const Deps> deps, ToolSpec<In, Out> spec) {
  mcp::Tool t;
  t.name = std::move(spec.name);
  t.title = std::move(spec.title);
  t.description = std::move(spec.description);
  t.input_schema = spec.args.schema();
  t.output_schema = output_schema<Out>();
  t.annotations.open_world_hint = spec.open_world;
  if (spec.idempotent) t.annotations.idempotent_hint = true;
  if (spec.effect == mcp::Effect::writes_remote) {
    t.annotations.destructive_hint = true;
    t.annotations.idempotent_hint = false;
  } else if (spec.effect == mcp::Effect::writes_local) {
    t.annotations.destructive_hint = false;  // it adds to dagmedic's store, never removes
  }
  t.effect = spec.effect;
  if (spec.long_call) t.task_support = mcp::TaskSupport::optional;
  auto answer = [deps, run = std::move(spec.run), bytes = spec.output_bytes](
                    const In& in, mcp::ToolContext& ctx) -> Result<mcp::ToolResult> {
    auto reply = run(in, ctx);
    if (!reply) return reply.error();
    if (reply->input) return needs_input(*deps, std::move(*reply->input));
    return finish(*deps, std::move(reply->text), shape::to_json(reply->value),
                  output_cap(*deps, bytes));
  };
  t.handler = [args = std::move(spec.args), answer = std::move(answer),
               long_call = std::move(spec.long_call)](
                  const json& arguments, mcp::ToolContext& ctx) -> Result<mcp::ToolResult> {
    auto in = args.parse(arguments);
    if (!in) return in.error();
    if (long_call && long_call(*in))
      return mcp::ToolResult::as_task(
          [answer, in = *in](const json&, mcp::ToolContext& tctx) { return answer(in, tctx); });
    return answer(*in, ctx);
  };
  return server.add_tool(std::move(t));
}

// The arguments of the tools that work on one DAG run: dag_id and run_id (both required).
struct RunIn : WithEnvironment {
  std::string dag_id, run_id;
};
Args<RunIn> run_args(std::string run_description = "DAG run id");

// ---- who is asking ----
// The requester of an MCP request and how the audit names it.
//  - Local mode (no authenticated caller: stdio, HTTP without auth:): the agent
//    "agent:<clientInfo.name>" acting for the operator; audit "agent:<name> for <operator>".
//  - With authorization (ctx.caller() set): the agent is the token's OAuth client
//    ("agent:<azp>"), acting for the token's principal — who is in the requester set
//    (Principal::acting_for: guard never lets them approve it); audit "agent:<azp> for
//    <principal>".
struct Requester {
  guard::Principal agent;
  std::string audit;
  const mcp::Caller* caller = nullptr;  // the ctx's, valid while the request runs
};
Requester requester_of(const Deps& deps, const mcp::ToolContext& ctx);

// ---- environment ----
// The `environment` argument ("" = the default one) → a client. Errors as ClientProvider::get.
Result<Target> resolve_target(const Deps& deps, const WithEnvironment& args);

// ---- time ----
int64_t to_ms(Clock::time_point t);
Clock::time_point from_ms(int64_t ms);

}  // namespace dm::runbook
