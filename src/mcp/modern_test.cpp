// MCP 2026-07-28 beside 2025-11-25 in one session type: stateless requests, header checks,
// server/discover, removed methods, MRTR (input_required + sealed requestState, and its bridge to
// server->client requests on legacy sessions), subscriptions/listen, the tasks extension.
#include <gtest/gtest.h>

#include "mcp/memory_transport.h"
#include "mcp/server.h"
#include "mcp/test_peer.h"

namespace dm::mcp {
namespace {

using nlohmann::json;
using testing::RawPeer;
using namespace std::chrono_literals;

constexpr const char* kModern = "2026-07-28";

json meta(json caps = json::object(), std::string version = kModern) {
  return {{"io.modelcontextprotocol/protocolVersion", std::move(version)},
          {"io.modelcontextprotocol/clientCapabilities", std::move(caps)},
          {"io.modelcontextprotocol/clientInfo", {{"name", "t"}, {"version", "1"}}}};
}

std::string request(const json& id, const std::string& method, json params = json::object(),
                    json m = meta()) {
  if (!m.is_null()) params["_meta"] = std::move(m);
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}}
      .dump();
}

// A modern exchange: sends and returns the completing message.
json ask(RawPeer& p, const json& id, const std::string& method, json params = json::object(),
         json m = meta()) {
  p.send(request(id, method, std::move(params), std::move(m)));
  auto r = p.response(id);
  return r ? *r : json();
}

int code_of(const json& r) { return r.contains("error") ? r["error"].value("code", 0) : 0; }

// ask(), as the transport does for a request whose bearer token it checked: `who` (may be null).
json ask_as(RawPeer& p, const std::shared_ptr<const Caller>& who, const json& id,
            const std::string& method, json params = json::object(), json m = meta()) {
  p.session->receive(request(id, method, std::move(params), std::move(m)), who);
  auto r = p.response(id);
  return r ? *r : json();
}

std::shared_ptr<const Caller> caller(std::string subject) {
  return std::make_shared<const Caller>(
      Caller{.issuer = "https://idp.example", .subject = subject, .principal = subject});
}

json obj(json props, json required = json::array()) {
  json s = {{"type", "object"}, {"properties", std::move(props)}};
  if (!required.empty()) s["required"] = std::move(required);
  return s;
}

// A tool that asks for a name once (sealing {"asked": true}) and greets with it.
Tool asking_tool(std::string name = "ask_name") {
  return {
      .name = std::move(name),
      .description = "asks a name",
      .input_schema = obj({{"who", {{"type", "string"}}}}),
      .handler = [](const json&, ToolContext& ctx) -> Result<ToolResult> {
        const auto& r = ctx.input_responses();
        if (ctx.request_state() && (*ctx.request_state())["asked"] == true && r.contains("name")) {
          return ToolResult::text("Hello, " + r["name"]["content"]["name"].get<std::string>());
        }
        InputRequired ir;
        ir.elicit("name", "Your name?", obj({{"name", {{"type", "string"}}}}, {"name"}));
        ir.state = json{{"asked", true}};
        return ToolResult::needs_input(std::move(ir));
      }};
}

std::shared_ptr<Server> make_server(ServerOptions o = {}) {
  auto s = Server::create(std::move(o));
  EXPECT_TRUE(s->add_tool({.name = "echo",
                           .description = "echoes",
                           .input_schema = obj({{"text", {{"type", "string"}}}}),
                           .handler = [](const json& a, ToolContext&) -> Result<ToolResult> {
                             return ToolResult::text(a.value("text", ""));
                           }})
                  .ok());
  EXPECT_TRUE(s->add_tool(asking_tool()).ok());
  EXPECT_TRUE(s->add_resource({.uri = "test://r",
                               .name = "r",
                               .handler = [](const std::string& uri, RequestContext&)
                                   -> Result<std::vector<ResourceContents>> {
                                 return std::vector<ResourceContents>{{.uri = uri, .text = "x"}};
                               }})
                  .ok());
  return s;
}

const json kElicit = {{"elicitation", json::object()}};

// ---- Stateless requests ---------------------------------------------------------------------

TEST(Modern, ServedWithoutInitializeWithResultTypeAndCacheHints) {
  auto s = make_server({.cache_ttl = 30s, .cache_public = true});
  RawPeer p(*s);
  json r = ask(p, 1, "tools/list");
  ASSERT_TRUE(r.contains("result")) << r.dump();
  EXPECT_EQ(r["result"]["resultType"], "complete");
  EXPECT_EQ(r["result"]["ttlMs"], 30000);
  EXPECT_EQ(r["result"]["cacheScope"], "public");
  EXPECT_EQ(r["result"]["tools"].size(), 2u);
  json call = ask(p, 2, "tools/call", {{"name", "echo"}, {"arguments", {{"text", "hi"}}}});
  EXPECT_EQ(call["result"]["resultType"], "complete");
  EXPECT_EQ(call["result"]["content"][0]["text"], "hi");
  json read = ask(p, 3, "resources/read", {{"uri", "test://r"}});
  EXPECT_EQ(read["result"]["cacheScope"], "public");
  EXPECT_TRUE(read["result"].contains("ttlMs"));
  // No session was negotiated by any of this.
  EXPECT_EQ(p.session->protocol_version(), "");
}

TEST(Modern, DiscoverNamesBothErasAndTheServer) {
  auto s = make_server({.name = "dm-test", .version = "9.9"});
  RawPeer p(*s);
  json r = ask(p, 1, "server/discover");
  const json& res = r["result"];
  EXPECT_EQ(res["resultType"], "complete");
  EXPECT_EQ(res["supportedVersions"].front(), "2026-07-28");
  EXPECT_NE(
      std::find(res["supportedVersions"].begin(), res["supportedVersions"].end(), "2025-11-25"),
      res["supportedVersions"].end());
  EXPECT_EQ(res["_meta"]["io.modelcontextprotocol/serverInfo"]["name"], "dm-test");
  EXPECT_TRUE(res["capabilities"].contains("prompts"));
  EXPECT_FALSE(res["capabilities"].contains("extensions"));  // no task-capable tool yet
  EXPECT_EQ(res["cacheScope"], "private");
}

TEST(Modern, MissingMetaFieldsAreInvalidParams) {
  auto s = make_server();
  RawPeer p(*s);
  json no_caps = meta();
  no_caps.erase("io.modelcontextprotocol/clientCapabilities");
  EXPECT_EQ(code_of(ask(p, 1, "server/discover", json::object(), no_caps)), -32602);
  // clientInfo is optional.
  json no_info = meta();
  no_info.erase("io.modelcontextprotocol/clientInfo");
  EXPECT_EQ(code_of(ask(p, 2, "server/discover", json::object(), no_info)), 0);
  // A bad log level is invalid too.
  json bad_level = meta();
  bad_level["io.modelcontextprotocol/logLevel"] = "loud";
  EXPECT_EQ(code_of(ask(p, 3, "tools/list", json::object(), bad_level)), -32602);
}

TEST(Modern, UnknownVersionListsTheSupportedOnes) {
  auto s = make_server();
  RawPeer p(*s);
  json r = ask(p, 7, "tools/list", json::object(), meta(json::object(), "1900-01-01"));
  EXPECT_EQ(code_of(r), -32022);
  EXPECT_EQ(r["id"], 7);
  EXPECT_EQ(r["error"]["data"]["requested"], "1900-01-01");
  EXPECT_EQ(r["error"]["data"]["supported"], json(all_protocol_versions()));
}

TEST(Modern, RemovedMethodsAreMethodNotFound) {
  auto s = make_server();
  RawPeer p(*s);
  int id = 1;
  for (const char* m : {"initialize", "ping", "logging/setLevel", "resources/subscribe",
                        "resources/unsubscribe", "tasks/result", "tasks/list", "no/such"}) {
    json r = ask(p, id, m);
    EXPECT_EQ(code_of(r), -32601) << m;
    EXPECT_EQ(r["id"], id++) << m;
  }
}

TEST(Modern, ResourceNotFoundIsInvalidParamsWhileLegacyKeepsMinus32002) {
  auto s = make_server();
  RawPeer modern(*s);
  json r = ask(modern, 1, "resources/read", {{"uri", "test://nope"}});
  EXPECT_EQ(code_of(r), -32602);
  EXPECT_EQ(r["error"]["data"]["uri"], "test://nope");
  RawPeer legacy(*s);
  legacy.init();
  legacy.send(request(2, "resources/read", {{"uri", "test://nope"}}, json()));
  EXPECT_EQ(code_of(*legacy.response(2)), -32002);
}

TEST(Modern, A2026RequestOnA2025SessionIsRefused) {
  auto s = make_server();
  RawPeer p(*s);
  ASSERT_TRUE(p.init().contains("result"));
  json r = ask(p, 5, "tools/list");
  EXPECT_EQ(code_of(r), -32600);
  EXPECT_NE(r["error"]["message"].get<std::string>().find("2025-11-25"), std::string::npos);
  EXPECT_EQ(r["error"]["data"]["sessionProtocolVersion"], "2025-11-25");
  // The session itself goes on as it was.
  p.send(request(6, "tools/list", json::object(), json()));
  EXPECT_TRUE(p.response(6)->contains("result"));
}

TEST(Modern, A2025RequestWithoutInitializeIsRefusedNamingBothWays) {
  auto s = make_server();
  RawPeer p(*s);
  p.send(request(1, "tools/list", json::object(), json()));
  json r = *p.response(1);
  EXPECT_EQ(code_of(r), -32600);
  const std::string msg = r["error"]["message"];
  EXPECT_NE(msg.find("initialize"), std::string::npos);
  EXPECT_NE(msg.find("2026-07-28"), std::string::npos);
}

TEST(Modern, LogMessagesOnlyAtTheLevelTheRequestAsks) {
  auto s = Server::create();
  ASSERT_TRUE(s->add_tool({.name = "chatty",
                           .description = "logs",
                           .handler = [](const json&, ToolContext& ctx) -> Result<ToolResult> {
                             ctx.log(LogLevel::info, "t", "an info");
                             ctx.log(LogLevel::error, "t", "an error");
                             return ToolResult::text("ok");
                           }})
                  .ok());
  RawPeer p(*s);
  ask(p, 1, "tools/call", {{"name", "chatty"}});
  json m = meta();
  m["io.modelcontextprotocol/logLevel"] = "warning";
  ask(p, 2, "tools/call", {{"name", "chatty"}}, m);
  std::vector<json> logs;
  for (const auto& o : p.all()) {
    if (o.json.find("notifications/message") != std::string::npos)
      logs.push_back(json::parse(o.json));
  }
  ASSERT_EQ(logs.size(), 1u);  // none for request 1, only the error for request 2
  EXPECT_EQ(logs[0]["params"]["level"], "error");
}

// ---- HTTP headers against the body ----------------------------------------------------------

RequestHeaders headers(std::string method, std::optional<std::string> name = std::nullopt) {
  return {.protocol_version = kModern, .method = std::move(method), .name = std::move(name)};
}

json ask_h(RawPeer& p, const json& id, const std::string& method, json params,
           const RequestHeaders& h, json m = meta()) {
  p.send(request(id, method, std::move(params), std::move(m)), h);
  auto r = p.response(id);
  return r ? *r : json();
}

TEST(ModernHeaders, MissingOrContradictingHeadersAreHeaderMismatch) {
  auto s = make_server();
  RawPeer p(*s);
  const json call = {{"name", "echo"}, {"arguments", {{"text", "x"}}}};
  EXPECT_EQ(code_of(ask_h(p, 1, "tools/call", call, headers("tools/call", "echo"))), 0);
  RequestHeaders no_version = headers("tools/call", "echo");
  no_version.protocol_version.reset();
  EXPECT_EQ(code_of(ask_h(p, 2, "tools/call", call, no_version)), -32020);
  RequestHeaders other_version = headers("tools/call", "echo");
  other_version.protocol_version = "2025-11-25";
  EXPECT_EQ(code_of(ask_h(p, 3, "tools/call", call, other_version)), -32020);
  EXPECT_EQ(code_of(ask_h(p, 4, "tools/call", call, headers("tools/list", "echo"))), -32020);
  EXPECT_EQ(code_of(ask_h(p, 5, "tools/call", call, headers("TOOLS/CALL", "echo"))), -32020);
  EXPECT_EQ(code_of(ask_h(p, 6, "tools/call", call, headers("tools/call"))), -32020);
  EXPECT_EQ(code_of(ask_h(p, 7, "tools/call", call, headers("tools/call", "other"))), -32020);
  // Surrounding whitespace is not part of a value; the base64 sentinel form is decoded.
  EXPECT_EQ(code_of(ask_h(p, 8, "tools/call", call, headers(" tools/call\t", "  echo "))), 0);
  EXPECT_EQ(code_of(ask_h(p, 9, "tools/call", call, headers("tools/call", "=?base64?ZWNobw==?="))),
            0);
  EXPECT_EQ(code_of(ask_h(p, 10, "tools/call", call, headers("tools/call", "=?base64?ZWNobw?="))),
            -32020);  // bad padding
  EXPECT_EQ(code_of(ask_h(p, 11, "resources/read", {{"uri", "test://r"}},
                          headers("resources/read", "test://r"))),
            0);
  // A mismatch is refused before the version check's later steps and before any handler.
  EXPECT_EQ(code_of(ask_h(p, 12, "tools/list", json::object(), headers("tools/list"))), 0);
}

TEST(ModernHeaders, XMcpHeaderParametersMustMatchTheirHeaders) {
  auto s = Server::create();
  ASSERT_TRUE(s->add_tool({.name = "region_tool",
                           .description = "has a header param",
                           .input_schema =
                               obj({{"region", {{"type", "string"}, {"x-mcp-header", "Region"}}},
                                    {"n", {{"type", "integer"}, {"x-mcp-header", "N"}}}}),
                           .handler = [](const json&, ToolContext&) -> Result<ToolResult> {
                             return ToolResult::text("ok");
                           }})
                  .ok());
  RawPeer p(*s);
  auto h = headers("tools/call", "region_tool");
  const json call = {{"name", "region_tool"}, {"arguments", {{"region", "Hello"}, {"n", 42}}}};
  h.params = {{"region", "Hello"}, {"n", "42"}};
  EXPECT_EQ(code_of(ask_h(p, 1, "tools/call", call, h)), 0);
  h.params = {{"region", "=?base64?SGVsbG8=?="}, {"n", "42.0"}};
  EXPECT_EQ(code_of(ask_h(p, 2, "tools/call", call, h)), 0);
  h.params = {{"region", "=?base64?SGVs!!!bG8=?="}, {"n", "42"}};
  EXPECT_EQ(code_of(ask_h(p, 3, "tools/call", call, h)), -32020);
  h.params = {{"n", "42"}};  // region in the body, its header missing
  EXPECT_EQ(code_of(ask_h(p, 4, "tools/call", call, h)), -32020);
  h.params = {{"region", "Hello"}, {"n", "43"}};
  EXPECT_EQ(code_of(ask_h(p, 5, "tools/call", call, h)), -32020);
  // An argument that is absent needs no header.
  h.params = {};
  EXPECT_EQ(code_of(ask_h(p, 6, "tools/call",
                          {{"name", "region_tool"}, {"arguments", json::object()}}, h)),
            0);
}

TEST(ModernHeaders, InvalidXMcpHeaderDeclarationsAreRefusedAtRegistration) {
  auto s = Server::create();
  const auto with = [](json prop) {
    return Tool{.name = "t",
                .input_schema = obj({{"p", std::move(prop)}}),
                .handler = [](const json&, ToolContext&) -> Result<ToolResult> {
                  return ToolResult::text("");
                }};
  };
  EXPECT_FALSE(s->add_tool(with({{"type", "number"}, {"x-mcp-header", "P"}})).ok());
  EXPECT_FALSE(s->add_tool(with({{"type", "string"}, {"x-mcp-header", "bad name"}})).ok());
  EXPECT_FALSE(s->add_tool(with({{"type", "string"}, {"x-mcp-header", ""}})).ok());
  EXPECT_TRUE(s->add_tool(with({{"type", "string"}, {"x-mcp-header", "P"}})).ok());
}

// ---- Capabilities ---------------------------------------------------------------------------

TEST(Modern, ARequiredClientCapabilityMissingIsMinus32021) {
  auto s = Server::create();
  ASSERT_TRUE(s->add_tool({.name = "needs_sampling",
                           .description = "",
                           .handler = [](const json&, ToolContext&) -> Result<ToolResult> {
                             return ToolResult::text("ran");
                           },
                           .required_client_capabilities = {{"sampling", json::object()}}})
                  .ok());
  RawPeer p(*s);
  json r = ask(p, 1, "tools/call", {{"name", "needs_sampling"}});
  EXPECT_EQ(code_of(r), -32021);
  EXPECT_EQ(r["error"]["data"]["requiredCapabilities"], json({{"sampling", json::object()}}));
  r = ask(p, 2, "tools/call", {{"name", "needs_sampling"}}, meta({{"sampling", json::object()}}));
  EXPECT_EQ(r["result"]["content"][0]["text"], "ran");
}

// ---- MRTR -----------------------------------------------------------------------------------

TEST(Mrtr, InputRequiredThenCompleteWithTheSealedState) {
  auto s = make_server();
  RawPeer p(*s);
  json r1 = ask(p, 1, "tools/call", {{"name", "ask_name"}}, meta(kElicit));
  const json& ir = r1["result"];
  ASSERT_EQ(ir["resultType"], "input_required") << r1.dump();
  EXPECT_EQ(ir["inputRequests"]["name"]["method"], "elicitation/create");
  ASSERT_TRUE(ir["requestState"].is_string());
  json retry = {
      {"name", "ask_name"},
      {"inputResponses", {{"name", {{"action", "accept"}, {"content", {{"name", "Ada"}}}}}}},
      {"requestState", ir["requestState"]}};
  json r2 = ask(p, 2, "tools/call", retry, meta(kElicit));
  EXPECT_EQ(r2["result"]["resultType"], "complete");
  EXPECT_EQ(r2["result"]["content"][0]["text"], "Hello, Ada");
}

TEST(Mrtr, TamperedCrossToolAndOtherArgumentStatesAreRefused) {
  auto s = make_server();
  ASSERT_TRUE(s->add_tool(asking_tool("other_tool")).ok());
  RawPeer p(*s);
  json r1 =
      ask(p, 1, "tools/call", {{"name", "ask_name"}, {"arguments", {{"who", "a"}}}}, meta(kElicit));
  const std::string state = r1["result"]["requestState"];
  const json answers = {{"name", {{"action", "accept"}, {"content", {{"name", "Eve"}}}}}};
  int id = 100;  // not static: ids must not reach 200 under --gtest_repeat
  auto retry = [&](const std::string& tool, const std::string& who, const std::string& st) {
    return ask(p, ++id, "tools/call",
               {{"name", tool},
                {"arguments", {{"who", who}}},
                {"inputResponses", answers},
                {"requestState", st}},
               meta(kElicit));
  };
  EXPECT_EQ(code_of(retry("ask_name", "a", state + "-TAMPERED")), -32602);
  EXPECT_EQ(code_of(retry("other_tool", "a", state)), -32602);
  EXPECT_EQ(code_of(retry("ask_name", "b", state)), -32602);
  json ok = retry("ask_name", "a", state);
  EXPECT_EQ(ok["result"]["content"][0]["text"], "Hello, Eve");
  // Malformed MRTR params are JSON-RPC errors, not tool results.
  EXPECT_EQ(code_of(ask(p, 200, "tools/call", {{"name", "ask_name"}, {"inputResponses", nullptr}},
                        meta(kElicit))),
            -32602);
  EXPECT_EQ(
      code_of(ask(p, 201, "tools/call",
                  {{"name", "ask_name"}, {"inputResponses", {{"name", 12345}}}}, meta(kElicit))),
      -32602);
}

TEST(Mrtr, StatesAreBoundToTheClaimsHookAndExpire) {
  auto clock = std::make_shared<ManualClock>(Clock::time_point(std::chrono::hours(400000)));
  auto sealer = RequestStateSealer::create(std::string(32, 'k'), {.ttl = 60s}, clock);
  ASSERT_TRUE(sealer.ok());
  ServerOptions o;
  o.request_state = *sealer;
  // The principal comes from the request (here a test _meta key; in a server, the auth layer).
  o.state_claims = [](const Call&, RequestContext& ctx) {
    return json{{"principal", ctx.request_meta().value("test/principal", "")}};
  };
  auto s = make_server(std::move(o));
  RawPeer p(*s);
  json alice = meta(kElicit);
  alice["test/principal"] = "alice";
  json bob = meta(kElicit);
  bob["test/principal"] = "bob";
  const std::string state =
      ask(p, 1, "tools/call", {{"name", "ask_name"}}, alice)["result"]["requestState"];
  const json retry = {
      {"name", "ask_name"},
      {"inputResponses", {{"name", {{"action", "accept"}, {"content", {{"name", "A"}}}}}}},
      {"requestState", state}};
  EXPECT_EQ(code_of(ask(p, 2, "tools/call", retry, bob)), -32602);
  EXPECT_EQ(code_of(ask(p, 3, "tools/call", retry, alice)), 0);
  clock->advance(61s);
  json late = ask(p, 4, "tools/call", retry, alice);
  EXPECT_EQ(code_of(late), -32602);
  EXPECT_NE(late["error"]["message"].get<std::string>().find("expired"), std::string::npos);
}

TEST(Mrtr, AStateSealedForOneAuthenticatedCallerIsRefusedForAnother) {
  auto s = make_server();
  RawPeer p(*s);
  const auto alice = caller("alice"), bob = caller("bob");
  const json first = ask_as(p, alice, 1, "tools/call", {{"name", "ask_name"}}, meta(kElicit));
  ASSERT_EQ(first["result"]["resultType"], "input_required") << first.dump();
  const json retry = {
      {"name", "ask_name"},
      {"inputResponses", {{"name", {{"action", "accept"}, {"content", {{"name", "A"}}}}}}},
      {"requestState", first["result"]["requestState"]}};
  json as_bob = ask_as(p, bob, 2, "tools/call", retry, meta(kElicit));
  EXPECT_EQ(code_of(as_bob), -32602) << as_bob.dump();
  EXPECT_NE(as_bob["error"]["message"].get<std::string>().find("another request"),
            std::string::npos);
  EXPECT_EQ(code_of(ask_as(p, nullptr, 3, "tools/call", retry, meta(kElicit))), -32602);
  json as_alice = ask_as(p, alice, 4, "tools/call", retry, meta(kElicit));
  EXPECT_EQ(as_alice["result"]["content"][0]["text"], "Hello, A") << as_alice.dump();
}

TEST(Mrtr, AnInputRequestTheClientCannotAnswerIsMinus32021) {
  auto s = make_server();
  RawPeer p(*s);
  json r = ask(p, 1, "tools/call", {{"name", "ask_name"}}, meta({{"sampling", json::object()}}));
  EXPECT_EQ(code_of(r), -32021);
  EXPECT_TRUE(r["error"]["data"]["requiredCapabilities"].contains("elicitation"));
  // The message names it too (it once read "null": the data had been moved from first).
  EXPECT_NE(r["error"]["message"].get<std::string>().find("elicitation"), std::string::npos)
      << r.dump();
}

TEST(Mrtr, ServerToClientRequestsAreRefusedOnModernRequests) {
  auto s = Server::create();
  ASSERT_TRUE(s->add_tool({.name = "old_style",
                           .description = "",
                           .handler = [](const json&, ToolContext& ctx) -> Result<ToolResult> {
                             auto r = ctx.elicit_form("?", obj({}), 1s);
                             if (r) return ToolResult::text("asked");
                             return make_error(r.error().code, r.error().message);
                           }})
                  .ok());
  RawPeer p(*s);
  json r = ask(p, 1, "tools/call", {{"name", "old_style"}}, meta(kElicit));
  EXPECT_EQ(r["result"]["isError"], true);
  for (const auto& m : p.all()) {
    EXPECT_EQ(m.json.find(R"("method":"elicitation/create")"), std::string::npos) << m.json;
  }
}

TEST(Mrtr, OnALegacySessionTheServerAsksTheClientItself) {
  auto s = make_server();
  InMemoryClient c(s);
  int asked = 0;
  c.on_request("elicitation/create", [&](const json& params) -> Result<json> {
    ++asked;
    EXPECT_EQ(params["message"], "Your name?");
    return json{{"action", "accept"}, {"content", {{"name", "Grace"}}}};
  });
  ASSERT_TRUE(c.initialize("2025-11-25", kElicit).ok());
  auto r = c.call("tools/call", {{"name", "ask_name"}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)["content"][0]["text"], "Hello, Grace");
  EXPECT_FALSE(r->contains("resultType"));
  EXPECT_EQ(asked, 1);
}

TEST(Mrtr, PromptsCanAskForInputToo) {
  auto s = Server::create();
  ASSERT_TRUE(s->add_prompt({.name = "p",
                             .handler = [](const std::map<std::string, std::string>&,
                                           RequestContext& ctx) -> Result<json> {
                               if (ctx.input_responses().contains("ctx")) {
                                 return json{{"messages", json::array()}};
                               }
                               InputRequired ir;
                               ir.elicit("ctx", "Context?", obj({{"c", {{"type", "string"}}}}));
                               ir.state = 1;
                               return ir.to_json();
                             }})
                  .ok());
  RawPeer p(*s);
  json r1 = ask(p, 1, "prompts/get", {{"name", "p"}}, meta(kElicit));
  ASSERT_EQ(r1["result"]["resultType"], "input_required");
  ASSERT_TRUE(r1["result"]["requestState"].is_string());  // sealed, not the raw 1
  json r2 = ask(p, 2, "prompts/get",
                {{"name", "p"},
                 {"inputResponses", {{"ctx", {{"action", "accept"}, {"content", {{"c", "x"}}}}}}},
                 {"requestState", r1["result"]["requestState"]}},
                meta(kElicit));
  EXPECT_EQ(r2["result"]["resultType"], "complete");
  EXPECT_TRUE(r2["result"]["messages"].is_array());
}

// ---- subscriptions/listen -------------------------------------------------------------------

TEST(Listen, AcknowledgesThenDeliversWhatTheFilterAsksTagged) {
  auto s = make_server();
  RawPeer p(*s);
  p.send(request(
      "L", "subscriptions/listen",
      {{"notifications", {{"toolsListChanged", true}, {"resourceSubscriptions", {"test://r"}}}}}));
  auto ack = p.wait_for([](const OutboundMessage& m) {
    return m.json.find("notifications/subscriptions/acknowledged") != std::string::npos;
  });
  ASSERT_TRUE(ack);
  json a = json::parse(ack->json);
  EXPECT_EQ(a["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"], "L");
  EXPECT_EQ(a["params"]["notifications"]["toolsListChanged"], true);
  EXPECT_EQ(*ack->related_request, "L");

  ASSERT_TRUE(s->add_prompt({.name = "quiet",
                             .handler = [](const auto&, RequestContext&) -> Result<json> {
                               return json::object();
                             }})
                  .ok());  // not asked for
  ASSERT_TRUE(s->add_tool(asking_tool("new_tool")).ok());
  s->notify_resource_updated("test://r");
  auto tools = p.wait_for([](const OutboundMessage& m) {
    return m.json.find("notifications/tools/list_changed") != std::string::npos;
  });
  ASSERT_TRUE(tools);
  EXPECT_EQ(json::parse(tools->json)["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
            "L");
  EXPECT_EQ(*tools->related_request, "L");
  auto updated = p.wait_for([](const OutboundMessage& m) {
    return m.json.find("notifications/resources/updated") != std::string::npos;
  });
  ASSERT_TRUE(updated);
  EXPECT_EQ(json::parse(updated->json)["params"]["uri"], "test://r");
  for (const auto& m : p.all()) {
    EXPECT_EQ(m.json.find("prompts/list_changed"), std::string::npos);
  }
  // Cancelling ends the stream without a result.
  p.send(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"L"}})");
  auto end = p.response("L");
  ASSERT_TRUE(end);
  EXPECT_TRUE(end->is_null());
}

// ---- Tasks extension ------------------------------------------------------------------------

const json kTasks = {{"elicitation", json::object()},
                     {"extensions", {{"io.modelcontextprotocol/tasks", json::object()}}}};

Tool task_tool() {
  return {.name = "long_job",
          .description = "runs as a task",
          .handler = [](const json&, ToolContext&) -> Result<ToolResult> {
            return ToolResult::as_task([](const json&, ToolContext& ctx) -> Result<ToolResult> {
              if (!ctx.input_responses().contains("go")) {
                return ToolResult::needs_input(
                    InputRequired{}.elicit("go", "Go?", obj({{"ok", {{"type", "boolean"}}}})));
              }
              return ToolResult::text(ctx.in_task() ? "done in a task" : "done inline");
            });
          },
          .task_support = TaskSupport::optional};
}

json poll(RawPeer& p, const std::string& task, const std::string& until, int& id) {
  json t;
  for (int i = 0; i < 500; ++i) {
    t = ask(p, ++id, "tasks/get", {{"taskId", task}}, meta(kTasks))["result"];
    if (t.value("status", "") == until) return t;
    std::this_thread::sleep_for(10ms);  // polling, as a client does; no assertion on time
  }
  return t;
}

TEST(Tasks, ATaskParksForInputResumesAndCompletes) {
  auto s = Server::create();
  ASSERT_TRUE(s->add_tool(task_tool()).ok());
  RawPeer p(*s);
  EXPECT_TRUE(ask(p, 1, "server/discover")["result"]["capabilities"]["extensions"].contains(
      "io.modelcontextprotocol/tasks"));
  json created = ask(p, 2, "tools/call", {{"name", "long_job"}}, meta(kTasks))["result"];
  ASSERT_EQ(created["resultType"], "task") << created.dump();
  const std::string id = created["taskId"];
  EXPECT_TRUE(created["ttlMs"].is_number_integer());
  EXPECT_FALSE(created.contains("requestState"));
  int n = 10;
  json waiting = poll(p, id, "input_required", n);
  ASSERT_EQ(waiting["status"], "input_required");
  EXPECT_EQ(waiting["inputRequests"]["go"]["method"], "elicitation/create");
  json ack =
      ask(p, ++n, "tasks/update",
          {{"taskId", id}, {"inputResponses", {{"go", {{"action", "accept"}}}}}}, meta(kTasks));
  EXPECT_EQ(ack["result"], json({{"resultType", "complete"}}));
  json done = poll(p, id, "completed", n);
  ASSERT_EQ(done["status"], "completed");
  EXPECT_EQ(done["result"]["content"][0]["text"], "done in a task");
  // Cancelling a finished task changes nothing; an unknown id is -32602.
  EXPECT_EQ(ask(p, ++n, "tasks/cancel", {{"taskId", id}}, meta(kTasks))["result"],
            json({{"resultType", "complete"}}));
  EXPECT_EQ(poll(p, id, "completed", n)["status"], "completed");
  EXPECT_EQ(code_of(ask(p, ++n, "tasks/get", {{"taskId", "nope"}}, meta(kTasks))), -32602);
}

TEST(Tasks, ATaskIsItsCreatorsOnly) {
  auto s = Server::create();
  ASSERT_TRUE(s->add_tool(task_tool()).ok());
  RawPeer p(*s);
  const auto alice = caller("alice"), bob = caller("bob");
  json created = ask_as(p, alice, 1, "tools/call", {{"name", "long_job"}}, meta(kTasks))["result"];
  ASSERT_EQ(created["resultType"], "task") << created.dump();
  const std::string id = created["taskId"];
  // Another user, or a request without a caller, is told the task does not exist, and can
  // neither answer its input nor cancel it.
  for (const auto& who : {bob, std::shared_ptr<const Caller>()}) {
    json got = ask_as(p, who, 2, "tasks/get", {{"taskId", id}}, meta(kTasks));
    EXPECT_EQ(code_of(got), -32602) << got.dump();
    EXPECT_EQ(code_of(ask_as(p, who, 3, "tasks/update",
                             {{"taskId", id}, {"inputResponses", {{"go", {{"action", "accept"}}}}}},
                             meta(kTasks))),
              -32602);
    EXPECT_EQ(code_of(ask_as(p, who, 4, "tasks/cancel", {{"taskId", id}}, meta(kTasks))), -32602);
  }
  json mine = ask_as(p, alice, 5, "tasks/get", {{"taskId", id}}, meta(kTasks));
  EXPECT_EQ(code_of(mine), 0) << mine.dump();
  EXPECT_NE(mine["result"]["status"], "cancelled");
  // The same caller object is not needed: the issuer and subject are.
  EXPECT_EQ(code_of(ask_as(p, caller("alice"), 6, "tasks/cancel", {{"taskId", id}}, meta(kTasks))),
            0);
}

TEST(Tasks, WithoutTheExtensionTheWorkRunsInlineAndTasksMethodsAreRefused) {
  auto s = Server::create();
  ASSERT_TRUE(s->add_tool(task_tool()).ok());
  Tool required = task_tool();
  required.name = "must_be_task";
  required.task_support = TaskSupport::required;
  ASSERT_TRUE(s->add_tool(std::move(required)).ok());
  RawPeer p(*s);
  json r = ask(p, 1, "tools/call", {{"name", "long_job"}}, meta(kElicit));
  EXPECT_EQ(r["result"]["resultType"], "input_required");  // inline: MRTR instead of a task
  EXPECT_EQ(code_of(ask(p, 2, "tasks/get", {{"taskId", "x"}})), -32021);
  json req = ask(p, 3, "tools/call", {{"name", "must_be_task"}});
  EXPECT_EQ(code_of(req), -32021);
  EXPECT_TRUE(req["error"]["data"]["requiredCapabilities"]["extensions"].contains(
      "io.modelcontextprotocol/tasks"));
}

TEST(Tasks, CancelSettlesARunningTaskAsCancelled) {
  auto s = Server::create();
  ASSERT_TRUE(s->add_tool({.name = "forever",
                           .description = "",
                           .handler = [](const json&, ToolContext&) -> Result<ToolResult> {
                             return ToolResult::as_task(
                                 [](const json&, ToolContext& ctx) -> Result<ToolResult> {
                                   while (!ctx.cancel_token().wait_for(1h)) {
                                   }
                                   return ToolResult::text("stopped");
                                 });
                           },
                           .task_support = TaskSupport::optional})
                  .ok());
  RawPeer p(*s);
  const std::string id =
      ask(p, 1, "tools/call", {{"name", "forever"}}, meta(kTasks))["result"]["taskId"];
  EXPECT_EQ(ask(p, 2, "tasks/get", {{"taskId", id}}, meta(kTasks))["result"]["status"], "working");
  EXPECT_EQ(ask(p, 3, "tasks/cancel", {{"taskId", id}}, meta(kTasks))["result"],
            json({{"resultType", "complete"}}));
  EXPECT_EQ(ask(p, 4, "tasks/get", {{"taskId", id}}, meta(kTasks))["result"]["status"],
            "cancelled");
}

}  // namespace
}  // namespace dm::mcp
