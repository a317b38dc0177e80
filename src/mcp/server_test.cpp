#include "mcp/server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <thread>

#include "mcp/memory_transport.h"
#include "mcp/test_peer.h"

namespace dm::mcp {
namespace {

using nlohmann::json;
using testing::RawPeer;
using namespace std::chrono_literals;

json obj_schema(json props, json required = json::array()) {
  json s = {{"type", "object"}, {"properties", std::move(props)}};
  if (!required.empty()) s["required"] = std::move(required);
  return s;
}

Tool echo_tool(std::string name = "echo") {
  return {.name = std::move(name),
          .description = "echoes",
          .input_schema = obj_schema(
              {{"text", {{"type", "string"}}}, {"count", {{"type", "integer"}}}}, {"text"}),
          .handler = [](const json& a, ToolContext&) -> Result<ToolResult> {
            return ToolResult::text("echo:" + a["text"].get<std::string>());
          }};
}

// ---- Lifecycle ----------------------------------------------------------------------------

class Lifecycle : public ::testing::TestWithParam<std::string> {};

TEST_P(Lifecycle, NegotiatesEachSupportedRevision) {
  auto server = Server::create();
  InMemoryClient c(server);
  auto r = c.initialize(GetParam());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)["protocolVersion"], GetParam());
  EXPECT_EQ(c.session().protocol_version(), GetParam());
  EXPECT_TRUE((*r)["capabilities"].contains("tools"));
  EXPECT_TRUE((*r)["capabilities"].contains("logging"));
  EXPECT_EQ((*r)["serverInfo"]["name"], "dagmedic");
}

INSTANTIATE_TEST_SUITE_P(AllRevisions, Lifecycle,
                         ::testing::Values("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"));

TEST(LifecycleTest, UnknownVersionGetsLatest) {
  auto server = Server::create();
  InMemoryClient c(server);
  auto r = c.initialize("1999-01-01");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["protocolVersion"], "2025-11-25");
}

TEST(LifecycleTest, InitializeWithoutVersionIsInvalidParams) {
  auto server = Server::create();
  InMemoryClient c(server);
  auto r = c.call("initialize", {{"capabilities", json::object()}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(c.last_error_code(), -32602);
}

TEST(LifecycleTest, SecondInitializeRefused) {
  auto server = Server::create();
  InMemoryClient c(server);
  ASSERT_TRUE(c.initialize().ok());
  auto r =
      c.call("initialize", {{"protocolVersion", "2025-06-18"}, {"capabilities", json::object()}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(c.last_error_code(), -32600);
  EXPECT_EQ(c.session().protocol_version(), "2025-11-25");
}

TEST(LifecycleTest, CompletionsCapabilityOnlyWithHandler) {
  auto server = Server::create();
  {
    InMemoryClient c(server);
    auto r = c.initialize();
    EXPECT_FALSE((*r)["capabilities"].contains("completions"));
  }
  server->set_completion_handler([](const json&, const json&, const json&) {
    return Result<std::vector<std::string>>(std::vector<std::string>{});
  });
  InMemoryClient c(server);
  auto r = c.initialize();
  EXPECT_TRUE((*r)["capabilities"].contains("completions"));
}

// ---- Tools --------------------------------------------------------------------------------

class ToolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server->add_tool(echo_tool()).ok());
    ASSERT_TRUE(c.initialize("2025-11-25", caps).ok());
  }
  std::shared_ptr<Server> server = Server::create({.page_size = 2});
  json caps = json::object();
  InMemoryClient c{server};
};

TEST_F(ToolsTest, CallValidArguments) {
  auto r = c.call("tools/call", {{"name", "echo"}, {"arguments", {{"text", "hi"}}}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)["content"][0]["text"], "echo:hi");
  EXPECT_FALSE(r->contains("isError"));
}

TEST_F(ToolsTest, WrongTypeNamesTheField) {
  auto r =
      c.call("tools/call", {{"name", "echo"}, {"arguments", {{"text", "x"}, {"count", "many"}}}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["isError"], true);
  const std::string text = (*r)["content"][0]["text"];
  EXPECT_NE(text.find("arguments.count"), std::string::npos) << text;
}

TEST_F(ToolsTest, MissingRequiredNamesTheField) {
  std::atomic<int> ran{0};
  ASSERT_TRUE(
      server
          ->add_tool({.name = "needs",
                      .description = "d",
                      .input_schema = obj_schema({{"dag_id", {{"type", "string"}}}}, {"dag_id"}),
                      .handler = [&](const json&, ToolContext&) -> Result<ToolResult> {
                        ++ran;
                        return ToolResult::text("ran");
                      }})
          .ok());
  auto r = c.call("tools/call", {{"name", "needs"}, {"arguments", json::object()}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["isError"], true);
  EXPECT_NE((*r)["content"][0]["text"].get<std::string>().find("dag_id"), std::string::npos);
  EXPECT_EQ(ran.load(), 0) << "the handler must not run on invalid arguments";
}

TEST_F(ToolsTest, UnknownToolIsInvalidParams) {
  auto r = c.call("tools/call", {{"name", "nope"}, {"arguments", json::object()}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(c.last_error_code(), -32602);
}

TEST_F(ToolsTest, ArgumentsMustBeObject) {
  auto r = c.call("tools/call", {{"name", "echo"}, {"arguments", json::array({1})}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(c.last_error_code(), -32602);
}

TEST_F(ToolsTest, HandlerErrorBecomesIsErrorResult) {
  ASSERT_TRUE(server
                  ->add_tool({.name = "fails",
                              .description = "d",
                              .handler = [](const json&, ToolContext&) -> Result<ToolResult> {
                                return make_error(Errc::unavailable, "airflow is down");
                              }})
                  .ok());
  auto r = c.call("tools/call", {{"name", "fails"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["isError"], true);
  EXPECT_EQ((*r)["content"][0]["text"], "airflow is down");
}

TEST_F(ToolsTest, ListingCarriesAnnotationsTitleAndOutputSchema) {
  Tool t = {.name = "ro",
            .title = "Read only",
            .description = "d",
            .output_schema = obj_schema({{"n", {{"type", "integer"}}}}, {"n"}),
            .annotations = {.read_only_hint = true,
                            .destructive_hint = false,
                            .idempotent_hint = true,
                            .open_world_hint = false},
            .handler = [](const json&, ToolContext&) -> Result<ToolResult> {
              return ToolResult::structured({{"n", 3}});
            }};
  ASSERT_TRUE(server->add_tool(std::move(t)).ok());
  // page_size 2: echo + ro on page one.
  auto l = c.call("tools/list");
  ASSERT_TRUE(l.ok());
  const json& ro = (*l)["tools"][1];
  EXPECT_EQ(ro["name"], "ro");
  EXPECT_EQ(ro["title"], "Read only");
  EXPECT_EQ(ro["annotations"]["readOnlyHint"], true);
  EXPECT_EQ(ro["annotations"]["destructiveHint"], false);
  EXPECT_EQ(ro["annotations"]["idempotentHint"], true);
  EXPECT_EQ(ro["annotations"]["openWorldHint"], false);
  EXPECT_EQ(ro["outputSchema"]["required"][0], "n");
  auto r = c.call("tools/call", {{"name", "ro"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["structuredContent"]["n"], 3);
  EXPECT_EQ(json::parse((*r)["content"][0]["text"].get<std::string>()), json({{"n", 3}}));
}

TEST_F(ToolsTest, OutputNotMatchingSchemaIsAnError) {
  ASSERT_TRUE(server
                  ->add_tool({.name = "bad_out",
                              .description = "d",
                              .output_schema = obj_schema({{"n", {{"type", "integer"}}}}, {"n"}),
                              .handler = [](const json&, ToolContext&) -> Result<ToolResult> {
                                return ToolResult::structured({{"n", "three"}});
                              }})
                  .ok());
  auto r = c.call("tools/call", {{"name", "bad_out"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["isError"], true);
  EXPECT_NE((*r)["content"][0]["text"].get<std::string>().find("structuredContent.n"),
            std::string::npos);
}

TEST_F(ToolsTest, RegistrationRejectsBadInput) {
  EXPECT_FALSE(server->add_tool(echo_tool()).ok()) << "duplicate";
  EXPECT_FALSE(server->add_tool(echo_tool("has space")).ok());
  EXPECT_FALSE(server->add_tool(echo_tool("")).ok());
  Tool no_handler = echo_tool("nh");
  no_handler.handler = nullptr;
  EXPECT_FALSE(server->add_tool(std::move(no_handler)).ok());
  Tool bad_schema = echo_tool("bs");
  bad_schema.input_schema = {{"type", "object"}, {"properties", {{"x", {{"type", 42}}}}}};
  EXPECT_FALSE(server->add_tool(std::move(bad_schema)).ok());
}

TEST_F(ToolsTest, PaginationAcrossPages) {
  for (int i = 0; i < 4; ++i)
    ASSERT_TRUE(server->add_tool(echo_tool("t" + std::to_string(i))).ok());
  std::vector<std::string> names;
  json params = json::object();
  int pages = 0;
  for (;;) {
    auto r = c.call("tools/list", params);
    ASSERT_TRUE(r.ok());
    ++pages;
    for (const auto& t : (*r)["tools"]) names.push_back(t["name"]);
    if (!r->contains("nextCursor")) break;
    params = {{"cursor", (*r)["nextCursor"]}};
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(names, (std::vector<std::string>{"echo", "t0", "t1", "t2", "t3"}));
}

TEST_F(ToolsTest, BadCursorIsInvalidParams) {
  for (json cur : {json("not-a-cursor-from-this-server"), json(5), json("ZG0tY3Vyc29yOjk5OQ==")}) {
    auto r = c.call("tools/list", {{"cursor", cur}});
    ASSERT_FALSE(r.ok()) << cur;
    EXPECT_EQ(c.last_error_code(), -32602) << cur;
  }
}

TEST_F(ToolsTest, ListChangedSentOnRegistration) {
  ASSERT_TRUE(server->add_tool(echo_tool("late")).ok());
  EXPECT_TRUE(c.wait_notifications("notifications/tools/list_changed", 1));
  EXPECT_TRUE(server->remove_tool("late"));
  EXPECT_TRUE(c.wait_notifications("notifications/tools/list_changed", 2));
  EXPECT_FALSE(server->remove_tool("late"));
}

// ---- Progress, logging ----------------------------------------------------------------------

TEST(ProgressTest, SentOnlyWithProgressToken) {
  auto server = Server::create();
  ASSERT_TRUE(server
                  ->add_tool({.name = "steps",
                              .description = "d",
                              .handler = [](const json&, ToolContext& ctx) -> Result<ToolResult> {
                                ctx.progress(1, 3, "one");
                                ctx.progress(2, 3);
                                ctx.progress(3, 3, "done");
                                return ToolResult::text("ok");
                              }})
                  .ok());
  InMemoryClient c(server);
  ASSERT_TRUE(c.initialize().ok());
  ASSERT_TRUE(c.call("tools/call", {{"name", "steps"}}).ok());
  ASSERT_TRUE(
      c.call("tools/call", {{"name", "steps"}, {"_meta", {{"progressToken", "tok-1"}}}}).ok());
  auto notes = c.notifications("notifications/progress");
  ASSERT_EQ(notes.size(), 3u);
  EXPECT_EQ(notes[0]["params"]["progressToken"], "tok-1");
  EXPECT_EQ(notes[0]["params"]["progress"], 1);
  EXPECT_EQ(notes[0]["params"]["total"], 3);
  EXPECT_EQ(notes[0]["params"]["message"], "one");
  EXPECT_FALSE(notes[1]["params"].contains("message"));
  EXPECT_EQ(notes[2]["params"]["progress"], 3);
}

TEST(ProgressTest, ProgressRelatesToItsRequest) {
  auto server = Server::create();
  ASSERT_TRUE(server
                  ->add_tool({.name = "p",
                              .description = "d",
                              .handler = [](const json&, ToolContext& ctx) -> Result<ToolResult> {
                                ctx.progress(1);
                                return ToolResult::text("ok");
                              }})
                  .ok());
  RawPeer peer(*server);
  peer.init();
  peer.send(
      R"({"jsonrpc":"2.0","id":"r9","method":"tools/call","params":{"name":"p","_meta":{"progressToken":7}}})");
  ASSERT_TRUE(peer.response("r9"));
  auto msgs = peer.all();
  auto it = std::find_if(msgs.begin(), msgs.end(), [](const OutboundMessage& m) {
    return m.json.find("notifications/progress") != std::string::npos;
  });
  ASSERT_NE(it, msgs.end());
  EXPECT_EQ(*it->related_request, "r9");
  EXPECT_FALSE(it->completes_request);
}

TEST(LoggingTest, SetLevelFiltersMessages) {
  auto server = Server::create();
  ASSERT_TRUE(server
                  ->add_tool({.name = "logs",
                              .description = "d",
                              .handler = [](const json&, ToolContext& ctx) -> Result<ToolResult> {
                                ctx.log(LogLevel::debug, "t", "dbg");
                                ctx.log(LogLevel::info, "t", "inf");
                                ctx.log(LogLevel::warning, "t", "wrn");
                                ctx.log(LogLevel::error, "t", {{"k", "err"}});
                                return ToolResult::text("ok");
                              }})
                  .ok());
  InMemoryClient c(server);
  ASSERT_TRUE(c.initialize().ok());
  ASSERT_TRUE(c.call("tools/call", {{"name", "logs"}}).ok());
  EXPECT_EQ(c.notifications("notifications/message").size(), 4u) << "everything before setLevel";
  ASSERT_TRUE(c.call("logging/setLevel", {{"level", "warning"}}).ok());
  ASSERT_TRUE(c.call("tools/call", {{"name", "logs"}}).ok());
  auto notes = c.notifications("notifications/message");
  ASSERT_EQ(notes.size(), 6u);
  EXPECT_EQ(notes[4]["params"]["level"], "warning");
  EXPECT_EQ(notes[4]["params"]["data"], "wrn");
  EXPECT_EQ(notes[4]["params"]["logger"], "t");
  EXPECT_EQ(notes[5]["params"]["level"], "error");
  EXPECT_EQ(notes[5]["params"]["data"]["k"], "err");
}

TEST(LoggingTest, BadLevelIsInvalidParams) {
  auto server = Server::create();
  InMemoryClient c(server);
  ASSERT_TRUE(c.initialize().ok());
  EXPECT_FALSE(c.call("logging/setLevel", {{"level", "loud"}}).ok());
  EXPECT_EQ(c.last_error_code(), -32602);
  EXPECT_TRUE(c.call("logging/setLevel", {{"level", "emergency"}}).ok());
}

// ---- Cancellation -----------------------------------------------------------------------------

TEST(CancelTest, CancelledHandlerStopsAndNoResponseIsSent) {
  auto server = Server::create();
  std::latch started(1);
  std::atomic<bool> saw_cancel{false};
  ASSERT_TRUE(server
                  ->add_tool({.name = "slow",
                              .description = "d",
                              .handler = [&](const json&, ToolContext& ctx) -> Result<ToolResult> {
                                started.count_down();
                                // Waits for the cancellation (bounded so a bug cannot hang).
                                saw_cancel = ctx.cancel_token().wait_for(30s);
                                return ToolResult::text("too late");
                              }})
                  .ok());
  RawPeer peer(*server);
  peer.init();
  peer.send(R"({"jsonrpc":"2.0","id":41,"method":"tools/call","params":{"name":"slow"}})");
  started.wait();
  peer.send(
      R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":41,"reason":"user"}})");
  auto marker = peer.wait_for([](const OutboundMessage& m) {
    return m.completes_request && m.related_request && *m.related_request == 41;
  });
  ASSERT_TRUE(marker);
  EXPECT_TRUE(saw_cancel.load());
  EXPECT_TRUE(marker->json.empty()) << "a cancelled request gets no response: " << marker->json;
  for (const auto& m : peer.all()) {
    EXPECT_EQ(m.json.find("too late"), std::string::npos);
  }
  // The session keeps serving.
  peer.send(R"({"jsonrpc":"2.0","id":42,"method":"ping"})");
  EXPECT_TRUE(peer.response(42));
}

TEST(CancelTest, CancelForUnknownRequestIsHarmless) {
  auto server = Server::create();
  RawPeer peer(*server);
  peer.init();
  const auto before = peer.all().size();
  peer.send(
      R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"nope"}})");
  EXPECT_EQ(peer.all().size(), before);
}

TEST(CancelTest, SessionClosedMidHandlerCancelsItWithoutCrash) {
  auto server = Server::create();
  std::latch started(1);
  std::atomic<bool> saw_cancel{false};
  std::latch finished(1);
  ASSERT_TRUE(server
                  ->add_tool({.name = "stream",
                              .description = "d",
                              .handler = [&](const json&, ToolContext& ctx) -> Result<ToolResult> {
                                started.count_down();
                                for (int i = 0; i < 1000 && !ctx.cancelled(); ++i) {
                                  ctx.progress(i);
                                  ctx.log(LogLevel::info, "s", i);
                                  ctx.cancel_token().wait_for(5ms);
                                }
                                saw_cancel = ctx.cancelled();
                                finished.count_down();
                                return ToolResult::text("end");
                              }})
                  .ok());
  auto peer = std::make_unique<RawPeer>(*server);
  peer->init();
  peer->send(
      R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"stream","_meta":{"progressToken":1}}})");
  started.wait();
  peer->session->close();  // the client vanished
  const auto count_at_close = peer->all().size();
  finished.wait();
  EXPECT_TRUE(saw_cancel.load());
  EXPECT_EQ(peer->all().size(), count_at_close) << "nothing is sent after close()";
  auto again = peer->session->receive(R"({"jsonrpc":"2.0","id":2,"method":"ping"})");
  EXPECT_EQ(again.kind, InboundKind::request);
  EXPECT_EQ(peer->all().size(), count_at_close);
  peer.reset();
  server->shutdown();
}

TEST(CancelTest, DuplicateInFlightIdRejected) {
  auto server = Server::create();
  std::latch started(1);
  ASSERT_TRUE(server
                  ->add_tool({.name = "hold",
                              .description = "d",
                              .handler = [&](const json&, ToolContext& ctx) -> Result<ToolResult> {
                                started.count_down();
                                ctx.cancel_token().wait_for(30s);
                                return ToolResult::text("x");
                              }})
                  .ok());
  RawPeer peer(*server);
  peer.init();
  peer.send(R"({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"hold"}})");
  started.wait();
  peer.send(R"({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"hold"}})");
  auto err = peer.response(5);
  ASSERT_TRUE(err);
  EXPECT_EQ((*err)["error"]["code"], -32600);
  peer.send(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":5}})");
}

// ---- Server -> client requests ---------------------------------------------------------------

Tool asking_tool(std::chrono::milliseconds timeout = 10s) {
  return {
      .name = "ask",
      .description = "elicits",
      .handler = [timeout](const json&, ToolContext& ctx) -> Result<ToolResult> {
        auto r = ctx.elicit_form("Approve?", obj_schema({{"ok", {{"type", "boolean"}}}}), timeout);
        if (!r)
          return make_error(r.error().code,
                            std::string(errc_name(r.error().code)) + ": " + r.error().message);
        return ToolResult::text("action=" + (*r)["action"].get<std::string>() +
                                " content=" + (*r)["content"].dump());
      }};
}

TEST(ElicitTest, FormRoundTrip) {
  auto server = Server::create();
  ASSERT_TRUE(server->add_tool(asking_tool()).ok());
  InMemoryClient c(server);
  json seen;
  c.on_request("elicitation/create", [&](const json& p) -> Result<json> {
    seen = p;
    return json{{"action", "accept"}, {"content", {{"ok", true}}}};
  });
  ASSERT_TRUE(c.initialize("2025-11-25", {{"elicitation", json::object()}}).ok());
  auto r = c.call("tools/call", {{"name", "ask"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["content"][0]["text"], R"(action=accept content={"ok":true})");
  EXPECT_EQ(seen["message"], "Approve?");
  EXPECT_EQ(seen["mode"], "form");
  EXPECT_EQ(seen["requestedSchema"]["properties"]["ok"]["type"], "boolean");
}

TEST(ElicitTest, OlderRevisionOmitsMode) {
  auto server = Server::create();
  ASSERT_TRUE(server->add_tool(asking_tool()).ok());
  InMemoryClient c(server);
  json seen;
  c.on_request("elicitation/create", [&](const json& p) -> Result<json> {
    seen = p;
    return json{{"action", "decline"}};
  });
  ASSERT_TRUE(c.initialize("2025-06-18", {{"elicitation", json::object()}}).ok());
  auto r = c.call("tools/call", {{"name", "ask"}});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(seen.contains("mode"));
}

TEST(ElicitTest, MissingCapabilityRefused) {
  auto server = Server::create();
  ASSERT_TRUE(server->add_tool(asking_tool()).ok());
  InMemoryClient c(server);
  ASSERT_TRUE(c.initialize("2025-11-25", json::object()).ok());
  auto r = c.call("tools/call", {{"name", "ask"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["isError"], true);
  const std::string text = (*r)["content"][0]["text"];
  EXPECT_NE(text.find("failed_precondition"), std::string::npos) << text;
  EXPECT_NE(text.find("elicitation"), std::string::npos) << text;
  EXPECT_TRUE(c.notifications("elicitation/create").empty());
}

TEST(ElicitTest, ClientErrorAnswerReachesHandler) {
  auto server = Server::create();
  ASSERT_TRUE(server->add_tool(asking_tool()).ok());
  InMemoryClient c(server);
  c.on_request("elicitation/create",
               [](const json&) -> Result<json> { return make_error(Errc::internal, "no UI"); });
  ASSERT_TRUE(c.initialize("2025-11-25", {{"elicitation", json::object()}}).ok());
  auto r = c.call("tools/call", {{"name", "ask"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["isError"], true);
  EXPECT_NE((*r)["content"][0]["text"].get<std::string>().find("-32603: no UI"), std::string::npos);
}

TEST(ElicitTest, TimeoutWhenClientNeverAnswers) {
  auto server = Server::create();
  ASSERT_TRUE(server->add_tool(asking_tool(50ms)).ok());
  RawPeer peer(*server);  // a raw peer never answers the elicitation
  peer.init("2025-11-25", {{"elicitation", json::object()}});
  peer.send(R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"ask"}})");
  auto r = peer.response(3);
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["result"]["isError"], true);
  EXPECT_NE((*r)["result"]["content"][0]["text"].get<std::string>().find("timeout"),
            std::string::npos);
  // The server told the client to stop waiting, tied to the tool call's stream.
  auto cancel = peer.wait_for([](const OutboundMessage& m) {
    return m.json.find("notifications/cancelled") != std::string::npos;
  });
  ASSERT_TRUE(cancel);
  EXPECT_EQ(*cancel->related_request, 3);
  // The elicitation request itself was related to the tool call too.
  auto req = peer.wait_for([](const OutboundMessage& m) {
    return m.json.find("elicitation/create") != std::string::npos;
  });
  ASSERT_TRUE(req);
  EXPECT_EQ(*req->related_request, 3);
  EXPECT_FALSE(req->completes_request);
}

TEST(ElicitTest, CancelWhileWaitingForClient) {
  auto server = Server::create();
  std::atomic<int> code{-1};
  ASSERT_TRUE(server
                  ->add_tool({.name = "ask",
                              .description = "d",
                              .handler = [&](const json&, ToolContext& ctx) -> Result<ToolResult> {
                                auto r = ctx.elicit_form("?", obj_schema(json::object()), 30s);
                                code = r.ok() ? 100 : static_cast<int>(r.error().code);
                                return ToolResult::text("x");
                              }})
                  .ok());
  RawPeer peer(*server);
  peer.init("2025-11-25", {{"elicitation", json::object()}});
  peer.send(R"({"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"ask"}})");
  ASSERT_TRUE(peer.wait_for([](const OutboundMessage& m) {
    return m.json.find("elicitation/create") != std::string::npos;
  }));
  peer.send(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":8}})");
  auto marker = peer.response(8);
  ASSERT_TRUE(marker);
  EXPECT_TRUE(marker->is_null());
  EXPECT_EQ(code.load(), static_cast<int>(Errc::cancelled));
}

TEST(ElicitTest, UrlModeNeedsUrlCapability) {
  auto server = Server::create();
  ASSERT_TRUE(server
                  ->add_tool({.name = "approve",
                              .description = "d",
                              .handler = [](const json&, ToolContext& ctx) -> Result<ToolResult> {
                                auto r = ctx.elicit_url("Approve on the page",
                                                        "https://127.0.0.1/a/1", "el-1", 10s);
                                if (!r) return r.error();
                                return ToolResult::text((*r)["action"].get<std::string>());
                              }})
                  .ok());
  {
    InMemoryClient c(server);
    ASSERT_TRUE(c.initialize("2025-11-25", {{"elicitation", json::object()}}).ok());
    auto r = c.call("tools/call", {{"name", "approve"}});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ((*r)["isError"], true);
    EXPECT_NE((*r)["content"][0]["text"].get<std::string>().find("elicitation.url"),
              std::string::npos);
  }
  InMemoryClient c(server);
  json seen;
  c.on_request("elicitation/create", [&](const json& p) -> Result<json> {
    seen = p;
    return json{{"action", "accept"}};
  });
  ASSERT_TRUE(c.initialize("2025-11-25", {{"elicitation", {{"url", json::object()}}}}).ok());
  auto r = c.call("tools/call", {{"name", "approve"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["content"][0]["text"], "accept");
  EXPECT_EQ(seen["mode"], "url");
  EXPECT_EQ(seen["url"], "https://127.0.0.1/a/1");
  EXPECT_EQ(seen["elicitationId"], "el-1");
}

TEST(SamplingTest, RoundTripAndMissingCapability) {
  auto server = Server::create();
  ASSERT_TRUE(
      server
          ->add_tool(
              {.name = "summarize",
               .description = "d",
               .handler = [](const json&, ToolContext& ctx) -> Result<ToolResult> {
                 auto r = ctx.create_message(
                     {{"messages",
                       {{{"role", "user"}, {"content", {{"type", "text"}, {"text", "sum"}}}}}},
                      {"maxTokens", 10}},
                     10s);
                 if (!r) return r.error();
                 return ToolResult::text("LLM: " + (*r)["content"]["text"].get<std::string>());
               }})
          .ok());
  {
    InMemoryClient c(server);
    ASSERT_TRUE(c.initialize().ok());
    auto r = c.call("tools/call", {{"name", "summarize"}});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ((*r)["isError"], true);
    EXPECT_NE((*r)["content"][0]["text"].get<std::string>().find("sampling"), std::string::npos);
  }
  InMemoryClient c(server);
  c.on_request("sampling/createMessage", [](const json& p) -> Result<json> {
    EXPECT_EQ(p["maxTokens"], 10);
    return json{{"role", "assistant"},
                {"content", {{"type", "text"}, {"text", "short summary"}}},
                {"model", "m"}};
  });
  ASSERT_TRUE(c.initialize("2025-11-25", {{"sampling", json::object()}}).ok());
  auto r = c.call("tools/call", {{"name", "summarize"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["content"][0]["text"], "LLM: short summary");
}

// ---- Resources, prompts, completion -------------------------------------------------------------

class ResourcesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server
                    ->add_resource({.uri = "mem://a",
                                    .name = "a",
                                    .description = "A",
                                    .mime_type = "text/plain",
                                    .handler = [](const std::string& uri, RequestContext&)
                                        -> Result<std::vector<ResourceContents>> {
                                      return std::vector<ResourceContents>{
                                          {.uri = uri, .mime_type = "text/plain", .text = "alpha"}};
                                    }})
                    .ok());
    ASSERT_TRUE(server
                    ->add_resource_template(
                        {.uri_template = "runs://{dag}/{run}/log",
                         .name = "run log",
                         .mime_type = "text/plain",
                         .handler = [](const std::string& uri, const UriVars& v,
                                       RequestContext&) -> Result<std::vector<ResourceContents>> {
                           if (v.at("dag") == "missing")
                             return make_error(Errc::not_found, "no dag");
                           return std::vector<ResourceContents>{
                               {.uri = uri, .text = v.at("dag") + "|" + v.at("run")}};
                         }})
                    .ok());
    ASSERT_TRUE(c.initialize().ok());
  }
  std::shared_ptr<Server> server = Server::create();
  InMemoryClient c{server};
};

TEST_F(ResourcesTest, ListReadAndTemplates) {
  auto l = c.call("resources/list");
  ASSERT_TRUE(l.ok());
  ASSERT_EQ((*l)["resources"].size(), 1u);
  EXPECT_EQ((*l)["resources"][0]["uri"], "mem://a");
  auto t = c.call("resources/templates/list");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ((*t)["resourceTemplates"][0]["uriTemplate"], "runs://{dag}/{run}/log");
  auto r = c.call("resources/read", {{"uri", "mem://a"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["contents"][0]["text"], "alpha");
  auto tr = c.call("resources/read", {{"uri", "runs://etl/run%201/log"}});
  ASSERT_TRUE(tr.ok());
  EXPECT_EQ((*tr)["contents"][0]["text"], "etl|run 1");
}

TEST_F(ResourcesTest, UnknownAndNotFound) {
  EXPECT_FALSE(c.call("resources/read", {{"uri", "mem://zzz"}}).ok());
  EXPECT_EQ(c.last_error_code(), -32002);
  EXPECT_FALSE(c.call("resources/read", {{"uri", "runs://a/b/c/log"}}).ok())
      << "{var} never spans '/'";
  EXPECT_EQ(c.last_error_code(), -32002);
  EXPECT_FALSE(c.call("resources/read", {{"uri", "runs://missing/1/log"}}).ok());
  EXPECT_EQ(c.last_error_code(), -32002);
  EXPECT_FALSE(c.call("resources/read", json::object()).ok());
  EXPECT_EQ(c.last_error_code(), -32602);
}

TEST_F(ResourcesTest, SubscribeUpdatedUnsubscribe) {
  ASSERT_TRUE(c.call("resources/subscribe", {{"uri", "mem://a"}}).ok());
  server->notify_resource_updated("mem://other");
  server->notify_resource_updated("mem://a");
  ASSERT_TRUE(c.wait_notifications("notifications/resources/updated", 1));
  ASSERT_TRUE(c.call("resources/unsubscribe", {{"uri", "mem://a"}}).ok());
  server->notify_resource_updated("mem://a");
  ASSERT_TRUE(c.call("ping").ok());  // anything sent before the ping answer has arrived
  auto notes = c.notifications("notifications/resources/updated");
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0]["params"]["uri"], "mem://a");
}

TEST(PromptsTest, RequiredArgumentsCheckedAndListed) {
  auto server = Server::create();
  ASSERT_TRUE(
      server
          ->add_prompt(
              {.name = "triage",
               .description = "Triage a DAG",
               .arguments = {{"dag_id", "the DAG", true}, {"hint", "", false}},
               .handler = [](const std::map<std::string, std::string>& a,
                             RequestContext&) -> Result<json> {
                 return json{
                     {"messages",
                      {{{"role", "user"},
                        {"content", {{"type", "text"}, {"text", "triage " + a.at("dag_id")}}}}}}};
               }})
          .ok());
  InMemoryClient c(server);
  ASSERT_TRUE(c.initialize().ok());
  auto l = c.call("prompts/list");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ((*l)["prompts"][0]["arguments"][0]["required"], true);
  EXPECT_FALSE(c.call("prompts/get", {{"name", "triage"}}).ok());
  EXPECT_EQ(c.last_error_code(), -32602);
  EXPECT_FALSE(c.call("prompts/get", {{"name", "triage"}, {"arguments", {{"dag_id", 5}}}}).ok());
  EXPECT_EQ(c.last_error_code(), -32602);
  EXPECT_FALSE(c.call("prompts/get", {{"name", "nope"}}).ok());
  EXPECT_EQ(c.last_error_code(), -32602);
  auto r = c.call("prompts/get", {{"name", "triage"}, {"arguments", {{"dag_id", "etl"}}}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["messages"][0]["content"]["text"], "triage etl");
}

TEST(CompletionTest, ValuesCappedAtHundred) {
  auto server = Server::create();
  server->set_completion_handler([](const json& ref, const json& arg, const json&) {
    std::vector<std::string> v;
    for (int i = 0; i < 150; ++i) v.push_back(arg["value"].get<std::string>() + std::to_string(i));
    EXPECT_EQ(ref["type"], "ref/prompt");
    return Result<std::vector<std::string>>(v);
  });
  InMemoryClient c(server);
  ASSERT_TRUE(c.initialize().ok());
  auto r = c.call("completion/complete", {{"ref", {{"type", "ref/prompt"}, {"name", "p"}}},
                                          {"argument", {{"name", "a"}, {"value", "x"}}}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["completion"]["values"].size(), 100u);
  EXPECT_EQ((*r)["completion"]["total"], 150);
  EXPECT_EQ((*r)["completion"]["hasMore"], true);
  EXPECT_FALSE(c.call("completion/complete", {{"ref", {{"type", "ref/prompt"}}}}).ok());
  EXPECT_EQ(c.last_error_code(), -32602);
}

TEST(ShutdownTest, ShutdownClosesSessionsAndRefusesNewOnes) {
  auto server = Server::create();
  RawPeer a(*server);
  a.init();
  server->shutdown();
  const auto n = a.all().size();
  a.send(R"({"jsonrpc":"2.0","id":1,"method":"ping"})");
  EXPECT_EQ(a.all().size(), n);
  RawPeer b(*server);
  b.send(R"({"jsonrpc":"2.0","id":1,"method":"ping"})");
  EXPECT_TRUE(b.all().empty());
}

}  // namespace
}  // namespace dm::mcp
