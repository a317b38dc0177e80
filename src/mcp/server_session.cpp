// One client's protocol state: lifecycle, dispatch, cancellation, progress, logging, and
// server->client requests; the calls (tools, resources, prompts, completion) both eras share.
// The 2026-07-28 entry (validation of _meta and headers, discover, listen, tasks) is in
// server_modern.cpp.
#include <algorithm>
#include <exception>

#include "common/base64.h"
#include "mcp/server_impl.h"

namespace dm::mcp {

namespace {

std::string err_text(const Error& e) { return e.message.empty() ? errc_name(e.code) : e.message; }

bool version_at_least(const std::string& v, const char* min) { return v >= min; }

// Opaque list cursor: base64 of "dm-cursor:<offset>".
std::string make_cursor(std::size_t offset) {
  return base64_encode("dm-cursor:" + std::to_string(offset));
}

std::optional<std::size_t> parse_cursor(const json& c) {
  if (!c.is_string()) return std::nullopt;
  auto raw = base64_decode(c.get<std::string>());
  static const std::string kPrefix = "dm-cursor:";
  if (!raw || raw->rfind(kPrefix, 0) != 0) return std::nullopt;
  const std::string digits = raw->substr(kPrefix.size());
  if (digits.empty() || digits.size() > 12 ||
      digits.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return static_cast<std::size_t>(std::stoull(digits));
}

json contents_json(const ResourceContents& c) {
  json j = {{"uri", c.uri}};
  if (!c.mime_type.empty()) j["mimeType"] = c.mime_type;
  if (c.text) j["text"] = *c.text;
  if (c.blob_base64) j["blob"] = *c.blob_base64;
  if (!c.text && !c.blob_base64) j["text"] = "";
  if (c.meta) j["_meta"] = *c.meta;
  return j;
}

json tool_result_json(const ToolResult& r) {
  json j = {{"content", r.content.is_array() ? r.content : json::array()}};
  if (r.structured_content) j["structuredContent"] = *r.structured_content;
  if (r.is_error) j["isError"] = true;
  if (r.meta) j["_meta"] = *r.meta;
  return j;
}

json error_result(std::string text) { return tool_result_json(ToolResult::error(std::move(text))); }

// Whole numbers go out as JSON integers (50, not 50.0).
json number(double v) {
  if (v > -9e15 && v < 9e15 && v == static_cast<double>(static_cast<std::int64_t>(v))) {
    return static_cast<std::int64_t>(v);
  }
  return v;
}

}  // namespace

// A server->client request awaiting its answer.
struct ServerSession::Pending {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  bool session_closed = false;
  json response;  // the whole response message fields: result or error
  bool is_error = false;
};

// ---- Request context ------------------------------------------------------------------------

ServerSession::Ctx::Ctx(std::shared_ptr<ServerSession> s, rpc::Id id, CancelTokenPtr token,
                        json meta, RequestScope scope, std::chrono::milliseconds default_timeout)
    : s_(std::move(s)),
      id_(std::move(id)),
      token_(std::move(token)),
      meta_(meta.is_object() ? std::move(meta) : json::object()),
      scope_(std::move(scope)),
      default_timeout_(default_timeout) {
  if (auto it = meta_.find("progressToken");
      it != meta_.end() && (it->is_string() || it->is_number())) {
    progress_token_ = *it;
  }
}

bool ServerSession::Ctx::cancelled() const { return token_->cancelled(); }
const CancelToken& ServerSession::Ctx::cancel_token() const { return *token_; }

void ServerSession::Ctx::set_round(json responses, std::optional<json> state) {
  responses_ = responses.is_object() ? std::move(responses) : json::object();
  state_ = std::move(state);
}

void ServerSession::Ctx::progress(double progress, std::optional<double> total,
                                  std::string message) {
  if (!progress_token_ || token_->cancelled()) return;
  json p = {{"progressToken", *progress_token_}, {"progress", number(progress)}};
  if (total) p["total"] = number(*total);
  if (!message.empty()) p["message"] = std::move(message);
  s_->send_notification("notifications/progress", p, id_.value);
}

void ServerSession::Ctx::log(LogLevel level, std::string logger, json data) {
  if (token_->cancelled()) return;
  // 2026-07-28: only when this request asked for a level; legacy: the session's level.
  const bool wanted =
      scope_.modern ? scope_.log_level && level >= *scope_.log_level : s_->log_enabled(level);
  if (!wanted) return;
  json p = {{"level", log_level_name(level)}, {"data", std::move(data)}};
  if (!logger.empty()) p["logger"] = std::move(logger);
  s_->send_notification("notifications/message", p, id_.value);
}

Result<json> ServerSession::Ctx::request_client(std::string method, json params,
                                                std::chrono::milliseconds timeout) {
  if (scope_.modern) {
    return make_error(Errc::failed_precondition,
                      method + " cannot be sent on a " + scope_.version +
                          " request: answer ToolResult::needs_input (input_required) instead");
  }
  if (timeout.count() <= 0) timeout = default_timeout_;
  return s_->client_request(method, std::move(params), timeout, *token_, id_.value);
}

Result<json> ServerSession::Ctx::elicit_form(std::string message, json schema,
                                             std::chrono::milliseconds timeout) {
  if (!scope_.caps.contains("elicitation")) {
    return make_error(Errc::failed_precondition,
                      "the client did not declare the elicitation capability");
  }
  const auto& el = scope_.caps["elicitation"];
  // 2025-11-25: {} means form only (compatibility); {url:{}} alone means no form.
  if (el.is_object() && !el.empty() && !el.contains("form")) {
    return make_error(Errc::failed_precondition,
                      "the client did not declare form-mode elicitation");
  }
  json p = {{"message", std::move(message)}, {"requestedSchema", std::move(schema)}};
  if (version_at_least(scope_.version, "2025-11-25")) p["mode"] = "form";
  return request_client("elicitation/create", std::move(p), timeout);
}

Result<json> ServerSession::Ctx::elicit_url(std::string message, std::string url,
                                            std::string elicitation_id,
                                            std::chrono::milliseconds timeout) {
  const auto it = scope_.caps.find("elicitation");
  if (it == scope_.caps.end() || !it->is_object() || !it->contains("url")) {
    return make_error(Errc::failed_precondition,
                      "the client did not declare URL-mode elicitation (elicitation.url)");
  }
  json p = {{"mode", "url"},
            {"message", std::move(message)},
            {"url", std::move(url)},
            {"elicitationId", std::move(elicitation_id)}};
  return request_client("elicitation/create", std::move(p), timeout);
}

Result<json> ServerSession::Ctx::create_message(json params, std::chrono::milliseconds timeout) {
  if (!scope_.caps.contains("sampling")) {
    return make_error(Errc::failed_precondition,
                      "the client did not declare the sampling capability");
  }
  return request_client("sampling/createMessage", std::move(params), timeout);
}

// ---- Shared by both eras ----------------------------------------------------------------------

namespace detail {

std::optional<Answer> check_mrtr_params(const json& params) {
  if (auto r = params.find("inputResponses"); r != params.end()) {
    if (!r->is_object()) {
      return Answer::err(rpc::kInvalidParams, "Invalid params: inputResponses must be an object");
    }
    for (auto it = r->begin(); it != r->end(); ++it) {
      if (!it.value().is_object()) {
        return Answer::err(rpc::kInvalidParams, "Invalid params: inputResponses." + it.key() +
                                                    " must be an object (an ElicitResult, "
                                                    "CreateMessageResult or ListRootsResult)");
      }
    }
  }
  if (auto st = params.find("requestState"); st != params.end() && !st->is_string()) {
    return Answer::err(rpc::kInvalidParams, "Invalid params: requestState must be a string");
  }
  return std::nullopt;
}

std::string capability_for(const std::string& input_method) {
  if (input_method == "elicitation/create") return "elicitation";
  if (input_method == "sampling/createMessage") return "sampling";
  if (input_method == "roots/list") return "roots";
  return {};
}

json state_claims(const ServerOptions& o, const Call& call, RequestContext& ctx) {
  json c = {{"m", call.method}, {"t", call.target}, {"h", canonical_sha256(call.arguments)}};
  // A state sealed for one authenticated caller is refused for any other.
  if (const Caller* who = ctx.caller()) c["c"] = json::array({who->issuer, who->subject});
  if (o.state_claims) c["x"] = o.state_claims(call, ctx);
  return c;
}

void add_cache_hints(json& result, const ServerOptions& o) {
  result["ttlMs"] = o.cache_ttl.count() < 0 ? 0 : o.cache_ttl.count();
  result["cacheScope"] = o.cache_public ? "public" : "private";
}

}  // namespace detail

namespace {

// The capabilities of `required` that `declared` lacks (each key, recursively, must be an object
// or other non-null value the client declared); empty object when none.
json missing_capabilities(const json& required, const json& declared) {
  json missing = json::object();
  if (!required.is_object()) return missing;
  for (auto it = required.begin(); it != required.end(); ++it) {
    const auto d = declared.is_object() ? declared.find(it.key()) : declared.end();
    if (!declared.is_object() || d == declared.end() || d->is_null()) {
      missing[it.key()] = it.value();
      continue;
    }
    if (it.value().is_object() && !it.value().empty()) {
      json sub = missing_capabilities(it.value(), *d);
      if (!sub.empty()) missing[it.key()] = std::move(sub);
    }
  }
  return missing;
}

Answer missing_capability_error(json missing) {
  // The message first: an argument moved from in the same call may be read after the move.
  std::string message = "Missing required client capability: " + rpc::dump(missing);
  return Answer::err(-32021, std::move(message),
                     json{{"requiredCapabilities", std::move(missing)}});
}

// An InputRequiredResult for a modern request: every request's capability declared, the state
// sealed for this request. An error answer otherwise.
Answer input_required_answer(const InputRequired& ir, Server::Impl& impl, const Call& call,
                             RequestContext& ctx) {
  json missing = json::object();
  json requests = json::object();
  for (const auto& [key, req] : ir.requests) {
    const std::string method = req.is_object() ? req.value("method", "") : "";
    const std::string cap = detail::capability_for(method);
    if (cap.empty()) {
      return Answer::err(rpc::kInternalError,
                         "Internal error: input request " + key + " has no supported method");
    }
    if (!ctx.client_supports(cap)) missing[cap] = json::object();
    requests[key] = req;
    // 2026-07-28 has no elicitationId (a 2025-11-25 URL elicitation needs one).
    if (auto p = requests[key].find("params"); p != requests[key].end() && p->is_object())
      p->erase("elicitationId");
  }
  if (!missing.empty()) return missing_capability_error(std::move(missing));
  json out = {{"resultType", "input_required"}};
  if (!requests.empty()) out["inputRequests"] = std::move(requests);
  if (ir.state) {
    if (!impl.sealer)
      return Answer::err(rpc::kInternalError, "Internal error: no requestState key");
    auto sealed = impl.sealer->seal(detail::state_claims(impl.opts, call, ctx), *ir.state);
    if (!sealed)
      return Answer::err(rpc::kInternalError, "Internal error: " + sealed.error().message);
    out["requestState"] = std::move(*sealed);
  }
  if (!out.contains("inputRequests") && !out.contains("requestState")) {
    return Answer::err(rpc::kInternalError,
                       "Internal error: an input_required answer needs requests or a state");
  }
  return Answer::ok(std::move(out));
}

// Checks the requestState a modern retry presents and hands it, with the answers, to the
// handler's context. An error answer when the state is refused.
std::optional<Answer> begin_round(ServerSession::Ctx& ctx, Server::Impl& impl, const Call& call,
                                  const json& params) {
  json responses = params.value("inputResponses", json::object());
  std::optional<json> state;
  if (auto st = params.find("requestState"); st != params.end() && st->is_string()) {
    if (!impl.sealer)
      return Answer::err(rpc::kInternalError, "Internal error: no requestState key");
    auto payload =
        impl.sealer->open(st->get<std::string>(), detail::state_claims(impl.opts, call, ctx));
    if (!payload) {
      return Answer::err(rpc::kInvalidParams,
                         "Invalid params: requestState refused: " + payload.error().message);
    }
    state = std::move(*payload);
  }
  ctx.set_round(std::move(responses), std::move(state));
  return std::nullopt;
}

// Legacy sessions: fulfils an InputRequired with server->client requests and hands the answers
// to the handler's next run. An error text when the client cannot or did not answer.
std::optional<std::string> fulfil_on_session(const InputRequired& ir, ServerSession::Ctx& ctx) {
  json answers = json::object();
  for (const auto& [key, req] : ir.requests) {
    const std::string method = req.is_object() ? req.value("method", "") : "";
    const std::string cap = detail::capability_for(method);
    if (cap.empty()) return "input request " + key + " has no supported method";
    if (!ctx.client_supports(cap)) return "the client did not declare the " + cap + " capability";
    json params = req.value("params", json::object());
    if (method == "elicitation/create" && !version_at_least(ctx.scope().version, "2025-11-25")) {
      params.erase("mode");
    }
    auto r = ctx.request_client(method, std::move(params), std::chrono::milliseconds(0));
    if (!r) return method + " failed: " + err_text(r.error());
    answers[key] = std::move(*r);
  }
  ctx.set_round(std::move(answers), ir.state);
  return std::nullopt;
}

constexpr int kMaxLegacyRounds = 8;  // input rounds fulfilled on a legacy session per call

// The answer to a tool's result once it needs no more rounds: output schema, isError.
Answer finish_tool(const ToolEntry& entry, const ToolResult& tr) {
  if (entry.output && !tr.is_error) {
    if (!tr.structured_content) {
      return Answer::ok(
          error_result("tool " + entry.tool.name +
                       " declares an outputSchema but returned no structured content"));
    }
    if (auto bad = entry.output->validate(*tr.structured_content, "structuredContent")) {
      return Answer::ok(
          error_result("tool " + entry.tool.name +
                       " returned output that does not match its outputSchema: " + *bad));
    }
  }
  return Answer::ok(tool_result_json(tr));
}

Answer rpc_error_answer(const RpcError& e) { return Answer::err(e.code, e.message, e.data); }

// A task's round: runs the work and says what became of it.
TaskRound task_round(const std::shared_ptr<const ToolEntry>& entry, const json& args,
                     const ToolHandler& work, RequestContext& ctx) {
  TaskRound out;
  Result<ToolResult> r = work(args, ctx);
  if (!r) {
    out.kind = TaskRound::Kind::complete;  // a tool execution error is a completed task
    out.value = error_result(err_text(r.error()));
  } else if (r->rpc_error) {
    out.kind = TaskRound::Kind::failed;
    out.value = {{"code", r->rpc_error->code}, {"message", r->rpc_error->message}};
    if (r->rpc_error->data) out.value["data"] = *r->rpc_error->data;
  } else if (r->input_required) {
    json missing = json::object();
    for (const auto& [key, req] : r->input_required->requests) {
      const std::string cap =
          detail::capability_for(req.is_object() ? req.value("method", "") : "");
      if (cap.empty() || !ctx.client_supports(cap))
        missing[cap.empty() ? key : cap] = json::object();
      out.input_requests[key] = req;
    }
    if (!missing.empty()) {
      out.kind = TaskRound::Kind::failed;
      out.value = {{"code", -32021},
                   {"message", "Missing required client capability"},
                   {"data", {{"requiredCapabilities", missing}}}};
      return out;
    }
    out.kind = TaskRound::Kind::input;
    out.state = r->input_required->state;
  } else if (r->task_work) {
    out.kind = TaskRound::Kind::failed;
    out.value = {{"code", rpc::kInternalError},
                 {"message", "Internal error: a task's work asked for another task"}};
  } else {
    Answer a = finish_tool(*entry, *r);
    out.kind = TaskRound::Kind::complete;
    out.value = std::move(a.result);
  }
  if (out.kind == TaskRound::Kind::complete) out.value["resultType"] = "complete";
  return out;
}

}  // namespace

// ---- Session --------------------------------------------------------------------------------

ServerSession::ServerSession(std::shared_ptr<Server> server, Server::Impl* impl, OutboundSink sink)
    : server_(std::move(server)), impl_(impl), sink_(std::move(sink)) {}

ServerSession::~ServerSession() { close(); }

std::string ServerSession::protocol_version() const {
  std::lock_guard<std::mutex> lk(mu_);
  return version_;
}

json ServerSession::client_capabilities() const {
  std::lock_guard<std::mutex> lk(mu_);
  return client_caps_;
}

json ServerSession::client_info() const {
  std::lock_guard<std::mutex> lk(mu_);
  return client_info_;
}

void ServerSession::send(OutboundMessage m) {
  std::lock_guard<std::recursive_mutex> lk(send_mu_);
  if (send_closed_ || !sink_) return;
  try {
    sink_(std::move(m));
  } catch (...) {
    // A sink must not throw; if one does, the message is lost but the session survives.
  }
}

void ServerSession::send_notification(const std::string& method, const json& params,
                                      std::optional<json> related) {
  send(OutboundMessage{rpc::notification(method, params), std::move(related), false});
}

bool ServerSession::log_enabled(LogLevel level) const {
  std::lock_guard<std::mutex> lk(mu_);
  return !log_level_ || level >= *log_level_;
}

void ServerSession::answer(const rpc::Id& id, const Outcome& o, bool modern) {
  std::string text;
  if (o.code != 0) {
    text = rpc::error_response(&id, o.code, o.message, o.data ? &*o.data : nullptr);
  } else if (modern && o.result.is_object() && !o.result.contains("resultType")) {
    json r = o.result;
    r["resultType"] = "complete";
    text = rpc::response(id, r);
  } else {
    text = rpc::response(id, o.result);
  }
  send(OutboundMessage{std::move(text), id.value, true});
}

RequestScope ServerSession::legacy_scope(CallerPtr caller) const {
  std::lock_guard<std::mutex> lk(mu_);
  RequestScope s;
  s.caller = std::move(caller);
  s.version = version_;
  s.caps = client_caps_;
  s.info = client_info_;
  return s;
}

void ServerSession::close() {
  std::map<std::string, CancelTokenPtr> inflight;
  std::map<std::string, std::shared_ptr<Pending>> pending;
  {
    std::lock_guard<std::recursive_mutex> lk(send_mu_);
    send_closed_ = true;
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (closed_) return;
    closed_ = true;
    inflight.swap(inflight_);
    pending.swap(pending_);
    subscriptions_.clear();
    listens_.clear();
  }
  for (auto& [id, tok] : inflight) tok->cancel();
  for (auto& [id, p] : pending) {
    std::lock_guard<std::mutex> lk(p->mu);
    p->done = true;
    p->session_closed = true;
    p->cv.notify_all();
  }
}

namespace {
// The SubscriptionFilter key a list_changed notification is delivered under.
const char* filter_key(std::string_view method) {
  if (method == "notifications/tools/list_changed") return "toolsListChanged";
  if (method == "notifications/prompts/list_changed") return "promptsListChanged";
  if (method == "notifications/resources/list_changed") return "resourcesListChanged";
  return "";
}
}  // namespace

void ServerSession::notify_list_changed(const char* method) {
  bool legacy;
  std::vector<json> listeners;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (closed_) return;
    legacy = initialized_;
    const char* key = filter_key(method);
    for (const auto& [k, l] : listens_) {
      if (l.filter.value(key, false)) listeners.push_back(l.id);
    }
  }
  if (legacy) send_notification(method, json::object(), std::nullopt);
  for (const auto& id : listeners) {
    send_notification(method, {{"_meta", {{"io.modelcontextprotocol/subscriptionId", id}}}}, id);
  }
}

void ServerSession::notify_resource_updated(const std::string& uri) {
  bool legacy;
  std::vector<json> listeners;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (closed_) return;
    legacy = initialized_ && subscriptions_.count(uri) != 0;
    for (const auto& [k, l] : listens_) {
      const json subs = l.filter.value("resourceSubscriptions", json::array());
      if (subs.is_array() && std::find(subs.begin(), subs.end(), json(uri)) != subs.end()) {
        listeners.push_back(l.id);
      }
    }
  }
  if (legacy) send_notification("notifications/resources/updated", {{"uri", uri}}, std::nullopt);
  for (const auto& id : listeners) {
    send_notification("notifications/resources/updated",
                      {{"uri", uri}, {"_meta", {{"io.modelcontextprotocol/subscriptionId", id}}}},
                      id);
  }
}

InboundInfo ServerSession::receive(std::string_view text, const RequestHeaders* headers,
                                   std::shared_ptr<const Caller> caller) {
  InboundInfo info;
  rpc::Message m = rpc::parse(text, {impl_->opts.max_message_bytes, impl_->opts.max_json_depth});
  switch (m.kind) {
    case rpc::Message::Kind::invalid: {
      info.kind = InboundKind::invalid;
      if (m.id) info.id = m.id->value;
      std::string err = rpc::error_response(m.id ? &*m.id : nullptr, m.error_code, m.error_message);
      send(OutboundMessage{std::move(err), m.id ? m.id->value : json(nullptr), true});
      return info;
    }
    case rpc::Message::Kind::request:
      info.kind = InboundKind::request;
      info.id = m.id->value;
      info.method = m.method;
      handle_request(m, headers, caller);
      return info;
    case rpc::Message::Kind::notification:
      info.kind = InboundKind::notification;
      info.method = m.method;
      handle_notification(m);
      return info;
    case rpc::Message::Kind::response:
      info.kind = InboundKind::response;
      info.id = m.id->value;
      handle_response(m);
      return info;
  }
  return info;
}

void ServerSession::handle_notification(const rpc::Message& m) {
  if (m.method == "notifications/cancelled") {
    if (!m.params.is_object() || !m.params.contains("requestId")) return;
    const std::string key = rpc::dump(m.params["requestId"]);
    CancelTokenPtr tok;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (auto it = inflight_.find(key); it != inflight_.end()) tok = it->second;
    }
    if (tok) tok->cancel();
  }
  // notifications/initialized, roots/list_changed, progress...: nothing to do.
}

void ServerSession::handle_response(const rpc::Message& m) {
  std::shared_ptr<Pending> p;
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = pending_.find(m.id->text);
    if (it == pending_.end()) return;  // late answer to a timed-out request, or unknown
    p = it->second;
    pending_.erase(it);
  }
  std::lock_guard<std::mutex> lk(p->mu);
  p->done = true;
  if (m.error) {
    p->is_error = true;
    p->response = *m.error;
  } else {
    p->response = m.result;
  }
  p->cv.notify_all();
}

Result<json> ServerSession::client_request(const std::string& method, json params,
                                           std::chrono::milliseconds timeout,
                                           const CancelToken& token, const json& related) {
  auto p = std::make_shared<Pending>();
  json id;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (closed_) return make_error(Errc::unavailable, "session closed");
    id = ++next_client_id_;
    pending_[rpc::dump(id)] = p;
  }
  // CancelToken is shared with the session; wake this waiter when it flips.
  token.on_cancel([p] {
    std::lock_guard<std::mutex> lk(p->mu);
    p->cv.notify_all();
  });
  send(OutboundMessage{rpc::request(id, method, params), related, false});
  bool done = false;
  bool timed_out = false;
  {
    std::unique_lock<std::mutex> lk(p->mu);
    timed_out = !p->cv.wait_for(lk, timeout, [&] { return p->done || token.cancelled(); });
    done = p->done;
  }
  if (!done) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      pending_.erase(rpc::dump(id));
    }
    const char* why = timed_out ? "timed out" : "cancelled";
    send_notification("notifications/cancelled", {{"requestId", id}, {"reason", why}},
                      token.cancelled() ? std::nullopt : std::optional<json>(related));
    if (timed_out) {
      return make_error(Errc::timeout,
                        method + " timed out after " + std::to_string(timeout.count()) + " ms");
    }
    return make_error(Errc::cancelled, method + " cancelled");
  }
  std::lock_guard<std::mutex> lk(p->mu);
  if (p->session_closed) return make_error(Errc::unavailable, "session closed");
  if (p->is_error) {
    const json& e = p->response;
    std::string msg = e.is_object() ? e.value("message", std::string("error")) : "error";
    const int code = e.is_object() && e.contains("code") && e["code"].is_number_integer()
                         ? e["code"].get<int>()
                         : 0;
    return make_error(Errc::protocol, std::to_string(code) + ": " + msg);
  }
  return p->response;
}

bool ServerSession::tool_allowed(const Tool& tool, const Caller* caller) const {
  std::shared_ptr<const ToolFilter> f;
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    f = impl_->tool_filter;
  }
  return !f || (*f)(tool, caller);
}

void ServerSession::run_call(const rpc::Message& m, const RequestScope& scope, Call call,
                             AsyncFn fn) {
  std::vector<std::shared_ptr<const Middleware>> chain;
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    chain = impl_->middleware;
  }
  if (chain.empty()) return run_async(m, scope, std::move(fn));
  run_async(
      m, scope,
      [chain = std::move(chain), call = std::move(call), fn = std::move(fn)](Ctx& ctx) -> Outcome {
        std::function<Outcome(std::size_t)> step = [&](std::size_t i) -> Outcome {
          if (i == chain.size()) return fn(ctx);
          return (*chain[i])(call, ctx, [&] { return step(i + 1); });
        };
        return step(0);
      });
}

void ServerSession::run_async(const rpc::Message& m, const RequestScope& scope, AsyncFn fn) {
  auto token = std::make_shared<CancelToken>();
  const rpc::Id id = *m.id;
  const bool modern = scope.modern;
  bool duplicate = false;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (closed_) return;
    duplicate = !inflight_.emplace(id.text, token).second;
  }
  if (duplicate) {  // answered outside mu_: a sink may call back into the session
    answer(id, Outcome::err(rpc::kInvalidRequest,
                            "Invalid Request: a request with this id is already in progress"));
    return;
  }
  json meta = m.params.is_object() && m.params.contains("_meta") ? m.params["_meta"] : json();
  auto self = shared_from_this();
  auto task = [self, id, token, modern, scope, meta = std::move(meta),
               fn = std::move(fn)]() mutable {
    Outcome out;
    if (!token->cancelled()) {
      Ctx ctx(self, id, token, std::move(meta), std::move(scope),
              self->impl_->opts.client_request_timeout);
      try {
        out = fn(ctx);
      } catch (const std::exception& e) {
        out = Outcome::err(rpc::kInternalError, std::string("Internal error: ") + e.what());
      } catch (...) {
        out = Outcome::err(rpc::kInternalError, "Internal error");
      }
    }
    {
      std::lock_guard<std::mutex> lk(self->mu_);
      self->inflight_.erase(id.text);
    }
    if (token->cancelled()) {
      // MCP: no response to a cancelled request; transports still learn it is over.
      self->send(OutboundMessage{std::string(), id.value, true});
      return;
    }
    self->answer(id, out, modern);
  };
  if (!impl_->executor->post(std::move(task))) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      inflight_.erase(id.text);
    }
    answer(id, Outcome::err(rpc::kInternalError, "Internal error: server is shutting down"));
  }
}

void ServerSession::handle_request(rpc::Message& m, const RequestHeaders* headers,
                                   const CallerPtr& caller) {
  const rpc::Id& id = *m.id;
  const std::string& method = m.method;
  if (m.params.is_null()) m.params = json::object();
  const auto meta = m.params.find("_meta");
  const bool has_meta = meta != m.params.end() && meta->is_object();
  const bool modern_request = has_meta && meta->contains("io.modelcontextprotocol/protocolVersion");
  bool initialized;
  std::string session_version;
  {
    std::lock_guard<std::mutex> lk(mu_);
    initialized = initialized_;
    session_version = version_;
  }
  if (modern_request && initialized) {
    return answer(
        id, Outcome::err(rpc::kInvalidRequest,
                         "Invalid Request: this session negotiated " + session_version +
                             " with initialize; a request carrying _meta "
                             "io.modelcontextprotocol/protocolVersion (2026-07-28) is not served "
                             "on it. Send it outside the session (HTTP: without Mcp-Session-Id)",
                         json{{"sessionProtocolVersion", session_version}}));
  }
  if (modern_request || (!initialized && headers != nullptr))
    return handle_modern(m, headers, caller);
  if (method == "initialize") return answer(id, do_initialize(m.params));
  if (method == "ping") return answer(id, Outcome::ok(json::object()));
  if (!initialized) {
    if (has_meta && meta->contains("io.modelcontextprotocol/clientCapabilities")) {
      return handle_modern(m, headers, caller);  // a 2026-07-28 request missing its version: -32602
    }
    return answer(
        id, Outcome::err(rpc::kInvalidRequest,
                         "Invalid Request: " + method +
                             " before initialize; send initialize first (2025-11-25 and older), "
                             "or carry _meta io.modelcontextprotocol/protocolVersion and "
                             "clientCapabilities on every request (2026-07-28)"));
  }
  if (method == "tools/list" || method == "resources/list" ||
      method == "resources/templates/list" || method == "prompts/list") {
    return answer(id, do_list(method, m.params, false, caller.get()));
  }
  const RequestScope scope = legacy_scope(caller);
  if (method == "tools/call") return start_tool_call(m, scope, nullptr);
  if (method == "resources/read") return start_resource_read(m, scope);
  if (method == "prompts/get") return start_prompt_get(m, scope);
  if (method == "completion/complete") return start_complete(m, scope);
  if (method == "logging/setLevel") return answer(id, do_set_level(m.params));
  if (method == "resources/subscribe") return answer(id, do_subscribe(m.params, true));
  if (method == "resources/unsubscribe") return answer(id, do_subscribe(m.params, false));
  answer(id, Outcome::err(rpc::kMethodNotFound, "Method not found: " + method));
}

ServerSession::Outcome ServerSession::do_initialize(const json& params) {
  auto pv = params.find("protocolVersion");
  if (pv == params.end() || !pv->is_string()) {
    return Outcome::err(rpc::kInvalidParams,
                        "Invalid params: protocolVersion (string) is required");
  }
  const auto& versions = supported_protocol_versions();
  std::string version = pv->get<std::string>();
  if (std::find(versions.begin(), versions.end(), version) == versions.end()) {
    version = kLatestProtocolVersion;
  }
  json caps = params.value("capabilities", json::object());
  if (!caps.is_object()) caps = json::object();
  json info = params.value("clientInfo", json::object());
  bool has_completion;
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    has_completion = impl_->completion != nullptr;
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (initialized_) {
      return Outcome::err(rpc::kInvalidRequest, "Invalid Request: session already initialized");
    }
    initialized_ = true;
    version_ = version;
    client_caps_ = std::move(caps);
    client_info_ = info.is_object() ? std::move(info) : json::object();
  }
  const auto& o = impl_->opts;
  json server_caps = {{"tools", {{"listChanged", true}}},
                      {"resources", {{"subscribe", true}, {"listChanged", true}}},
                      {"prompts", {{"listChanged", true}}}};
  if (o.logging) server_caps["logging"] = json::object();
  if (o.completions && has_completion) server_caps["completions"] = json::object();
  json server_info = {{"name", o.name}, {"version", o.version}};
  if (!o.title.empty()) server_info["title"] = o.title;
  json result = {{"protocolVersion", version},
                 {"capabilities", std::move(server_caps)},
                 {"serverInfo", std::move(server_info)}};
  if (!o.instructions.empty()) result["instructions"] = o.instructions;
  return Outcome::ok(std::move(result));
}

ServerSession::Outcome ServerSession::do_set_level(const json& params) {
  auto it = params.find("level");
  std::optional<LogLevel> lvl;
  if (it != params.end() && it->is_string()) lvl = parse_log_level(it->get<std::string>());
  if (!lvl) {
    return Outcome::err(rpc::kInvalidParams,
                        "Invalid params: level must be one of debug, info, notice, warning, "
                        "error, critical, alert, emergency");
  }
  std::lock_guard<std::mutex> lk(mu_);
  log_level_ = *lvl;
  return Outcome::ok(json::object());
}

ServerSession::Outcome ServerSession::do_subscribe(const json& params, bool subscribe) {
  auto it = params.find("uri");
  if (it == params.end() || !it->is_string() || it->get<std::string>().empty()) {
    return Outcome::err(rpc::kInvalidParams, "Invalid params: uri (string) is required");
  }
  std::lock_guard<std::mutex> lk(mu_);
  if (subscribe) {
    subscriptions_.insert(it->get<std::string>());
  } else {
    subscriptions_.erase(it->get<std::string>());
  }
  return Outcome::ok(json::object());
}

ServerSession::Outcome ServerSession::do_list(const std::string& method, const json& params,
                                              bool modern, const Caller* caller) {
  std::size_t offset = 0;
  if (auto c = params.find("cursor"); c != params.end() && !c->is_null()) {
    auto off = parse_cursor(*c);
    if (!off) return Outcome::err(rpc::kInvalidParams, "Invalid params: invalid cursor");
    offset = *off;
  }
  json items = json::array();
  const char* key;
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    if (method == "tools/list") {
      key = "tools";
      for (const auto& t : impl_->tools)
        if (!impl_->tool_filter || (*impl_->tool_filter)(t->tool, caller))
          items.push_back(t->listing);
    } else if (method == "resources/list") {
      key = "resources";
      for (const auto& r : impl_->resources) {
        json j = {{"uri", r->uri}, {"name", r->name}};
        if (!r->title.empty()) j["title"] = r->title;
        if (!r->description.empty()) j["description"] = r->description;
        if (!r->mime_type.empty()) j["mimeType"] = r->mime_type;
        if (r->size) j["size"] = *r->size;
        if (r->annotations) j["annotations"] = *r->annotations;
        items.push_back(std::move(j));
      }
    } else if (method == "resources/templates/list") {
      key = "resourceTemplates";
      for (const auto& e : impl_->templates) {
        const auto& t = e->tmpl;
        json j = {{"uriTemplate", t.uri_template}, {"name", t.name}};
        if (!t.title.empty()) j["title"] = t.title;
        if (!t.description.empty()) j["description"] = t.description;
        if (!t.mime_type.empty()) j["mimeType"] = t.mime_type;
        if (t.annotations) j["annotations"] = *t.annotations;
        items.push_back(std::move(j));
      }
    } else {
      key = "prompts";
      for (const auto& p : impl_->prompts) {
        json j = {{"name", p->name}};
        if (!p->title.empty()) j["title"] = p->title;
        j["description"] = p->description;
        json args = json::array();
        for (const auto& a : p->arguments) {
          json aj = {{"name", a.name}, {"required", a.required}};
          if (!a.description.empty()) aj["description"] = a.description;
          args.push_back(std::move(aj));
        }
        j["arguments"] = std::move(args);
        items.push_back(std::move(j));
      }
    }
  }
  if (offset > items.size())
    return Outcome::err(rpc::kInvalidParams, "Invalid params: invalid cursor");
  const std::size_t end = std::min(items.size(), offset + impl_->opts.page_size);
  json page = json::array();
  for (std::size_t i = offset; i < end; ++i) page.push_back(std::move(items[i]));
  json result = {{key, std::move(page)}};
  if (end < items.size()) result["nextCursor"] = make_cursor(end);
  if (modern) detail::add_cache_hints(result, impl_->opts);
  return Outcome::ok(std::move(result));
}

void ServerSession::start_tool_call(const rpc::Message& m, const RequestScope& scope,
                                    const RequestHeaders* headers) {
  const json& p = m.params;
  const bool modern = scope.modern;
  auto n = p.find("name");
  if (n == p.end() || !n->is_string()) {
    return answer(*m.id,
                  Outcome::err(rpc::kInvalidParams, "Invalid params: name (string) is required"));
  }
  auto entry = impl_->find_tool(n->get<std::string>());
  if (entry && !tool_allowed(entry->tool, scope.caller.get())) entry.reset();  // as if unknown
  if (!entry) {
    return answer(*m.id,
                  Outcome::err(rpc::kInvalidParams, "Unknown tool: " + n->get<std::string>()));
  }
  json args = p.value("arguments", json::object());
  if (args.is_null()) args = json::object();
  if (!args.is_object()) {
    return answer(*m.id,
                  Outcome::err(rpc::kInvalidParams, "Invalid params: arguments must be an object"));
  }
  if (modern) {
    if (auto bad = detail::check_mrtr_params(p)) return answer(*m.id, *bad);
    if (headers) {
      if (auto bad = detail::check_header_params(*entry, args, *headers)) {
        return answer(*m.id, *bad);
      }
    }
  }
  if (json missing = missing_capabilities(entry->tool.required_client_capabilities, scope.caps);
      !missing.empty()) {
    return answer(*m.id, missing_capability_error(std::move(missing)));
  }
  Call call{"tools/call", entry->tool.name, args, entry->tool.effect, &entry->tool};
  auto* impl = impl_;
  run_call(m, scope, call,
           [entry, impl, call, params = p, args = std::move(args)](Ctx& ctx) -> Outcome {
             if (ctx.modern()) {
               if (auto refused = begin_round(ctx, *impl, call, params)) return *refused;
             }
             for (int round = 0;; ++round) {
               if (auto bad = entry->input->validate(args, "arguments")) {
                 return Outcome::ok(
                     error_result("Invalid arguments for tool " + entry->tool.name + ": " + *bad));
               }
               Result<ToolResult> r = entry->tool.handler(args, ctx);
               if (r && r->task_work) {
                 if (entry->tool.task_support != TaskSupport::none && ctx.modern() &&
                     ctx.client_supports(kTasksExtension)) {
                   ToolHandler work = r->task_work;
                   auto created = impl->tasks->create(
                       [entry, args, work](RequestContext& tctx) {
                         return task_round(entry, args, work, tctx);
                       },
                       ctx.client_capabilities(), ctx.client_info(), ctx.scope().caller);
                   if (!created) {
                     return Outcome::err(rpc::kInternalError,
                                         "Internal error: " + err_text(created.error()));
                   }
                   return Outcome::ok(std::move(*created));
                 }
                 // No task for this client: the work runs now, as a plain call.
                 ToolHandler work = r->task_work;
                 r = work(args, ctx);
                 if (r && r->task_work) {
                   return Outcome::err(rpc::kInternalError,
                                       "Internal error: a task's work asked for another task");
                 }
               }
               if (!r) return Outcome::ok(error_result(err_text(r.error())));
               if (r->rpc_error) return rpc_error_answer(*r->rpc_error);
               if (!r->input_required) return finish_tool(*entry, *r);
               if (ctx.modern()) return input_required_answer(*r->input_required, *impl, call, ctx);
               if (round + 1 >= kMaxLegacyRounds) {
                 return Outcome::ok(error_result("tool " + entry->tool.name + " asked for input " +
                                                 std::to_string(kMaxLegacyRounds) + " times"));
               }
               if (auto failed = fulfil_on_session(*r->input_required, ctx)) {
                 return Outcome::ok(error_result(*failed));
               }
             }
           });
}

void ServerSession::start_resource_read(const rpc::Message& m, const RequestScope& scope) {
  const bool modern = scope.modern;
  // 2025-11-25 and older: -32002 for an unknown resource; 2026-07-28: -32602 (SEP-2164).
  const int not_found = modern ? rpc::kInvalidParams : rpc::kResourceNotFound;
  auto u = m.params.find("uri");
  if (u == m.params.end() || !u->is_string()) {
    return answer(*m.id,
                  Outcome::err(rpc::kInvalidParams, "Invalid params: uri (string) is required"));
  }
  const std::string uri = u->get<std::string>();
  std::shared_ptr<const Resource> res;
  std::shared_ptr<const TemplateEntry> tmpl;
  UriVars vars;
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    for (const auto& r : impl_->resources) {
      if (r->uri == uri) res = r;
    }
    if (!res) {
      for (const auto& t : impl_->templates) {
        if (auto v = t->parsed.match(uri)) {
          tmpl = t;
          vars = std::move(*v);
          break;
        }
      }
    }
  }
  if (!res && !tmpl) {
    return answer(*m.id, Outcome::err(not_found, "Resource not found: " + uri, json{{"uri", uri}}));
  }
  Call call{"resources/read", uri, json{{"uri", uri}}, Effect::reads};
  auto* impl = impl_;
  run_call(m, scope, std::move(call),
           [res, tmpl, uri, vars = std::move(vars), not_found, impl](Ctx& ctx) -> Outcome {
             auto r = res ? res->handler(uri, ctx) : tmpl->tmpl.handler(uri, vars, ctx);
             if (!r) {
               if (r.error().code == Errc::not_found) {
                 return Outcome::err(not_found, "Resource not found: " + err_text(r.error()),
                                     json{{"uri", uri}});
               }
               if (r.error().code == Errc::invalid_argument) {
                 return Outcome::err(rpc::kInvalidParams, "Invalid params: " + err_text(r.error()));
               }
               return Outcome::err(rpc::kInternalError, "Internal error: " + err_text(r.error()));
             }
             json contents = json::array();
             for (const auto& c : *r) contents.push_back(contents_json(c));
             json out = {{"contents", std::move(contents)}};
             if (ctx.modern()) detail::add_cache_hints(out, impl->opts);
             return Outcome::ok(std::move(out));
           });
}

void ServerSession::start_prompt_get(const rpc::Message& m, const RequestScope& scope) {
  auto n = m.params.find("name");
  if (n == m.params.end() || !n->is_string()) {
    return answer(*m.id,
                  Outcome::err(rpc::kInvalidParams, "Invalid params: name (string) is required"));
  }
  auto prompt = impl_->find_prompt(n->get<std::string>());
  if (!prompt) {
    return answer(*m.id,
                  Outcome::err(rpc::kInvalidParams, "Unknown prompt: " + n->get<std::string>()));
  }
  std::map<std::string, std::string> args;
  if (auto a = m.params.find("arguments"); a != m.params.end() && !a->is_null()) {
    if (!a->is_object()) {
      return answer(
          *m.id, Outcome::err(rpc::kInvalidParams, "Invalid params: arguments must be an object"));
    }
    for (auto it = a->begin(); it != a->end(); ++it) {
      if (!it.value().is_string()) {
        return answer(*m.id, Outcome::err(rpc::kInvalidParams, "Invalid params: argument " +
                                                                   it.key() + " must be a string"));
      }
      args[it.key()] = it.value().get<std::string>();
    }
  }
  std::string missing;
  for (const auto& pa : prompt->arguments) {
    if (pa.required && args.count(pa.name) == 0) missing += (missing.empty() ? "" : ", ") + pa.name;
  }
  if (!missing.empty()) {
    return answer(*m.id, Outcome::err(rpc::kInvalidParams,
                                      "Invalid params: missing required argument(s): " + missing));
  }
  if (scope.modern) {
    if (auto bad = detail::check_mrtr_params(m.params)) return answer(*m.id, *bad);
  }
  Call call{"prompts/get", prompt->name, json(args), Effect::reads};
  auto* impl = impl_;
  run_call(
      m, scope, call,
      [prompt, impl, call, params = m.params, args = std::move(args)](Ctx& ctx) -> Outcome {
        if (ctx.modern()) {
          if (auto refused = begin_round(ctx, *impl, call, params)) return *refused;
        }
        for (int round = 0;; ++round) {
          auto r = prompt->handler(args, ctx);
          if (!r) {
            if (r.error().code == Errc::invalid_argument) {
              return Outcome::err(rpc::kInvalidParams, "Invalid params: " + err_text(r.error()));
            }
            return Outcome::err(rpc::kInternalError, "Internal error: " + err_text(r.error()));
          }
          json out = std::move(*r);
          if (!out.is_object()) out = json::object();
          if (out.value("resultType", "") == "input_required") {
            InputRequired ir;
            if (auto reqs = out.find("inputRequests"); reqs != out.end() && reqs->is_object()) {
              for (auto it = reqs->begin(); it != reqs->end(); ++it)
                ir.requests[it.key()] = it.value();
            }
            if (auto st = out.find("requestState"); st != out.end()) ir.state = *st;
            if (ctx.modern()) return input_required_answer(ir, *impl, call, ctx);
            if (round + 1 >= kMaxLegacyRounds) {
              return Outcome::err(rpc::kInternalError,
                                  "Internal error: prompt " + prompt->name + " asked for input " +
                                      std::to_string(kMaxLegacyRounds) + " times");
            }
            if (auto failed = fulfil_on_session(ir, ctx)) {
              return Outcome::err(rpc::kInternalError, "Internal error: " + *failed);
            }
            continue;
          }
          if (!out.contains("messages")) out["messages"] = json::array();
          return Outcome::ok(std::move(out));
        }
      });
}

void ServerSession::start_complete(const rpc::Message& m, const RequestScope& scope) {
  std::shared_ptr<const CompletionHandler> h;
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    h = impl_->completion;
  }
  if (!h)
    return answer(*m.id,
                  Outcome::err(rpc::kMethodNotFound, "Method not found: completion/complete"));
  const json& p = m.params;
  auto ref = p.find("ref");
  auto arg = p.find("argument");
  if (ref == p.end() || !ref->is_object() || !ref->contains("type") || arg == p.end() ||
      !arg->is_object() || !arg->contains("name") || !(*arg)["name"].is_string()) {
    return answer(
        *m.id, Outcome::err(rpc::kInvalidParams,
                            "Invalid params: ref {type} and argument {name, value} are required"));
  }
  json context = p.value("context", json());
  std::string target;  // the prompt's name or the resource's URI, when it is a string
  for (const char* k : {"name", "uri"}) {
    if (auto it = ref->find(k); it != ref->end() && it->is_string() && target.empty()) target = *it;
  }
  Call call{"completion/complete",
            target,
            {{"ref", *ref}, {"argument", *arg}, {"context", context}},
            Effect::reads};
  run_call(m, scope, std::move(call),
           [h, ref = *ref, arg = *arg, context = std::move(context)](Ctx&) -> Outcome {
             auto r = (*h)(ref, arg, context);
             if (!r) {
               if (r.error().code == Errc::invalid_argument || r.error().code == Errc::not_found) {
                 return Outcome::err(rpc::kInvalidParams, "Invalid params: " + err_text(r.error()));
               }
               return Outcome::err(rpc::kInternalError, "Internal error: " + err_text(r.error()));
             }
             const auto& all = *r;
             json values = json::array();
             for (std::size_t i = 0; i < all.size() && i < 100; ++i) values.push_back(all[i]);
             return Outcome::ok({{"completion",
                                  {{"values", std::move(values)},
                                   {"total", all.size()},
                                   {"hasMore", all.size() > 100}}}});
           });
}

}  // namespace dm::mcp
