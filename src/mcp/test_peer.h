// Test-only helper (included by *_test.cpp): a raw peer that opens a session with a capturing
// sink, so tests can see every OutboundMessage (texts, related ids, completion markers) exactly.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "mcp/session.h"

namespace dm::mcp::testing {

class RawPeer {
 public:
  explicit RawPeer(SessionFactory& f) {
    session = f.open_session([this](OutboundMessage m) {
      std::lock_guard<std::mutex> lk(mu_);
      msgs_.push_back(std::move(m));
      cv_.notify_all();
    });
  }
  ~RawPeer() { session->close(); }

  InboundInfo send(const std::string& text) { return session->receive(text); }
  InboundInfo send(const std::string& text, const RequestHeaders& headers) {
    return session->receive(text, headers);
  }

  // Waits (bounded) for a message satisfying `pred`; returns it.
  std::optional<OutboundMessage> wait_for(
      const std::function<bool(const OutboundMessage&)>& pred,
      std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> lk(mu_);
    std::optional<OutboundMessage> found;
    cv_.wait_for(lk, limit, [&] {
      for (const auto& m : msgs_) {
        if (pred(m)) {
          found = m;
          return true;
        }
      }
      return false;
    });
    return found;
  }

  // The completing message for request `id` (parsed; null json for the "cancelled" marker).
  std::optional<nlohmann::json> response(const nlohmann::json& id) {
    auto m = wait_for([&](const OutboundMessage& o) {
      return o.completes_request && o.related_request && *o.related_request == id;
    });
    if (!m) return std::nullopt;
    if (m->json.empty()) return nlohmann::json();
    return nlohmann::json::parse(m->json);
  }

  std::vector<OutboundMessage> all() {
    std::lock_guard<std::mutex> lk(mu_);
    return msgs_;
  }

  // initialize + initialized with the given version and client capabilities.
  nlohmann::json init(const std::string& version = "2025-11-25",
                      nlohmann::json caps = nlohmann::json::object()) {
    nlohmann::json req = {{"jsonrpc", "2.0"},
                          {"id", "init"},
                          {"method", "initialize"},
                          {"params",
                           {{"protocolVersion", version},
                            {"capabilities", std::move(caps)},
                            {"clientInfo", {{"name", "raw"}, {"version", "1"}}}}}};
    send(req.dump());
    auto r = response("init");
    send(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
    return r ? *r : nlohmann::json();
  }

  std::shared_ptr<Session> session;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<OutboundMessage> msgs_;
};

}  // namespace dm::mcp::testing
