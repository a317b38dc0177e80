// Server::use: every call that reaches a handler passes through each middleware, whatever kind it
// is; a middleware can refuse; a tool's declared effect sets its annotations.
#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <vector>

#include "mcp/memory_transport.h"
#include "mcp/server.h"
#include "mcp/test_peer.h"

namespace dm::mcp {
namespace {

using nlohmann::json;

Tool tool_with(std::string name, std::optional<Effect> effect, bool* ran) {
  Tool t{.name = std::move(name),
         .description = "t",
         .input_schema = {{"type", "object"}},
         .handler = [ran](const json&, ToolContext&) -> Result<ToolResult> {
           if (ran) *ran = true;
           return ToolResult::text("done");
         }};
  t.annotations.read_only_hint = true;  // what the effect must override
  t.effect = effect;
  return t;
}

Resource text_resource(std::string uri) {
  return {.uri = std::move(uri),
          .name = "r",
          .handler = [](const std::string& u,
                        RequestContext&) -> Result<std::vector<ResourceContents>> {
            return std::vector<ResourceContents>{{.uri = u, .text = "r"}};
          }};
}

struct Seen {
  std::mutex mu;
  std::vector<std::string> calls;  // "method target effect"
};

TEST(Middleware, SeesEveryKindOfCallAndCanRefuseAWrite) {
  auto server = Server::create();
  bool read_ran = false, write_ran = false;
  ASSERT_TRUE(server->add_tool(tool_with("look", Effect::reads, &read_ran)).ok());
  ASSERT_TRUE(server->add_tool(tool_with("change", Effect::writes_remote, &write_ran)).ok());
  ASSERT_TRUE(server->add_resource(text_resource("x://r")).ok());
  ASSERT_TRUE(server
                  ->add_prompt({.name = "p",
                                .handler = [](const std::map<std::string, std::string>&,
                                              RequestContext&) -> Result<json> {
                                  return json{{"messages", json::array()}};
                                }})
                  .ok());
  auto seen = std::make_shared<Seen>();
  server->use([seen](const Call& c, RequestContext&, const Next& next) {
    {
      std::lock_guard lk(seen->mu);
      seen->calls.push_back(c.method + " " + c.target + " " +
                            (c.effect ? effect_name(*c.effect) : "none"));
    }
    if (c.effect == Effect::writes_remote) return Answer::refuse(c, "refused by the door");
    Answer a = next();
    EXPECT_FALSE(a.failed()) << c.method;
    return a;
  });
  InMemoryClient client(server);
  ASSERT_TRUE(client.initialize().ok());

  auto look = client.call("tools/call", {{"name", "look"}, {"arguments", json::object()}});
  ASSERT_TRUE(look.ok());
  EXPECT_FALSE((*look).value("isError", false));
  auto change = client.call("tools/call", {{"name", "change"}, {"arguments", json::object()}});
  ASSERT_TRUE(change.ok());
  EXPECT_TRUE((*change)["isError"].get<bool>());
  EXPECT_EQ((*change)["content"][0]["text"], "refused by the door");
  EXPECT_TRUE(client.call("resources/read", {{"uri", "x://r"}}).ok());
  EXPECT_TRUE(client.call("prompts/get", {{"name", "p"}}).ok());
  EXPECT_TRUE(read_ran);
  EXPECT_FALSE(write_ran);
  std::lock_guard lk(seen->mu);
  EXPECT_EQ(seen->calls,
            (std::vector<std::string>{"tools/call look reads", "tools/call change writes_remote",
                                      "resources/read x://r reads", "prompts/get p reads"}));
}

TEST(Middleware, RunInOrderOutermostFirstAndARefusedReadIsAJsonRpcError) {
  auto server = Server::create();
  ASSERT_TRUE(server->add_resource(text_resource("x://r")).ok());
  auto order = std::make_shared<std::vector<int>>();
  server->use([order](const Call&, RequestContext&, const Next& next) {
    order->push_back(1);
    return next();
  });
  server->use([order](const Call& c, RequestContext&, const Next&) {
    order->push_back(2);
    return Answer::refuse(c, "no");
  });
  InMemoryClient client(server);
  ASSERT_TRUE(client.initialize().ok());
  auto r = client.call("resources/read", {{"uri", "x://r"}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("no"), std::string::npos);
  EXPECT_EQ(*order, (std::vector<int>{1, 2}));
}

TEST(Middleware, AnnotationsFollowTheDeclaredEffect) {
  auto server = Server::create();
  ASSERT_TRUE(server->add_tool(tool_with("look", Effect::reads, nullptr)).ok());
  ASSERT_TRUE(server->add_tool(tool_with("note", Effect::writes_local, nullptr)).ok());
  ASSERT_TRUE(server->add_tool(tool_with("change", Effect::writes_remote, nullptr)).ok());
  ASSERT_TRUE(server->add_tool(tool_with("plain", std::nullopt, nullptr)).ok());
  InMemoryClient client(server);
  ASSERT_TRUE(client.initialize().ok());
  auto r = client.call("tools/list");
  ASSERT_TRUE(r.ok());
  std::map<std::string, json> ann;
  for (const auto& t : (*r)["tools"]) ann[t["name"]] = t["annotations"];
  EXPECT_EQ(ann["look"]["readOnlyHint"], true);
  EXPECT_EQ(ann["note"]["readOnlyHint"], false);
  EXPECT_EQ(ann["change"]["readOnlyHint"], false);
  EXPECT_EQ(ann["change"]["openWorldHint"], true);
  EXPECT_EQ(ann["plain"]["readOnlyHint"], true);  // no effect declared: as given
}

// A read-only server (max_effect = reads) never registers a tool that may change something, nor one
// that declares no effect: it is neither listed nor callable, and withheld_tools() names it.
TEST(Middleware, MaxEffectWithholdsToolsThatDoMore) {
  ServerOptions o;
  o.max_effect = Effect::reads;
  auto server = Server::create(o);
  bool change_ran = false;
  ASSERT_TRUE(server->add_tool(tool_with("look", Effect::reads, nullptr)).ok());
  ASSERT_TRUE(server->add_tool(tool_with("note", Effect::writes_local, nullptr)).ok());
  ASSERT_TRUE(server->add_tool(tool_with("change", Effect::writes_remote, &change_ran)).ok());
  ASSERT_TRUE(server->add_tool(tool_with("plain", std::nullopt, nullptr)).ok());
  EXPECT_EQ(server->withheld_tools(), (std::vector<std::string>{"note", "change", "plain"}));
  InMemoryClient client(server);
  ASSERT_TRUE(client.initialize().ok());
  auto r = client.call("tools/list");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ((*r)["tools"].size(), 1u);
  EXPECT_EQ((*r)["tools"][0]["name"], "look");
  auto call = client.call("tools/call", {{"name", "change"}, {"arguments", json::object()}});
  ASSERT_FALSE(call.ok());
  EXPECT_NE(call.error().message.find("Unknown tool: change"), std::string::npos);
  EXPECT_FALSE(change_ran);

  ServerOptions local;
  local.max_effect = Effect::writes_local;  // store writes allowed, remote writes not
  auto s2 = Server::create(local);
  ASSERT_TRUE(s2->add_tool(tool_with("note", Effect::writes_local, nullptr)).ok());
  ASSERT_TRUE(s2->add_tool(tool_with("change", Effect::writes_remote, nullptr)).ok());
  EXPECT_EQ(s2->withheld_tools(), (std::vector<std::string>{"change"}));
}

}  // namespace
}  // namespace dm::mcp

namespace dm::mcp {
namespace {

// The tool filter decides per caller what tools/list shows and what tools/call reaches; the
// caller a transport hands to receive() reaches the handler's context.
TEST(ToolFilter, HidesAndRefusesPerCallerAndTheCallerReachesTheHandler) {
  auto server = Server::create();
  bool write_ran = false;
  ASSERT_TRUE(server->add_tool(tool_with("look", Effect::reads, nullptr)).ok());
  ASSERT_TRUE(server->add_tool(tool_with("change", Effect::writes_remote, &write_ran)).ok());
  std::mutex mu;
  std::vector<std::string> seen_principals;
  server->use([&](const Call& c, RequestContext& ctx, const Next& next) {
    std::lock_guard lk(mu);
    seen_principals.push_back(c.target + ":" + (ctx.caller() ? ctx.caller()->principal : "-"));
    EXPECT_NE(c.tool, nullptr);
    if (c.tool) {
      EXPECT_EQ(c.tool->name, c.target);
    }
    return next();
  });
  server->set_tool_filter([](const Tool& t, const Caller* who) {
    if (!who) return true;  // no authorization: everything
    return t.effect == Effect::reads ||
           std::find(who->scopes.begin(), who->scopes.end(), "operate") != who->scopes.end();
  });
  auto reader = std::make_shared<Caller>(Caller{.principal = "rita", .scopes = {"read"}});
  auto op = std::make_shared<Caller>(Caller{.principal = "otto", .scopes = {"operate"}});
  testing::RawPeer peer(*server);
  peer.init();
  auto names = [&](const std::shared_ptr<const Caller>& who, const char* id) {
    peer.session->receive(json{{"jsonrpc", "2.0"}, {"id", id}, {"method", "tools/list"}}.dump(),
                          who);
    auto r = peer.response(id);
    std::vector<std::string> out;
    if (r)
      for (const auto& t : (*r)["result"]["tools"]) out.push_back(t["name"]);
    return out;
  };
  EXPECT_EQ(names(reader, "l1"), (std::vector<std::string>{"look"}));
  EXPECT_EQ(names(op, "l2"), (std::vector<std::string>{"look", "change"}));
  EXPECT_EQ(names(nullptr, "l3"), (std::vector<std::string>{"look", "change"}));

  auto call = [&](const std::shared_ptr<const Caller>& who, const char* id, const char* tool) {
    peer.session->receive(json{{"jsonrpc", "2.0"},
                               {"id", id},
                               {"method", "tools/call"},
                               {"params", {{"name", tool}, {"arguments", json::object()}}}}
                              .dump(),
                          who);
    auto r = peer.response(id);
    return r ? *r : json();
  };
  json refused = call(reader, "c1", "change");
  EXPECT_EQ(refused["error"]["code"], -32602);
  EXPECT_EQ(refused["error"]["message"], "Unknown tool: change");
  EXPECT_FALSE(write_ran);
  json ok = call(op, "c2", "change");
  EXPECT_FALSE(ok.contains("error")) << ok.dump();
  EXPECT_TRUE(write_ran);
  call(reader, "c3", "look");
  std::lock_guard lk(mu);
  EXPECT_EQ(seen_principals, (std::vector<std::string>{"change:otto", "look:rita"}));
}

}  // namespace
}  // namespace dm::mcp
