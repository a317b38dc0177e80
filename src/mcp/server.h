// The MCP server: a registry of tools, resources, resource templates and prompts, declared once
// (name, description, schema, handler) as the official Go SDK does, and a SessionFactory that the
// transports (stdio, Streamable HTTP, in-memory) open one Session per client with.
//
// Protocol revisions served, from one server (docs/mcp.md):
// - legacy 2024-11-05 .. 2025-11-25: initialize/initialized opens a session with a negotiated
//   revision, client capabilities and log level; the server may send requests to the client.
// - modern 2026-07-28: no handshake; every request carries `_meta` with
//   io.modelcontextprotocol/protocolVersion and clientCapabilities and is served statelessly;
//   server->client input goes through InputRequiredResult (MRTR); change notifications through
//   subscriptions/listen; the tasks extension (io.modelcontextprotocol/tasks) for task-capable
//   tools.
// A session that answered `initialize` refuses modern requests (and vice versa a request without
// the modern `_meta` is never served statelessly). Handlers run on a small executor (thread pool),
// never on the transport's thread.
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
#include "mcp/request_state.h"
#include "mcp/session.h"

namespace dm::mcp {

using json = nlohmann::json;

// Legacy revisions (initialize), oldest first; the last one is answered to unknown requests.
const std::vector<std::string>& supported_protocol_versions();
inline constexpr const char* kLatestProtocolVersion = "2025-11-25";
// Modern revisions (per-request `_meta`), oldest first.
const std::vector<std::string>& modern_protocol_versions();
inline constexpr const char* kModernProtocolVersion = "2026-07-28";
// Every revision served, newest first: server/discover's supportedVersions and the `supported`
// list of UnsupportedProtocolVersion errors.
const std::vector<std::string>& all_protocol_versions();
// The tasks extension's identifier (capabilities.extensions key).
inline constexpr const char* kTasksExtension = "io.modelcontextprotocol/tasks";

// ---- Multi round-trip requests (2026-07-28 MRTR) -------------------------------------------

// What a handler answers when it needs input from the client before it can finish: the requests
// to fulfil (key -> {"method": "elicitation/create" | "sampling/createMessage" | "roots/list",
// "params": {...}}) and what it wants back with the answers (`state`, any JSON).
// On a modern request the server seals `state` into the InputRequiredResult's opaque
// `requestState` (RequestStateSealer: HMAC with the server key, bound to the method, the target,
// a hash of the arguments and ServerOptions::state_claims, expiring) and returns
// {resultType: "input_required", inputRequests, requestState}; the client retries with
// `inputResponses` and the state, which the server checks before the handler runs again and
// hands to it as RequestContext::request_state() (a refused state is a JSON-RPC -32602 error and
// the handler does not run). An inputRequest needing a capability the client did not declare is a
// -32021 error (MissingRequiredClientCapability) instead.
// On a legacy session the server fulfils the requests itself as server->client requests
// (elicitation/create, ...) and runs the handler again with the answers and `state` (in memory,
// unsealed): a tool written this way works on both revisions.
struct InputRequired {
  std::map<std::string, json> requests;  // key -> {"method", "params"}
  std::optional<json> state{};           // readable by the client: put no secret here

  // Adds an elicitation/create request in form mode.
  InputRequired& elicit(std::string key, std::string message, json requested_schema);
  // Adds a sampling/createMessage request with these params (messages, maxTokens, ...).
  InputRequired& sample(std::string key, json params);
  // Adds an elicitation/create request in URL mode (the user completes `url` out of band; the
  // answer says only accept/decline/cancel: correlate through `state`).
  // `elicitation_id` (may be empty) goes out on 2025-11-25 sessions, where URL mode requires one;
  // 2026-07-28 has none and it is left out there.
  InputRequired& elicit_url(std::string key, std::string message, std::string url,
                            std::string elicitation_id = {});
  // Adds a roots/list request.
  InputRequired& list_roots(std::string key);
  // {"resultType":"input_required","inputRequests":{...}} plus "requestState": `state` (unsealed
  // JSON) when set: what a prompt handler returns to ask for input (the server seals the state).
  json to_json() const;
};

// A JSON-RPC error a handler wants answered instead of a result (e.g. -32021 with
// {"requiredCapabilities": {...}}).
struct RpcError {
  int code = -32603;
  std::string message;
  std::optional<json> data{};
};

// ---- Tools -------------------------------------------------------------------------------

struct ToolAnnotations {
  std::optional<std::string> title{};
  std::optional<bool> read_only_hint{};
  std::optional<bool> destructive_hint{};
  std::optional<bool> idempotent_hint{};
  std::optional<bool> open_world_hint{};
};

struct ToolResult;

// A tool handler. `arguments` already passed `input_schema` validation (always an object).
// Returning an Error makes a result with isError: true whose text is the error message (the model
// sees it and may retry); it is not a JSON-RPC error (ToolResult::rpc_error is).
using ToolHandler = std::function<Result<ToolResult>(const json& arguments, ToolContext& ctx)>;

// What a tool returns: content blocks (as MCP JSON: {"type":"text","text":...}, image, audio,
// resource, resource_link), optional structured content, and whether it is an error result.
// At most one of the three alternatives below may be set; they replace the content.
struct ToolResult {
  json content = json::array();
  std::optional<json> structured_content{};  // must match the tool's output_schema when it has one
  bool is_error = false;
  std::optional<json> meta{};  // `_meta` of the result

  // The tool needs input first (see InputRequired). Not allowed from a task's work (a task asks
  // through tasks/get + tasks/update instead: the same InputRequired parks the task).
  std::optional<InputRequired> input_required{};
  // Answer this JSON-RPC error instead of a result (a task fails with it).
  std::optional<RpcError> rpc_error{};
  // Run `task_work` as a task (tasks extension) when the client declared the extension on this
  // request: the server answers a CreateTaskResult at once and runs the work on its task pool;
  // tasks/get then reports it. Without the extension the work runs now, as a normal call.
  // Only for tools declaring task_support; the work sees the same arguments.
  ToolHandler task_work{};

  static ToolResult text(std::string t);
  static ToolResult error(std::string t);  // isError: true with one text block
  // structuredContent = `v`, plus the same JSON serialized as one text block (spec advice).
  static ToolResult structured(json v);
  static ToolResult needs_input(InputRequired ir);
  static ToolResult protocol_error(int code, std::string message,
                                   std::optional<json> data = std::nullopt);
  static ToolResult as_task(ToolHandler work);
};

// Whether a tool may run as a task (tasks extension, 2026-07-28 only).
enum class TaskSupport {
  none,      // never a task
  optional,  // a task when the handler returns ToolResult::as_task and the client declared it
  required,  // only as a task: a client that did not declare the extension gets -32021
};

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
  // Client capabilities the tool cannot work without (ClientCapabilities shape, e.g.
  // {"sampling": {}}). A client that did not declare every one (each key, recursively, must be
  // an object the client declared) gets -32021 MissingRequiredClientCapability with
  // data.requiredCapabilities = the missing ones, before middleware and handler run.
  json required_client_capabilities{};           // null or {}: nothing required
  TaskSupport task_support = TaskSupport::none;  // `required` adds the tasks extension above
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
// The handler may instead return InputRequired::to_json() to ask for input first (MRTR, as tools
// do; the retried prompts/get reaches it with ctx.input_responses() and ctx.request_state()).
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

  // ---- 2026-07-28 ----
  // Caching hints on tools/list, prompts/list, resources/list, resources/templates/list,
  // resources/read and server/discover (ttlMs, cacheScope). 0 / private: "ask again, keep it to
  // yourself", right while lists can change and per-user filtering may come.
  std::chrono::milliseconds cache_ttl{0};
  bool cache_public = false;
  // Seals and opens requestState. Null: a random key made at create() (states then survive only
  // this process; replicas that must continue each other's requests share a key instead).
  std::shared_ptr<const RequestStateSealer> request_state{};
  // Extra claims a sealed requestState is bound to, computed for the request that seals it and
  // again for the request that presents it (e.g. {"principal": "alice"} from the authenticated
  // caller): a state presented with other claims is refused. Called on the handler's thread;
  // must be thread-safe. Null: no extra claims.
  std::function<json(const Call&, RequestContext&)> state_claims{};
  // Tasks extension: threads that run task work (>= 1), how long a task stays readable after it
  // was created, and the poll interval suggested to clients.
  int task_threads = 2;
  std::chrono::milliseconds task_ttl{std::chrono::hours(1)};
  std::chrono::milliseconds task_poll_interval{500};
  std::size_t max_tasks = 10000;  // tasks kept at once; beyond, task creation fails (-32603)
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
