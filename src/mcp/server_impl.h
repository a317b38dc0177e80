// Private to src/mcp: the registry behind Server and the per-client session that serves it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mcp/executor.h"
#include "mcp/json_rpc.h"
#include "mcp/schema_validator.h"
#include "mcp/server.h"
#include "mcp/tasks.h"
#include "mcp/uri_template.h"

namespace dm::mcp {

class ServerSession;

// An argument mirrored into an Mcp-Param-{Name} header (x-mcp-header in the input schema).
struct HeaderParam {
  std::string name_lc;            // {Name}, lowercased
  std::vector<std::string> path;  // chain of `properties` keys from the schema root
  std::string type;               // "string", "integer" or "boolean"
};

struct ToolEntry {
  Tool tool;
  json listing;  // the tools/list item, built once
  std::shared_ptr<const SchemaValidator> input;
  std::shared_ptr<const SchemaValidator> output;
  std::vector<HeaderParam> header_params;
};

// What one request declares about its client and how it is served.
struct RequestScope {
  bool modern = false;  // 2026-07-28: stateless, everything below from the request's _meta
  std::string version;
  json caps = json::object();
  json info = json::object();
  std::optional<LogLevel> log_level;     // modern: the request's logLevel (none: no log messages)
  std::shared_ptr<const Caller> caller;  // who the transport authenticated (null: no one)
};

struct TemplateEntry {
  ResourceTemplate tmpl;
  UriTemplate parsed;
};

// Registry snapshot handles are shared_ptr<const X>: a handler keeps its entry alive even if it
// is removed while it runs.
struct Server::Impl {
  explicit Impl(ServerOptions o);

  ServerOptions opts;
  std::unique_ptr<Executor> executor;
  std::shared_ptr<const RequestStateSealer> sealer;  // never null after construction
  std::shared_ptr<TaskStore> tasks;

  mutable std::mutex mu;  // guards everything below
  std::vector<std::shared_ptr<const ToolEntry>> tools;
  std::vector<std::string> withheld;  // tools over opts.max_effect, never registered
  std::vector<std::shared_ptr<const Resource>> resources;
  std::vector<std::shared_ptr<const TemplateEntry>> templates;
  std::vector<std::shared_ptr<const Prompt>> prompts;
  std::shared_ptr<const CompletionHandler> completion;
  std::vector<std::shared_ptr<const Middleware>> middleware;  // outermost first
  std::shared_ptr<const ToolFilter> tool_filter;              // null: every tool
  std::vector<std::weak_ptr<ServerSession>> sessions;
  std::size_t prune_at = 64;  // sessions' size at which open_session drops expired entries
  bool shut_down = false;

  std::shared_ptr<const ToolEntry> find_tool(const std::string& name) const;
  bool any_task_tool() const;
  std::shared_ptr<const Prompt> find_prompt(const std::string& name) const;
  std::vector<std::shared_ptr<ServerSession>> live_sessions();
  void broadcast_list_changed(const char* method);
};

// A Session speaking to one client. Created by Server::open_session.
class ServerSession final : public Session, public std::enable_shared_from_this<ServerSession> {
 public:
  ServerSession(std::shared_ptr<Server> server, Server::Impl* impl, OutboundSink sink);
  ~ServerSession() override;

  using Session::receive;
  InboundInfo receive(std::string_view text, const RequestHeaders* headers,
                      std::shared_ptr<const Caller> caller) override;
  void close() override;
  std::string protocol_version() const override;

  // For the server: change notifications to initialized, open sessions.
  void notify_list_changed(const char* method);
  void notify_resource_updated(const std::string& uri);

  // For request contexts.
  struct Pending;
  class Ctx;
  void send(OutboundMessage m);
  void send_notification(const std::string& method, const json& params,
                         std::optional<json> related);
  bool log_enabled(LogLevel level) const;
  Result<json> client_request(const std::string& method, json params,
                              std::chrono::milliseconds timeout, const CancelToken& token,
                              const json& related);
  json client_capabilities() const;
  json client_info() const;

 private:
  using Outcome = Answer;
  using AsyncFn = std::function<Outcome(Ctx&)>;

  using CallerPtr = std::shared_ptr<const Caller>;
  void handle_request(rpc::Message& m, const RequestHeaders* headers, const CallerPtr& caller);
  void handle_modern(rpc::Message& m, const RequestHeaders* headers, const CallerPtr& caller);
  void handle_notification(const rpc::Message& m);
  void handle_response(const rpc::Message& m);
  // Sends the answer; a modern one gets resultType "complete" when it has none.
  void answer(const rpc::Id& id, const Outcome& o, bool modern = false);
  void run_async(const rpc::Message& m, const RequestScope& scope, AsyncFn fn);
  // run_async, with `call` passing through every middleware before `fn`.
  void run_call(const rpc::Message& m, const RequestScope& scope, Call call, AsyncFn fn);
  RequestScope legacy_scope(CallerPtr caller) const;
  // Whether the tool filter lets `caller` see `tool`.
  bool tool_allowed(const Tool& tool, const Caller* caller) const;

  Outcome do_initialize(const json& params);
  Outcome do_set_level(const json& params);
  Outcome do_subscribe(const json& params, bool subscribe);
  Outcome do_list(const std::string& method, const json& params, bool modern, const Caller* caller);
  Outcome do_discover();
  void start_tool_call(const rpc::Message& m, const RequestScope& scope,
                       const RequestHeaders* headers);
  void start_resource_read(const rpc::Message& m, const RequestScope& scope);
  void start_prompt_get(const rpc::Message& m, const RequestScope& scope);
  void start_complete(const rpc::Message& m, const RequestScope& scope);
  void start_listen(const rpc::Message& m);
  void end_listen(const std::string& key);
  Outcome do_task(const std::string& method, const json& params, const RequestScope& scope);

  std::shared_ptr<Server> server_;  // keeps the registry and executor alive
  Server::Impl* impl_;
  OutboundSink sink_;

  // Serializes sink calls (so messages keep their order); close() takes it so no call starts
  // afterwards. Recursive: a sink that calls close() on its own thread must not deadlock.
  std::recursive_mutex send_mu_;
  bool send_closed_ = false;

  mutable std::mutex mu_;  // guards the state below
  bool closed_ = false;
  bool initialized_ = false;
  std::string version_;
  json client_caps_ = json::object();
  json client_info_ = json::object();
  std::optional<LogLevel> log_level_;
  std::set<std::string> subscriptions_;
  struct Listen {
    json id;      // the subscriptions/listen request id (the subscriptionId)
    json filter;  // SubscriptionFilter as accepted
  };
  std::map<std::string, Listen> listens_;                    // modern, by id text
  std::map<std::string, CancelTokenPtr> inflight_;           // by id text
  std::map<std::string, std::shared_ptr<Pending>> pending_;  // server->client, by id text
  std::int64_t next_client_id_ = 0;
};

// The RequestContext of one client request (server_session.cpp).
class ServerSession::Ctx final : public RequestContext {
 public:
  Ctx(std::shared_ptr<ServerSession> s, rpc::Id id, CancelTokenPtr token, json meta,
      RequestScope scope, std::chrono::milliseconds default_timeout);

  bool cancelled() const override;
  const CancelToken& cancel_token() const override;
  void progress(double progress, std::optional<double> total, std::string message) override;
  void log(LogLevel level, std::string logger, json data) override;
  Result<json> request_client(std::string method, json params,
                              std::chrono::milliseconds timeout) override;
  Result<json> elicit_form(std::string message, json requested_schema,
                           std::chrono::milliseconds timeout) override;
  Result<json> elicit_url(std::string message, std::string url, std::string elicitation_id,
                          std::chrono::milliseconds timeout) override;
  Result<json> create_message(json params, std::chrono::milliseconds timeout) override;
  const json& client_capabilities() const override { return scope_.caps; }
  const json& client_info() const override { return scope_.info; }
  std::string protocol_version() const override { return scope_.version; }
  const json& request_meta() const override { return meta_; }
  const Caller* caller() const override { return scope_.caller.get(); }
  bool modern() const override { return scope_.modern; }
  const json& input_responses() const override { return responses_; }
  const std::optional<json>& request_state() const override { return state_; }

  // The answers and verified state the handler sees on its next run.
  void set_round(json responses, std::optional<json> state);
  const RequestScope& scope() const { return scope_; }
  ServerSession& session() { return *s_; }

 private:
  std::shared_ptr<ServerSession> s_;
  rpc::Id id_;
  CancelTokenPtr token_;
  json meta_;
  RequestScope scope_;
  std::optional<json> progress_token_;
  std::chrono::milliseconds default_timeout_;
  json responses_ = json::object();
  std::optional<json> state_;
};

// Shared by the two eras (server_session.cpp), used by the modern dispatch (server_modern.cpp).
namespace detail {
// -32602 when `params` carries a malformed inputResponses (not an object of objects) or
// requestState (not a string); nullopt when fine or absent.
std::optional<Answer> check_mrtr_params(const json& params);
// The capability an input request needs ("elicitation", "sampling", "roots"); empty if unknown.
std::string capability_for(const std::string& input_method);
// {"m": method, "t": target, "h": sha256 of arguments}, the caller's issuer and subject when
// authenticated ("c"), plus ServerOptions::state_claims ("x").
json state_claims(const ServerOptions& o, const Call& call, RequestContext& ctx);
// The 2026-07-28 caching hints, added to `result`.
void add_cache_hints(json& result, const ServerOptions& o);
// -32020 when an argument the tool mirrors into an Mcp-Param-{Name} header (x-mcp-header) is in
// `args` but its header is missing, malformed or different (server_modern.cpp).
std::optional<Answer> check_header_params(const ToolEntry& entry, const json& args,
                                          const RequestHeaders& headers);
}  // namespace detail

}  // namespace dm::mcp
