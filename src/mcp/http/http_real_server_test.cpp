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

}  // namespace
}  // namespace dm::mcp::http
