// Test helpers: MCP 2026-07-28 requests to a runbook server through an mcp::InMemoryClient that was
// never initialized (each request carries its own _meta, as a stateless client sends it).
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "mcp/memory_transport.h"

namespace dm::runbook::testing {

inline constexpr const char* kTasksExtension = "io.modelcontextprotocol/tasks";

// Sends `method` with `params` plus the 2026-07-28 _meta (client `name`, capabilities `caps`) and
// returns the whole response message (null on a transport failure, which also fails the test).
inline nlohmann::json modern_request(mcp::InMemoryClient& c, const std::string& method,
                                     nlohmann::json params, nlohmann::json caps,
                                     const std::string& name = "claude") {
  params["_meta"] = {{"io.modelcontextprotocol/protocolVersion", "2026-07-28"},
                     {"io.modelcontextprotocol/clientCapabilities", std::move(caps)},
                     {"io.modelcontextprotocol/clientInfo", {{"name", name}, {"version", "1"}}}};
  auto r = c.call_raw(method, std::move(params));
  return r.ok() ? *r : nlohmann::json();
}

// Polls tasks/get (as a client does) until the task is terminal; its DetailedTask, or the last one
// seen after `tries` polls.
inline nlohmann::json await_task(mcp::InMemoryClient& c, const std::string& task_id,
                                 const nlohmann::json& caps, int tries = 1000) {
  nlohmann::json t;
  for (int i = 0; i < tries; ++i) {
    t = modern_request(c, "tasks/get", {{"taskId", task_id}}, caps)["result"];
    const std::string st = t.value("status", "");
    if (st == "completed" || st == "failed" || st == "cancelled") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return t;
}

}  // namespace dm::runbook::testing
