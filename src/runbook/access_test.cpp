// Access with authorization (access.h): what a token's scopes and environments let a caller list
// and call, who the requester is, and that the human an agent acts for cannot approve its request.
#include "runbook/access.h"

#include <gtest/gtest.h>

#include <sstream>

#include "mcp/test_peer.h"
#include "runbook/runbook.h"
#include "runbook/testing/fake_airflow.h"
#include "store/sqlite_store.h"

namespace dm::runbook {
namespace {

using json = nlohmann::json;
constexpr const char* kKey = "access-test-audit-key-0123456789abcdef";

std::shared_ptr<const mcp::Caller> caller(std::string principal, std::vector<std::string> scopes,
                                          std::vector<std::string> envs) {
  return std::make_shared<mcp::Caller>(mcp::Caller{.issuer = "https://idp.test",
                                                   .subject = "sub-" + principal,
                                                   .principal = std::move(principal),
                                                   .client_id = "dagmedic-cli",
                                                   .scopes = std::move(scopes),
                                                   .environments = std::move(envs)});
}

class Access : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::open_sqlite_store({.path = ":memory:"});
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::shared_ptr<store::Store>(std::move(*s));
    for (const char* env : {"dev", "prod"}) {
      auto f = std::make_shared<testing::FakeAirflow>(env);
      f->add_dag({.dag_id = "etl"});
      f->add_run({.dag_id = "etl", .run_id = "r1", .state = "failed"});
      fakes_.push_back(f);
    }
    auto provider = std::make_shared<testing::FakeProvider>(fakes_);
    config::Config cfg = provider->config();
    cfg.identity.principal = "alice";
    auto d = make_deps(cfg, {.clients = provider, .store = store_, .audit_key = kKey});
    ASSERT_TRUE(d.ok()) << d.error().message;
    deps_ = *d;
    server_ = mcp::Server::create({.name = "t", .version = "0"});
    ASSERT_TRUE(register_tools(*server_, deps_).ok());
    install_access(*server_, scopes_);
    peer_ = std::make_unique<mcp::testing::RawPeer>(*server_);
    peer_->init();
  }

  json send(const std::shared_ptr<const mcp::Caller>& who, const std::string& method, json params) {
    const std::string id = "q" + std::to_string(++n_);
    peer_->session->receive(
        json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}}
            .dump(),
        who);
    auto r = peer_->response(id);
    return r ? *r : json();
  }
  std::vector<std::string> tools(const std::shared_ptr<const mcp::Caller>& who) {
    std::vector<std::string> out;
    json r = send(who, "tools/list", json::object());
    for (const auto& t : r["result"]["tools"]) out.push_back(t["name"]);
    EXPECT_FALSE(r["result"].contains("nextCursor")) << "paged: " << r.dump().substr(0, 200);
    return out;
  }
  json call(const std::shared_ptr<const mcp::Caller>& who, const std::string& tool, json args) {
    return send(who, "tools/call", {{"name", tool}, {"arguments", std::move(args)}});
  }
  json last_audit() {
    std::ostringstream out;
    auto a = deps_->audit();
    EXPECT_TRUE(a.ok());
    if (!a.ok()) return {};
    EXPECT_TRUE((*a)->export_jsonl(out).ok());
    std::string line, last;
    std::istringstream in(out.str());
    while (std::getline(in, line))
      if (!line.empty()) last = line;
    return last.empty() ? json() : json::parse(last)["entry"];
  }

  config::AuthScopes scopes_;
  std::shared_ptr<store::Store> store_;
  std::vector<std::shared_ptr<testing::FakeAirflow>> fakes_;
  std::shared_ptr<Deps> deps_;
  std::shared_ptr<mcp::Server> server_;
  std::unique_ptr<mcp::testing::RawPeer> peer_;
  int n_ = 0;
};

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST_F(Access, AReaderSeesAndCallsOnlyReadTools) {
  auto reader = caller("rita", {"dagmedic:read"}, {"dev", "prod"});
  auto listed = tools(reader);
  EXPECT_TRUE(has(listed, "get_latest_run"));
  EXPECT_TRUE(has(listed, "propose_action"));
  for (const char* write :
       {"request_approval", "trigger_dag", "clear_failed_tasks", "generate_postmortem"})
    EXPECT_FALSE(has(listed, write)) << write;
  json r = call(reader, "trigger_dag", {{"dag_id", "etl"}, {"environment", "dev"}});
  EXPECT_EQ(r["error"]["message"], "Unknown tool: trigger_dag");
  EXPECT_TRUE(fakes_[0]->triggered().empty());
  // An operator sees them all; no caller at all (local mode) too.
  auto op = caller("otto", {"dagmedic:operate", "dagmedic:read"}, {"dev"});
  EXPECT_TRUE(has(tools(op), "trigger_dag"));
  EXPECT_TRUE(has(tools(nullptr), "trigger_dag"));
  // A token with no dagmedic scope at all sees nothing.
  EXPECT_TRUE(tools(caller("nobody", {"openid"}, {"dev"})).empty());
}

TEST_F(Access, AnOperatorActsOnlyInTheirEnvironmentsAndTheRefusalIsAudited) {
  auto op = caller("otto", {"dagmedic:operate", "dagmedic:read"}, {"dev"});
  json r = call(op, "get_latest_run", {{"dag_id", "etl"}, {"environment", "prod"}});
  ASSERT_TRUE(r["result"]["isError"].get<bool>()) << r.dump();
  EXPECT_EQ(r["result"]["content"][0]["text"],
            "get_latest_run refused: otto may not act in environment prod (the token grants: "
            "dev); nothing was run.");
  json e = last_audit();
  EXPECT_EQ(e["principal"], "agent:dagmedic-cli for otto");
  EXPECT_EQ(e["tool"], "get_latest_run");
  EXPECT_EQ(e["decision"], "refused");
  json req = call(op, "request_approval",
                  {{"environment", "prod"},
                   {"action", "trigger_dag"},
                   {"params", {{"dag_id", "etl"}}},
                   {"reason", "rerun"}});
  ASSERT_TRUE(req["result"]["isError"].get<bool>()) << req.dump();
  auto pending = deps_->approvals().value()->list(store::ApprovalState::pending);
  ASSERT_TRUE(pending.ok());
  EXPECT_TRUE(pending->empty());
  json ok = call(op, "get_latest_run", {{"dag_id", "etl"}, {"environment", "dev"}});
  EXPECT_FALSE(ok["result"].value("isError", false)) << ok.dump();
  EXPECT_EQ(last_audit()["decision"], "answered");
}

TEST_F(Access, TheHumanBehindTheAgentIsInTheRequesterSet) {
  auto op = caller("otto", {"dagmedic:operate", "dagmedic:read"}, {"dev"});
  json r = call(op, "request_approval",
                {{"environment", "dev"},
                 {"action", "trigger_dag"},
                 {"params", {{"dag_id", "etl"}}},
                 {"reason", "rerun after fix"}});
  ASSERT_FALSE(r["result"].value("isError", false)) << r.dump();
  const json out = r["result"]["structuredContent"];
  EXPECT_EQ(out["requester"], "agent:dagmedic-cli");
  EXPECT_EQ(out["requester_for"], "otto");
  const std::string id = out["approval_id"];
  auto approvals = deps_->approvals().value();
  auto self = approvals->approve(id, guard::Principal{"otto", false}, "mine");
  ASSERT_FALSE(self.ok());
  EXPECT_EQ(self.error().code, Errc::permission_denied);
  EXPECT_TRUE(approvals->approve(id, guard::Principal{"approver1", false}, "ok").ok());
  // Form elicitation (the human at the client approving) is off with authorization.
  EXPECT_EQ(out["elicitation"], "form:not_with_authorization");
}

TEST(AccessRules, ScopesMapToEffects) {
  config::AuthScopes s;
  auto reader = caller("r", {"dagmedic:read"}, {});
  auto op = caller("o", {"dagmedic:operate"}, {});
  EXPECT_TRUE(may_use(s, *reader, mcp::Effect::reads));
  EXPECT_FALSE(may_use(s, *reader, mcp::Effect::writes_local));
  EXPECT_FALSE(may_use(s, *reader, mcp::Effect::writes_remote));
  EXPECT_FALSE(may_use(s, *reader, std::nullopt));
  EXPECT_TRUE(may_use(s, *op, mcp::Effect::reads));
  EXPECT_TRUE(may_use(s, *op, mcp::Effect::writes_remote));
  EXPECT_EQ(scope_for(s, mcp::Effect::writes_local), "dagmedic:operate");
  EXPECT_EQ(scope_for(s, mcp::Effect::reads), "dagmedic:read");
}

TEST(AccessRules, DefaultEnvironmentCountsWhenTheToolTakesOne) {
  config::Config cfg;
  for (const char* n : {"dev", "prod"}) {
    config::Environment e;
    e.name = n;
    e.url = "http://x";
    cfg.environments.push_back(e);
  }
  cfg.defaults.environment = "prod";
  auto d = make_deps(cfg, {.audit_key = kKey});
  ASSERT_TRUE(d.ok());
  mcp::Tool takes{
      .name = "t",
      .input_schema = {{"type", "object"}, {"properties", {{"environment", json::object()}}}}};
  mcp::Tool plain{.name = "p", .input_schema = {{"type", "object"}}};
  EXPECT_EQ(call_environment(**d, {"tools/call", "t", json::object(), {}, &takes}), "prod");
  EXPECT_EQ(call_environment(**d, {"tools/call", "t", {{"environment", "dev"}}, {}, &takes}),
            "dev");
  EXPECT_EQ(call_environment(**d, {"tools/call", "p", json::object(), {}, &plain}), std::nullopt);
}

}  // namespace
}  // namespace dm::runbook
