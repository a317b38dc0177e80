#include "mcp/http/http_session.h"

#include <openssl/rand.h>

#include <cstdio>
#include <stdexcept>

#include "mcp/http/sse.h"

namespace dm::mcp::http {
namespace {

// Set while HttpSession::receive runs on this thread (see receive()).
struct Capture {
  const HttpSession* session = nullptr;
  std::vector<std::string>* out = nullptr;
};
thread_local Capture* t_capture = nullptr;

// A JSON-RPC response (result/error) rather than a request or notification.
bool looks_like_response(const OutboundMessage& m) {
  if (m.completes_request) return true;
  auto j = nlohmann::json::parse(m.json, nullptr, false);
  return j.is_object() && !j.contains("method") && (j.contains("error") || j.contains("result"));
}

}  // namespace

HttpSession::HttpSession(std::string id, std::size_t history_limit, SteadyTime now)
    : id_(std::move(id)),
      history_limit_(history_limit == 0 ? 1 : history_limit),
      last_activity_(now) {
  streams_[kStandaloneStream].no = kStandaloneStream;
}

OutboundSink HttpSession::make_sink() {
  std::weak_ptr<HttpSession> weak = weak_from_this();
  return [weak](OutboundMessage m) {
    if (auto self = weak.lock()) self->deliver(std::move(m));
  };
}

void HttpSession::bind(std::shared_ptr<Session> s) {
  std::lock_guard lk(mu_);
  mcp_ = std::move(s);
}

std::optional<uint64_t> HttpSession::open_request_stream(const nlohmann::json& request_id,
                                                         const std::shared_ptr<StreamListener>& l) {
  std::string key = request_id.dump();
  std::lock_guard lk(mu_);
  if (closed_ || routes_.count(key) != 0) return std::nullopt;
  uint64_t no = next_stream_++;
  Stream& s = streams_[no];
  s.no = no;
  s.listener = l;
  s.request_key = key;
  routes_[key] = no;
  return no;
}

bool HttpSession::abandon_request_stream(uint64_t stream) {
  std::lock_guard lk(mu_);
  auto it = streams_.find(stream);
  if (it == streams_.end() || it->second.complete) return false;
  routes_.erase(it->second.request_key);
  streams_.erase(it);
  return true;
}

void HttpSession::set_owner(std::string owner) { owner_ = std::move(owner); }

InboundInfo HttpSession::receive(std::string_view body, std::vector<std::string>* captured,
                                 const RequestHeaders* headers,
                                 std::shared_ptr<const Caller> caller) {
  std::shared_ptr<Session> s;
  {
    std::lock_guard lk(mu_);
    if (closed_ || !mcp_) return InboundInfo{};
    s = mcp_;
  }
  Capture cap{this, captured};
  Capture* prev = t_capture;
  t_capture = &cap;
  InboundInfo info;
  try {
    info = s->receive(body, headers, std::move(caller));
  } catch (...) {  // the seam promises no throw; a transport must still not die of it
    std::fprintf(stderr, "[mcp-http] session %s: receive threw\n", id_.c_str());
    info = InboundInfo{};
  }
  t_capture = prev;
  return info;
}

void HttpSession::push_event(Stream& s, std::string data, bool completes) {
  if (data.empty()) {
    // A cancelled request completes with no message (MCP sends no response): just end it.
    if (!completes) return;
    s.complete = true;
    routes_.erase(s.request_key);
    completed_order_.push_back(s.no);
    if (auto l = s.listener.lock()) l->on_end(s.no);
    s.listener.reset();
    evict_completed();
    return;
  }
  SseEvent ev;
  ev.seq = s.next_seq++;
  ev.id = make_event_id(s.no, ev.seq);
  ev.data = std::move(data);
  s.history.push_back(ev);
  if (s.history.size() > history_limit_) {
    if (s.history.front().seq > s.delivered) {
      std::fprintf(stderr,
                   "[mcp-http] session %s stream %llu: history full, dropping undelivered event "
                   "%s\n",
                   id_.c_str(), static_cast<unsigned long long>(s.no),
                   s.history.front().id.c_str());
    }
    s.history.pop_front();
  }
  auto l = s.listener.lock();
  if (l) {
    l->on_event(s.no, ev, completes);
    s.delivered = ev.seq;
  }
  if (completes) {
    s.complete = true;
    routes_.erase(s.request_key);
    completed_order_.push_back(s.no);
    if (l) l->on_end(s.no);
    s.listener.reset();
    evict_completed();
  }
}

void HttpSession::evict_completed() {
  while (completed_order_.size() > kMaxCompletedStreams) {
    streams_.erase(completed_order_.front());
    completed_order_.pop_front();
  }
}

void HttpSession::deliver(OutboundMessage m) {
  std::lock_guard lk(mu_);
  if (closed_) return;
  auto r = m.related_request ? routes_.find(m.related_request->dump()) : routes_.end();
  // An answer the session gives synchronously to a message that has no stream here (an error for
  // an invalid text: related_request is nullopt, JSON null or an id we never routed) belongs to
  // the POST being received: hand it back to receive()'s caller.
  if (r == routes_.end() && t_capture && t_capture->session == this && t_capture->out &&
      !m.json.empty() && looks_like_response(m)) {
    t_capture->out->push_back(std::move(m.json));
    return;
  }
  if (!m.related_request) {
    push_event(streams_[kStandaloneStream], std::move(m.json), false);
    return;
  }
  if (r == routes_.end()) {
    std::fprintf(stderr, "[mcp-http] session %s: dropping message for request %s (no stream)\n",
                 id_.c_str(), m.related_request->dump().c_str());
    return;
  }
  push_event(streams_[r->second], std::move(m.json), m.completes_request);
}

void HttpSession::replay(Stream& s, uint64_t after, const std::shared_ptr<StreamListener>& l) {
  if (!s.history.empty() && s.history.front().seq > after + 1) {
    std::fprintf(stderr,
                 "[mcp-http] session %s stream %llu: events %llu..%llu no longer kept, "
                 "resuming from %llu\n",
                 id_.c_str(), static_cast<unsigned long long>(s.no),
                 static_cast<unsigned long long>(after + 1),
                 static_cast<unsigned long long>(s.history.front().seq - 1),
                 static_cast<unsigned long long>(s.history.front().seq));
  }
  for (const auto& ev : s.history) {
    if (ev.seq <= after) continue;
    bool completes = s.complete && ev.seq + 1 == s.next_seq;
    l->on_event(s.no, ev, completes);
    if (ev.seq > s.delivered) s.delivered = ev.seq;
  }
}

HttpSession::AttachResult HttpSession::attach_standalone(const std::shared_ptr<StreamListener>& l) {
  std::lock_guard lk(mu_);
  AttachResult res;
  if (closed_) return res;
  Stream& s = streams_[kStandaloneStream];
  res.stream = kStandaloneStream;
  if (!s.listener.expired()) {
    res.status = AttachStatus::conflict;
    return res;
  }
  res.status = AttachStatus::ok;
  res.after_seq = s.delivered;
  s.listener = l;
  replay(s, res.after_seq, l);
  return res;
}

HttpSession::AttachResult HttpSession::resume(std::string_view last_event_id,
                                              const std::shared_ptr<StreamListener>& l) {
  std::lock_guard lk(mu_);
  AttachResult res;
  if (closed_) return res;
  auto pos = parse_event_id(last_event_id);
  auto it = pos ? streams_.find(pos->stream) : streams_.end();
  if (it == streams_.end() || pos->seq >= it->second.next_seq) {
    res.status = AttachStatus::unknown_stream;
    return res;
  }
  Stream& s = it->second;
  res.status = AttachStatus::ok;
  res.stream = s.no;
  res.after_seq = pos->seq;
  if (auto old = s.listener.lock(); old && old != l) old->on_end(s.no);
  replay(s, pos->seq, l);
  if (s.complete) {
    l->on_end(s.no);
    s.listener.reset();
  } else {
    s.listener = l;
  }
  return res;
}

void HttpSession::detach(uint64_t stream, const StreamListener* l) {
  std::lock_guard lk(mu_);
  auto it = streams_.find(stream);
  if (it == streams_.end()) return;
  auto cur = it->second.listener.lock();
  if (!cur || cur.get() == l) it->second.listener.reset();
  last_activity_ = std::max(last_activity_, std::chrono::steady_clock::now());
}

void HttpSession::close() {
  std::shared_ptr<Session> s;
  {
    std::lock_guard lk(mu_);
    if (closed_) return;
    closed_ = true;
    s = mcp_;
  }
  // Without the lock: Session::close may wait for sink calls in progress, which take it.
  if (s) s->close();
  std::vector<std::pair<uint64_t, std::shared_ptr<StreamListener>>> ends;
  {
    std::lock_guard lk(mu_);
    for (auto& [no, st] : streams_) {
      if (auto l = st.listener.lock()) ends.emplace_back(no, std::move(l));
      st.listener.reset();
    }
    routes_.clear();
  }
  for (auto& [no, l] : ends) l->on_end(no);
}

bool HttpSession::closed() const {
  std::lock_guard lk(mu_);
  return closed_;
}

std::string HttpSession::protocol_version() const {
  std::shared_ptr<Session> s;
  {
    std::lock_guard lk(mu_);
    s = mcp_;
  }
  return s ? s->protocol_version() : std::string();
}

void HttpSession::touch(SteadyTime now) {
  std::lock_guard lk(mu_);
  if (now > last_activity_) last_activity_ = now;
}

bool HttpSession::idle_expired(SteadyTime now, std::chrono::nanoseconds timeout) const {
  std::lock_guard lk(mu_);
  for (const auto& [no, st] : streams_) {
    if (!st.listener.expired()) return false;
  }
  return now - last_activity_ >= timeout;
}

std::size_t HttpSession::stream_count() const {
  std::lock_guard lk(mu_);
  return streams_.size();
}

std::string new_session_id() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    // No entropy: refuse rather than hand out a guessable id. Caught at the transport edge.
    throw std::runtime_error("RAND_bytes failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  id.reserve(32);
  for (unsigned char b : bytes) {
    id += kHex[b >> 4];
    id += kHex[b & 15];
  }
  return id;
}

void SessionTable::add(std::shared_ptr<HttpSession> s) {
  std::lock_guard lk(mu_);
  std::string id = s->id();
  sessions_[id] = std::move(s);
}

std::shared_ptr<HttpSession> SessionTable::find(const std::string& id, SteadyTime now) {
  std::shared_ptr<HttpSession> s;
  {
    std::lock_guard lk(mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return nullptr;
    s = it->second;
  }
  s->touch(now);
  return s;
}

std::shared_ptr<HttpSession> SessionTable::remove(const std::string& id) {
  std::lock_guard lk(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return nullptr;
  auto s = std::move(it->second);
  sessions_.erase(it);
  return s;
}

std::vector<std::shared_ptr<HttpSession>> SessionTable::take_expired(
    SteadyTime now, std::chrono::nanoseconds timeout) {
  std::vector<std::shared_ptr<HttpSession>> out;
  std::lock_guard lk(mu_);
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->second->idle_expired(now, timeout)) {
      out.push_back(std::move(it->second));
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::vector<std::shared_ptr<HttpSession>> SessionTable::take_all() {
  std::lock_guard lk(mu_);
  std::vector<std::shared_ptr<HttpSession>> out;
  out.reserve(sessions_.size());
  for (auto& [id, s] : sessions_) out.push_back(std::move(s));
  sessions_.clear();
  return out;
}

std::size_t SessionTable::size() const {
  std::lock_guard lk(mu_);
  return sessions_.size();
}

}  // namespace dm::mcp::http
