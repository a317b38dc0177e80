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
#include "mcp/uri_template.h"

namespace dm::mcp {

class ServerSession;

struct ToolEntry {
  Tool tool;
  json listing;  // the tools/list item, built once
  std::shared_ptr<const SchemaValidator> input;
  std::shared_ptr<const SchemaValidator> output;
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
  bool shut_down = false;

  std::shared_ptr<const ToolEntry> find_tool(const std::string& name) const;
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
  InboundInfo receive(std::string_view text, std::shared_ptr<const Caller> caller) override;
  void close() override;
  std::string protocol_version() const override;

  // For the server: change notifications to initialized, open sessions.
  void notify_list_changed(const char* method);
  void notify_resource_updated(const std::string& uri);

  // For request contexts.
  struct Pending;
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
  using AsyncFn = std::function<Outcome(RequestContext&)>;

  using CallerPtr = std::shared_ptr<const Caller>;
  void handle_request(rpc::Message& m, const CallerPtr& caller);
  void handle_notification(const rpc::Message& m);
  void handle_response(const rpc::Message& m);
  void answer(const rpc::Id& id, const Outcome& o);
  void run_async(const rpc::Message& m, AsyncFn fn, CallerPtr caller);
  // run_async, with `call` passing through every middleware before `fn`.
  void run_call(const rpc::Message& m, Call call, AsyncFn fn, CallerPtr caller);
  // Whether the tool filter lets `caller` see `tool`.
  bool tool_allowed(const Tool& tool, const Caller* caller) const;

  Outcome do_initialize(const json& params);
  Outcome do_set_level(const json& params);
  Outcome do_subscribe(const json& params, bool subscribe);
  Outcome do_list(const std::string& method, const json& params, const Caller* caller);
  void start_tool_call(const rpc::Message& m, const CallerPtr& caller);
  void start_resource_read(const rpc::Message& m, const CallerPtr& caller);
  void start_prompt_get(const rpc::Message& m, const CallerPtr& caller);
  void start_complete(const rpc::Message& m, const CallerPtr& caller);

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
  std::map<std::string, CancelTokenPtr> inflight_;           // by id text
  std::map<std::string, std::shared_ptr<Pending>> pending_;  // server->client, by id text
  std::int64_t next_client_id_ = 0;
};

}  // namespace dm::mcp
