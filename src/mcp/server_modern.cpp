// The 2026-07-28 entry of a session: a request carrying `_meta` with
// io.modelcontextprotocol/protocolVersion is validated (headers first when it came over HTTP,
// then `_meta`, then the version) and served statelessly: everything about the client comes from
// this request. Also server/discover, subscriptions/listen and the tasks methods.
#include <algorithm>

#include "common/base64.h"
#include "mcp/server_impl.h"

namespace dm::mcp {

namespace {

constexpr const char* kVersionKey = "io.modelcontextprotocol/protocolVersion";
constexpr const char* kCapsKey = "io.modelcontextprotocol/clientCapabilities";
constexpr const char* kInfoKey = "io.modelcontextprotocol/clientInfo";
constexpr const char* kLogLevelKey = "io.modelcontextprotocol/logLevel";
constexpr const char* kServerInfoKey = "io.modelcontextprotocol/serverInfo";
constexpr const char* kSubscriptionKey = "io.modelcontextprotocol/subscriptionId";
constexpr int kHeaderMismatch = -32020;
constexpr int kUnsupportedVersion = -32022;

// RFC 9110 §5.5: optional whitespace around a field value is not part of it.
std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A header value as the revision reads it: trimmed, `=?base64?...?=` decoded (strict padding and
// alphabet), plain values of visible ASCII and inner spaces taken literally. nullopt when the
// value is malformed.
std::optional<std::string> decode_header_value(std::string_view raw) {
  std::string_view v = trim_ows(raw);
  static constexpr std::string_view kPrefix = "=?base64?";
  static constexpr std::string_view kSuffix = "?=";
  if (v.size() >= kPrefix.size() + kSuffix.size() && v.substr(0, kPrefix.size()) == kPrefix &&
      v.substr(v.size() - kSuffix.size()) == kSuffix) {
    return base64_decode(v.substr(kPrefix.size(), v.size() - kPrefix.size() - kSuffix.size()));
  }
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u >= 0x7f) return std::nullopt;
  }
  return std::string(v);
}

Answer mismatch(std::string what) {
  return Answer::err(kHeaderMismatch, "Header mismatch: " + std::move(what));
}

// The body value Mcp-Name mirrors for `method`, when the method has one.
std::optional<std::string> name_source(const std::string& method, const json& params) {
  const char* key = nullptr;
  if (method == "tools/call" || method == "prompts/get") key = "name";
  if (method == "resources/read") key = "uri";
  if (method == "tasks/get" || method == "tasks/update" || method == "tasks/cancel") key = "taskId";
  if (key == nullptr) return std::nullopt;
  auto it = params.find(key);
  if (it == params.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// Methods the 2026-07-28 revision removed (answered -32601 like any unknown method, with a hint).
bool removed_method(const std::string& m) {
  return m == "initialize" || m == "ping" || m == "logging/setLevel" ||
         m == "resources/subscribe" || m == "resources/unsubscribe" || m == "tasks/result" ||
         m == "tasks/list";
}

}  // namespace

namespace detail {

std::optional<Answer> check_header_params(const ToolEntry& entry, const json& args,
                                          const RequestHeaders& headers) {
  for (const auto& hp : entry.header_params) {
    const json* v = &args;
    for (const auto& key : hp.path) {
      if (!v->is_object()) {
        v = nullptr;
        break;
      }
      auto it = v->find(key);
      v = it == v->end() ? nullptr : &*it;
      if (v == nullptr) break;
    }
    if (v == nullptr || v->is_null()) continue;  // no value: the header is not expected
    const auto h = std::find_if(headers.params.begin(), headers.params.end(),
                                [&](const auto& p) { return p.first == hp.name_lc; });
    if (h == headers.params.end()) {
      return mismatch("Mcp-Param-" + hp.name_lc + " header is required: argument " +
                      hp.path.back() + " is in the body");
    }
    auto value = decode_header_value(h->second);
    if (!value) return mismatch("Mcp-Param-" + hp.name_lc + " header value is malformed");
    bool same = false;
    if (v->is_string()) {
      same = *value == v->get<std::string>();
    } else if (v->is_boolean()) {
      same = *value == (v->get<bool>() ? "true" : "false");
    } else if (v->is_number()) {
      char* end = nullptr;
      const double d = std::strtod(value->c_str(), &end);
      same = !value->empty() && end == value->c_str() + value->size() && d == v->get<double>();
    }
    if (!same) {
      return mismatch("Mcp-Param-" + hp.name_lc + " header does not match argument " +
                      hp.path.back());
    }
  }
  return std::nullopt;
}

}  // namespace detail

void ServerSession::handle_modern(rpc::Message& m, const RequestHeaders* h,
                                  const CallerPtr& caller) {
  const rpc::Id& id = *m.id;
  const std::string& method = m.method;
  const json& p = m.params;
  // Validation order as the revision's reference server does it: the version header, `_meta`,
  // header against `_meta`, a version we serve, then the routing headers.
  if (h && !h->protocol_version) {
    return answer(id, mismatch("MCP-Protocol-Version header is required"));
  }
  const auto meta = p.find("_meta");
  const json* version = nullptr;
  const json* caps = nullptr;
  if (meta != p.end() && meta->is_object()) {
    if (auto v = meta->find(kVersionKey); v != meta->end() && v->is_string()) version = &*v;
    if (auto c = meta->find(kCapsKey); c != meta->end() && c->is_object()) caps = &*c;
  }
  if (version == nullptr || caps == nullptr) {
    return answer(
        id, Outcome::err(rpc::kInvalidParams,
                         std::string("Invalid params: _meta ") + kVersionKey + " (string) and " +
                             kCapsKey +
                             " (object) are required on every 2026-07-28 request (2025-11-25 "
                             "and older: send initialize first)"));
  }
  const std::string requested = version->get<std::string>();
  if (h && std::string(trim_ows(*h->protocol_version)) != requested) {
    return answer(
        id, mismatch("MCP-Protocol-Version header '" + std::string(trim_ows(*h->protocol_version)) +
                     "' does not match _meta " + kVersionKey + " '" + requested + "'"));
  }
  const auto& modern = modern_protocol_versions();
  if (std::find(modern.begin(), modern.end(), requested) == modern.end()) {
    json supported = all_protocol_versions();
    return answer(
        id, Outcome::err(kUnsupportedVersion, "Unsupported protocol version",
                         json{{"supported", std::move(supported)}, {"requested", requested}}));
  }
  if (h) {
    if (!h->method) return answer(id, mismatch("Mcp-Method header is required"));
    if (trim_ows(*h->method) != method) {
      return answer(id, mismatch("Mcp-Method header '" + std::string(trim_ows(*h->method)) +
                                 "' does not match the body method '" + method + "'"));
    }
    if (auto body_name = name_source(method, p)) {
      if (!h->name) return answer(id, mismatch("Mcp-Name header is required for " + method));
      auto decoded = decode_header_value(*h->name);
      if (!decoded) return answer(id, mismatch("Mcp-Name header value is malformed"));
      if (*decoded != *body_name) {
        return answer(id, mismatch("Mcp-Name header value does not match the body value '" +
                                   *body_name + "'"));
      }
    }
  }
  RequestScope scope;
  scope.modern = true;
  scope.version = requested;
  scope.caps = *caps;
  scope.caller = caller;
  if (auto info = meta->find(kInfoKey); info != meta->end() && info->is_object()) {
    scope.info = *info;
  }
  if (auto lvl = meta->find(kLogLevelKey); lvl != meta->end()) {
    std::optional<LogLevel> parsed;
    if (lvl->is_string()) parsed = parse_log_level(lvl->get<std::string>());
    if (!parsed) {
      return answer(id, Outcome::err(rpc::kInvalidParams,
                                     std::string("Invalid params: _meta ") + kLogLevelKey +
                                         " must be one of debug, info, notice, warning, error, "
                                         "critical, alert, emergency"));
    }
    scope.log_level = parsed;
  }

  if (method == "server/discover") return answer(id, do_discover(), true);
  if (method == "tools/list" || method == "resources/list" ||
      method == "resources/templates/list" || method == "prompts/list") {
    return answer(id, do_list(method, p, true, caller.get()), true);
  }
  if (method == "tools/call") return start_tool_call(m, scope, h);
  if (method == "resources/read") return start_resource_read(m, scope);
  if (method == "prompts/get") return start_prompt_get(m, scope);
  if (method == "completion/complete") return start_complete(m, scope);
  if (method == "subscriptions/listen") return start_listen(m);
  if (method == "tasks/get" || method == "tasks/update" || method == "tasks/cancel") {
    return answer(id, do_task(method, p, scope), true);
  }
  if (removed_method(method)) {
    return answer(id, Outcome::err(rpc::kMethodNotFound,
                                   "Method not found: " + method + " (removed in " + requested +
                                       (method == "initialize"
                                            ? "; a 2025-11-25 client sends initialize without "
                                              "_meta io.modelcontextprotocol/protocolVersion)"
                                            : ")")));
  }
  answer(id, Outcome::err(rpc::kMethodNotFound, "Method not found: " + method));
}

ServerSession::Outcome ServerSession::do_discover() {
  const auto& o = impl_->opts;
  bool has_completion;
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    has_completion = impl_->completion != nullptr;
  }
  json caps = {{"tools", {{"listChanged", true}}},
               {"resources", {{"subscribe", true}, {"listChanged", true}}},
               {"prompts", {{"listChanged", true}}}};
  if (o.logging) caps["logging"] = json::object();
  if (o.completions && has_completion) caps["completions"] = json::object();
  if (impl_->any_task_tool()) caps["extensions"][kTasksExtension] = json::object();
  json server_info = {{"name", o.name}, {"version", o.version}};
  if (!o.title.empty()) server_info["title"] = o.title;
  json result = {{"supportedVersions", all_protocol_versions()},
                 {"capabilities", std::move(caps)},
                 {"_meta", {{kServerInfoKey, std::move(server_info)}}}};
  if (!o.instructions.empty()) result["instructions"] = o.instructions;
  detail::add_cache_hints(result, o);
  return Outcome::ok(std::move(result));
}

void ServerSession::start_listen(const rpc::Message& m) {
  const rpc::Id& id = *m.id;
  auto f = m.params.find("notifications");
  if (f == m.params.end() || !f->is_object()) {
    return answer(id, Outcome::err(rpc::kInvalidParams,
                                   "Invalid params: notifications (a SubscriptionFilter object) "
                                   "is required"));
  }
  // The filter as accepted: the list kinds asked for, the resource URIs asked for.
  json accepted = json::object();
  for (const char* k : {"toolsListChanged", "promptsListChanged", "resourcesListChanged"}) {
    if (auto it = f->find(k); it != f->end() && it->is_boolean() && it->get<bool>()) {
      accepted[k] = true;
    }
  }
  if (auto rs = f->find("resourceSubscriptions"); rs != f->end()) {
    if (!rs->is_array() ||
        !std::all_of(rs->begin(), rs->end(), [](const json& u) { return u.is_string(); })) {
      return answer(id, Outcome::err(rpc::kInvalidParams,
                                     "Invalid params: resourceSubscriptions must be an array of "
                                     "URIs"));
    }
    accepted["resourceSubscriptions"] = *rs;
  }
  auto token = std::make_shared<CancelToken>();
  bool duplicate = false;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (closed_) return;
    duplicate = !inflight_.emplace(id.text, token).second;
    if (!duplicate) listens_[id.text] = Listen{id.value, accepted};
  }
  if (duplicate) {
    return answer(id, Outcome::err(rpc::kInvalidRequest,
                                   "Invalid Request: a request with this id is already in "
                                   "progress"));
  }
  send_notification("notifications/subscriptions/acknowledged",
                    {{"notifications", accepted}, {"_meta", {{kSubscriptionKey, id.value}}}},
                    id.value);
  // The stream stays open until the client cancels (notifications/cancelled; on HTTP, closing
  // the stream) or the session closes. No result is sent for a cancelled request.
  std::weak_ptr<ServerSession> weak = weak_from_this();
  token->on_cancel([weak, key = id.text] {
    if (auto self = weak.lock()) self->end_listen(key);
  });
}

void ServerSession::end_listen(const std::string& key) {
  json id;
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = listens_.find(key);
    if (it == listens_.end()) return;
    id = it->second.id;
    listens_.erase(it);
    inflight_.erase(key);
  }
  send(OutboundMessage{std::string(), id, true});
}

ServerSession::Outcome ServerSession::do_task(const std::string& method, const json& p,
                                              const RequestScope& scope) {
  const json caps = scope.caps;
  const auto ext = caps.find("extensions");
  if (ext == caps.end() || !ext->is_object() || !ext->contains(kTasksExtension)) {
    return Outcome::err(
        -32021,
        std::string("Missing required client capability: ") + method + " needs the " +
            kTasksExtension + " extension",
        json{{"requiredCapabilities", {{"extensions", {{kTasksExtension, json::object()}}}}}});
  }
  auto tid = p.find("taskId");
  if (tid == p.end() || !tid->is_string()) {
    return Outcome::err(rpc::kInvalidParams, "Invalid params: taskId (string) is required");
  }
  const std::string task_id = tid->get<std::string>();
  auto unknown = [&](const Error& e) {
    return Outcome::err(rpc::kInvalidParams, "Invalid params: " + e.message,
                        json{{"taskId", task_id}});
  };
  if (method == "tasks/get") {
    auto r = impl_->tasks->get(task_id, scope.caller.get());
    if (!r) return unknown(r.error());
    return Outcome::ok(std::move(*r));
  }
  if (method == "tasks/update") {
    auto responses = p.find("inputResponses");
    if (responses == p.end() || !responses->is_object()) {
      return Outcome::err(rpc::kInvalidParams,
                          "Invalid params: inputResponses (object) is required");
    }
    auto st = impl_->tasks->update(task_id, *responses, scope.caller.get());
    if (!st.ok()) return unknown(st.error());
    return Outcome::ok(json::object());
  }
  auto st = impl_->tasks->cancel(task_id, scope.caller.get());
  if (!st.ok()) return unknown(st.error());
  return Outcome::ok(json::object());
}

}  // namespace dm::mcp
