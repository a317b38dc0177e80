#include "mcp/memory_transport.h"

#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "mcp/json_rpc.h"

namespace dm::mcp {

struct InMemoryClient::Impl {
  InMemoryClientOptions opts;
  std::shared_ptr<Session> session;

  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> inbox;  // raw texts from the server, processed by the worker
  bool stopping = false;
  std::int64_t next_id = 0;
  std::set<std::string> issued;           // ids of call()/start() requests awaiting answers
  std::map<std::string, json> responses;  // answers to issued ids
  std::deque<json> others;                // everything else, for next_message()
  std::vector<json> notes;                // notifications, for notifications()
  std::map<std::string, RequestHandler> handlers;
  int last_error = 0;
  std::thread worker;

  void push(OutboundMessage m) {
    if (m.json.empty()) return;  // "cancelled, no response" marker
    std::lock_guard<std::mutex> lk(mu);
    inbox.push_back(std::move(m.json));
    cv.notify_all();
  }

  void run() {
    for (;;) {
      std::string text;
      {
        std::unique_lock<std::mutex> lk(mu);
        cv.wait(lk, [&] { return stopping || !inbox.empty(); });
        if (inbox.empty()) return;
        text = std::move(inbox.front());
        inbox.pop_front();
      }
      json msg = json::parse(text, nullptr, false);
      if (msg.is_discarded() || !msg.is_object()) continue;
      if (msg.contains("method") && msg.contains("id")) {
        serve_request(msg);
        continue;
      }
      std::lock_guard<std::mutex> lk(mu);
      if (msg.contains("method")) {
        notes.push_back(msg);
        others.push_back(std::move(msg));
      } else {
        const std::string key = msg.contains("id") ? rpc::dump(msg["id"]) : "null";
        if (issued.erase(key) > 0) {
          responses[key] = std::move(msg);
        } else {
          others.push_back(std::move(msg));
        }
      }
      cv.notify_all();
    }
  }

  // A server->client request: answer it through the registered handler.
  void serve_request(const json& msg) {
    const std::string method = msg["method"].is_string() ? msg["method"].get<std::string>() : "";
    RequestHandler h;
    {
      std::lock_guard<std::mutex> lk(mu);
      if (auto it = handlers.find(method); it != handlers.end()) h = it->second;
      notes.push_back(msg);  // tests can see which requests the server made
      cv.notify_all();
    }
    const rpc::Id id = rpc::make_id(msg["id"]);
    std::string reply;
    if (!h) {
      reply = rpc::error_response(&id, rpc::kMethodNotFound, "Method not found: " + method);
    } else {
      Result<json> r = h(msg.value("params", json::object()));
      reply = r ? rpc::response(id, *r)
                : rpc::error_response(&id, rpc::kInternalError, r.error().message);
    }
    std::shared_ptr<Session> s;
    {
      std::lock_guard<std::mutex> lk(mu);
      s = session;
    }
    if (s) s->receive(reply);
  }
};

InMemoryClient::InMemoryClient(std::shared_ptr<SessionFactory> server, InMemoryClientOptions opts)
    : impl_(std::make_shared<Impl>()) {
  impl_->opts = opts;
  std::weak_ptr<Impl> weak = impl_;
  auto session = server->open_session([weak](OutboundMessage m) {
    if (auto im = weak.lock()) im->push(std::move(m));
  });
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    impl_->session = std::move(session);
  }
  impl_->worker = std::thread([im = impl_.get()] { im->run(); });
}

InMemoryClient::~InMemoryClient() {
  close();
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    impl_->stopping = true;
    impl_->cv.notify_all();
  }
  if (impl_->worker.joinable()) impl_->worker.join();
}

void InMemoryClient::close() {
  std::shared_ptr<Session> s;
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    s = impl_->session;
  }
  if (s) s->close();
}

Session& InMemoryClient::session() { return *impl_->session; }

void InMemoryClient::on_request(const std::string& method, RequestHandler handler) {
  std::lock_guard<std::mutex> lk(impl_->mu);
  impl_->handlers[method] = std::move(handler);
}

Result<json> InMemoryClient::initialize(std::string protocol_version, json capabilities) {
  auto r = call("initialize", {{"protocolVersion", std::move(protocol_version)},
                               {"capabilities", std::move(capabilities)},
                               {"clientInfo", {{"name", "dm-inmemory-client"}, {"version", "1"}}}});
  if (r) notify("notifications/initialized");
  return r;
}

json InMemoryClient::start(const std::string& method, json params) {
  json id;
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    id = ++impl_->next_id;
    impl_->issued.insert(rpc::dump(id));
  }
  impl_->session->receive(rpc::request(id, method, params));
  return id;
}

std::optional<json> InMemoryClient::wait(const json& id,
                                         std::optional<std::chrono::milliseconds> timeout) {
  const std::string key = rpc::dump(id);
  std::unique_lock<std::mutex> lk(impl_->mu);
  const bool got = impl_->cv.wait_for(lk, timeout.value_or(impl_->opts.timeout),
                                      [&] { return impl_->responses.count(key) > 0; });
  if (!got) return std::nullopt;
  json r = std::move(impl_->responses[key]);
  impl_->responses.erase(key);
  return r;
}

Result<json> InMemoryClient::call_raw(const std::string& method, json params) {
  const json id = start(method, std::move(params));
  auto r = wait(id);
  if (!r) {
    return make_error(Errc::timeout, method + ": no response within " +
                                         std::to_string(impl_->opts.timeout.count()) + " ms");
  }
  return *r;
}

Result<json> InMemoryClient::call(const std::string& method, json params) {
  auto raw = call_raw(method, std::move(params));
  if (!raw) return raw.error();
  const json& m = *raw;
  if (auto e = m.find("error"); e != m.end()) {
    const int code = e->value("code", 0);
    {
      std::lock_guard<std::mutex> lk(impl_->mu);
      impl_->last_error = code;
    }
    return make_error(Errc::protocol,
                      std::to_string(code) + ": " + e->value("message", std::string()));
  }
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    impl_->last_error = 0;
  }
  return m.value("result", json::object());
}

void InMemoryClient::notify(const std::string& method, json params) {
  impl_->session->receive(rpc::notification(method, params));
}

InboundInfo InMemoryClient::send_raw(const std::string& text) {
  return impl_->session->receive(text);
}

std::optional<json> InMemoryClient::next_message(std::optional<std::chrono::milliseconds> timeout) {
  std::unique_lock<std::mutex> lk(impl_->mu);
  if (!impl_->cv.wait_for(lk, timeout.value_or(impl_->opts.timeout),
                          [&] { return !impl_->others.empty(); })) {
    return std::nullopt;
  }
  json m = std::move(impl_->others.front());
  impl_->others.pop_front();
  return m;
}

std::vector<json> InMemoryClient::notifications(const std::string& method) const {
  std::lock_guard<std::mutex> lk(impl_->mu);
  std::vector<json> out;
  for (const auto& n : impl_->notes) {
    if (method.empty() || n.value("method", std::string()) == method) out.push_back(n);
  }
  return out;
}

bool InMemoryClient::wait_notifications(const std::string& method, std::size_t n,
                                        std::optional<std::chrono::milliseconds> timeout) {
  std::unique_lock<std::mutex> lk(impl_->mu);
  return impl_->cv.wait_for(lk, timeout.value_or(impl_->opts.timeout), [&] {
    std::size_t k = 0;
    for (const auto& x : impl_->notes) {
      if (x.value("method", std::string()) == method) ++k;
    }
    return k >= n;
  });
}

int InMemoryClient::last_error_code() const {
  std::lock_guard<std::mutex> lk(impl_->mu);
  return impl_->last_error;
}

}  // namespace dm::mcp
