#include <algorithm>
#include <array>
#include <cctype>

#include "mcp/server_impl.h"

namespace dm::mcp {

const std::vector<std::string>& supported_protocol_versions() {
  static const std::vector<std::string> v = {"2024-11-05", "2025-03-26", "2025-06-18",
                                             "2025-11-25"};
  return v;
}

const std::vector<std::string>& modern_protocol_versions() {
  static const std::vector<std::string> v = {"2026-07-28"};
  return v;
}

const std::vector<std::string>& all_protocol_versions() {
  static const std::vector<std::string> v = [] {
    std::vector<std::string> all = modern_protocol_versions();
    all.insert(all.end(), supported_protocol_versions().begin(),
               supported_protocol_versions().end());
    std::sort(all.rbegin(), all.rend());
    return all;
  }();
  return v;
}

namespace {
constexpr std::array<const char*, 8> kLevelNames = {"debug", "info",     "notice", "warning",
                                                    "error", "critical", "alert",  "emergency"};

bool valid_tool_name(const std::string& n) {
  if (n.empty() || n.size() > 128) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

json tool_listing(const Tool& t, const json& input_schema) {
  json j = {{"name", t.name}, {"inputSchema", input_schema}};
  if (!t.title.empty()) j["title"] = t.title;
  j["description"] = t.description;
  if (t.output_schema) j["outputSchema"] = *t.output_schema;
  json ann = json::object();
  const auto& a = t.annotations;
  if (a.title) ann["title"] = *a.title;
  if (a.read_only_hint) ann["readOnlyHint"] = *a.read_only_hint;
  if (a.destructive_hint) ann["destructiveHint"] = *a.destructive_hint;
  if (a.idempotent_hint) ann["idempotentHint"] = *a.idempotent_hint;
  if (a.open_world_hint) ann["openWorldHint"] = *a.open_world_hint;
  if (!ann.empty()) j["annotations"] = ann;
  if (t.icons) j["icons"] = *t.icons;
  return j;
}

bool is_tchar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// x-mcp-header annotations of `schema` (streamable-http "Custom Headers from Tool Parameters"):
// only on primitive (string/integer/boolean) properties reachable through `properties` alone,
// names non-empty tokens, unique ignoring case. Anything else makes the tool invalid.
void collect_header_params(const json& node, std::vector<std::string>& path,
                           std::vector<HeaderParam>& out, std::string& error) {
  if (!error.empty() || !node.is_object()) return;
  if (auto h = node.find("x-mcp-header"); h != node.end() && !path.empty()) {
    const std::string type = node.value("type", "");
    if (!h->is_string() || h->get<std::string>().empty()) {
      error = "x-mcp-header must be a non-empty string";
      return;
    }
    const std::string name = h->get<std::string>();
    if (!std::all_of(name.begin(), name.end(), is_tchar)) {
      error = "x-mcp-header '" + name + "' is not an HTTP token";
      return;
    }
    if (type != "string" && type != "integer" && type != "boolean") {
      error = "x-mcp-header '" + name + "' is on a property of type '" + type +
              "' (string, integer or boolean only)";
      return;
    }
    std::string lc = name;
    std::transform(lc.begin(), lc.end(), lc.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const auto& p : out) {
      if (p.name_lc == lc) {
        error = "x-mcp-header '" + name + "' is declared twice";
        return;
      }
    }
    out.push_back(HeaderParam{lc, path, type});
  }
  auto props = node.find("properties");
  if (props == node.end() || !props->is_object()) return;
  for (auto it = props->begin(); it != props->end(); ++it) {
    path.push_back(it.key());
    collect_header_params(it.value(), path, out, error);
    path.pop_back();
  }
}

Result<std::vector<HeaderParam>> header_params(const json& schema) {
  std::vector<HeaderParam> out;
  std::vector<std::string> path;
  std::string error;
  collect_header_params(schema, path, out, error);
  if (!error.empty()) return make_error(Errc::invalid_argument, error);
  return out;
}
}  // namespace

const char* log_level_name(LogLevel l) noexcept { return kLevelNames[static_cast<int>(l)]; }

std::optional<LogLevel> parse_log_level(std::string_view s) noexcept {
  for (std::size_t i = 0; i < kLevelNames.size(); ++i) {
    if (s == kLevelNames[i]) return static_cast<LogLevel>(i);
  }
  return std::nullopt;
}

ToolResult ToolResult::text(std::string t) {
  ToolResult r;
  r.content.push_back({{"type", "text"}, {"text", std::move(t)}});
  return r;
}

ToolResult ToolResult::error(std::string t) {
  ToolResult r = text(std::move(t));
  r.is_error = true;
  return r;
}

ToolResult ToolResult::structured(json v) {
  ToolResult r = text(rpc::dump(v));
  r.structured_content = std::move(v);
  return r;
}

ToolResult ToolResult::needs_input(InputRequired ir) {
  ToolResult r;
  r.input_required = std::move(ir);
  return r;
}

ToolResult ToolResult::protocol_error(int code, std::string message, std::optional<json> data) {
  ToolResult r;
  r.rpc_error = RpcError{code, std::move(message), std::move(data)};
  return r;
}

ToolResult ToolResult::as_task(ToolHandler work) {
  ToolResult r;
  r.task_work = std::move(work);
  return r;
}

InputRequired& InputRequired::elicit(std::string key, std::string message, json requested_schema) {
  requests[std::move(key)] = {{"method", "elicitation/create"},
                              {"params",
                               {{"mode", "form"},
                                {"message", std::move(message)},
                                {"requestedSchema", std::move(requested_schema)}}}};
  return *this;
}

InputRequired& InputRequired::elicit_url(std::string key, std::string message, std::string url,
                                         std::string elicitation_id) {
  json params = {{"mode", "url"}, {"message", std::move(message)}, {"url", std::move(url)}};
  if (!elicitation_id.empty()) params["elicitationId"] = std::move(elicitation_id);
  requests[std::move(key)] = {{"method", "elicitation/create"}, {"params", std::move(params)}};
  return *this;
}

InputRequired& InputRequired::sample(std::string key, json params) {
  requests[std::move(key)] = {{"method", "sampling/createMessage"}, {"params", std::move(params)}};
  return *this;
}

InputRequired& InputRequired::list_roots(std::string key) {
  requests[std::move(key)] = {{"method", "roots/list"}, {"params", json::object()}};
  return *this;
}

json InputRequired::to_json() const {
  json j = {{"resultType", "input_required"}, {"inputRequests", json::object()}};
  for (const auto& [k, v] : requests) j["inputRequests"][k] = v;
  if (state) j["requestState"] = *state;
  return j;
}

bool RequestContext::client_supports(std::string_view capability) const {
  const json& caps = client_capabilities();
  if (!caps.is_object()) return false;
  if (capability.find('/') != std::string_view::npos) {
    auto ext = caps.find("extensions");
    return ext != caps.end() && ext->is_object() && ext->contains(std::string(capability));
  }
  auto it = caps.find(std::string(capability));
  return it != caps.end() && !it->is_null();
}

// ---- Impl ---------------------------------------------------------------------------------

Server::Impl::Impl(ServerOptions o)
    : opts(std::move(o)), executor(std::make_unique<Executor>(opts.executor_threads)) {
  if (opts.page_size == 0) opts.page_size = 1;
  sealer = opts.request_state;
  if (!sealer) {
    // Without a key nothing could be sealed; a failing RNG leaves MRTR states unusable (every
    // seal then fails with an error answer), never unprotected.
    auto s = RequestStateSealer::create_random();
    if (s) sealer = *s;
  }
  tasks = std::make_shared<TaskStore>(
      TaskOptions{opts.task_ttl, opts.task_poll_interval, opts.max_tasks, opts.task_threads});
}

bool Server::Impl::any_task_tool() const {
  std::lock_guard<std::mutex> lk(mu);
  return std::any_of(tools.begin(), tools.end(),
                     [](const auto& t) { return t->tool.task_support != TaskSupport::none; });
}

std::shared_ptr<const ToolEntry> Server::Impl::find_tool(const std::string& name) const {
  std::lock_guard<std::mutex> lk(mu);
  for (const auto& t : tools) {
    if (t->tool.name == name) return t;
  }
  return nullptr;
}

std::shared_ptr<const Prompt> Server::Impl::find_prompt(const std::string& name) const {
  std::lock_guard<std::mutex> lk(mu);
  for (const auto& p : prompts) {
    if (p->name == name) return p;
  }
  return nullptr;
}

std::vector<std::shared_ptr<ServerSession>> Server::Impl::live_sessions() {
  std::vector<std::shared_ptr<ServerSession>> out;
  std::lock_guard<std::mutex> lk(mu);
  auto it = sessions.begin();
  while (it != sessions.end()) {
    if (auto s = it->lock()) {
      out.push_back(std::move(s));
      ++it;
    } else {
      it = sessions.erase(it);
    }
  }
  return out;
}

void Server::Impl::broadcast_list_changed(const char* method) {
  for (auto& s : live_sessions()) s->notify_list_changed(method);
}

// ---- Server -------------------------------------------------------------------------------

Server::Server(ServerOptions opts) : impl_(std::make_unique<Impl>(std::move(opts))) {}

std::shared_ptr<Server> Server::create(ServerOptions opts) {
  return std::shared_ptr<Server>(new Server(std::move(opts)));
}

Server::~Server() { shutdown(); }

const ServerOptions& Server::options() const { return impl_->opts; }

std::vector<std::string> Server::withheld_tools() const {
  std::lock_guard lk(impl_->mu);
  return impl_->withheld;
}

Status Server::add_tool(Tool tool) {
  if (!valid_tool_name(tool.name)) {
    return make_error(Errc::invalid_argument,
                      "tool name must be 1-128 characters of [A-Za-z0-9_.-]: '" + tool.name + "'");
  }
  if (!tool.handler)
    return make_error(Errc::invalid_argument, "tool " + tool.name + ": no handler");
  if (const auto& max = impl_->opts.max_effect;
      max && (!tool.effect || static_cast<int>(*tool.effect) > static_cast<int>(*max))) {
    std::lock_guard lk(impl_->mu);
    impl_->withheld.push_back(tool.name);
    return Status::Ok();
  }
  if (tool.effect) {  // the annotations follow the declared effect, never the other way round
    tool.annotations.read_only_hint = *tool.effect == Effect::reads;
    if (*tool.effect == Effect::writes_remote) tool.annotations.open_world_hint = true;
    if (*tool.effect == Effect::reads) tool.annotations.destructive_hint.reset();
  }
  auto e = std::make_shared<ToolEntry>();
  json schema = tool.input_schema;
  if (schema.is_null() || (schema.is_object() && schema.empty())) schema = {{"type", "object"}};
  auto in = SchemaValidator::compile(schema);
  if (!in)
    return make_error(Errc::invalid_argument,
                      "tool " + tool.name + " inputSchema: " + in.error().message);
  e->input = *in;
  if (tool.output_schema) {
    auto out = SchemaValidator::compile(*tool.output_schema);
    if (!out) {
      return make_error(Errc::invalid_argument,
                        "tool " + tool.name + " outputSchema: " + out.error().message);
    }
    e->output = *out;
  }
  auto params = header_params(schema);
  if (!params) {
    return make_error(Errc::invalid_argument,
                      "tool " + tool.name + " inputSchema: " + params.error().message);
  }
  e->header_params = std::move(*params);
  if (tool.required_client_capabilities.is_null()) {
    tool.required_client_capabilities = json::object();
  }
  if (!tool.required_client_capabilities.is_object()) {
    return make_error(Errc::invalid_argument,
                      "tool " + tool.name + ": required_client_capabilities must be an object");
  }
  if (tool.task_support == TaskSupport::required) {
    tool.required_client_capabilities["extensions"][kTasksExtension] = json::object();
  }
  e->listing = tool_listing(tool, schema);
  e->tool = std::move(tool);
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    for (const auto& t : impl_->tools) {
      if (t->tool.name == e->tool.name) {
        return make_error(Errc::invalid_argument, "duplicate tool " + e->tool.name);
      }
    }
    impl_->tools.push_back(std::move(e));
  }
  impl_->broadcast_list_changed("notifications/tools/list_changed");
  return Status::Ok();
}

Status Server::add_resource(Resource r) {
  if (r.uri.empty() || r.name.empty()) {
    return make_error(Errc::invalid_argument, "resource needs a uri and a name");
  }
  if (!r.handler) return make_error(Errc::invalid_argument, "resource " + r.uri + ": no handler");
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    for (const auto& x : impl_->resources) {
      if (x->uri == r.uri) return make_error(Errc::invalid_argument, "duplicate resource " + r.uri);
    }
    impl_->resources.push_back(std::make_shared<const Resource>(std::move(r)));
  }
  impl_->broadcast_list_changed("notifications/resources/list_changed");
  return Status::Ok();
}

Status Server::add_resource_template(ResourceTemplate t) {
  if (t.uri_template.empty() || t.name.empty()) {
    return make_error(Errc::invalid_argument, "resource template needs a uriTemplate and a name");
  }
  if (!t.handler)
    return make_error(Errc::invalid_argument, "template " + t.uri_template + ": no handler");
  auto parsed = UriTemplate::parse(t.uri_template);
  if (!parsed) return parsed.error();
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    for (const auto& x : impl_->templates) {
      if (x->tmpl.uri_template == t.uri_template) {
        return make_error(Errc::invalid_argument, "duplicate resource template " + t.uri_template);
      }
    }
    impl_->templates.push_back(
        std::make_shared<const TemplateEntry>(TemplateEntry{std::move(t), std::move(*parsed)}));
  }
  impl_->broadcast_list_changed("notifications/resources/list_changed");
  return Status::Ok();
}

Status Server::add_prompt(Prompt p) {
  if (p.name.empty()) return make_error(Errc::invalid_argument, "prompt needs a name");
  if (!p.handler) return make_error(Errc::invalid_argument, "prompt " + p.name + ": no handler");
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    for (const auto& x : impl_->prompts) {
      if (x->name == p.name)
        return make_error(Errc::invalid_argument, "duplicate prompt " + p.name);
    }
    impl_->prompts.push_back(std::make_shared<const Prompt>(std::move(p)));
  }
  impl_->broadcast_list_changed("notifications/prompts/list_changed");
  return Status::Ok();
}

void Server::use(Middleware middleware) {
  if (!middleware) return;
  std::lock_guard<std::mutex> lk(impl_->mu);
  impl_->middleware.push_back(std::make_shared<const Middleware>(std::move(middleware)));
}

void Server::set_tool_filter(ToolFilter filter) {
  auto f = filter ? std::make_shared<const ToolFilter>(std::move(filter)) : nullptr;
  std::lock_guard<std::mutex> lk(impl_->mu);
  impl_->tool_filter = std::move(f);
}

std::shared_ptr<const Tool> Server::find_tool(const std::string& name) const {
  auto e = impl_->find_tool(name);
  if (!e) return nullptr;
  return std::shared_ptr<const Tool>(e, &e->tool);
}

const char* effect_name(Effect e) noexcept {
  switch (e) {
    case Effect::reads:
      return "reads";
    case Effect::writes_local:
      return "writes_local";
    case Effect::writes_remote:
      return "writes_remote";
  }
  return "?";
}

Answer Answer::refuse(const Call& call, const std::string& message) {
  if (call.method == "tools/call") {
    return ok(
        {{"content", json::array({{{"type", "text"}, {"text", message}}})}, {"isError", true}});
  }
  return err(rpc::kInvalidRequest, message);
}

bool Answer::failed() const {
  if (code != 0) return true;
  if (!result.is_object()) return false;
  auto it = result.find("isError");
  return it != result.end() && it->is_boolean() && it->get<bool>();
}

void Server::set_completion_handler(CompletionHandler handler) {
  std::lock_guard<std::mutex> lk(impl_->mu);
  impl_->completion =
      handler ? std::make_shared<const CompletionHandler>(std::move(handler)) : nullptr;
}

namespace {
template <class V, class Pred>
bool erase_if_any(std::mutex& mu, V& v, Pred pred) {
  std::lock_guard<std::mutex> lk(mu);
  auto it = std::find_if(v.begin(), v.end(), pred);
  if (it == v.end()) return false;
  v.erase(it);
  return true;
}
}  // namespace

bool Server::remove_tool(const std::string& name) {
  const bool ok =
      erase_if_any(impl_->mu, impl_->tools, [&](const auto& t) { return t->tool.name == name; });
  if (ok) impl_->broadcast_list_changed("notifications/tools/list_changed");
  return ok;
}

bool Server::remove_resource(const std::string& uri) {
  const bool ok =
      erase_if_any(impl_->mu, impl_->resources, [&](const auto& r) { return r->uri == uri; });
  if (ok) impl_->broadcast_list_changed("notifications/resources/list_changed");
  return ok;
}

bool Server::remove_prompt(const std::string& name) {
  const bool ok =
      erase_if_any(impl_->mu, impl_->prompts, [&](const auto& p) { return p->name == name; });
  if (ok) impl_->broadcast_list_changed("notifications/prompts/list_changed");
  return ok;
}

void Server::notify_resource_updated(const std::string& uri) {
  for (auto& s : impl_->live_sessions()) s->notify_resource_updated(uri);
}

std::shared_ptr<Session> Server::open_session(OutboundSink sink) {
  auto s = std::make_shared<ServerSession>(shared_from_this(), impl_.get(), std::move(sink));
  bool refuse = false;
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    refuse = impl_->shut_down;
    if (!refuse) {
      // 2026-07-28 over HTTP opens one short-lived session per request: forget the closed ones
      // as the list grows (amortized), not only when a change is broadcast.
      if (impl_->sessions.size() >= impl_->prune_at) {
        std::erase_if(impl_->sessions, [](const auto& w) { return w.expired(); });
        impl_->prune_at = std::max<std::size_t>(64, 2 * impl_->sessions.size());
      }
      impl_->sessions.push_back(s);
    }
  }
  if (refuse) s->close();
  return s;
}

void Server::shutdown() {
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    if (impl_->shut_down) return;
    impl_->shut_down = true;
  }
  for (auto& s : impl_->live_sessions()) s->close();
  impl_->tasks->shutdown();
  impl_->executor->stop();
}

}  // namespace dm::mcp
