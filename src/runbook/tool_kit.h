// Shared building blocks of the runbook tools: argument schemas with the Airflow id rules,
// resolving the `environment` argument, redaction of every string a tool returns, and the output
// byte cap. Every tool ends with finish(): nothing leaves a tool without passing through it.
// Functions here are pure or thread-safe; none throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"
#include "mcp/server.h"
#include "runbook/deps.h"

namespace dm::runbook {

using json = nlohmann::json;

// ---- input schema pieces ----
// Optional `environment` (a configured environment's name).
json environment_property();
// DAG and task ids as Airflow allows them: [A-Za-z0-9_.-], 1..250 characters.
json dag_id_property(std::string description = "DAG id");
json task_id_property(std::string description = "Task id");
// Run ids: 1..250 printable characters, no control characters, no '/' or '\\' path tricks.
json run_id_property(std::string description = "DAG run id");
// {"type":"integer","minimum":lo,"maximum":hi,"description":…} (+ "default" when given).
json int_property(long long lo, long long hi, std::string description,
                  std::optional<long long> dflt = std::nullopt);

// An object schema with `properties` (environment added), `required`, and no other keys.
json object_schema(json properties, json required = json::array());

// The output schema every tool shares at top level: the tool's `properties` plus `truncated`.
// `required` lists the keys always present.
json output_object_schema(json properties, json required);

// ---- registration ----
// Registers `tool` with its declared effect, which sets the MCP annotations (readOnlyHint) and
// what the server's door (door.h) does before the call; the audit of every request is middleware
// on the server, not part of this function.
//   writes_remote: changes Airflow (trigger_dag, clear_failed_tasks);
//   writes_local:  a deliberate write to dagmedic's store (request_approval, generate_postmortem);
//   reads:         everything else. A read may keep dagmedic's own notes as it goes (the incident
//                  of a failed run, an error's occurrence): that bookkeeping is not the call's
//                  purpose, changes nothing a human must approve, and degrades to a note in the
//                  answer when the store is down.
Status add_tool(mcp::Server& server, mcp::Tool tool, mcp::Effect effect);

// ---- arguments ----
// An optional string / integer argument: absent or of another type → "" / nullopt (the input
// schema has already rejected wrong types; this is the tool's own safety net).
std::string str_arg(const json& args, const char* key);
std::optional<long long> int_arg(const json& args, const char* key);

// ---- environment ----
// args["environment"] (absent/empty = the default one) → a client. Errors as ClientProvider::get.
Result<Target> resolve_target(const Deps& deps, const json& args);

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

// ---- time ----
int64_t to_ms(Clock::time_point t);
Clock::time_point from_ms(int64_t ms);

}  // namespace dm::runbook
