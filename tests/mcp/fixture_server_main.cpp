// mcp-fixture-server: the MCP conformance suite's "everything server", built on src/mcp.
// Registers exactly the tools, resources, prompts and completions that
// @modelcontextprotocol/conformance (0.1.16 and 0.2.0-alpha.12) calls, with the payloads its
// scenarios check: the 2025-11-25 ones (server->client requests) and the 2026-07-28 ones
// (input_required results, subscriptions, the tasks extension's greet/slow_compute/... tools,
// an x-mcp-header parameter). Usage:
//   mcp-fixture-server --stdio          newline-delimited JSON-RPC on stdin/stdout
//   mcp-fixture-server --port N         Streamable HTTP on 127.0.0.1:N/mcp (0 = any free port;
//                                       the bound port is printed to stderr as "listening on ...")
//   --page-size N                       items per tools/resources/prompts list page (N >= 1;
//                                       default 100), so clients can be tested on pagination
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "mcp/server.h"
#include "mcp/stdio_transport.h"

#if __has_include("mcp/http/http_server.h")
#include "mcp/http/http_server.h"
#define DM_FIXTURE_HAVE_HTTP 1
#endif

namespace {

using dm::Result;
using dm::mcp::json;
using dm::mcp::LogLevel;
using dm::mcp::RequestContext;
using dm::mcp::ResourceContents;
using dm::mcp::ToolResult;

// 1x1 red PNG and a minimal WAV (the suite only checks type, data presence and mimeType).
constexpr const char* kPng =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg"
    "==";
constexpr const char* kWav = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=";

json object_schema(json properties = json::object(), json required = json::array()) {
  json s = {{"type", "object"}, {"properties", std::move(properties)}};
  if (!required.empty()) s["required"] = std::move(required);
  return s;
}

void check(const dm::Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "mcp-fixture-server: registration failed: %s\n",
                 s.error().message.c_str());
    std::exit(2);
  }
}

// Pauses a handler without ignoring cancellation (returns early when the request is cancelled).
void pause(RequestContext& ctx, int ms) {
  ctx.cancel_token().wait_for(std::chrono::milliseconds(ms));
}

std::string elicit_summary(const char* prefix, const Result<json>& r) {
  if (!r) return std::string("Elicitation not supported or error: ") + r.error().message;
  const json& v = *r;
  return std::string(prefix) + "action=" + v.value("action", std::string("?")) +
         ", content=" + v.value("content", json::object()).dump();
}

// ---- 2026-07-28: multi round-trip requests, subscriptions, tasks ---------------------------

using dm::mcp::InputRequired;
using dm::mcp::TaskSupport;

json name_schema(const char* property) {
  return object_schema({{property, {{"type", "string"}}}}, {property});
}

// The content of an accepted elicitation answer under `key`, or nullptr.
const json* accepted(const RequestContext& ctx, const char* key) {
  const json& r = ctx.input_responses();
  auto it = r.find(key);
  if (it == r.end() || !it->is_object() || it->value("action", "") != "accept") return nullptr;
  auto c = it->find("content");
  return c != it->end() && c->is_object() ? &*c : nullptr;
}

std::string text_of(const json& sampling_result) {
  const json content = sampling_result.value("content", json());
  const json& first = content.is_array() && !content.empty() ? content[0] : content;
  return first.is_object() ? first.value("text", std::string()) : std::string();
}

json sampling_params(const char* text, int max_tokens) {
  return {{"messages", {{{"role", "user"}, {"content", {{"type", "text"}, {"text", text}}}}}},
          {"maxTokens", max_tokens}};
}

dm::Status add(dm::mcp::Server& s, const char* name, const char* desc, dm::mcp::ToolHandler h,
               json schema = json::object(), TaskSupport task = TaskSupport::none,
               json required_caps = json::object()) {
  return s.add_tool({.name = name,
                     .description = desc,
                     .input_schema = std::move(schema),
                     .handler = std::move(h),
                     .required_client_capabilities = std::move(required_caps),
                     .task_support = task});
}

void register_mrtr_tools(dm::mcp::Server& s) {
  check(add(s, "test_input_required_result_elicitation",
            "Asks the user's name through an input_required result (SEP-2322)",
            [](const json&, RequestContext& ctx) -> Result<ToolResult> {
              if (const json* c = accepted(ctx, "user_name")) {
                return ToolResult::text("Hello, " + c->value("name", std::string("?")) + "!");
              }
              return ToolResult::needs_input(
                  InputRequired{}.elicit("user_name", "What is your name?", name_schema("name")));
            }));
  check(add(s, "test_input_required_result_sampling",
            "Asks the client's model a question through an input_required result",
            [](const json&, RequestContext& ctx) -> Result<ToolResult> {
              auto it = ctx.input_responses().find("capital_question");
              if (it != ctx.input_responses().end()) {
                return ToolResult::text("The model said: " + text_of(*it));
              }
              return ToolResult::needs_input(InputRequired{}.sample(
                  "capital_question", sampling_params("What is the capital of France?", 100)));
            }));
  check(add(s, "test_input_required_result_list_roots",
            "Asks for the client's roots through an input_required result",
            [](const json&, RequestContext& ctx) -> Result<ToolResult> {
              auto it = ctx.input_responses().find("client_roots");
              if (it != ctx.input_responses().end()) {
                return ToolResult::text("Roots: " + it->value("roots", json::array()).dump());
              }
              return ToolResult::needs_input(InputRequired{}.list_roots("client_roots"));
            }));
  check(add(s, "test_input_required_result_request_state",
            "Round-trips a sealed requestState with its input request",
            [](const json&, RequestContext& ctx) -> Result<ToolResult> {
              const auto& st = ctx.request_state();
              if (st && st->value("round", 0) == 1 && accepted(ctx, "confirm")) {
                return ToolResult::text("state-ok: the requestState came back intact");
              }
              InputRequired ir;
              ir.elicit("confirm", "Please confirm",
                        object_schema({{"ok", {{"type", "boolean"}}}}, {"ok"}));
              ir.state = json{{"round", 1}};
              return ToolResult::needs_input(std::move(ir));
            }));
  check(add(s, "test_input_required_result_multiple_inputs",
            "Asks for an elicitation, a sampling and the roots at once",
            [](const json&, RequestContext& ctx) -> Result<ToolResult> {
              const json& r = ctx.input_responses();
              if (ctx.request_state() && r.contains("user_name") && r.contains("greeting") &&
                  r.contains("client_roots")) {
                const json* c = accepted(ctx, "user_name");
                return ToolResult::text(
                    "Name " + (c ? c->value("name", std::string()) : "?") + ", greeting " +
                    text_of(r["greeting"]) + ", " +
                    std::to_string(r["client_roots"].value("roots", json::array()).size()) +
                    " root(s)");
              }
              InputRequired ir;
              ir.elicit("user_name", "What is your name?", name_schema("name"))
                  .sample("greeting", sampling_params("Generate a greeting", 50))
                  .list_roots("client_roots");
              ir.state = json{{"asked", "all three"}};
              return ToolResult::needs_input(std::move(ir));
            }));
  check(add(s, "test_input_required_result_multi_round",
            "Asks twice, carrying what it learned in the requestState",
            [](const json&, RequestContext& ctx) -> Result<ToolResult> {
              const auto& st = ctx.request_state();
              if (st && st->value("step", 0) == 2) {
                if (const json* c = accepted(ctx, "step2")) {
                  return ToolResult::text(st->value("name", std::string()) + " likes " +
                                          c->value("color", std::string()));
                }
              }
              if (const json* c = accepted(ctx, "step1"); c && st && st->value("step", 0) == 1) {
                InputRequired ir;
                ir.elicit("step2", "Step 2: What is your favorite color?", name_schema("color"));
                ir.state = json{{"step", 2}, {"name", c->value("name", std::string())}};
                return ToolResult::needs_input(std::move(ir));
              }
              InputRequired ir;
              ir.elicit("step1", "Step 1: What is your name?", name_schema("name"));
              ir.state = json{{"step", 1}};
              return ToolResult::needs_input(std::move(ir));
            }));
  check(add(s, "test_input_required_result_tampered_state",
            "Issues an integrity-protected requestState; a changed one is refused",
            [](const json&, RequestContext& ctx) -> Result<ToolResult> {
              if (ctx.request_state() && accepted(ctx, "confirm")) {
                return ToolResult::text("state verified");
              }
              InputRequired ir;
              ir.elicit("confirm", "Please confirm",
                        object_schema({{"ok", {{"type", "boolean"}}}}, {"ok"}));
              ir.state = json{{"issued", "for this call only"}};
              return ToolResult::needs_input(std::move(ir));
            }));
  check(add(s, "test_input_required_result_capabilities",
            "Asks only for what the client declared it can give",
            [](const json&, RequestContext& ctx) -> Result<ToolResult> {
              if (!ctx.input_responses().empty()) return ToolResult::text("thanks");
              InputRequired ir;
              if (ctx.client_supports("elicitation")) {
                ir.elicit("user_name", "What is your name?", name_schema("name"));
              }
              if (ctx.client_supports("sampling")) {
                ir.sample("capital_question",
                          sampling_params("What is the capital of France?", 100));
              }
              if (ctx.client_supports("roots")) ir.list_roots("client_roots");
              if (ir.requests.empty()) return ToolResult::text("nothing to ask this client");
              return ToolResult::needs_input(std::move(ir));
            }));
  check(add(s, "test_streaming_elicitation",
            "Reports progress, then asks for input with an input_required result (never a "
            "server->client request)",
            [](const json&, RequestContext& ctx) -> Result<ToolResult> {
              ctx.progress(1, 2, "about to ask");
              if (const json* c = accepted(ctx, "answer")) return ToolResult::text(c->dump());
              return ToolResult::needs_input(
                  InputRequired{}.elicit("answer", "Anything to add?", name_schema("text")));
            }));
  check(add(s, "test_logging_tool",
            "Logs three messages (sent only when the request's _meta asks for a log level)",
            [](const json&, RequestContext& ctx) -> Result<ToolResult> {
              for (const char* m : {"started", "working", "done"}) {
                ctx.log(LogLevel::info, "conformance-test-server", m);
              }
              return ToolResult::text("logged");
            }));
  check(add(s, "test_missing_capability", "Needs the client's sampling capability",
            [](const json&, RequestContext&) -> Result<ToolResult> {
              return ToolResult::text("the client declared sampling");
            },
            json::object(), TaskSupport::none, {{"sampling", json::object()}}));
  check(s.add_tool(
      {.name = "test_header_param",
       .description = "Mirrors its region argument into an Mcp-Param-Region header",
       .input_schema = object_schema(
           {{"region",
             {{"type", "string"}, {"description", "A region"}, {"x-mcp-header", "Region"}}}},
           {"region"}),
       .handler = [](const json& args, RequestContext&) -> Result<ToolResult> {
         return ToolResult::text("region " + args.value("region", std::string()));
       }}));

  // Hooks that change the lists, so subscriptions/listen has something to report.
  std::weak_ptr<dm::mcp::Server> weak = s.shared_from_this();
  check(add(s, "test_trigger_tool_change", "Adds or removes the tool test_dynamic_tool",
            [weak](const json&, RequestContext&) -> Result<ToolResult> {
              auto server = weak.lock();
              if (!server) return dm::make_error(dm::Errc::unavailable, "server gone");
              if (server->remove_tool("test_dynamic_tool")) return ToolResult::text("removed");
              (void)server->add_tool(
                  {.name = "test_dynamic_tool",
                   .description = "Comes and goes",
                   .handler = [](const json&, RequestContext&) -> Result<ToolResult> {
                     return ToolResult::text("hi");
                   }});
              return ToolResult::text("added");
            }));
  check(add(s, "test_trigger_prompt_change", "Adds or removes the prompt test_dynamic_prompt",
            [weak](const json&, RequestContext&) -> Result<ToolResult> {
              auto server = weak.lock();
              if (!server) return dm::make_error(dm::Errc::unavailable, "server gone");
              if (server->remove_prompt("test_dynamic_prompt")) return ToolResult::text("removed");
              (void)server->add_prompt({.name = "test_dynamic_prompt",
                                        .description = "Comes and goes",
                                        .handler = [](const std::map<std::string, std::string>&,
                                                      RequestContext&) -> Result<json> {
                                          return json{{"messages", json::array()}};
                                        }});
              return ToolResult::text("added");
            }));
}

// The tasks extension's fixtures (tasks-* scenarios).
void register_task_tools(dm::mcp::Server& s) {
  check(add(
      s, "greet", "Says hello (never a task)",
      [](const json& args, RequestContext&) -> Result<ToolResult> {
        return ToolResult::text("Hello, " + args.value("name", std::string("World")) + "!");
      },
      object_schema({{"name", {{"type", "string"}}}})));
  check(add(
      s, "slow_compute", "Waits `seconds`, then answers; a task for clients that take one",
      [](const json&, RequestContext&) -> Result<ToolResult> {
        return ToolResult::as_task([](const json& args, RequestContext& ctx) -> Result<ToolResult> {
          const auto secs = args.value("seconds", 0);
          if (ctx.cancel_token().wait_for(std::chrono::seconds(secs))) {
            return dm::make_error(dm::Errc::cancelled, "cancelled");
          }
          return ToolResult::text("Computed " + args.value("label", std::string()) + " after " +
                                  std::to_string(secs) + " s");
        });
      },
      object_schema(
          {{"seconds", {{"type", "integer"}, {"minimum", 0}}}, {"label", {{"type", "string"}}}}),
      TaskSupport::optional));
  check(add(
      s, "failing_job", "Fails (a tool execution error) after about a second",
      [](const json&, RequestContext&) -> Result<ToolResult> {
        return ToolResult::as_task([](const json&, RequestContext& ctx) -> Result<ToolResult> {
          pause(ctx, 1000);
          return dm::make_error(dm::Errc::internal, "the job failed, as it always does");
        });
      },
      json::object(), TaskSupport::required));
  check(add(
      s, "protocol_error_job", "Ends in a protocol error (the task fails)",
      [](const json&, RequestContext&) -> Result<ToolResult> {
        return ToolResult::as_task([](const json&, RequestContext&) -> Result<ToolResult> {
          return ToolResult::protocol_error(-32603, "Internal error: the job crashed");
        });
      },
      json::object(), TaskSupport::optional));
  check(add(
      s, "confirm_delete", "Asks for confirmation, then deletes (nothing, really)",
      [](const json&, RequestContext&) -> Result<ToolResult> {
        return ToolResult::as_task([](const json& args, RequestContext& ctx) -> Result<ToolResult> {
          const std::string file = args.value("filename", std::string());
          if (const json* c = accepted(ctx, "confirm")) {
            return ToolResult::text("Deleted " + file +
                                    " (confirm=" + c->value("confirm", json(false)).dump() + ")");
          }
          if (ctx.input_responses().contains("confirm")) {
            return ToolResult::text("Kept " + file);
          }
          return ToolResult::needs_input(InputRequired{}.elicit(
              "confirm", "Delete " + file + "?",
              object_schema({{"confirm", {{"type", "boolean"}}}}, {"confirm"})));
        });
      },
      object_schema({{"filename", {{"type", "string"}}}}), TaskSupport::optional));
  check(add(
      s, "multi_input", "Asks two questions at once",
      [](const json&, RequestContext&) -> Result<ToolResult> {
        return ToolResult::as_task([](const json&, RequestContext& ctx) -> Result<ToolResult> {
          const json& r = ctx.input_responses();
          if (r.contains("first") && r.contains("second")) {
            return ToolResult::text("Both answered");
          }
          return ToolResult::needs_input(
              InputRequired{}
                  .elicit("first", "First question?", name_schema("name"))
                  .elicit("second", "Second question?", name_schema("name")));
        });
      },
      json::object(), TaskSupport::optional));
  check(add(
      s, "test_tool_with_task",
      "Asks the user's name (input_required), then greets them from a task",
      [](const json&, RequestContext& ctx) -> Result<ToolResult> {
        const json* c = accepted(ctx, "user_name");
        if (!c) {
          return ToolResult::needs_input(
              InputRequired{}.elicit("user_name", "What is your name?", name_schema("name")));
        }
        const std::string name = c->value("name", std::string());
        return ToolResult::as_task([name](const json&, RequestContext&) -> Result<ToolResult> {
          return ToolResult::text("Hello from the task, " + name + "!");
        });
      },
      json::object(), TaskSupport::required));
}

void register_tools(dm::mcp::Server& s) {
  const auto no_args = [&](const char* name, const char* desc, dm::mcp::ToolHandler h) {
    check(s.add_tool({.name = name, .description = desc, .handler = std::move(h)}));
  };
  no_args("test_simple_text", "Tests simple text content response",
          [](const json&, RequestContext&) -> Result<ToolResult> {
            return ToolResult::text("This is a simple text response for testing.");
          });
  no_args("test_image_content", "Tests image content response",
          [](const json&, RequestContext&) -> Result<ToolResult> {
            ToolResult r;
            r.content.push_back({{"type", "image"}, {"data", kPng}, {"mimeType", "image/png"}});
            return r;
          });
  no_args("test_audio_content", "Tests audio content response",
          [](const json&, RequestContext&) -> Result<ToolResult> {
            ToolResult r;
            r.content.push_back({{"type", "audio"}, {"data", kWav}, {"mimeType", "audio/wav"}});
            return r;
          });
  no_args("test_embedded_resource", "Tests embedded resource content response",
          [](const json&, RequestContext&) -> Result<ToolResult> {
            ToolResult r;
            r.content.push_back({{"type", "resource"},
                                 {"resource",
                                  {{"uri", "test://embedded-resource"},
                                   {"mimeType", "text/plain"},
                                   {"text", "This is an embedded resource content."}}}});
            return r;
          });
  no_args("test_multiple_content_types",
          "Tests response with multiple content types (text, image, resource)",
          [](const json&, RequestContext&) -> Result<ToolResult> {
            ToolResult r = ToolResult::text("Multiple content types test:");
            r.content.push_back({{"type", "image"}, {"data", kPng}, {"mimeType", "image/png"}});
            r.content.push_back({{"type", "resource"},
                                 {"resource",
                                  {{"uri", "test://mixed-content-resource"},
                                   {"mimeType", "application/json"},
                                   {"text", R"({"test":"data","value":123})"}}}});
            return r;
          });
  no_args("test_tool_with_logging", "Tests tool that emits log messages during execution",
          [](const json&, RequestContext& ctx) -> Result<ToolResult> {
            ctx.log(LogLevel::info, "conformance-test-server", "Tool execution started");
            pause(ctx, 50);
            ctx.log(LogLevel::info, "conformance-test-server", "Tool processing data");
            pause(ctx, 50);
            ctx.log(LogLevel::info, "conformance-test-server", "Tool execution completed");
            return ToolResult::text("Tool with logging executed successfully");
          });
  no_args("test_tool_with_progress", "Tests tool that reports progress notifications",
          [](const json&, RequestContext& ctx) -> Result<ToolResult> {
            for (int step : {0, 50, 100}) {
              if (step != 0) pause(ctx, 50);
              ctx.progress(step, 100, "Completed step " + std::to_string(step) + " of 100");
            }
            return ToolResult::text(ctx.request_meta().value("progressToken", json(0)).dump());
          });
  no_args("test_error_handling", "Tests error response handling",
          [](const json&, RequestContext&) -> Result<ToolResult> {
            return dm::make_error(dm::Errc::internal,
                                  "This tool intentionally returns an error for testing");
          });
  no_args("test_reconnection",
          "Tests SSE stream disconnection and client reconnection (SEP-1699); returns after a "
          "short pause",
          [](const json&, RequestContext& ctx) -> Result<ToolResult> {
            pause(ctx, 100);
            return ToolResult::text(
                "Reconnection test completed successfully. If you received this, the client "
                "properly reconnected after stream closure.");
          });

  check(s.add_tool(
      {.name = "test_sampling",
       .description = "Tests server-initiated sampling (LLM completion request)",
       .input_schema = object_schema(
           {{"prompt", {{"type", "string"}, {"description", "The prompt to send to the LLM"}}}},
           {"prompt"}),
       .handler = [](const json& args, RequestContext& ctx) -> Result<ToolResult> {
         json params = {
             {"messages",
              {{{"role", "user"},
                {"content", {{"type", "text"}, {"text", args["prompt"].get<std::string>()}}}}}},
             {"maxTokens", 100}};
         auto r = ctx.create_message(std::move(params), std::chrono::seconds(30));
         if (!r)
           return dm::make_error(r.error().code,
                                 "Sampling not supported or error: " + r.error().message);
         std::string text = "No response";
         const json content = r->value("content", json());
         const json& first = content.is_array() && !content.empty() ? content[0] : content;
         if (first.is_object()) text = first.value("text", text);
         return ToolResult::text("LLM response: " + text);
       }}));

  check(s.add_tool(
      {.name = "test_elicitation",
       .description = "Tests server-initiated elicitation (user input request)",
       .input_schema = object_schema(
           {{"message", {{"type", "string"}, {"description", "The message to show the user"}}}},
           {"message"}),
       .handler = [](const json& args, RequestContext& ctx) -> Result<ToolResult> {
         json schema = object_schema(
             {{"username", {{"type", "string"}, {"description", "User's response"}}},
              {"email", {{"type", "string"}, {"description", "User's email address"}}}},
             {"username", "email"});
         auto r = ctx.elicit_form(args["message"].get<std::string>(), std::move(schema),
                                  std::chrono::seconds(30));
         if (!r) return dm::make_error(r.error().code, elicit_summary("", r));
         return ToolResult::text(elicit_summary("User response: ", r));
       }}));

  no_args(
      "test_elicitation_sep1034_defaults", "Tests elicitation with default values per SEP-1034",
      [](const json&, RequestContext& ctx) -> Result<ToolResult> {
        json schema = object_schema({
            {"name", {{"type", "string"}, {"description", "User name"}, {"default", "John Doe"}}},
            {"age", {{"type", "integer"}, {"description", "User age"}, {"default", 30}}},
            {"score", {{"type", "number"}, {"description", "User score"}, {"default", 95.5}}},
            {"status",
             {{"type", "string"},
              {"description", "User status"},
              {"enum", {"active", "inactive", "pending"}},
              {"default", "active"}}},
            {"verified",
             {{"type", "boolean"}, {"description", "Verification status"}, {"default", true}}},
        });
        auto r = ctx.elicit_form("Please review and update the form fields with defaults",
                                 std::move(schema), std::chrono::seconds(30));
        if (!r) return dm::make_error(r.error().code, elicit_summary("", r));
        return ToolResult::text(elicit_summary("Elicitation completed: ", r));
      });

  no_args("test_elicitation_sep1330_enums", "Tests elicitation with enum schemas per SEP-1330",
          [](const json&, RequestContext& ctx) -> Result<ToolResult> {
            const auto titled = [](const char* a, const char* b, const char* c, const char* ta,
                                   const char* tb, const char* tc) {
              return json::array({{{"const", a}, {"title", ta}},
                                  {{"const", b}, {"title", tb}},
                                  {{"const", c}, {"title", tc}}});
            };
            json schema = object_schema({
                {"untitledSingle",
                 {{"type", "string"},
                  {"description", "Select one option"},
                  {"enum", {"option1", "option2", "option3"}}}},
                {"titledSingle",
                 {{"type", "string"},
                  {"description", "Select one option with titles"},
                  {"oneOf", titled("value1", "value2", "value3", "First Option", "Second Option",
                                   "Third Option")}}},
                {"legacyEnum",
                 {{"type", "string"},
                  {"description", "Select one option (legacy)"},
                  {"enum", {"opt1", "opt2", "opt3"}},
                  {"enumNames", {"Option One", "Option Two", "Option Three"}}}},
                {"untitledMulti",
                 {{"type", "array"},
                  {"description", "Select multiple options"},
                  {"items", {{"type", "string"}, {"enum", {"option1", "option2", "option3"}}}}}},
                {"titledMulti",
                 {{"type", "array"},
                  {"description", "Select multiple options with titles"},
                  {"items",
                   {{"anyOf", titled("value1", "value2", "value3", "First Choice", "Second Choice",
                                     "Third Choice")}}}}},
            });
            auto r = ctx.elicit_form("Please select options from the enum fields",
                                     std::move(schema), std::chrono::seconds(30));
            if (!r) return dm::make_error(r.error().code, elicit_summary("", r));
            return ToolResult::text(elicit_summary("Elicitation completed: ", r));
          });

  // SEP-1613 / SEP-2106: the listing must keep every 2020-12 keyword as written.
  const json address = {
      {"$anchor", "addressDef"},
      {"type", "object"},
      {"properties", {{"street", {{"type", "string"}}}, {"city", {{"type", "string"}}}}}};
  json schema2020 = {
      {"$schema", "https://json-schema.org/draft/2020-12/schema"},
      {"type", "object"},
      {"$defs", {{"address", address}}},
      {"properties",
       {{"name", {{"type", "string"}}},
        {"address", {{"$ref", "#/$defs/address"}}},
        {"contactMethod", {{"type", "string"}, {"enum", {"phone", "email"}}}},
        {"phone", {{"type", "string"}}},
        {"email", {{"type", "string"}}}}},
      {"allOf",
       json::array(
           {{{"anyOf", json::array({{{"required", {"phone"}}}, {{"required", {"email"}}}})}}})},
      {"if",
       {{"properties", {{"contactMethod", {{"const", "phone"}}}}},
        {"required", {"contactMethod"}}}},
      {"then", {{"required", {"phone"}}}},
      {"else", {{"required", {"email"}}}},
      {"additionalProperties", false}};
  check(s.add_tool({.name = "json_schema_2020_12_tool",
                    .description = "Tool with JSON Schema 2020-12 features",
                    .input_schema = std::move(schema2020),
                    .handler = [](const json& args, RequestContext&) -> Result<ToolResult> {
                      return ToolResult::text("Received: " + args.dump());
                    }}));
}

Result<std::vector<ResourceContents>> one_text(const std::string& uri, const char* mime,
                                               std::string text) {
  return std::vector<ResourceContents>{{.uri = uri, .mime_type = mime, .text = std::move(text)}};
}

void register_resources(dm::mcp::Server& s) {
  check(s.add_resource({.uri = "test://static-text",
                        .name = "Static Text Resource",
                        .description = "A static text resource for testing",
                        .mime_type = "text/plain",
                        .handler = [](const std::string& uri, RequestContext&) {
                          return one_text(uri, "text/plain",
                                          "This is the content of the static text resource.");
                        }}));
  check(s.add_resource({.uri = "test://static-binary",
                        .name = "Static Binary Resource",
                        .description = "A static binary resource (image) for testing",
                        .mime_type = "image/png",
                        .handler = [](const std::string& uri,
                                      RequestContext&) -> Result<std::vector<ResourceContents>> {
                          return std::vector<ResourceContents>{{.uri = uri,
                                                                .mime_type = "image/png",
                                                                .blob_base64 = std::string(kPng)}};
                        }}));
  check(s.add_resource({.uri = "test://watched-resource",
                        .name = "Watched Resource",
                        .description = "A resource that can be subscribed to",
                        .mime_type = "text/plain",
                        .handler = [](const std::string& uri, RequestContext&) {
                          return one_text(uri, "text/plain", "Watched resource content");
                        }}));
  check(s.add_resource_template(
      {.uri_template = "test://template/{id}/data",
       .name = "Resource Template",
       .description = "A resource template with parameter substitution",
       .mime_type = "application/json",
       .handler = [](const std::string& uri, const dm::mcp::UriVars& vars, RequestContext&) {
         const std::string id = vars.at("id");
         json body = {{"id", id}, {"templateTest", true}, {"data", "Data for ID: " + id}};
         return one_text(uri, "application/json", body.dump());
       }}));
}

json user_text(std::string text) {
  return {{"role", "user"}, {"content", {{"type", "text"}, {"text", std::move(text)}}}};
}

void register_prompts(dm::mcp::Server& s) {
  using Args = std::map<std::string, std::string>;
  check(s.add_prompt(
      {.name = "test_simple_prompt",
       .description = "A simple prompt without arguments",
       .handler = [](const Args&, RequestContext&) -> Result<json> {
         return json{{"messages", {user_text("This is a simple prompt for testing.")}}};
       }}));
  check(s.add_prompt(
      {.name = "test_prompt_with_arguments",
       .description = "A prompt with required arguments",
       .arguments = {{"arg1", "First test argument", true}, {"arg2", "Second test argument", true}},
       .handler = [](const Args& a, RequestContext&) -> Result<json> {
         return json{{"messages",
                      {user_text("Prompt with arguments: arg1='" + a.at("arg1") + "', arg2='" +
                                 a.at("arg2") + "'")}}};
       }}));
  check(s.add_prompt(
      {.name = "test_prompt_with_embedded_resource",
       .description = "A prompt that includes an embedded resource",
       .arguments = {{"resourceUri", "URI of the resource to embed", true}},
       .handler = [](const Args& a, RequestContext&) -> Result<json> {
         json res = {{"role", "user"},
                     {"content",
                      {{"type", "resource"},
                       {"resource",
                        {{"uri", a.at("resourceUri")},
                         {"mimeType", "text/plain"},
                         {"text", "Embedded resource content for testing."}}}}}};
         return json{{"messages", {res, user_text("Please process the embedded resource above.")}}};
       }}));
  check(s.add_prompt(
      {.name = "test_prompt_with_image",
       .description = "A prompt that includes image content",
       .handler = [](const Args&, RequestContext&) -> Result<json> {
         json img = {{"role", "user"},
                     {"content", {{"type", "image"}, {"data", kPng}, {"mimeType", "image/png"}}}};
         return json{{"messages", {img, user_text("Please analyze the image above.")}}};
       }}));
  check(s.add_prompt(
      {.name = "test_input_required_result_prompt",
       .description = "Asks what context to use (input_required on prompts/get)",
       .handler = [](const Args&, RequestContext& ctx) -> Result<json> {
         if (const json* c = accepted(ctx, "user_context")) {
           return json{{"messages",
                        {user_text("Use this context: " + c->value("context", std::string()))}}};
         }
         return InputRequired{}
             .elicit("user_context", "What context should the prompt use?", name_schema("context"))
             .to_json();
       }}));
  s.set_completion_handler(
      [](const json& ref, const json& argument, const json&) -> Result<std::vector<std::string>> {
        static const std::vector<std::string> kWords = {"paris", "park",    "party",
                                                        "test",  "testing", "tested"};
        if (ref.value("type", "") == "ref/prompt" && !ref.contains("name")) {
          return dm::make_error(dm::Errc::invalid_argument, "ref/prompt needs a name");
        }
        const std::string prefix = argument.value("value", "");
        std::vector<std::string> out;
        for (const auto& w : kWords) {
          if (w.rfind(prefix, 0) == 0) out.push_back(w);
        }
        return out;
      });
}

int usage() {
  std::fputs("usage: mcp-fixture-server (--stdio | --port N) [--page-size N]\n", stderr);
  return 64;
}

}  // namespace

int main(int argc, char** argv) {
  bool stdio = false;
  long port = -1;
  long page_size = 100;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--stdio") == 0) {
      stdio = true;
    } else if (std::strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      char* end = nullptr;
      port = std::strtol(argv[++i], &end, 10);
      if (end == argv[i] || *end != '\0' || port < 0 || port > 65535) return usage();
    } else if (std::strcmp(argv[i], "--page-size") == 0 && i + 1 < argc) {
      char* end = nullptr;
      errno = 0;
      page_size = std::strtol(argv[++i], &end, 10);
      if (end == argv[i] || *end != '\0' || errno != 0 || page_size < 1 || page_size > 1000000) {
        return usage();
      }
    } else {
      return usage();
    }
  }
  if (stdio == (port >= 0)) return usage();
  std::signal(SIGPIPE, SIG_IGN);  // a vanished peer is an error value, not a signal

  auto server = dm::mcp::Server::create({.name = "mcp-conformance-test-server",
                                         .version = "1.0.0",
                                         .title = "dagmedic MCP fixture server",
                                         .page_size = static_cast<std::size_t>(page_size)});
  register_tools(*server);
  register_mrtr_tools(*server);
  register_task_tools(*server);
  register_resources(*server);
  register_prompts(*server);

  if (stdio) {
    dm::mcp::StdioTransport transport(server, {});
    const dm::Status st = transport.run();
    server->shutdown();
    if (!st.ok()) {
      std::fprintf(stderr, "mcp-fixture-server: %s\n", st.error().message.c_str());
      return 1;
    }
    return 0;
  }
#ifdef DM_FIXTURE_HAVE_HTTP
  dm::mcp::http::HttpServerOptions opts;
  opts.port = static_cast<uint16_t>(port);
  dm::mcp::http::HttpServer http(server, opts);
  auto bound = http.start();
  if (!bound.ok()) {
    std::fprintf(stderr, "mcp-fixture-server: cannot listen: %s\n", bound.error().message.c_str());
    return 1;
  }
  std::fprintf(stderr, "mcp-fixture-server: listening on http://127.0.0.1:%u/mcp\n",
               static_cast<unsigned>(*bound));
  std::fflush(stderr);
  http.wait_for_shutdown_signal();
  server->shutdown();
  return 0;
#else
  std::fputs("mcp-fixture-server: built without the HTTP transport\n", stderr);
  return 1;
#endif
}
