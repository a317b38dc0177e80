// The Streamable HTTP transport in front of the real MCP server (src/mcp/server.h): handlers run
// on the server's executor, so every answer crosses threads into the transport.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "mcp/http/http_server.h"
#include "mcp/http/http_test_client.h"
#include "mcp/server.h"

namespace dm::mcp::http {
namespace {

using nlohmann::json;
using testing::Client;
using testing::Headers;
using testing::Reply;

class RealServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mcp_ = Server::create({.name = "http-test", .version = "1.0.0"});
    ASSERT_TRUE(
        mcp_->add_tool({.name = "echo",
                        .description = "echoes x",
                        .input_schema = {{"type", "object"},
                                         {"properties", {{"x", {{"type", "string"}}}}}},
                        .handler = [](const json& args, ToolContext&) -> Result<ToolResult> {
                          return ToolResult::text(args.value("x", ""));
                        }})
            .ok());
    ASSERT_TRUE(mcp_->add_tool({.name = "with_progress",
                                .description = "reports progress twice",
                                .handler = [](const json&, ToolContext& ctx) -> Result<ToolResult> {
                                  ctx.progress(1, 2);
                                  ctx.progress(2, 2);
                                  return ToolResult::text("done");
                                }})
                    .ok());
    http_ = std::make_unique<HttpServer>(mcp_, HttpServerOptions{});
    auto p = http_->start();
    ASSERT_TRUE(p.ok()) << p.error().message;
    port_ = *p;
  }
  void TearDown() override {
    if (http_) http_->stop();
    if (mcp_) mcp_->shutdown();
  }
  Headers headers(const std::string& sid = {}) {
    Headers h = {{"Content-Type", "application/json"},
                 {"Accept", "application/json, text/event-stream"}};
    if (!sid.empty()) {
      h.emplace_back("Mcp-Session-Id", sid);
      h.emplace_back("MCP-Protocol-Version", "2025-11-25");
    }
    return h;
  }
  std::string initialize() {
    Client c(port_);
    json init = {{"jsonrpc", "2.0"},
                 {"id", 1},
                 {"method", "initialize"},
                 {"params",
                  {{"protocolVersion", "2025-11-25"},
                   {"capabilities", json::object()},
                   {"clientInfo", {{"name", "t"}, {"version", "1"}}}}}};
    Reply r = c.request("POST", "/mcp", headers(), init.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(json::parse(r.body)["result"]["protocolVersion"], "2025-11-25");
    std::string sid = r.header("mcp-session-id");
    Reply n = c.request("POST", "/mcp", headers(sid),
                        R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
    EXPECT_EQ(n.status, 202);
    return sid;
  }

  std::shared_ptr<Server> mcp_;
  std::unique_ptr<HttpServer> http_;
  uint16_t port_ = 0;
};

TEST_F(RealServerTest, ListAndCallOverJson) {
  auto sid = initialize();
  ASSERT_EQ(sid.size(), 32u);
  Client c(port_);
  Reply r =
      c.request("POST", "/mcp", headers(sid), R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["result"]["tools"].size(), 2u);
  r = c.request(
      "POST", "/mcp", headers(sid),
      R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"x":"hi"}}})");
  ASSERT_EQ(r.status, 200);
  auto j = json::parse(r.body);
  EXPECT_EQ(j["id"], 3);
  EXPECT_EQ(j["result"]["content"][0]["text"], "hi");
}

TEST_F(RealServerTest, ProgressArrivesOnSseBeforeTheResult) {
  auto sid = initialize();
  Client c(port_);
  ASSERT_TRUE(c.send(
      "POST", "/mcp", headers(sid),
      R"({"jsonrpc":"2.0","id":"p","method":"tools/call","params":{"name":"with_progress","arguments":{},"_meta":{"progressToken":"tok"}}})"));
  Reply h = c.read_header();
  ASSERT_EQ(h.status, 200);
  ASSERT_EQ(h.header("content-type"), "text/event-stream");
  auto prime = c.next_event();
  ASSERT_TRUE(prime);
  EXPECT_TRUE(prime->data.empty());
  std::vector<json> msgs;
  while (auto ev = c.next_event()) msgs.push_back(json::parse(ev->data));
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[0]["method"], "notifications/progress");
  EXPECT_EQ(msgs[0]["params"]["progressToken"], "tok");
  EXPECT_EQ(msgs[1]["params"]["progress"], 2);
  EXPECT_EQ(msgs[2]["id"], "p");
  EXPECT_EQ(msgs[2]["result"]["content"][0]["text"], "done");
}

TEST_F(RealServerTest, ProtocolErrorsStayJsonRpc) {
  auto sid = initialize();
  Client c(port_);
  Reply r = c.request("POST", "/mcp", headers(sid),
                      R"({"jsonrpc":"2.0","id":4,"method":"no/such/method"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], -32601);
  Reply d = c.request("DELETE", "/mcp", {{"Mcp-Session-Id", sid}});
  EXPECT_EQ(d.status, 204);
  r = c.request("POST", "/mcp", headers(sid), R"({"jsonrpc":"2.0","id":5,"method":"ping"})");
  EXPECT_EQ(r.status, 404);
}

// ---- 2026-07-28 on the same port ---------------------------------------------------------

json modern_meta(std::string version = "2026-07-28") {
  return {{"io.modelcontextprotocol/protocolVersion", std::move(version)},
          {"io.modelcontextprotocol/clientCapabilities", json::object()}};
}

std::string modern_rpc(const json& id, const std::string& method, json params = json::object(),
                       json meta = modern_meta()) {
  if (!meta.is_null()) params["_meta"] = std::move(meta);
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}}
      .dump();
}

Headers modern_headers(const std::string& method, const std::string& name = {},
                       const std::string& version = "2026-07-28") {
  Headers h = {{"Content-Type", "application/json"},
               {"Accept", "application/json, text/event-stream"},
               {"MCP-Protocol-Version", version},
               {"Mcp-Method", method}};
  if (!name.empty()) h.emplace_back("Mcp-Name", name);
  return h;
}

TEST_F(RealServerTest, ModernRequestsAreStatelessBesideLegacySessions) {
  auto sid = initialize();  // a legacy session on the same port, untouched by what follows
  Client c(port_);
  Reply r =
      c.request("POST", "/mcp", modern_headers("tools/call", "echo"),
                modern_rpc(1, "tools/call", {{"name", "echo"}, {"arguments", {{"x", "hi"}}}}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("mcp-session-id"), "");
  json j = json::parse(r.body);
  EXPECT_EQ(j["result"]["resultType"], "complete");
  EXPECT_EQ(j["result"]["content"][0]["text"], "hi");
  // Progress arrives on the request's own SSE stream, no priming event.
  json meta = modern_meta();
  meta["progressToken"] = "p1";
  Reply s = c.request("POST", "/mcp", modern_headers("tools/call", "with_progress"),
                      modern_rpc(2, "tools/call", {{"name", "with_progress"}}, meta));
  EXPECT_EQ(s.header("content-type"), "text/event-stream");
  EXPECT_EQ(s.body.find("retry:"), std::string::npos);
  EXPECT_NE(s.body.find("\"resultType\":\"complete\""), std::string::npos);
  // The legacy session still answers.
  Reply l = c.request("POST", "/mcp", headers(sid), R"({"jsonrpc":"2.0","id":3,"method":"ping"})");
  EXPECT_EQ(l.status, 200);
}

TEST_F(RealServerTest, ModernRefusalsCarryTheirHttpStatus) {
  Client c(port_);
  auto status_and_code = [&](const Headers& h, const std::string& body) {
    Reply r = c.request("POST", "/mcp", h, body);
    json j = json::parse(r.body, nullptr, false);
    return std::make_pair(r.status, j.is_object() ? j["error"].value("code", 0) : 0);
  };
  // Missing _meta (the header names 2026-07-28): -32602 with 400.
  EXPECT_EQ(status_and_code(modern_headers("tools/list"), modern_rpc(1, "tools/list", {}, nullptr)),
            std::make_pair(400, -32602));
  // Header contradicting the body: -32020 with 400.
  EXPECT_EQ(status_and_code(modern_headers("prompts/list"), modern_rpc(2, "tools/list")),
            std::make_pair(400, -32020));
  EXPECT_EQ(status_and_code(modern_headers("tools/call", "other"),
                            modern_rpc(3, "tools/call", {{"name", "echo"}})),
            std::make_pair(400, -32020));
  // Unknown version on both: -32022 with 400.
  EXPECT_EQ(status_and_code(modern_headers("tools/list", "", "v999"),
                            modern_rpc(4, "tools/list", {}, modern_meta("v999"))),
            std::make_pair(400, -32022));
  // Removed or unknown method: -32601 with 404.
  EXPECT_EQ(status_and_code(modern_headers("ping"), modern_rpc(5, "ping")),
            std::make_pair(404, -32601));
  // An unknown tool is an ordinary error (200).
  EXPECT_EQ(status_and_code(modern_headers("tools/call", "nope"),
                            modern_rpc(6, "tools/call", {{"name", "nope"}})),
            std::make_pair(200, -32602));
  // GET and DELETE do not exist in 2026-07-28.
  EXPECT_EQ(c.request("GET", "/mcp",
                      {{"Accept", "text/event-stream"}, {"MCP-Protocol-Version", "2026-07-28"}})
                .status,
            405);
  // A legacy request without a session is still told to get one.
  Reply legacy =
      c.request("POST", "/mcp", headers(), R"({"jsonrpc":"2.0","id":7,"method":"tools/list"})");
  EXPECT_EQ(legacy.status, 400);
  EXPECT_NE(legacy.body.find("Mcp-Session-Id"), std::string::npos);
}

TEST_F(RealServerTest, ListenStreamDeliversTaggedChangesUntilTheClientLeaves) {
  Client c(port_);
  ASSERT_TRUE(c.send("POST", "/mcp", modern_headers("subscriptions/listen"),
                     modern_rpc("sub", "subscriptions/listen",
                                {{"notifications", {{"toolsListChanged", true}}}})));
  Reply head = c.read_header();
  ASSERT_EQ(head.status, 200);
  auto ack = c.next_event();
  ASSERT_TRUE(ack);
  EXPECT_EQ(json::parse(ack->data)["method"], "notifications/subscriptions/acknowledged");
  ASSERT_TRUE(mcp_->add_tool({.name = "late",
                              .description = "added later",
                              .handler = [](const json&, ToolContext&) -> Result<ToolResult> {
                                return ToolResult::text("");
                              }})
                  .ok());
  auto changed = c.next_event();
  ASSERT_TRUE(changed);
  json n = json::parse(changed->data);
  EXPECT_EQ(n["method"], "notifications/tools/list_changed");
  EXPECT_EQ(n["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"], "sub");
}

}  // namespace
}  // namespace dm::mcp::http
