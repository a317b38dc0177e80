// The MCP server: a registry of tools, resources, resource templates and prompts, declared once
// (name, description, schema, handler) as the official Go SDK does, and a SessionFactory that the
// transports (stdio, Streamable HTTP, in-memory) open one Session per client with.
//
// Protocol revisions served: 2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25
// (initialize/initialized). Handlers run on a small executor (thread pool), never on the
// transport's thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "mcp/context.h"
#include "mcp/session.h"

namespace dm::mcp {

using json = nlohmann::json;

// Revisions this server speaks, oldest first; the last one is answered to unknown requests.
const std::vector<std::string>& supported_protocol_versions();
inline constexpr const char* kLatestProtocolVersion = "2025-11-25";

// ---- Tools -------------------------------------------------------------------------------

struct ToolAnnotations {
  std::optional<std::string> title{};
  std::optional<bool> read_only_hint{};
  std::optional<bool> destructive_hint{};
  std::optional<bool> idempotent_hint{};
  std::optional<bool> open_world_hint{};
};

// What a tool returns: content blocks (as MCP JSON: {"type":"text","text":...}, image, audio,
// resource, resource_link), optional structured content, and whether it is an error result.
struct ToolResult {
  json content = json::array();
  std::optional<json> structured_content{};  // must match the tool's output_schema when it has one
  bool is_error = false;
  std::optional<json> meta{};  // `_meta` of the result

  static ToolResult text(std::string t);
  static ToolResult error(std::string t);  // isError: true with one text block
  // structuredContent = `v`, plus the same JSON serialized as one text block (spec advice).
  static ToolResult structured(json v);
};

// A tool handler. `arguments` already passed `input_schema` validation (always an object).
// Returning an Error makes a result with isError: true whose text is the error message (the model
// sees it and may retry); it is not a JSON-RPC error.
using ToolHandler = std::function<Result<ToolResult>(const json& arguments, ToolContext& ctx)>;

// What a tool does to the world, declared by the tool. Middleware acts on it (the audit fails
// closed before a write) and the annotations follow it: when set, readOnlyHint = (effect == reads)
// and a remote write is openWorld, whatever `annotations` says.
// Ordered: each effect does more than the one before it (ServerOptions::max_effect compares them).
enum class Effect {
  reads,          // reads only: nothing changes anywhere
  writes_local,   // changes the server's own state (its store), nothing outside
  writes_remote,  // changes a system outside the server
};
const char* effect_name(Effect e) noexcept;

struct Tool {
  std::string name{};  // unique; [A-Za-z0-9_.-], 1..128 chars
  std::string title{};
  std::string description{};
  // JSON Schema for `arguments` (type object). Empty object or null means {"type":"object"}.
  json input_schema = json::object();
  std::optional<json> output_schema{};  // when set, results must carry matching structured_content
  ToolAnnotations annotations{};
  std::optional<Effect> effect{};  // unset: annotations as given; middleware sees nullopt
  std::optional<json> icons{};
  ToolHandler handler{};
};

// ---- Resources ------------------------------------------------------------------------------

// One item of resources/read's `contents`: text or base64 blob.
struct ResourceContents {
  std::string uri{};
  std::string mime_type{};
  std::optional<std::string> text{};
  std::optional<std::string> blob_base64{};
  std::optional<json> meta{};
};

using ResourceHandler = std::function<Result<std::vector<ResourceContents>>(const std::string& uri,
                                                                            RequestContext& ctx)>;

struct Resource {
  std::string uri{};  // exact URI, unique
  std::string name{};
  std::string title{};
  std::string description{};
  std::string mime_type{};
  std::optional<std::int64_t> size{};
  std::optional<json> annotations{};
  ResourceHandler handler{};
};

// Variables bound by matching a resources/read URI against a template (RFC 6570 level 1 `{var}`).
using UriVars = std::map<std::string, std::string>;
using ResourceTemplateHandler = std::function<Result<std::vector<ResourceContents>>(
    const std::string& uri, const UriVars& vars, RequestContext& ctx)>;

struct ResourceTemplate {
  std::string
      uri_template{};  // e.g. "test://template/{id}/data"; each {var} matches 1+ chars but '/'
  std::string name{};
  std::string title{};
  std::string description{};
  std::string mime_type{};
  std::optional<json> annotations{};
  ResourceTemplateHandler handler{};
};

// ---- Prompts --------------------------------------------------------------------------------

struct PromptArgument {
  std::string name{};
  std::string description{};
  bool required = false;
};

// Returns a GetPromptResult: {"description"?: ..., "messages": [{role, content}, ...]}.
// Required arguments are checked before the handler runs (missing → -32602).
using PromptHandler = std::function<Result<json>(const std::map<std::string, std::string>& args,
                                                 RequestContext& ctx)>;

struct Prompt {
  std::string name{};
  std::string title{};
  std::string description{};
  std::vector<PromptArgument> arguments{};
  PromptHandler handler{};
};

// ---- Completion -----------------------------------------------------------------------------

// completion/complete: `ref` is {"type":"ref/prompt","name"} or {"type":"ref/resource","uri"},
// `argument` {"name","value"}, `context` {"arguments": {...}} or null. Returns the values to offer
// (the server truncates to 100 and sets total/hasMore).
using CompletionHandler = std::function<Result<std::vector<std::string>>(
    const json& ref, const json& argument, const json& context)>;

// ---- Middleware -----------------------------------------------------------------------------

// One request that reaches a handler: tools/call, resources/read, prompts/get or
// completion/complete. Every such request passes through every middleware (Server::use), whatever
// registered the handler: cross-cutting rules (audit, identity, policy) live there, not in a
// registration convention.
struct Call {
  std::string method;  // the JSON-RPC method
  std::string target;  // tool or prompt name, resource URI, completion ref (prompt name or URI)
  json arguments;      // tool/prompt arguments; {"uri"} for a read; {ref, argument, context}
  std::optional<Effect> effect{};  // the tool's declared effect; reads for the other methods
  const Tool* tool = nullptr;      // tools/call: the tool called (valid during the call)
};

// The answer to a Call as it goes on the wire: `result` (for tools/call a CallToolResult, which
// may be isError), or a JSON-RPC error when `code` != 0.
struct Answer {
  json result;
  int code = 0;
  std::string message;
  std::optional<json> data;
  static Answer ok(json r) { return Answer{std::move(r), 0, {}, {}}; }
  static Answer err(int c, std::string m, std::optional<json> d = std::nullopt) {
    return Answer{json(), c, std::move(m), std::move(d)};
  }
  // A refusal in the form the method uses: an isError tool result for tools/call (the model sees
  // it), a JSON-RPC invalid-request error otherwise.
  static Answer refuse(const Call& call, const std::string& message);
  // True for a JSON-RPC error and for an isError tool result.
  bool failed() const;
};

// Runs around the handler: call `next()` to go on (at most once), or return without calling it
// to refuse. Runs on the handler's executor thread; must be thread-safe and must not throw.
using Next = std::function<Answer()>;
using Middleware = std::function<Answer(const Call&, RequestContext&, const Next& next)>;

// Which tools a caller may see and call: tools/list shows only those the filter lets through, and
// tools/call of another answers "Unknown tool", as if it did not exist. `caller` is null when the
// transport authenticated no one. Must be thread-safe, fast, and must not throw.
using ToolFilter = std::function<bool(const Tool& tool, const Caller* caller)>;

// ---- Server ---------------------------------------------------------------------------------

struct ServerOptions {
  std::string name = "dagmedic";
  std::string version = "0.0.0";
  std::string title{};
  std::string instructions{};                // initialize result `instructions` when non-empty
  std::size_t max_message_bytes = 4u << 20;  // bigger inbound message → -32600, nothing parsed
  int max_json_depth = 64;                   // deeper nesting → -32700, nothing parsed
  int executor_threads = 4;                  // handler pool size (>= 1)
  std::size_t page_size = 100;               // items per list page (>= 1)
  std::chrono::milliseconds client_request_timeout{60000};  // default for ctx.elicit/sample
  bool logging = true;                                      // declare the `logging` capability
  bool completions = true;  // declare `completions` (if a handler is set)
  // The most a tool served here may do. A tool declaring more (or declaring no effect, when this
  // is set) is withheld: add_tool returns OK without registering it, and withheld_tools() names
  // it. Effect::reads makes a read-only server: nothing it lists can change anything.
  std::optional<Effect> max_effect{};
};

// Thread-safety: every member may be called from any thread at any time, including while sessions
// are serving. Registering or removing after sessions exist sends list_changed notifications to
// every initialized session.
class Server final : public SessionFactory, public std::enable_shared_from_this<Server> {
 public:
  // Always via create(): sessions keep the server alive through shared_from_this.
  static std::shared_ptr<Server> create(ServerOptions opts = {});
  // Names of the tools add_tool withheld because of ServerOptions::max_effect, in call order.
  std::vector<std::string> withheld_tools() const;
  ~Server() override;

  // Registration. Errc::invalid_argument for an empty/duplicate name or URI, a missing handler,
  // an input/output schema valijson cannot compile, or a malformed template.
  Status add_tool(Tool tool);
  Status add_resource(Resource resource);
  Status add_resource_template(ResourceTemplate tmpl);
  Status add_prompt(Prompt prompt);
  void set_completion_handler(CompletionHandler handler);
  // Adds a middleware around every later call; the first added is the outermost.
  void use(Middleware middleware);
  // Sets (replaces) the tool filter; none set: every tool for every caller.
  void set_tool_filter(ToolFilter filter);
  // The registered tool of that name (a snapshot kept alive by the pointer), or null.
  std::shared_ptr<const Tool> find_tool(const std::string& name) const;
  // Removal; false if there was nothing to remove.
  bool remove_tool(const std::string& name);
  bool remove_resource(const std::string& uri);
  bool remove_prompt(const std::string& name);

  // notifications/resources/updated to every session subscribed to `uri`.
  void notify_resource_updated(const std::string& uri);

  // SessionFactory: a new session speaking to `sink`. Never null.
  std::shared_ptr<Session> open_session(OutboundSink sink) override;

  // Closes every open session and stops the executor (waits for running handlers, which see their
  // tokens cancelled). Idempotent; later open_session calls get sessions that refuse everything.
  void shutdown();

  const ServerOptions& options() const;

  struct Impl;  // defined in server_impl.h (private to src/mcp)

 private:
  explicit Server(ServerOptions opts);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dm::mcp
