#include "mcp/http/request_checks.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "mcp/http/message_peek.h"
#include "mcp/http/sse.h"

namespace dm::mcp::http {
namespace {

TEST(HostCheck, LoopbackFormsAcceptedWithAnyPort) {
  for (const char* h : {"localhost", "localhost:8080", "127.0.0.1", "127.0.0.1:1", "[::1]",
                        "[::1]:65535", "LOCALHOST:3000"}) {
    EXPECT_TRUE(host_allowed(h, {})) << h;
  }
}

TEST(HostCheck, RebindingAndMalformedHostsRejected) {
  for (const char* h : {"evil.example.com", "evil.example.com:8080", "localhost.evil.com",
                        "127.0.0.1.nip.io", "", ":8080", "localhost:abc", "[::1", "::1",
                        "user@localhost", "localhost:8080/x", "localhost:1234567"}) {
    EXPECT_FALSE(host_allowed(h, {})) << h;
  }
}

TEST(HostCheck, ExplicitListWithAndWithoutPorts) {
  std::vector<std::string> allowed = {"mcp.internal", "api.internal:8443"};
  EXPECT_TRUE(host_allowed("mcp.internal:1", allowed));
  EXPECT_TRUE(host_allowed("api.internal:8443", allowed));
  EXPECT_FALSE(host_allowed("api.internal:8444", allowed));
  EXPECT_FALSE(host_allowed("localhost", allowed));  // the list replaces the default
}

TEST(OriginCheck, DefaultAllowsLoopbackHttpOrigins) {
  EXPECT_TRUE(origin_allowed("http://localhost:3000", {}));
  EXPECT_TRUE(origin_allowed("https://127.0.0.1", {}));
  EXPECT_TRUE(origin_allowed("http://[::1]:6274", {}));
  EXPECT_FALSE(origin_allowed("http://evil.example.com", {}));
  EXPECT_FALSE(origin_allowed("http://localhost.evil.example.com:3000", {}));
  EXPECT_FALSE(origin_allowed("null", {}));
  EXPECT_FALSE(origin_allowed("file://localhost", {}));
  EXPECT_FALSE(origin_allowed("localhost:3000", {}));
}

TEST(OriginCheck, ExplicitList) {
  std::vector<std::string> allowed = {"https://app.example.com", "http://localhost:6274"};
  EXPECT_TRUE(origin_allowed("https://app.example.com:444", allowed));
  EXPECT_FALSE(origin_allowed("http://app.example.com", allowed));  // scheme differs
  EXPECT_TRUE(origin_allowed("http://localhost:6274", allowed));
  EXPECT_FALSE(origin_allowed("http://localhost:6275", allowed));
}

TEST(AcceptCheck, NeedsExplicitTypes) {
  const char* both = "application/json, text/event-stream";
  EXPECT_TRUE(accepts(both, "application/json"));
  EXPECT_TRUE(accepts(both, "text/event-stream"));
  EXPECT_TRUE(accepts("text/event-stream;q=0.9,application/json", "application/json"));
  EXPECT_FALSE(accepts("application/json", "text/event-stream"));
  EXPECT_FALSE(accepts("*/*", "application/json"));
  EXPECT_FALSE(accepts("application/json;q=0", "application/json"));
  EXPECT_FALSE(accepts("", "application/json"));
}

TEST(ContentTypeCheck, JsonWithParameters) {
  EXPECT_TRUE(is_json_content_type("application/json"));
  EXPECT_TRUE(is_json_content_type("Application/JSON; charset=utf-8"));
  EXPECT_FALSE(is_json_content_type("text/plain"));
  EXPECT_FALSE(is_json_content_type(""));
}

TEST(ProtocolVersion, LegacyRevisionsOnly) {
  for (const char* v : {"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"})
    EXPECT_TRUE(is_supported_protocol_version(v)) << v;
  for (const char* v : {"", "2024-10-07", "2099-01-01", "2025-11-25 "})
    EXPECT_FALSE(is_supported_protocol_version(v)) << v;
}

TEST(JsonRpcError, ShapeWithNullId) {
  auto j = nlohmann::json::parse(jsonrpc_error(-32700, "Parse error"));
  EXPECT_EQ(j["jsonrpc"], "2.0");
  EXPECT_TRUE(j["id"].is_null());
  EXPECT_EQ(j["error"]["code"], -32700);
  EXPECT_EQ(j["error"]["message"], "Parse error");
}

TEST(Peek, ClassifiesMessages) {
  auto r = peek_message(R"({"jsonrpc":"2.0","id":7,"method":"tools/list"})");
  EXPECT_EQ(r.kind, PeekKind::request);
  EXPECT_EQ(*r.id, 7);
  EXPECT_EQ(r.method, "tools/list");
  r = peek_message(
      R"({"jsonrpc":"2.0","id":"a","method":"initialize","params":{"protocolVersion":"2025-11-25"}})");
  EXPECT_EQ(r.kind, PeekKind::request);
  EXPECT_EQ(r.requested_version, "2025-11-25");
  EXPECT_EQ(peek_message(R"({"jsonrpc":"2.0","method":"notifications/initialized"})").kind,
            PeekKind::notification);
  EXPECT_EQ(peek_message(R"({"jsonrpc":"2.0","id":1,"result":{}})").kind, PeekKind::response);
  EXPECT_EQ(peek_message(R"({"jsonrpc":"2.0","id":1,"error":{"code":1}})").kind,
            PeekKind::response);
  EXPECT_EQ(peek_message("{nope").kind, PeekKind::parse_error);
  EXPECT_EQ(peek_message("").kind, PeekKind::parse_error);
  EXPECT_EQ(peek_message("\"\xff\xfe\"").kind, PeekKind::parse_error);  // invalid UTF-8
  EXPECT_EQ(peek_message("[]").kind, PeekKind::batch);
  EXPECT_EQ(peek_message("42").kind, PeekKind::invalid);
  EXPECT_EQ(peek_message(R"({"jsonrpc":"2.0","id":{},"method":"x"})").kind, PeekKind::invalid);
  EXPECT_EQ(peek_message(R"({"jsonrpc":"2.0","id":1,"method":5})").kind, PeekKind::invalid);
  EXPECT_EQ(peek_message(R"({"jsonrpc":"2.0","id":1})").kind, PeekKind::invalid);
}

TEST(Peek, DepthBombRejectedWithoutRecursing) {
  std::string bomb(1'000'000, '[');
  EXPECT_EQ(peek_message(bomb).kind, PeekKind::too_deep);
  std::string ok = std::string(10, '[') + std::string(10, ']');
  EXPECT_EQ(json_nesting_depth(ok, 64), 10);
  EXPECT_EQ(json_nesting_depth(R"({"a":"[[[[[[[[\"[[["})", 3), 1);  // brackets in strings
}

TEST(Sse, EventIdsRoundTrip) {
  EXPECT_EQ(make_event_id(3, 17), "3_17");
  auto p = parse_event_id("3_17");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->stream, 3u);
  EXPECT_EQ(p->seq, 17u);
  for (const char* bad : {"", "3", "_1", "3_", "a_1", "3_x", "3_1_2", "-1_2"})
    EXPECT_FALSE(parse_event_id(bad)) << bad;
}

TEST(Sse, EventFormattingSplitsLines) {
  EXPECT_EQ(format_sse_event("1_2", R"({"a":1})"), "event: message\nid: 1_2\ndata: {\"a\":1}\n\n");
  EXPECT_EQ(format_sse_event("1_3", "a\nb\r\nc\rd"),
            "event: message\nid: 1_3\ndata: a\ndata: b\ndata: c\ndata: d\n\n");
  EXPECT_EQ(format_sse_priming("4_0", std::chrono::milliseconds(1500)),
            "id: 4_0\nretry: 1500\ndata: \n\n");
}

}  // namespace
}  // namespace dm::mcp::http
