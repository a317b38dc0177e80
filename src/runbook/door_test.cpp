// The server's door (door.h): every registered tool, resource, resource template and prompt is
// called once, and each call must leave exactly one final audit entry naming it; writes to Airflow
// also leave a "call" entry before they run, and are refused when that entry cannot be written.
#include "runbook/door.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <regex>
#include <sstream>

#include "mcp/memory_transport.h"
#include "runbook/runbook.h"
#include "runbook/testing/fake_airflow.h"
#include "runbook/testing/flaky_store.h"
#include "store/sqlite_store.h"

namespace dm::runbook {
namespace {

using json = nlohmann::json;
constexpr const char* kKey = "door-test-audit-key-0123456789abcdef";

using testing::FlakyStore;

// A value the schema accepts for a required property (the first enum value, the minimum, an id).
json sample(const json& prop) {
  if (prop.contains("enum")) return prop["enum"][0];
  const std::string type = prop.value("type", "string");
  if (type == "integer" || type == "number") return prop.value("minimum", 1);
  if (type == "boolean") return true;
  if (type == "object") return json::object();
  if (type == "array") return json::array({"t1"});
  return "etl";
}

json sample_args(const json& schema) {
  json args = json::object();
  for (const auto& r : schema.value("required", json::array()))
    args[r.get<std::string>()] = sample(schema["properties"][r.get<std::string>()]);
  return args;
}

class Door : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::open_sqlite_store({.path = ":memory:"});
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::make_shared<FlakyStore>(std::shared_ptr<store::Store>(std::move(*s)));
    auto fake = std::make_shared<testing::FakeAirflow>("dev");
    fake->add_run({.dag_id = "etl", .run_id = "etl", .state = "failed"});
    auto provider = std::make_shared<testing::FakeProvider>(
        std::vector<std::shared_ptr<testing::FakeAirflow>>{fake});
    config::Config cfg = provider->config();
    cfg.identity.principal = "alice";
    auto d = make_deps(cfg, {.clients = provider, .store = store_, .audit_key = kKey});
    ASSERT_TRUE(d.ok()) << d.error().message;
    deps_ = *d;
    server_ = mcp::Server::create({.name = "t", .version = "0"});
    ASSERT_TRUE(register_tools(*server_, deps_).ok());
    client_ = std::make_unique<mcp::InMemoryClient>(server_);
    ASSERT_TRUE(client_->initialize().ok());
  }

  std::vector<json> audit() {
    std::ostringstream out;
    auto a = deps_->audit();
    EXPECT_TRUE(a.ok());
    if (!a.ok()) return {};
    EXPECT_TRUE((*a)->export_jsonl(out).ok());
    std::vector<json> rows;
    std::istringstream in(out.str());
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) rows.push_back(json::parse(line)["entry"]);
    return rows;
  }

  std::vector<json> list(const std::string& method, const std::string& key) {
    auto r = client_->call(method);
    EXPECT_TRUE(r.ok()) << method;
    return r.ok() ? (*r)[key].get<std::vector<json>>() : std::vector<json>{};
  }

  std::shared_ptr<FlakyStore> store_;
  std::shared_ptr<Deps> deps_;
  std::shared_ptr<mcp::Server> server_;
  std::unique_ptr<mcp::InMemoryClient> client_;
};

TEST_F(Door, EveryRegisteredToolResourceTemplateAndPromptLeavesOneAuditEntry) {
  // (audit `tool` field, is a write, request)
  struct Probe {
    std::string name;
    bool write;
    std::string method;
    json params;
  };
  std::vector<Probe> probes;
  for (const auto& t : list("tools/list", "tools")) {
    // The writes to Airflow get a "call" entry first; their annotations follow the effect.
    const bool write = t["name"] == "trigger_dag" || t["name"] == "clear_failed_tasks";
    if (write) {
      EXPECT_FALSE(t["annotations"]["readOnlyHint"].get<bool>()) << t["name"];
      EXPECT_TRUE(t["annotations"]["openWorldHint"].get<bool>()) << t["name"];
    }
    probes.push_back({t["name"],
                      write,
                      "tools/call",
                      {{"name", t["name"]}, {"arguments", sample_args(t["inputSchema"])}}});
  }
  for (const auto& r : list("resources/list", "resources"))
    probes.push_back({"resources/read " + r["uri"].get<std::string>(),
                      false,
                      "resources/read",
                      {{"uri", r["uri"]}}});
  for (const auto& t : list("resources/templates/list", "resourceTemplates")) {
    const std::string uri =
        std::regex_replace(t["uriTemplate"].get<std::string>(), std::regex("\\{[^}]+\\}"), "x1");
    probes.push_back({"resources/read " + uri, false, "resources/read", {{"uri", uri}}});
  }
  for (const auto& p : list("prompts/list", "prompts")) {
    json args = json::object();
    for (const auto& a : p.value("arguments", json::array()))
      if (a.value("required", false)) args[a["name"].get<std::string>()] = "etl";
    probes.push_back({"prompts/get " + p["name"].get<std::string>(),
                      false,
                      "prompts/get",
                      {{"name", p["name"]}, {"arguments", args}}});
  }
  ASSERT_GE(probes.size(), 19u + 1u + 2u + 1u);  // the tools, resources, templates and prompt

  int writes = 0;
  for (const auto& p : probes) {
    const std::size_t before = audit().size();
    (void)client_->call(p.method, p.params);  // answered, isError or a JSON-RPC error: all count
    auto rows = audit();
    std::vector<json> mine;
    for (std::size_t i = before; i < rows.size(); ++i)
      if (rows[i].value("tool", "") == p.name) mine.push_back(rows[i]);
    int final_entries = 0, call_entries = 0;
    for (const auto& e : mine) {
      const std::string d = e.value("decision", "");
      final_entries += d == "answered" || d == "error";
      call_entries += d == "call";
      const std::string who = e.value("principal", "");
      EXPECT_TRUE(who.rfind("agent:", 0) == 0 && who.ends_with(" for alice")) << p.name << who;
      EXPECT_EQ(e.value("args_digest", "").rfind("args_sha256:", 0), 0u) << p.name;
    }
    EXPECT_EQ(final_entries, 1) << p.name << ": " << json(mine).dump();
    EXPECT_EQ(call_entries, p.write ? 1 : 0) << p.name << ": " << json(mine).dump();
    writes += p.write;
  }
  EXPECT_EQ(writes, 2);  // trigger_dag, clear_failed_tasks
}

// Every property of an output schema (nested objects and array items included) carries a
// description, and `required` names only declared properties: the schema comes from the tool's
// result declaration (common/json_shape.h), so a field declared without a description shows here.
void expect_described(const json& schema, const std::string& where) {
  if (schema.contains("items")) expect_described(schema["items"], where + "[]");
  if (!schema.contains("properties")) return;
  for (const auto& [name, prop] : schema["properties"].items()) {
    EXPECT_TRUE(prop.contains("description") && !prop["description"].get<std::string>().empty())
        << where << "." << name;
    expect_described(prop, where + "." + name);
  }
  for (const auto& r : schema.value("required", json::array()))
    EXPECT_TRUE(schema["properties"].contains(r.get<std::string>())) << where << " requires " << r;
}

TEST_F(Door, EveryToolDeclaresItsOutputFieldByField) {
  const auto tools = list("tools/list", "tools");
  ASSERT_EQ(tools.size(), 19u);
  for (const auto& t : tools) {
    const std::string name = t["name"];
    ASSERT_TRUE(t.contains("outputSchema")) << name;
    EXPECT_EQ(t["outputSchema"]["type"], "object") << name;
    EXPECT_TRUE(t["outputSchema"]["properties"].contains("truncated")) << name;
    EXPECT_GE(t["outputSchema"]["required"].size(), 3u) << name;
    expect_described(t["outputSchema"], name);
  }
}

TEST_F(Door, AWriteIsRefusedWithNothingRunWhenTheAuditIsDown) {
  store_->fail_audit = true;
  auto r = client_->call(
      "tools/call",
      {{"name", "trigger_dag"}, {"arguments", {{"dag_id", "etl"}, {"approval_id", "a1b2"}}}});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE((*r)["isError"].get<bool>());
  EXPECT_NE((*r)["content"][0]["text"].get<std::string>().find("nothing was run"),
            std::string::npos);
  // A read still answers, and says the audit could not record it.
  auto rd = client_->call("resources/read", {{"uri", "dagmedic://incidents"}});
  EXPECT_TRUE(rd.ok()) << (rd.ok() ? "" : rd.error().message);
  auto lr =
      client_->call("tools/call", {{"name", "get_latest_run"}, {"arguments", {{"dag_id", "etl"}}}});
  ASSERT_TRUE(lr.ok());
  EXPECT_NE(lr->dump().find("could not be recorded in the audit log"), std::string::npos);
  store_->fail_audit = false;
  for (const auto& e : audit()) EXPECT_NE(e.value("tool", ""), "trigger_dag");
}

TEST_F(Door, RefusesToInstallWithoutDeps) {
  auto server = mcp::Server::create({.name = "t", .version = "0"});
  EXPECT_FALSE(register_tools(*server, nullptr).ok());
  EXPECT_FALSE(install_door(*server, nullptr).ok());
}

// A read-only server: the runbook's declared effects decide what it serves. Exactly the tools that
// change something (in dagmedic's store or in Airflow) are withheld; the rest are served.
TEST_F(Door, ReadOnlyServerWithholdsExactlyTheToolsThatChangeSomething) {
  auto ro = mcp::Server::create({.name = "t", .version = "0", .max_effect = mcp::Effect::reads});
  ASSERT_TRUE(register_tools(*ro, deps_).ok());
  auto withheld = ro->withheld_tools();
  std::sort(withheld.begin(), withheld.end());
  EXPECT_EQ(withheld, (std::vector<std::string>{"clear_failed_tasks", "generate_postmortem",
                                                "request_approval", "trigger_dag"}));
  mcp::InMemoryClient c(ro);
  ASSERT_TRUE(c.initialize().ok());
  auto all = client_->call("tools/list");
  auto listed = c.call("tools/list");
  ASSERT_TRUE(all.ok() && listed.ok());
  EXPECT_EQ((*listed)["tools"].size() + withheld.size(), (*all)["tools"].size());
  for (const auto& t : (*listed)["tools"])
    EXPECT_TRUE(t["annotations"]["readOnlyHint"].get<bool>()) << t["name"];
}

}  // namespace
}  // namespace dm::runbook
