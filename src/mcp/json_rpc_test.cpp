#include "mcp/json_rpc.h"

#include <gtest/gtest.h>

#include "mcp/server.h"
#include "mcp/test_peer.h"

namespace dm::mcp {
namespace {

using nlohmann::json;
using testing::RawPeer;
using Kind = rpc::Message::Kind;

rpc::Message P(const std::string& s, rpc::Limits l = {}) { return rpc::parse(s, l); }

TEST(JsonRpcParse, ClassifiesRequestNotificationResponse) {
  auto r = P(R"({"jsonrpc":"2.0","id":7,"method":"ping"})");
  EXPECT_EQ(r.kind, Kind::request);
  EXPECT_EQ(r.id->value, 7);
  EXPECT_EQ(r.method, "ping");
  auto n = P(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  EXPECT_EQ(n.kind, Kind::notification);
  EXPECT_FALSE(n.id);
  auto ok = P(R"({"jsonrpc":"2.0","id":"a","result":{"x":1}})");
  EXPECT_EQ(ok.kind, Kind::response);
  EXPECT_EQ(ok.result["x"], 1);
  auto err = P(R"({"jsonrpc":"2.0","id":"a","error":{"code":-1,"message":"m"}})");
  EXPECT_EQ(err.kind, Kind::response);
  ASSERT_TRUE(err.error);
}

TEST(JsonRpcParse, ParseErrorHasNullId) {
  auto m = P(R"({"jsonrpc":"2.0","id":1,"method":)");
  EXPECT_EQ(m.kind, Kind::invalid);
  EXPECT_EQ(m.error_code, rpc::kParseError);
  EXPECT_FALSE(m.id);
}

TEST(JsonRpcParse, InvalidRequestShapes) {
  struct Case {
    const char* text;
    int code;
    bool id_echoed;
  } cases[] = {
      {R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])", rpc::kInvalidRequest, false},  // batch
      {R"([])", rpc::kInvalidRequest, false},
      {R"(42)", rpc::kInvalidRequest, false},
      {R"("str")", rpc::kInvalidRequest, false},
      {R"({"id":1,"method":"ping"})", rpc::kInvalidRequest, true},  // no jsonrpc
      {R"({"jsonrpc":"1.0","id":1,"method":"ping"})", rpc::kInvalidRequest, true},
      {R"({"jsonrpc":"2.0","id":1,"method":5})", rpc::kInvalidRequest, true},  // method not string
      {R"({"jsonrpc":"2.0","id":null,"method":"ping"})", rpc::kInvalidRequest, false},
      {R"({"jsonrpc":"2.0","id":true,"method":"ping"})", rpc::kInvalidRequest, false},
      {R"({"jsonrpc":"2.0","id":{"a":1},"method":"ping"})", rpc::kInvalidRequest, false},
      {R"({"jsonrpc":"2.0","id":1,"method":"ping","params":"x"})", rpc::kInvalidRequest, true},
      {R"({"jsonrpc":"2.0","id":1,"method":"ping","params":[1]})", rpc::kInvalidParams, true},
      {R"({"jsonrpc":"2.0","id":1})", rpc::kInvalidRequest, true},  // neither
      {R"({"jsonrpc":"2.0","id":1,"result":{},"error":{}})", rpc::kInvalidRequest, true},
      {R"({"jsonrpc":"2.0","result":{}})", rpc::kInvalidRequest, false},  // response w/o id
  };
  for (const auto& c : cases) {
    auto m = P(c.text);
    EXPECT_EQ(m.kind, Kind::invalid) << c.text;
    EXPECT_EQ(m.error_code, c.code) << c.text;
    EXPECT_EQ(m.id.has_value(), c.id_echoed) << c.text;
  }
}

TEST(JsonRpcParse, OversizeRejectedBeforeParsing) {
  std::string big = R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":")" +
                    std::string(2000, 'x') + "\"}}";
  auto m = P(big, {.max_bytes = 1000, .max_depth = 64});
  EXPECT_EQ(m.kind, Kind::invalid);
  EXPECT_EQ(m.error_code, rpc::kInvalidRequest);
  EXPECT_NE(m.error_message.find("exceeds"), std::string::npos);
  EXPECT_EQ(P(big, {.max_bytes = 4096, .max_depth = 64}).kind, Kind::request);
}

TEST(JsonRpcParse, InvalidUtf8Rejected) {
  for (std::string bad : {std::string("\xff"), std::string("\xc0\xaf"), std::string("\xed\xa0\x80"),
                          std::string("\xe2\x82"), std::string("\xf4\x90\x80\x80")}) {
    std::string text = R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"s":")" + bad + "\"}}";
    auto m = P(text);
    EXPECT_EQ(m.kind, Kind::invalid);
    EXPECT_EQ(m.error_code, rpc::kParseError);
    EXPECT_NE(m.error_message.find("UTF-8"), std::string::npos);
  }
  // Valid multi-byte text passes.
  auto ok =
      P("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"s\":"
        "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}}");
  EXPECT_EQ(ok.kind, Kind::request);
}

TEST(JsonRpcParse, DepthBombRejectedWithoutRecursion) {
  // 100k nested arrays would overflow a recursive parser's stack; the byte scan stops at 65.
  std::string bomb = R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"a":)" +
                     std::string(100000, '[') + std::string(100000, ']') + "}}";
  auto m = P(bomb, {.max_bytes = 1 << 20, .max_depth = 64});
  EXPECT_EQ(m.kind, Kind::invalid);
  EXPECT_EQ(m.error_code, rpc::kParseError);
  EXPECT_NE(m.error_message.find("nesting"), std::string::npos);
  // Brackets inside strings do not count.
  std::string in_string =
      R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"a":")" + std::string(500, '[') + "\"}}";
  EXPECT_EQ(P(in_string).kind, Kind::request);
  // Exactly at the limit is fine.
  std::string deep = R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"a":)" +
                     std::string(61, '[') + std::string(61, ']') + "}}";
  EXPECT_EQ(P(deep).kind, Kind::request);
}

TEST(JsonRpcParse, IdsKeepTheirExactText) {
  EXPECT_EQ(P(R"({"jsonrpc":"2.0","id":0,"method":"ping"})").id->text, "0");
  EXPECT_EQ(P(R"({"jsonrpc":"2.0","id":-5,"method":"ping"})").id->text, "-5");
  EXPECT_EQ(P(R"({"jsonrpc":"2.0","id":"abc","method":"ping"})").id->text, "\"abc\"");
  EXPECT_EQ(P(R"({"jsonrpc":"2.0","id":9007199254740993,"method":"ping"})").id->text,
            "9007199254740993");
  EXPECT_EQ(P(R"({"jsonrpc":"2.0","id":18446744073709551615,"method":"ping"})").id->text,
            "18446744073709551615");
  EXPECT_EQ(
      P(R"({"jsonrpc":"2.0", "method":"ping", "id" : 123456789012345678901234567890})").id->text,
      "123456789012345678901234567890");
}

// ---- Through a session ------------------------------------------------------------------

class SessionRpc : public ::testing::Test {
 protected:
  std::shared_ptr<Server> server = Server::create({.page_size = 2});
  RawPeer peer{*server};

  json error_of(const std::string& text) {
    auto info = peer.send(text);
    EXPECT_EQ(info.kind, InboundKind::invalid) << text;
    // Synchronous: the error is already in the sink.
    auto all = peer.all();
    EXPECT_FALSE(all.empty());
    EXPECT_TRUE(all.back().completes_request);
    return json::parse(all.back().json);
  }
};

TEST_F(SessionRpc, ParseErrorAnsweredWithNullId) {
  json e = error_of("{not json");
  EXPECT_TRUE(e["id"].is_null());
  EXPECT_EQ(e["error"]["code"], -32700);
  EXPECT_TRUE(peer.all().back().related_request->is_null());
}

TEST_F(SessionRpc, BatchArrayGetsInvalidRequest) {
  json e = error_of(
      R"([{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"ping"}])");
  EXPECT_EQ(e["error"]["code"], -32600);
  EXPECT_TRUE(e["id"].is_null());
}

TEST_F(SessionRpc, InvalidRequestEchoesReadableId) {
  json e = error_of(R"({"jsonrpc":"1.0","id":"k1","method":"ping"})");
  EXPECT_EQ(e["error"]["code"], -32600);
  EXPECT_EQ(e["id"], "k1");
}

TEST_F(SessionRpc, OversizeMessageGetsCleanError) {
  auto small = Server::create({.max_message_bytes = 100});
  RawPeer p(*small);
  auto info = p.send(R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":")" +
                     std::string(500, 'a') + "\"}}");
  EXPECT_EQ(info.kind, InboundKind::invalid);
  json e = json::parse(p.all().back().json);
  EXPECT_EQ(e["error"]["code"], -32600);
  EXPECT_TRUE(e["id"].is_null());
}

TEST_F(SessionRpc, InvalidUtf8AndDepthBombDoNotCrash) {
  EXPECT_EQ(error_of("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"p\xffing\"}")["error"]["code"],
            -32700);
  EXPECT_EQ(error_of(std::string(200000, '['))["error"]["code"], -32700);
  // The session still works afterwards.
  peer.send(R"({"jsonrpc":"2.0","id":99,"method":"ping"})");
  auto r = peer.response(99);
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["result"], json::object());
}

TEST_F(SessionRpc, IdsEchoedExactly) {
  const std::vector<std::string> ids = {"0",
                                        "-1",
                                        "\"x-y\"",
                                        "\"\"",
                                        "9223372036854775807",
                                        "18446744073709551615",
                                        "123456789012345678901234567890",
                                        "1.5"};
  for (const auto& id : ids) {
    peer.send(R"({"jsonrpc":"2.0","id":)" + id + R"(,"method":"ping"})");
    auto all = peer.all();
    ASSERT_FALSE(all.empty());
    const std::string& text = all.back().json;
    EXPECT_NE(text.find("\"id\":" + id + ","), std::string::npos) << text;
  }
}

TEST_F(SessionRpc, UnknownMethodAfterInitIsMethodNotFound) {
  peer.init();
  peer.send(R"({"jsonrpc":"2.0","id":5,"method":"no/such"})");
  auto r = peer.response(5);
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["error"]["code"], -32601);
}

TEST_F(SessionRpc, RequestsBeforeInitializeRefusedButPingAllowed) {
  peer.send(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})");
  auto r = peer.response(1);
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["error"]["code"], -32600);
  EXPECT_NE((*r)["error"]["message"].get<std::string>().find("initialize"), std::string::npos);
  peer.send(R"({"jsonrpc":"2.0","id":2,"method":"ping"})");
  auto p = peer.response(2);
  ASSERT_TRUE(p);
  EXPECT_EQ((*p)["result"], json::object());
  EXPECT_EQ(peer.session->protocol_version(), "");
}

TEST_F(SessionRpc, UnknownNotificationIgnored) {
  auto info = peer.send(R"({"jsonrpc":"2.0","method":"notifications/whatever","params":{}})");
  EXPECT_EQ(info.kind, InboundKind::notification);
  EXPECT_TRUE(peer.all().empty());
}

TEST_F(SessionRpc, UnsolicitedResponseIgnored) {
  auto info = peer.send(R"({"jsonrpc":"2.0","id":77,"result":{}})");
  EXPECT_EQ(info.kind, InboundKind::response);
  EXPECT_TRUE(peer.all().empty());
}

}  // namespace
}  // namespace dm::mcp
