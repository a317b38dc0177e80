// Streamable HTTP server. Structure:
// - Impl owns the io_context, its threads, the acceptor and the idle-session sweep timer.
// - Core (shared with every connection) holds options, the SessionFactory and the SessionTable.
// - Connection serves one TCP connection on its own strand. It reads requests with Beast's
//   parser and writes every byte through one queue (responses, SSE headers, chunks). While a
//   response stream is open, a read stays pending so a client disconnect is seen at once.
#include "mcp/http/http_server.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

// Beast 1.74's parser trips gcc 12's -Wmaybe-uninitialized under -fsanitize (a false positive
// on boost::optional inside basic_parser); silence it for these headers only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#pragma GCC diagnostic pop

#include "mcp/http/http_session.h"
#include "mcp/http/message_peek.h"
#include "mcp/http/request_checks.h"
#include "mcp/http/sse.h"

namespace dm::mcp::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;

constexpr std::chrono::seconds kIdleConnectionTimeout{120};  // keep-alive / slow header reads
constexpr std::size_t kMaxQueuedBytes = 16u << 20;           // slow SSE reader gets dropped
constexpr std::size_t kMaxSessions = 10000;                  // beyond: 503 to new initializes
constexpr std::string_view kSessionHeader = "Mcp-Session-Id";
constexpr std::string_view kVersionHeader = "MCP-Protocol-Version";

void log_line(const std::string& msg) { std::fprintf(stderr, "[mcp-http] %s\n", msg.c_str()); }

class Connection;

// State shared by the server and its connections.
struct Core {
  Core(std::shared_ptr<SessionFactory> f, HttpServerOptions o)
      : factory(std::move(f)), opts(std::move(o)) {}
  std::shared_ptr<SessionFactory> factory;
  HttpServerOptions opts;
  SessionTable sessions;
  std::atomic<bool> stopping{false};
  // Runs BearerGate::authenticate (which may wait on the identity provider) off the io threads.
  net::thread_pool gate_pool{2};
  std::mutex conns_mu;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> conns;
};

std::string_view sv(beast::string_view s) { return {s.data(), s.size()}; }
beast::string_view bsv(std::string_view s) { return {s.data(), s.size()}; }

// A request header's value; nullopt when absent.
template <class Req>
std::optional<std::string_view> header(const Req& req, std::string_view name) {
  auto it = req.find(bsv(name));
  if (it == req.end()) return std::nullopt;
  return sv(it->value());
}

struct Header {
  std::string name;
  std::string value;
};

std::string status_line(int status) {
  auto reason = bhttp::obsolete_reason(bhttp::int_to_status(static_cast<unsigned>(status)));
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
}

std::string chunk(std::string_view data) {
  char size[20];
  int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  std::string out(size, static_cast<std::size_t>(n));
  out += data;
  out += "\r\n";
  return out;
}

bool iequals_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

// The HTTP status of the first (JSON) answer to a 2026-07-28 request (streamable-http "Protocol
// Version Header" and "Server Validation"): 404 for an unknown method, 400 for a request the
// server refuses as malformed (headers, _meta, version, a capability it needs). A result, or any
// other error (unknown tool, resource not found, ...), is 200.
int stateless_status(std::string_view data, bool meta_complete) {
  constexpr std::string_view kError = R"(,"error":{"code":)";
  const auto e = data.find(kError);
  const auto r = data.find(R"(,"result":)");
  if (e == std::string_view::npos || (r != std::string_view::npos && r < e)) return 200;
  int code = 0;
  std::size_t i = e + kError.size();
  const bool neg = i < data.size() && data[i] == '-';
  if (neg) ++i;
  while (i < data.size() && data[i] >= '0' && data[i] <= '9') code = code * 10 + (data[i++] - '0');
  if (neg) code = -code;
  switch (code) {
    case -32601:
      return 404;
    case -32700:
    case -32600:
    case -32020:
    case -32021:
    case -32022:
      return 400;
    case -32602:
      return meta_complete ? 200 : 400;  // 400 only for the missing/malformed _meta
    default:
      return 200;
  }
}

class Connection : public StreamListener, public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket sock, std::shared_ptr<Core> core)
      : sock_(std::move(sock)), idle_timer_(sock_.get_executor()), core_(std::move(core)) {}

  void start() {
    {
      std::lock_guard lk(core_->conns_mu);
      core_->conns[this] = weak_from_this();
    }
    net::dispatch(sock_.get_executor(), [self = shared_from_this()] { self->do_read(); });
  }

  // Graceful end from any thread: pending bytes (e.g. a stream's final chunk) are flushed first.
  void shutdown() {
    net::post(sock_.get_executor(), [self = shared_from_this()] {
      self->close_after_write_ = true;
      if (!self->writing_) self->close_socket();
    });
  }

  void on_event(uint64_t stream, const SseEvent& ev, bool completes) override {
    net::post(sock_.get_executor(), [self = shared_from_this(), stream, ev, completes] {
      self->handle_event(stream, ev, completes);
    });
  }

  void on_end(uint64_t stream) override {
    net::post(sock_.get_executor(),
              [self = shared_from_this(), stream] { self->handle_end(stream); });
  }

 private:
  enum class Resp { none, waiting, sse };

  // ---- reading ----
  void do_read() {
    if (closed_ || reading_) return;
    if (pending_) return;  // a pipelined request waits for the current response
    reading_ = true;
    parser_.emplace();
    parser_->body_limit(core_->opts.max_body_bytes);
    parser_->header_limit(16 * 1024);
    if (resp_ == Resp::none) arm_idle_timer();
    bhttp::async_read(
        sock_, buf_, *parser_,
        [self = shared_from_this()](error_code ec, std::size_t) { self->on_read(ec); });
  }

  void arm_idle_timer() {
    ++idle_gen_;
    idle_timer_.expires_after(kIdleConnectionTimeout);
    idle_timer_.async_wait([self = shared_from_this(), gen = idle_gen_](error_code ec) {
      if (ec || gen != self->idle_gen_ || self->resp_ != Resp::none) return;
      self->close_socket();
    });
  }

  void on_read(error_code ec) {
    reading_ = false;
    ++idle_gen_;
    idle_timer_.cancel();
    if (closed_) return;
    if (ec == bhttp::error::header_limit) {
      keep_alive_ = false;
      send_simple(431, jsonrpc_error(-32600, "Request header fields too large"),
                  "application/json");
      return;
    }
    if (ec == bhttp::error::body_limit) {
      keep_alive_ = false;
      send_simple(413, jsonrpc_error(-32600, "Request body exceeds the size limit"),
                  "application/json");
      return;
    }
    if (ec) {
      // Client went away (or spoke garbage): the open stream, if any, is detached; its events
      // stay in the session's history for a later Last-Event-ID resumption.
      bool benign = ec == bhttp::error::end_of_stream || ec == net::error::eof ||
                    ec == net::error::connection_reset || ec == net::error::operation_aborted;
      if (!benign && resp_ == Resp::none && !writing_) {
        keep_alive_ = false;
        send_simple(400, jsonrpc_error(-32600, "Malformed HTTP request"), "application/json");
        return;
      }
      detach_stream();
      close_socket();
      return;
    }
    auto req = parser_->release();
    if (resp_ != Resp::none) {
      pending_ = std::move(req);  // answered when the current response ends
      return;
    }
    handle(std::move(req));
  }

  // ---- request handling ----
  using Request = bhttp::request<bhttp::string_body>;

  void handle(Request req) {
    keep_alive_ = req.keep_alive();
    http11_ = req.version() >= 11;
    const auto& o = core_->opts;
    auto host = header(req, "Host");
    if (!host || !host_allowed(*host, o.allowed_hosts)) {
      log_line("rejected Host '" + (host ? std::string(*host) : std::string("(none)")) + "'");
      return send_simple(403, jsonrpc_error(-32600, "Forbidden: Host not allowed"),
                         "application/json");
    }
    auto origin = header(req, "Origin");
    if (origin && !origin_allowed(*origin, o.allowed_origins)) {
      log_line("rejected Origin '" + std::string(*origin) + "'");
      return send_simple(403, jsonrpc_error(-32600, "Forbidden: Origin not allowed"),
                         "application/json");
    }
    std::string_view target = sv(req.target());
    const auto qpos = target.find('?');
    const std::string_view query =
        qpos == std::string_view::npos ? std::string_view() : target.substr(qpos + 1);
    target = target.substr(0, qpos);
    caller_.reset();
    if (o.bearer && is_metadata_path(target)) return serve_metadata(req);
    if (target != o.path) {
      return send_simple(404, jsonrpc_error(-32600, "Not Found"), "application/json");
    }
    if (o.bearer) {
      // Checking a token may wait on the identity provider (keys, introspection): it runs on the
      // gate's own threads, never on an io thread; the request resumes on this strand after.
      std::string token;
      if (!bearer_precheck(req, query, token)) return;  // answered
      net::post(core_->gate_pool, [self = shared_from_this(), token = std::move(token),
                                   req = std::move(req)]() mutable {
        auto who = self->core_->opts.bearer->authenticate(token);
        net::post(self->sock_.get_executor(),
                  [self, who = std::move(who), req = std::move(req)]() mutable {
                    if (self->closed_) return;
                    self->caller_ = self->on_verdict(who);
                    if (!self->caller_) return;  // answered
                    if (req.method() != bhttp::verb::post && !self->scope_ok("", "")) return;
                    self->dispatch(req);
                  });
      });
      return;
    }
    dispatch(req);
  }

  void dispatch(Request& req) {
    if (req.method() != bhttp::verb::post) {
      // 2026-07-28 has neither the GET stream nor sessions to DELETE.
      auto v = header(req, kVersionHeader);
      if (v && !is_supported_protocol_version(*v)) {
        return send_simple(
            405,
            jsonrpc_error(-32600, "Method Not Allowed: " + std::string(*v) + " uses POST only"),
            "application/json", {{"Allow", "POST"}});
      }
    }
    switch (req.method()) {
      case bhttp::verb::post:
        return handle_post(req);
      case bhttp::verb::get:
        return handle_get(req);
      case bhttp::verb::delete_:
        return handle_delete(req);
      default:
        return send_simple(405, jsonrpc_error(-32600, "Method Not Allowed"), "application/json",
                           {{"Allow", "GET, POST, DELETE"}});
    }
  }

  // Looks up the session named by the request. On failure answers (400/404) and returns null.
  std::shared_ptr<HttpSession> session_for(const Request& req) {
    auto sid = header(req, kSessionHeader);
    if (!sid || sid->empty()) {
      send_simple(400, jsonrpc_error(-32000, "Bad Request: Mcp-Session-Id header is required"),
                  "application/json");
      return nullptr;
    }
    auto s = core_->sessions.find(std::string(*sid), std::chrono::steady_clock::now());
    if (s && s->owner() != owner_key()) {
      // Another caller's session: answered as if it did not exist.
      log_line("refused a request for a session opened by another caller");
      s.reset();
    }
    if (!s) {
      send_simple(404, jsonrpc_error(-32001, "Session not found"), "application/json");
      return nullptr;
    }
    return s;
  }

  // The MCP-Protocol-Version header, or the default; empty string if unsupported (answered).
  std::optional<std::string> protocol_version(const Request& req) {
    auto v = header(req, kVersionHeader);
    if (!v) return std::string(kDefaultProtocolVersion);
    std::string value(*v);
    if (!is_supported_protocol_version(value) && value > "2025-11-25") {
      // A 2026-07-28 request is stateless: it has no business on a session.
      send_simple(400,
                  jsonrpc_error(-32600, "Bad Request: MCP-Protocol-Version " + value +
                                            " is not served on a session (sessions speak "
                                            "2025-11-25 and older); send it without "
                                            "Mcp-Session-Id"),
                  "application/json");
      return std::nullopt;
    }
    if (!is_supported_protocol_version(value)) {
      send_simple(400,
                  jsonrpc_error(-32000, "Bad Request: Unsupported MCP-Protocol-Version: " + value),
                  "application/json");
      return std::nullopt;
    }
    return value;
  }

  void handle_post(Request& req) {
    std::string_view accept = sv(req[bhttp::field::accept]);
    if (!accepts(accept, "application/json") || !accepts(accept, "text/event-stream")) {
      return send_simple(406,
                         jsonrpc_error(-32000,
                                       "Not Acceptable: Accept must include application/json and "
                                       "text/event-stream"),
                         "application/json");
    }
    if (!is_json_content_type(sv(req[bhttp::field::content_type]))) {
      return send_simple(
          415,
          jsonrpc_error(-32000, "Unsupported Media Type: Content-Type must be application/json"),
          "application/json");
    }
    const std::string& body = req.body();
    Peek peek = peek_message(body);
    switch (peek.kind) {
      case PeekKind::parse_error:
        return send_simple(400, jsonrpc_error(-32700, "Parse error"), "application/json");
      case PeekKind::too_deep:
        return send_simple(400, jsonrpc_error(-32600, "Invalid Request: nesting too deep"),
                           "application/json");
      case PeekKind::batch:
        return send_simple(400, jsonrpc_error(-32600, "Invalid Request: batches are not supported"),
                           "application/json");
      case PeekKind::invalid:
        return send_simple(400, jsonrpc_error(-32600, "Invalid Request"), "application/json");
      default:
        break;
    }
    if (core_->opts.bearer && !scope_ok(peek.method, peek.target)) return;
    // `initialize` (without the 2026-07-28 _meta) opens a legacy session; a request without a
    // session that names a version other than a legacy one (in _meta or the header) is served
    // statelessly (2026-07-28).
    const bool is_init =
        peek.kind == PeekKind::request && peek.method == "initialize" && !peek.meta_version;
    std::shared_ptr<HttpSession> session;
    std::string version;
    auto sid = header(req, kSessionHeader);
    if (!is_init && (!sid || sid->empty())) {
      auto v = header(req, kVersionHeader);
      const bool modern = peek.meta_version || (v && !is_supported_protocol_version(*v));
      if (modern && peek.kind == PeekKind::request) return handle_stateless(req, peek);
      // A 2026-07-28 notification (e.g. notifications/cancelled when a client closes a listen
      // stream) has no session to go to: each stateless request ends with its own connection,
      // so there is nothing left for it to act on. Accepted, as the transport says.
      if (modern && peek.kind == PeekKind::notification) return send_simple(202, "", "");
    }
    if (is_init && (!sid || sid->empty())) {
      if (core_->stopping) {
        return send_simple(503, jsonrpc_error(-32000, "Server is shutting down"),
                           "application/json");
      }
      if (core_->sessions.size() >= kMaxSessions) {
        log_line("refusing a new session: " + std::to_string(kMaxSessions) + " are open");
        return send_simple(503, jsonrpc_error(-32000, "Too many sessions"), "application/json");
      }
      try {
        session = std::make_shared<HttpSession>(new_session_id(), core_->opts.stream_history,
                                                std::chrono::steady_clock::now());
      } catch (const std::exception& e) {
        log_line(std::string("cannot create session: ") + e.what());
        return send_simple(500, jsonrpc_error(-32603, "Internal error"), "application/json");
      }
      session->set_owner(owner_key());
      session->bind(core_->factory->open_session(session->make_sink()));
      core_->sessions.add(session);
      version = peek.requested_version;
    } else {
      session = session_for(req);
      if (!session) return;
      auto v = protocol_version(req);
      if (!v) return;
      version = session->protocol_version();  // what the client proved it speaks
      if (version.empty()) version = *v;
    }

    std::vector<std::string> captured;
    if (peek.kind != PeekKind::request) {
      InboundInfo info = session->receive(body, &captured, nullptr, caller_);
      if (info.kind == InboundKind::invalid) {
        return send_simple(
            400, captured.empty() ? jsonrpc_error(-32600, "Invalid Request") : captured.front(),
            "application/json");
      }
      return send_simple(202, "", "");
    }

    auto stream = session->open_request_stream(*peek.id, shared_from_this());
    if (!stream) {
      if (is_init) drop_session(session);
      return send_simple(
          400, jsonrpc_error(-32600, "Invalid Request: a request with this id is in flight"),
          "application/json");
    }
    resp_ = Resp::waiting;
    session_ = session;
    stream_ = *stream;
    is_init_ = is_init;
    priming_ = version >= "2025-11-25";
    if (core_->opts.response_mode == ResponseMode::always_sse) begin_sse(0);

    InboundInfo info = session->receive(body, &captured, nullptr, caller_);
    if (info.kind != InboundKind::request && session->abandon_request_stream(stream_)) {
      // Refused without an answer on our stream: answer the POST ourselves.
      std::string answer =
          captured.empty() ? jsonrpc_error(-32600, "Invalid Request") : captured.front();
      if (is_init) drop_session(session);
      if (resp_ == Resp::sse) {
        queue(frame(format_sse_event(make_event_id(stream_, 1), answer)));
        end_response();
      } else {
        resp_ = Resp::none;
        session_.reset();
        send_simple(400, answer, "application/json");
      }
      return;
    }
    do_read();  // watch for a disconnect (or a pipelined request) while the answer is pending
  }

  // ---- authorization (bearer.h) ----
  std::string owner_key() const { return caller_ ? caller_key(*caller_) : std::string(); }

  bool is_metadata_path(std::string_view target) const {
    if (target == kResourceMetadataPath) return true;
    if (target.substr(0, kResourceMetadataPath.size()) != kResourceMetadataPath) return false;
    const std::string_view suffix = target.substr(kResourceMetadataPath.size());
    if (suffix == core_->opts.path) return true;
    // The path the gate publishes (the resource's own path, behind a proxy maybe another one).
    const std::string url = core_->opts.bearer->resource_metadata_url();
    const auto scheme = url.find("://");
    const auto slash = scheme == std::string::npos ? scheme : url.find('/', scheme + 3);
    return slash != std::string::npos && std::string_view(url).substr(slash) == target;
  }

  void serve_metadata(const Request& req) {
    if (req.method() != bhttp::verb::get && req.method() != bhttp::verb::head)
      return send_simple(405, jsonrpc_error(-32600, "Method Not Allowed"), "application/json",
                         {{"Allow", "GET"}});
    return send_simple(200, core_->opts.bearer->resource_metadata().dump(), "application/json",
                       {{"Cache-Control", "max-age=300"}});
  }

  // A 4xx/5xx answer with a WWW-Authenticate challenge carrying resource_metadata.
  void send_challenge(int status, std::vector<std::pair<std::string, std::string>> params,
                      const std::string& message) {
    params.emplace_back("resource_metadata", core_->opts.bearer->resource_metadata_url());
    send_simple(status, jsonrpc_error(-32001, message), "application/json",
                {{"WWW-Authenticate", bearer_challenge(params)}});
  }

  // The checks that need no token verification. False after answering 400/401/431; `token`
  // receives the bearer token otherwise.
  bool bearer_precheck(const Request& req, std::string_view query, std::string& token) {
    auto& gate = *core_->opts.bearer;
    if (query_has_access_token(query)) {
      log_line("refused an access token in the URI query");
      send_challenge(400,
                     {{"error", "invalid_request"},
                      {"error_description",
                       "access tokens are not accepted in the URI query; send an Authorization: "
                       "Bearer header"}},
                     "Bad Request: access token in the URI query");
      return false;
    }
    int count = 0;
    std::string_view value;
    for (const auto& f : req)
      if (f.name() == bhttp::field::authorization) {
        ++count;
        value = sv(f.value());
      }
    if (value.size() > kMaxAuthorizationBytes) {
      keep_alive_ = false;
      send_simple(431, jsonrpc_error(-32600, "Authorization header too large"), "application/json");
      return false;
    }
    if (count > 1) {
      send_challenge(400,
                     {{"error", "invalid_request"},
                      {"error_description", "more than one Authorization header"}},
                     "Bad Request: more than one Authorization header");
      return false;
    }
    bool invalid = false;
    token = bearer_token(value, invalid);
    if (invalid) {
      send_challenge(401,
                     {{"error", "invalid_token"}, {"error_description", "malformed bearer token"}},
                     "Unauthorized: malformed bearer token");
      return false;
    }
    if (token.empty()) {
      send_challenge(401, {{"scope", gate.base_scope()}},
                     "Unauthorized: this server needs an OAuth access token (Authorization: "
                     "Bearer)");
      return false;
    }
    return true;
  }

  // The caller the gate found, or null after answering 401/503.
  std::shared_ptr<const Caller> on_verdict(const Result<std::shared_ptr<const Caller>>& who) {
    if (!who) {
      if (who.error().code == Errc::unauthenticated) {
        log_line("refused a bearer token: " + who.error().message);
        send_challenge(401,
                       {{"error", "invalid_token"}, {"error_description", who.error().message}},
                       "Unauthorized: " + who.error().message);
      } else {
        log_line("cannot check bearer tokens now: " + who.error().message);
        send_simple(503, jsonrpc_error(-32000, "Service Unavailable: cannot check the token now"),
                    "application/json", {{"Retry-After", "30"}});
      }
      return nullptr;
    }
    if (!*who) {
      send_simple(500, jsonrpc_error(-32603, "Internal error"), "application/json");
      return nullptr;
    }
    return *who;
  }

  // False after answering 403 insufficient_scope.
  bool scope_ok(std::string_view method, std::string_view target) {
    const std::string need = core_->opts.bearer->missing_scope(*caller_, method, target);
    if (need.empty()) return true;
    log_line("refused " + std::string(method.empty() ? "a request" : method) + " " +
             std::string(target) + ": insufficient scope (needs " + need + ")");
    send_challenge(403,
                   {{"error", "insufficient_scope"},
                    {"scope", need},
                    {"error_description", "this request needs the scope " + need}},
                   "Forbidden: insufficient scope (needs " + need + ")");
    return false;
  }

  // The POSTed request's headers that 2026-07-28 checks against its body.
  static RequestHeaders request_headers(const Request& req) {
    RequestHeaders h;
    if (auto v = header(req, kVersionHeader)) h.protocol_version = std::string(*v);
    if (auto v = header(req, "Mcp-Method")) h.method = std::string(*v);
    if (auto v = header(req, "Mcp-Name")) h.name = std::string(*v);
    for (const auto& f : req) {
      std::string_view name = sv(f.name_string());
      if (!iequals_prefix(name, "mcp-param-")) continue;
      std::string key(name.substr(10));
      std::transform(key.begin(), key.end(), key.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      h.params.emplace_back(std::move(key), std::string(sv(f.value())));
    }
    return h;
  }

  // A 2026-07-28 request: its own short-lived mcp session (no id, not in the table), answered on
  // this POST; closed when the answer is complete or the client goes away (which cancels it).
  void handle_stateless(Request& req, const Peek& peek) {
    if (core_->stopping) {
      return send_simple(503, jsonrpc_error(-32000, "Server is shutting down"), "application/json");
    }
    auto session = std::make_shared<HttpSession>(std::string(), core_->opts.stream_history,
                                                 std::chrono::steady_clock::now());
    session->bind(core_->factory->open_session(session->make_sink()));
    auto stream = session->open_request_stream(*peek.id, shared_from_this());
    if (!stream) {
      session->close();
      return send_simple(500, jsonrpc_error(-32603, "Internal error"), "application/json");
    }
    resp_ = Resp::waiting;
    session_ = session;
    stream_ = *stream;
    is_init_ = false;
    priming_ = false;  // no resumption in 2026-07-28
    stateless_ = true;
    meta_complete_ = peek.meta_complete;
    if (core_->opts.response_mode == ResponseMode::always_sse) begin_sse(0);
    const RequestHeaders headers = request_headers(req);
    std::vector<std::string> captured;
    InboundInfo info = session->receive(req.body(), &captured, &headers, caller_);
    if (info.kind != InboundKind::request && session->abandon_request_stream(stream_)) {
      std::string answer =
          captured.empty() ? jsonrpc_error(-32600, "Invalid Request") : captured.front();
      if (resp_ == Resp::sse) {
        queue(frame(format_sse_event(make_event_id(stream_, 1), answer)));
        end_response();
      } else {
        resp_ = Resp::none;
        release_session();
        send_simple(400, answer, "application/json");
      }
      return;
    }
    do_read();
  }

  // Ends this connection's hold on the response's session; a stateless one is closed (which
  // cancels whatever of it still runs).
  void release_session() {
    auto s = std::move(session_);
    session_.reset();
    if (stateless_ && s) s->close();
    stateless_ = false;
  }

  void handle_get(Request& req) {
    if (!accepts(sv(req[bhttp::field::accept]), "text/event-stream")) {
      return send_simple(406,
                         jsonrpc_error(-32000,
                                       "Not Acceptable: Accept must include "
                                       "text/event-stream"),
                         "application/json");
    }
    auto session = session_for(req);
    if (!session) return;
    auto v = protocol_version(req);
    if (!v) return;
    std::string version = session->protocol_version();
    if (version.empty()) version = *v;

    // State is set before the attach call: replayed events are posted to this strand and run
    // only after this handler returns, but they must find the response in place.
    resp_ = Resp::waiting;
    session_ = session;
    is_init_ = false;
    priming_ = version >= "2025-11-25";
    auto last = header(req, "Last-Event-ID");
    HttpSession::AttachResult res = last ? session->resume(*last, shared_from_this())
                                         : session->attach_standalone(shared_from_this());
    if (res.status != HttpSession::AttachStatus::ok) {
      resp_ = Resp::none;
      session_.reset();
      switch (res.status) {
        case HttpSession::AttachStatus::conflict:
          return send_simple(409,
                             jsonrpc_error(-32000,
                                           "Conflict: a stream is already open for this "
                                           "session"),
                             "application/json");
        case HttpSession::AttachStatus::unknown_stream:
          return send_simple(400, jsonrpc_error(-32000, "Bad Request: unknown Last-Event-ID"),
                             "application/json");
        default:
          return send_simple(404, jsonrpc_error(-32001, "Session not found"), "application/json");
      }
    }
    stream_ = res.stream;
    begin_sse(res.after_seq);
    do_read();
  }

  void handle_delete(Request& req) {
    auto session = session_for(req);
    if (!session) return;
    auto v = protocol_version(req);
    if (!v) return;
    drop_session(session);
    send_simple(204, "", "");
  }

  void drop_session(const std::shared_ptr<HttpSession>& s) {
    core_->sessions.remove(s->id());
    s->close();
  }

  // ---- stream events (on the strand) ----
  bool current(uint64_t stream) const { return resp_ != Resp::none && stream == stream_; }

  void handle_event(uint64_t stream, const SseEvent& ev, bool completes) {
    if (closed_ || !current(stream)) return;
    if (resp_ == Resp::waiting) {
      if (completes && core_->opts.response_mode == ResponseMode::json_when_possible) {
        std::vector<Header> extra;
        if (is_init_) {
          auto j = nlohmann::json::parse(ev.data, nullptr, false);
          if (j.is_object() && j.contains("result")) {
            extra.push_back({std::string(kSessionHeader), session_->id()});
          } else {
            drop_session(session_);
          }
        }
        const int status = stateless_ ? stateless_status(ev.data, meta_complete_) : 200;
        resp_ = Resp::none;
        release_session();
        send_simple(status, ev.data, "application/json", std::move(extra));
        return;
      }
      begin_sse(0);
    }
    queue(frame(format_sse_event(ev.id, ev.data)));
    if (completes && is_init_) {
      auto j = nlohmann::json::parse(ev.data, nullptr, false);
      if (!(j.is_object() && j.contains("result"))) drop_session(session_);
    }
  }

  void handle_end(uint64_t stream) {
    if (closed_ || !current(stream)) return;
    if (resp_ == Resp::waiting) {
      auto session = session_;
      resp_ = Resp::none;
      release_session();
      if (core_->stopping) {
        keep_alive_ = false;
        send_simple(503, jsonrpc_error(-32000, "Server is shutting down"), "application/json");
      } else if (session->closed() && !session->id().empty()) {
        // The session ended (DELETE, idle expiry) before anything was sent.
        send_simple(404, jsonrpc_error(-32001, "Session terminated"), "application/json");
      } else {
        // The request was cancelled: MCP sends no response, so there is no body to give.
        send_simple(202, "", "");
      }
      return;
    }
    end_response();
  }

  void begin_sse(uint64_t after_seq) {
    std::string head = status_line(200);
    head += "Content-Type: text/event-stream\r\nCache-Control: no-cache\r\n";
    if (session_ && !stateless_) {
      head += std::string(kSessionHeader) + ": " + session_->id() + "\r\n";
    }
    if (stateless_) head += "X-Accel-Buffering: no\r\n";
    if (http11_) {
      head += "Transfer-Encoding: chunked\r\n";
    } else {
      head += "Connection: close\r\n";
      keep_alive_ = false;
    }
    head += "\r\n";
    queue(std::move(head));
    resp_ = Resp::sse;
    if (priming_) {
      queue(frame(format_sse_priming(make_event_id(stream_, after_seq), core_->opts.sse_retry)));
    }
  }

  std::string frame(std::string_view data) const {
    return http11_ ? chunk(data) : std::string(data);
  }

  void end_response() {
    if (resp_ == Resp::sse && http11_) queue("0\r\n\r\n");
    resp_ = Resp::none;
    release_session();
    after_response();
  }

  void detach_stream() {
    // Legacy: the stream's events stay in the session for a Last-Event-ID resumption.
    // 2026-07-28: closing the stream cancels the request (release_session closes its session).
    if (resp_ != Resp::none && session_ && !stateless_) session_->detach(stream_, this);
    resp_ = Resp::none;
    release_session();
  }

  // ---- writing ----
  void send_simple(int status, std::string body, std::string_view content_type,
                   std::vector<Header> extra = {}) {
    std::string out = status_line(status);
    if (!content_type.empty()) {
      out += "Content-Type: ";
      out += content_type;
      out += "\r\n";
    }
    for (const auto& h : extra) out += h.name + ": " + h.value + "\r\n";
    if (status != 204) out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    if (!keep_alive_ || core_->stopping) {
      out += "Connection: close\r\n";
      keep_alive_ = false;
    }
    out += "\r\n";
    out += body;
    queue(std::move(out));
    after_response();
  }

  // The current response is fully queued: serve the next request, or close.
  void after_response() {
    if (!keep_alive_) {
      close_after_write_ = true;
      if (!writing_) close_socket();
      return;
    }
    if (pending_) {
      auto req = std::move(*pending_);
      pending_.reset();
      net::post(sock_.get_executor(), [self = shared_from_this(), r = std::move(req)]() mutable {
        if (!self->closed_ && self->resp_ == Resp::none) self->handle(std::move(r));
      });
      return;
    }
    do_read();
  }

  void queue(std::string bytes) {
    if (closed_) return;
    out_bytes_ += bytes.size();
    if (out_bytes_ > kMaxQueuedBytes) {
      log_line("dropping a client that does not read its stream");
      detach_stream();
      close_socket();
      return;
    }
    outq_.push_back(std::move(bytes));
    if (!writing_) do_write();
  }

  void do_write() {
    writing_ = true;
    net::async_write(
        sock_, net::buffer(outq_.front()),
        [self = shared_from_this()](error_code ec, std::size_t) { self->on_write(ec); });
  }

  void on_write(error_code ec) {
    writing_ = false;
    if (closed_) return;
    if (ec) {
      detach_stream();
      close_socket();
      return;
    }
    out_bytes_ -= outq_.front().size();
    outq_.pop_front();
    if (!outq_.empty()) return do_write();
    if (close_after_write_) {
      error_code ignored;
      sock_.shutdown(tcp::socket::shutdown_send, ignored);
      close_socket();
    }
  }

  void close_socket() {
    if (closed_) return;
    detach_stream();
    closed_ = true;
    ++idle_gen_;
    idle_timer_.cancel();
    error_code ignored;
    sock_.close(ignored);
    outq_.clear();
    pending_.reset();
    std::lock_guard lk(core_->conns_mu);
    core_->conns.erase(this);
  }

  tcp::socket sock_;
  net::steady_timer idle_timer_;
  std::shared_ptr<Core> core_;
  beast::flat_buffer buf_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<Request> pending_;
  std::deque<std::string> outq_;
  std::size_t out_bytes_ = 0;
  uint64_t idle_gen_ = 0;
  bool reading_ = false;
  bool writing_ = false;
  bool closed_ = false;
  bool close_after_write_ = false;
  bool keep_alive_ = true;
  bool http11_ = true;
  // The response in progress.
  Resp resp_ = Resp::none;
  std::shared_ptr<HttpSession> session_;
  uint64_t stream_ = 0;
  bool is_init_ = false;
  bool priming_ = false;
  // Who made the request being handled (authorization on), else null.
  std::shared_ptr<const Caller> caller_;
  bool stateless_ = false;      // the response answers a 2026-07-28 request (own session)
  bool meta_complete_ = false;  // that request's _meta had its version and capabilities
};

}  // namespace

class HttpServer::Impl {
 public:
  Impl(std::shared_ptr<SessionFactory> f, HttpServerOptions o)
      : core_(std::make_shared<Core>(std::move(f), std::move(o))),
        acceptor_(net::make_strand(ioc_)),
        sweep_timer_(ioc_) {}

  dm::Result<uint16_t> start() {
    std::lock_guard lk(mu_);
    if (started_) return make_error(Errc::failed_precondition, "HttpServer already started");
    const auto& o = core_->opts;
    if (!core_->factory) return make_error(Errc::invalid_argument, "null SessionFactory");
    if (o.path.empty() || o.path.front() != '/')
      return make_error(Errc::invalid_argument, "path must start with '/'");
    if (o.io_threads < 1) return make_error(Errc::invalid_argument, "io_threads must be >= 1");
    error_code ec;
    auto addr = net::ip::make_address(o.bind_address, ec);
    if (ec) return make_error(Errc::invalid_argument, "bad bind address: " + o.bind_address);
    tcp::endpoint ep(addr, o.port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      error_code ignored;
      acceptor_.close(ignored);
      return make_error(Errc::unavailable, "cannot listen on " + o.bind_address + ":" +
                                               std::to_string(o.port) + ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    started_ = true;
    running_ = true;
    do_accept();
    arm_sweep();
    for (int i = 0; i < o.io_threads; ++i) {
      threads_.emplace_back([this] {
        ioc_.run();
        std::lock_guard lk2(exit_mu_);
        ++exited_;
        exit_cv_.notify_all();
      });
    }
    std::fprintf(stderr, "[mcp-http] listening on %s:%u%s\n", o.bind_address.c_str(),
                 static_cast<unsigned>(port_), o.path.c_str());
    return port_;
  }

  void wait_for_shutdown_signal() {
    {
      std::lock_guard lk(mu_);
      if (!running_) return;
    }
    net::io_context sig_ioc;
    net::signal_set sigs(sig_ioc, SIGINT, SIGTERM);
    bool signalled = false;
    sigs.async_wait([&](error_code ec, int sig) {
      if (!ec) {
        signalled = true;
        std::fprintf(stderr, "[mcp-http] signal %d: shutting down\n", sig);
      }
    });
    while (!signalled) {
      {
        std::lock_guard lk(mu_);
        if (!running_) break;
      }
      sig_ioc.run_for(std::chrono::milliseconds(100));
    }
    error_code ignored;
    sigs.cancel(ignored);
    stop();
  }

  void stop() {
    std::lock_guard stop_lk(stop_mu_);  // one stop at a time; later calls find it done
    {
      std::lock_guard lk(mu_);
      if (!started_ || stopped_) return;
      running_ = false;
    }
    core_->stopping = true;
    net::post(acceptor_.get_executor(), [this] {
      error_code ignored;
      acceptor_.close(ignored);
    });
    net::post(ioc_, [this] { sweep_timer_.cancel(); });
    // Ending sessions ends their streams (final chunks are queued before the connections'
    // shutdown below, which runs after them on each strand).
    for (auto& s : core_->sessions.take_all()) s->close();
    std::vector<std::shared_ptr<Connection>> conns;
    {
      std::lock_guard lk(core_->conns_mu);
      for (auto& [p, w] : core_->conns) {
        if (auto c = w.lock()) conns.push_back(std::move(c));
      }
    }
    for (auto& c : conns) c->shutdown();
    conns.clear();
    // Token checks in progress finish (bounded by the gate's HTTP timeouts); queued ones are
    // dropped, their connections are closing anyway.
    core_->gate_pool.stop();
    core_->gate_pool.join();
    // Let the io threads drain; a client that never reads cannot hold shutdown forever.
    {
      std::unique_lock lk(exit_mu_);
      exit_cv_.wait_for(lk, std::chrono::seconds(5),
                        [&] { return exited_ == static_cast<int>(threads_.size()); });
    }
    ioc_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    std::lock_guard lk(mu_);
    stopped_ = true;
    std::fprintf(stderr, "[mcp-http] stopped\n");
  }

  ~Impl() { stop(); }

 private:
  void do_accept() {
    acceptor_.async_accept(net::make_strand(ioc_), [this](error_code ec, tcp::socket sock) {
      if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
      if (!ec && !core_->stopping) {
        std::make_shared<Connection>(std::move(sock), core_)->start();
      } else if (ec) {
        log_line("accept failed: " + ec.message());
        if (ec == net::error::no_descriptors) {
          // Out of fds: back off briefly instead of spinning.
          accept_backoff_.emplace(acceptor_.get_executor());
          accept_backoff_->expires_after(std::chrono::milliseconds(100));
          accept_backoff_->async_wait([this](error_code) {
            if (acceptor_.is_open()) do_accept();
          });
          return;
        }
      }
      do_accept();
    });
  }

  void arm_sweep() {
    auto timeout = core_->opts.session_idle_timeout;
    auto every = std::clamp<std::chrono::seconds>(timeout / 4, std::chrono::seconds(1),
                                                  std::chrono::seconds(60));
    sweep_timer_.expires_after(every);
    sweep_timer_.async_wait([this, timeout](error_code ec) {
      if (ec || core_->stopping) return;
      auto expired = core_->sessions.take_expired(std::chrono::steady_clock::now(), timeout);
      for (auto& s : expired) {
        log_line("session " + s->id() + " expired after idle timeout");
        s->close();
      }
      arm_sweep();
    });
  }

  net::io_context ioc_;
  std::shared_ptr<Core> core_;
  tcp::acceptor acceptor_;
  net::steady_timer sweep_timer_;
  std::optional<net::steady_timer> accept_backoff_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::mutex stop_mu_;
  bool started_ = false;
  bool running_ = false;
  bool stopped_ = false;
  uint16_t port_ = 0;
  std::mutex exit_mu_;
  std::condition_variable exit_cv_;
  int exited_ = 0;
};

HttpServer::HttpServer(std::shared_ptr<SessionFactory> factory, HttpServerOptions opts)
    : impl_(std::make_unique<Impl>(std::move(factory), std::move(opts))) {}

HttpServer::~HttpServer() = default;

dm::Result<uint16_t> HttpServer::start() { return impl_->start(); }

void HttpServer::wait_for_shutdown_signal() { impl_->wait_for_shutdown_signal(); }

void HttpServer::stop() { impl_->stop(); }

}  // namespace dm::mcp::http
