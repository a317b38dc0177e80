// Transport-side state of one MCP session on Streamable HTTP: the mcp::Session, its SSE streams
// (one per client request answered by SSE, plus the standalone GET stream 0), their bounded
// histories for Last-Event-ID resumption, and the routing of outbound messages to streams.
// Also the table of live sessions with idle expiry (time passed in, so tests need no sleeping).
// Internal to src/mcp/http.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mcp/session.h"

namespace dm::mcp::http {

using SteadyTime = std::chrono::steady_clock::time_point;

struct SseEvent {
  uint64_t seq = 0;
  std::string id;    // make_event_id(stream, seq)
  std::string data;  // one JSON-RPC message
};

// Receives the events of the stream it is attached to (a connection).
// Both calls happen with the session's lock held, in event order: implementations must only
// queue (post to their executor) and return; they must not call back into the HttpSession.
class StreamListener {
 public:
  virtual ~StreamListener() = default;
  // `completes`: this event carries the response that completes the stream's request.
  virtual void on_event(uint64_t stream, const SseEvent& ev, bool completes) = 0;
  // Nothing more will come on this attachment: the stream completed, the session closed, or
  // another connection resumed the stream.
  virtual void on_end(uint64_t stream) = 0;
};

// Thread-safety: every member may be called from any thread.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  static constexpr uint64_t kStandaloneStream = 0;
  static constexpr std::size_t kMaxCompletedStreams = 32;  // kept for resumption per session

  HttpSession(std::string id, std::size_t history_limit, SteadyTime now);

  const std::string& id() const { return id_; }
  // A sink for SessionFactory::open_session that routes into this object while it lives.
  OutboundSink make_sink();
  // Installs the mcp session (once, right after open_session).
  void bind(std::shared_ptr<Session> s);

  // Opens the stream for client request `request_id` and attaches `l`. nullopt if a request
  // with that id is already in flight or the session is closed.
  std::optional<uint64_t> open_request_stream(const nlohmann::json& request_id,
                                              const std::shared_ptr<StreamListener>& l);
  // Drops a request stream whose request was refused. Returns true if no completing message had
  // reached it (the caller must answer the POST itself).
  bool abandon_request_stream(uint64_t stream);

  // Feeds one POST body to the mcp session (with the POST's headers when given, for the
  // 2026-07-28 checks). Messages the session emits synchronously during this call that have no
  // related request but are responses (errors for an invalid message) are captured into
  // `captured` instead of the standalone stream, so the POST can answer them.
  // `caller` is handed to the mcp session with the message (null: no authorization).
  InboundInfo receive(std::string_view body, std::vector<std::string>* captured,
                      const RequestHeaders* headers = nullptr,
                      std::shared_ptr<const Caller> caller = nullptr);

  // Who opened the session (an opaque key of the authenticated caller, "" without
  // authorization). Set once, right after creation; later requests must come from the same.
  void set_owner(std::string owner);
  const std::string& owner() const { return owner_; }

  enum class AttachStatus { ok, conflict, unknown_stream, closed };
  struct AttachResult {
    AttachStatus status = AttachStatus::closed;
    uint64_t stream = 0;
    uint64_t after_seq = 0;  // position the replay starts after (priming event id)
  };
  // GET without Last-Event-ID: the standalone stream. Queued messages are replayed to `l`.
  // conflict if another live connection holds it.
  AttachResult attach_standalone(const std::shared_ptr<StreamListener>& l);
  // GET with Last-Event-ID: replays the stream's events after that id, then live events (or
  // on_end if the stream is complete). A previous listener of that stream is ended.
  AttachResult resume(std::string_view last_event_id, const std::shared_ptr<StreamListener>& l);
  // The listener went away (disconnect). Events keep accumulating in the history.
  void detach(uint64_t stream, const StreamListener* l);

  // Routes one outbound message (the sink's body). Never blocks on I/O.
  void deliver(OutboundMessage m);

  // Session::close, then ends every attached listener. Idempotent.
  void close();
  bool closed() const;

  std::string protocol_version() const;
  void touch(SteadyTime now);
  // True if no listener is attached and nothing happened for `timeout`.
  bool idle_expired(SteadyTime now, std::chrono::nanoseconds timeout) const;

  // For tests and logs.
  std::size_t stream_count() const;

 private:
  struct Stream {
    uint64_t no = 0;
    uint64_t next_seq = 1;
    std::deque<SseEvent> history;
    bool complete = false;
    std::weak_ptr<StreamListener> listener;
    uint64_t delivered = 0;   // highest seq handed to a listener
    std::string request_key;  // routes_ key while in flight
  };

  void push_event(Stream& s, std::string data, bool completes);                      // lock held
  void replay(Stream& s, uint64_t after, const std::shared_ptr<StreamListener>& l);  // lock held
  void evict_completed();                                                            // lock held

  const std::string id_;
  std::string owner_;  // written once before the session is shared (set_owner)
  const std::size_t history_limit_;
  mutable std::mutex mu_;
  std::shared_ptr<Session> mcp_;
  bool closed_ = false;
  uint64_t next_stream_ = 1;
  std::map<uint64_t, Stream> streams_;
  std::unordered_map<std::string, uint64_t> routes_;  // request id (dumped) -> stream
  std::deque<uint64_t> completed_order_;
  SteadyTime last_activity_;
};

// Cryptographically random session id: 32 lowercase hex digits (visible ASCII).
std::string new_session_id();

// Live sessions by id. Thread-safe.
class SessionTable {
 public:
  void add(std::shared_ptr<HttpSession> s);
  // The session, touched at `now`; null if unknown.
  std::shared_ptr<HttpSession> find(const std::string& id, SteadyTime now);
  std::shared_ptr<HttpSession> remove(const std::string& id);
  // Removes and returns sessions idle for at least `timeout` (callers close them).
  std::vector<std::shared_ptr<HttpSession>> take_expired(SteadyTime now,
                                                         std::chrono::nanoseconds timeout);
  std::vector<std::shared_ptr<HttpSession>> take_all();
  std::size_t size() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<HttpSession>> sessions_;
};

}  // namespace dm::mcp::http
