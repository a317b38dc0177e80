// Remediate tools end to end over the in-memory MCP client: FakeAirflow, ManualClock, SQLite.
#include "runbook/remediate.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "guard/canonical.h"
#include "mcp/memory_transport.h"
#include "mcp/request_state.h"
#include "runbook/runbook.h"
#include "runbook/testing/fake_airflow.h"
#include "runbook/testing/flaky_store.h"
#include "runbook/testing/modern_client.h"
#include "store/sqlite_store.h"

namespace dm::runbook {
namespace {

using json = nlohmann::json;
using testing::FakeAirflow;

const std::string kKey(40, 'k');

using testing::FlakyStore;

// A FakeAirflow whose trigger runs a hook after Airflow accepted it (crash simulation).
class HookedAirflow final : public airflow::AirflowClient {
 public:
  explicit HookedAirflow(std::shared_ptr<FakeAirflow> f) : f_(std::move(f)) {}
  std::function<void()> after_trigger;
  const std::string& environment() const override { return f_->environment(); }
  Result<airflow::Dialect> api_dialect() override { return f_->api_dialect(); }
  Result<airflow::ServerInfo> server_info() override { return f_->server_info(); }
  Status check_auth() override { return f_->check_auth(); }
  Result<std::vector<airflow::DagRun>> list_dag_runs(const airflow::RunQuery& q) override {
    return f_->list_dag_runs(q);
  }
  Result<airflow::DagRun> get_dag_run(const std::string& d, const std::string& r) override {
    return f_->get_dag_run(d, r);
  }
  Result<std::optional<airflow::DagRun>> latest_run(const std::string& d) override {
    return f_->latest_run(d);
  }
  Result<std::vector<airflow::TaskInstance>> list_task_instances(
      const std::string& d, const std::string& r, const std::vector<std::string>& s) override {
    return f_->list_task_instances(d, r, s);
  }
  Status read_task_log(const airflow::LogRequest& q, const airflow::LogSink& s,
                       airflow::LogStats* st) override {
    return f_->read_task_log(q, s, st);
  }
  Result<airflow::Dag> get_dag(const std::string& d) override { return f_->get_dag(d); }
  Result<std::vector<airflow::TaskInstance>> list_task_instances_in(
      const std::vector<std::string>& s) override {
    return f_->list_task_instances_in(s);
  }
  Result<std::vector<airflow::TaskInstance>> recent_successes(const std::string& d,
                                                              const std::string& t,
                                                              Clock::time_point since,
                                                              std::size_t limit) override {
    return f_->recent_successes(d, t, since, limit);
  }
  Result<std::vector<airflow::Dag>> list_dags(const airflow::DagQuery& q) override {
    return f_->list_dags(q);
  }
  Result<std::vector<airflow::ImportError>> list_import_errors() override {
    return f_->list_import_errors();
  }
  Result<airflow::DagRun> trigger_dag_run(const airflow::TriggerRequest& r) override {
    auto out = f_->trigger_dag_run(r);
    if (out && after_trigger) after_trigger();
    return out;
  }
  Result<std::vector<airflow::ClearedTask>> clear_task_instances(
      const airflow::ClearRequest& r) override {
    return f_->clear_task_instances(r);
  }

 private:
  std::shared_ptr<FakeAirflow> f_;
};

class Provider final : public ClientProvider {
 public:
  void add(std::string name, config::Tier tier, std::shared_ptr<airflow::AirflowClient> c) {
    config::Environment e;
    e.name = name;
    e.tier = tier;
    e.url = "http://fake.invalid";
    cfg_.environments.push_back(e);
    clients_[name] = std::move(c);
  }
  Result<Target> get(std::string_view name) override {
    auto env = cfg_.pick(name);
    if (!env) return env.error();
    return Target{*env, clients_.at((*env)->name)};
  }

 private:
  config::Config cfg_;
  std::map<std::string, std::shared_ptr<airflow::AirflowClient>> clients_;
};

class TempFile {
 public:
  TempFile() {
    char tmpl[] = "/tmp/dm-remediate-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  ~TempFile() { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& n = "store.db") const { return dir_ + "/" + n; }

 private:
  std::string dir_;
};

class Remediate : public ::testing::Test {
 protected:
  void SetUp() override {
    dev_ = std::make_shared<FakeAirflow>("dev");
    prod_ = std::make_shared<FakeAirflow>("prod");
    for (auto& f : {dev_, prod_}) {
      f->add_dag({.dag_id = "etl"});
      f->add_dag({.dag_id = "other"});
      f->add_run({.dag_id = "etl",
                  .run_id = "manual__1",
                  .state = "failed",
                  .run_after = "2026-01-01T00:00:00Z"});
      f->add_task(
          {.dag_id = "etl", .run_id = "manual__1", .task_id = "extract", .state = "success"});
      f->add_task({.dag_id = "etl", .run_id = "manual__1", .task_id = "load", .state = "failed"});
      f->add_task({.dag_id = "etl",
                   .run_id = "manual__1",
                   .task_id = "publish",
                   .state = "upstream_failed"});
    }
    hooked_ = std::make_shared<HookedAirflow>(dev_);
    provider_ = std::make_shared<Provider>();
    provider_->add("dev", config::Tier::dev, hooked_);
    provider_->add("prod", config::Tier::prod, prod_);
    clock_ = std::make_shared<ManualClock>(Clock::time_point(std::chrono::hours(24 * 20000)));
    cfg_.identity.principal = "alice";
    cfg_.policy.dags.push_back(
        {"etl",
         R"({"type":"object","properties":{"date":{"type":"string","maxLength":64},"note":{"type":"string"}}})",
         0});
    cfg_.policy.allow_dags["prod"] = {"etl"};
  }

  void start(json caps = json::object(), std::shared_ptr<store::Store> st = nullptr) {
    if (!st) {
      auto s = store::open_sqlite_store({.path = tmp_.path()});
      ASSERT_TRUE(s.ok()) << s.error().message;
      flaky_ = std::make_shared<FlakyStore>(std::shared_ptr<store::Store>(std::move(*s)));
      st = flaky_;
    }
    auto d =
        make_deps(cfg_, {.clock = clock_, .clients = provider_, .store = st, .audit_key = kKey});
    ASSERT_TRUE(d.ok()) << d.error().message;
    deps_ = *d;
    mcp::ServerOptions o{.name = "t", .version = "0"};
    o.state_claims = request_state_claims(deps_);
    server_ = mcp::Server::create(std::move(o));
    ASSERT_TRUE(register_tools(*server_, deps_).ok());
    client_ = std::make_unique<mcp::InMemoryClient>(server_);
    if (on_elicit_) client_->on_request("elicitation/create", on_elicit_);
    ASSERT_TRUE(client_->initialize("2025-11-25", caps).ok());
  }

  // A 2026-07-28 tools/call (stateless, no initialize) from a client named `agent` that declares
  // `caps`; `more` adds inputResponses / requestState. Returns the whole response message.
  json modern(const std::string& tool, json args, json caps, json more = json::object(),
              const std::string& agent = "claude") {
    mcp::InMemoryClient c(server_);
    json params = {{"name", tool}, {"arguments", std::move(args)}};
    params.update(more);
    json r = testing::modern_request(c, "tools/call", std::move(params), std::move(caps), agent);
    EXPECT_FALSE(r.is_null());
    return r;
  }

  json call(const std::string& tool, json args) {
    auto r = client_->call("tools/call", {{"name", tool}, {"arguments", args}});
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : json{};
  }
  static std::string text(const json& r) {
    std::string s;
    for (const auto& c : r.value("content", json::array())) s += c.value("text", "") + "\n";
    return s;
  }
  std::shared_ptr<guard::Approvals> approvals() {
    auto a = deps_->approvals();
    EXPECT_TRUE(a.ok());
    return *a;
  }
  std::string request(const std::string& env, json params,
                      const std::string& action = "trigger_dag") {
    json r = call("request_approval", {{"action", action},
                                       {"params", params},
                                       {"reason", "rerun after fix"},
                                       {"environment", env}});
    EXPECT_FALSE(r.value("isError", false)) << r.dump();
    return r["structuredContent"].value("approval_id", "");
  }
  void approve(const std::string& id, const std::string& who) {
    auto a = approvals()->approve(id, {who, false}, "looks right");
    ASSERT_TRUE(a.ok()) << a.error().message;
  }
  void expect_audit_ok() {
    auto a = deps_->audit();
    ASSERT_TRUE(a.ok());
    auto v = (*a)->verify();
    ASSERT_TRUE(v.ok());
    EXPECT_TRUE(v->ok) << v->reason;
    EXPECT_GT(v->entries, 0);
  }
  std::string audit_export() {
    std::ostringstream ss;
    EXPECT_TRUE((*deps_->audit())->export_jsonl(ss).ok());
    return ss.str();
  }

  TempFile tmp_;
  std::shared_ptr<FakeAirflow> dev_, prod_;
  std::shared_ptr<HookedAirflow> hooked_;
  std::shared_ptr<Provider> provider_;
  std::shared_ptr<ManualClock> clock_;
  std::shared_ptr<FlakyStore> flaky_;
  config::Config cfg_;
  std::shared_ptr<Deps> deps_;
  std::shared_ptr<mcp::Server> server_;
  std::unique_ptr<mcp::InMemoryClient> client_;
  mcp::InMemoryClient::RequestHandler on_elicit_;
  std::string ro_id_;
};

TEST_F(Remediate, ToolsListedWithAnnotationsEvenWithoutConfig) {
  auto d = make_deps(config::Config{});
  ASSERT_TRUE(d.ok()) << d.error().message;
  auto server = mcp::Server::create({.name = "t", .version = "0"});
  ASSERT_TRUE(register_tools(*server, *d).ok());
  mcp::InMemoryClient c(server);
  ASSERT_TRUE(c.initialize().ok());
  auto r = c.call("tools/list");
  ASSERT_TRUE(r.ok());
  std::map<std::string, json> tools;
  for (const auto& t : (*r)["tools"]) tools[t["name"]] = t;
  ASSERT_EQ(tools.count("propose_action"), 1u);
  EXPECT_EQ(tools["propose_action"]["annotations"]["readOnlyHint"], true);
  EXPECT_EQ(tools["request_approval"]["annotations"]["readOnlyHint"], false);
  EXPECT_EQ(tools["request_approval"]["annotations"]["destructiveHint"], false);
  EXPECT_EQ(tools["trigger_dag"]["annotations"]["destructiveHint"], true);
  EXPECT_EQ(tools["clear_failed_tasks"]["annotations"]["destructiveHint"], true);
  for (const auto& n : {"propose_action", "request_approval", "trigger_dag", "clear_failed_tasks"})
    EXPECT_TRUE(tools[n].contains("outputSchema")) << n;
}

TEST_F(Remediate, HappyPathRequestApproveTriggerAudit) {
  start();
  json conf = {{"date", "2026-01-02"}};
  json r = call("request_approval", {{"action", "trigger_dag"},
                                     {"params", {{"dag_id", "etl"}, {"conf", conf}}},
                                     {"reason", "data fixed upstream"},
                                     {"environment", "dev"}});
  ASSERT_FALSE(r.value("isError", false)) << r.dump();
  const json& s = r["structuredContent"];
  const std::string id = s["approval_id"];
  EXPECT_EQ(s["state"], "pending");
  EXPECT_EQ(s["required_approvals"], 1);
  EXPECT_EQ(s["params_hash"].get<std::string>().size(), 64u);
  EXPECT_NE(s["how_to_approve"].get<std::string>().find("dagmedic approvals approve " + id),
            std::string::npos);
  EXPECT_EQ(s["requester"], "agent:dm-inmemory-client");
  EXPECT_TRUE(dev_->triggered().empty());  // requesting runs nothing

  approve(id, "bob");
  json t = call("trigger_dag",
                {{"dag_id", "etl"}, {"conf", conf}, {"approval_id", id}, {"environment", "dev"}});
  ASSERT_FALSE(t.value("isError", false)) << t.dump();
  EXPECT_EQ(t["structuredContent"]["status"], "triggered");
  EXPECT_EQ(t["structuredContent"]["run_id"], "dagmedic__" + id);
  ASSERT_EQ(dev_->triggered().size(), 1u);
  EXPECT_EQ(dev_->triggered()[0].conf, conf);
  EXPECT_EQ(dev_->triggered()[0].dag_run_id, "dagmedic__" + id);
  auto run = dev_->get_dag_run("etl", "dagmedic__" + id);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->conf, conf);
  expect_audit_ok();
  const std::string log = audit_export();
  EXPECT_NE(log.find(R"("phase":"begin")"), std::string::npos) << log;
  EXPECT_NE(log.find(R"("phase":"complete")"), std::string::npos);
  EXPECT_NE(log.find("agent:dm-inmemory-client for alice"), std::string::npos);
}

TEST_F(Remediate, ProdNeedsTwoDistinctHumans) {
  start();
  std::string id = request("prod", {{"dag_id", "etl"}});
  approve(id, "bob");
  json early =
      call("trigger_dag", {{"dag_id", "etl"}, {"approval_id", id}, {"environment", "prod"}});
  EXPECT_EQ(early.value("isError", false), true);
  EXPECT_NE(text(early).find("pending"), std::string::npos) << text(early);
  EXPECT_FALSE(approvals()->approve(id, {"Bob", false}, "again").ok());  // counts once
  approve(id, "carol");
  json t = call("trigger_dag", {{"dag_id", "etl"}, {"approval_id", id}, {"environment", "prod"}});
  ASSERT_FALSE(t.value("isError", false)) << t.dump();
  EXPECT_EQ(prod_->triggered().size(), 1u);
  expect_audit_ok();
}

TEST_F(Remediate, SelfAndAgentApprovalRefused) {
  start();
  std::string id = request("dev", {{"dag_id", "etl"}});
  auto self = approvals()->approve(id, {"agent:dm-inmemory-client", false}, "me");
  ASSERT_FALSE(self.ok());
  EXPECT_EQ(self.error().code, Errc::permission_denied);
  auto agent = approvals()->approve(id, {"agent:other", true}, "bot");
  ASSERT_FALSE(agent.ok());
  EXPECT_EQ(agent.error().code, Errc::permission_denied);
  json t = call("trigger_dag", {{"dag_id", "etl"}, {"approval_id", id}, {"environment", "dev"}});
  EXPECT_EQ(t.value("isError", false), true);
  EXPECT_EQ(dev_->calls("trigger_dag_run"), 0);
  expect_audit_ok();
  const std::string log = audit_export();
  EXPECT_NE(log.find("refused"), std::string::npos);
  // The refused consume names who tried to run the write.
  bool named = false;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    json e = json::parse(line, nullptr, false);
    if (e.is_object() && e["entry"].value("tool", "") == "consume_approval" &&
        e["entry"].value("decision", "") == "refused")
      named = e["entry"].value("principal", "") == "agent:dm-inmemory-client";
  }
  EXPECT_TRUE(named) << log;
}

TEST_F(Remediate, ReplayOfAUsedApprovalIsRefused) {
  start();
  std::string id = request("dev", {{"dag_id", "etl"}});
  approve(id, "bob");
  json args = {{"dag_id", "etl"}, {"approval_id", id}, {"environment", "dev"}};
  ASSERT_FALSE(call("trigger_dag", args).value("isError", false));
  json again = call("trigger_dag", args);
  EXPECT_EQ(again.value("isError", false), true);
  EXPECT_NE(text(again).find("already used"), std::string::npos) << text(again);
  EXPECT_EQ(dev_->triggered().size(), 1u);
  expect_audit_ok();
}

TEST_F(Remediate, ChangedParametersAfterApprovalAreRefused) {
  start();
  std::string id = request("dev", {{"dag_id", "etl"}, {"conf", {{"date", "2026-01-01"}}}});
  approve(id, "bob");
  auto refused = [&](json args) {
    args["approval_id"] = id;
    json r = call("trigger_dag", args);
    EXPECT_EQ(r.value("isError", false), true) << args.dump();
    return text(r);
  };
  EXPECT_NE(refused({{"dag_id", "etl"}, {"conf", {{"date", "2026-12-31"}}}, {"environment", "dev"}})
                .find("parameters changed"),
            std::string::npos);
  EXPECT_NE(refused({{"dag_id", "other"}, {"environment", "dev"}}).find("parameters changed"),
            std::string::npos);
  // Cross-environment: a dev approval does not run in prod.
  EXPECT_NE(
      refused({{"dag_id", "etl"}, {"conf", {{"date", "2026-01-01"}}}, {"environment", "prod"}})
          .find("parameters changed"),
      std::string::npos);
  EXPECT_EQ(dev_->calls("trigger_dag_run") + prod_->calls("trigger_dag_run"), 0);
  // The unchanged parameters still work afterwards (refusals did not use it up).
  json ok = call("trigger_dag", {{"dag_id", "etl"},
                                 {"conf", {{"date", "2026-01-01"}}},
                                 {"approval_id", id},
                                 {"environment", "dev"}});
  EXPECT_FALSE(ok.value("isError", false)) << ok.dump();
  expect_audit_ok();
}

TEST_F(Remediate, ClearBindsTheFailedTasksAndRunId) {
  start();
  json r = call("request_approval", {{"action", "clear_failed_tasks"},
                                     {"params", {{"dag_id", "etl"}, {"run_id", "manual__1"}}},
                                     {"reason", "network blip"},
                                     {"environment", "dev"}});
  ASSERT_FALSE(r.value("isError", false)) << r.dump();
  EXPECT_EQ(r["structuredContent"]["task_ids"], json::array({"load", "publish"}));
  std::string id = r["structuredContent"]["approval_id"];
  approve(id, "bob");
  json other = call(
      "clear_failed_tasks",
      {{"dag_id", "etl"}, {"run_id", "manual__2"}, {"approval_id", id}, {"environment", "dev"}});
  EXPECT_EQ(other.value("isError", false), true);
  EXPECT_TRUE(dev_->cleared().empty());
  json c = call(
      "clear_failed_tasks",
      {{"dag_id", "etl"}, {"run_id", "manual__1"}, {"approval_id", id}, {"environment", "dev"}});
  ASSERT_FALSE(c.value("isError", false)) << c.dump();
  ASSERT_EQ(dev_->cleared().size(), 1u);
  const auto cleared = dev_->cleared();
  const auto& req = cleared[0];
  EXPECT_FALSE(req.dry_run);
  EXPECT_TRUE(req.only_failed);
  EXPECT_EQ(req.task_ids, (std::vector<std::string>{"load", "publish"}));
  EXPECT_EQ(c["structuredContent"]["cleared"].size(), 2u);
  expect_audit_ok();
}

TEST_F(Remediate, ExpiredAndDeniedApprovalsDoNotRun) {
  start();
  json r = call("request_approval", {{"action", "trigger_dag"},
                                     {"params", {{"dag_id", "etl"}}},
                                     {"reason", "x"},
                                     {"ttl_minutes", 1},
                                     {"environment", "dev"}});
  std::string expiring = r["structuredContent"]["approval_id"];
  approve(expiring, "bob");
  clock_->advance(std::chrono::minutes(2));
  json t =
      call("trigger_dag", {{"dag_id", "etl"}, {"approval_id", expiring}, {"environment", "dev"}});
  EXPECT_EQ(t.value("isError", false), true);
  EXPECT_NE(text(t).find("expired"), std::string::npos) << text(t);

  std::string denied = request("dev", {{"dag_id", "etl"}});
  ASSERT_TRUE(approvals()->deny(denied, {"bob", false}, "not now").ok());
  EXPECT_FALSE(approvals()->approve(denied, {"carol", false}, "late").ok());
  json d =
      call("trigger_dag", {{"dag_id", "etl"}, {"approval_id", denied}, {"environment", "dev"}});
  EXPECT_EQ(d.value("isError", false), true);
  EXPECT_NE(text(d).find("denied"), std::string::npos) << text(d);
  EXPECT_EQ(dev_->calls("trigger_dag_run"), 0);
  expect_audit_ok();
}

TEST_F(Remediate, PolicyRefusalsNameTheRule) {
  start();
  auto refused = [&](json params, const std::string& env) {
    json r = call(
        "request_approval",
        {{"action", "trigger_dag"}, {"params", params}, {"reason", "x"}, {"environment", env}});
    EXPECT_EQ(r.value("isError", false), true) << params.dump();
    return text(r);
  };
  EXPECT_NE(refused({{"dag_id", "other"}}, "prod").find("policy.allow_dags.prod"),
            std::string::npos);
  EXPECT_NE(refused({{"dag_id", "etl"}, {"conf", {{"date", 5}}}}, "dev").find("policy.dags[0]"),
            std::string::npos);
  EXPECT_NE(
      refused({{"dag_id", "etl"}, {"conf", {{"unknown_key", "x"}}}}, "dev").find("policy.dags[0]"),
      std::string::npos);
  EXPECT_NE(refused({{"dag_id", "other"}, {"conf", {{"a", 1}}}}, "dev").find("no conf schema"),
            std::string::npos);
  EXPECT_NE(refused({{"dag_id", "etl"}, {"conf", {{"note", std::string(5000, 'x')}}}}, "dev")
                .find("4096-byte limit"),
            std::string::npos);
  // Ids with shell/path tricks never pass.
  EXPECT_EQ(call("trigger_dag", {{"dag_id", "etl;rm -rf /"}, {"environment", "dev"}})
                .value("isError", false),
            true);
  EXPECT_EQ(
      call("trigger_dag", {{"dag_id", "..etl"}, {"environment", "dev"}}).value("isError", false),
      true);
  EXPECT_EQ(call("clear_failed_tasks",
                 {{"dag_id", "etl"}, {"run_id", "../../etc/passwd"}, {"environment", "dev"}})
                .value("isError", false),
            true);
  EXPECT_EQ(
      call("clear_failed_tasks", {{"dag_id", "etl"}, {"run_id", "..x"}, {"environment", "dev"}})
          .value("isError", false),
      true);
  EXPECT_EQ(dev_->calls("trigger_dag_run") + prod_->calls("trigger_dag_run"), 0);
  EXPECT_TRUE(dev_->cleared().empty());
  expect_audit_ok();
}

TEST_F(Remediate, InjectionInConfStringsIsCarriedAsInertData) {
  start();
  json conf = {{"note", "$(rm -rf /); `id` && echo \"}{\\\" ../../etc/passwd '; DROP TABLE x;--"}};
  std::string id = request("dev", {{"dag_id", "etl"}, {"conf", conf}});
  approve(id, "bob");
  json t = call("trigger_dag",
                {{"dag_id", "etl"}, {"conf", conf}, {"approval_id", id}, {"environment", "dev"}});
  ASSERT_FALSE(t.value("isError", false)) << t.dump();
  ASSERT_EQ(dev_->triggered().size(), 1u);
  EXPECT_EQ(dev_->triggered()[0].conf, conf);  // byte for byte, nothing interpreted
  expect_audit_ok();
}

TEST_F(Remediate, CrashBetweenTriggerAndAuditCompleteRetryGets409NoSecondRun) {
  start();
  std::string id = request("dev", {{"dag_id", "etl"}});
  approve(id, "bob");
  hooked_->after_trigger = [this] { flaky_->fail_audit = true; };
  json args = {{"dag_id", "etl"}, {"approval_id", id}, {"environment", "dev"}};
  json first = call("trigger_dag", args);
  EXPECT_EQ(first.value("isError", false), true);
  EXPECT_NE(text(first).find("could not be audited"), std::string::npos) << text(first);
  EXPECT_EQ(dev_->triggered().size(), 1u);
  hooked_->after_trigger = nullptr;
  flaky_->fail_audit = false;
  json retry = call("trigger_dag", args);
  ASSERT_FALSE(retry.value("isError", false)) << retry.dump();
  EXPECT_EQ(retry["structuredContent"]["status"], "already_done");
  EXPECT_EQ(retry["structuredContent"]["run_id"], "dagmedic__" + id);
  EXPECT_EQ(dev_->triggered().size(), 1u);  // no second run
  EXPECT_EQ(dev_->calls("trigger_dag_run"), 2);
  // Once the outcome is recorded, a further use is a replay.
  json replay = call("trigger_dag", args);
  EXPECT_EQ(replay.value("isError", false), true);
  EXPECT_EQ(dev_->calls("trigger_dag_run"), 2);
  expect_audit_ok();
  EXPECT_NE(audit_export().find("already done"), std::string::npos);
}

TEST_F(Remediate, UnwritableAuditStoreRunsNoWriteButReadsAnswer) {
  {
    start();
    std::string id = request("dev", {{"dag_id", "etl"}});
    approve(id, "bob");
    client_.reset();
    server_->shutdown();
    ro_id_ = id;
  }
  auto ro = store::open_sqlite_store({.path = tmp_.path(), .read_only = true});
  ASSERT_TRUE(ro.ok()) << ro.error().message;
  start(json::object(), std::shared_ptr<store::Store>(std::move(*ro)));
  json t =
      call("trigger_dag", {{"dag_id", "etl"}, {"approval_id", ro_id_}, {"environment", "dev"}});
  EXPECT_EQ(t.value("isError", false), true);
  EXPECT_NE(text(t).find("audit"), std::string::npos) << text(t);
  EXPECT_EQ(dev_->calls("trigger_dag_run"), 0);
  EXPECT_TRUE(dev_->triggered().empty());
  json p =
      call("propose_action", {{"signature", "abc123"}, {"context", {{"category", "network"}}}});
  EXPECT_FALSE(p.value("isError", false)) << p.dump();
  EXPECT_NE(text(p).find("could not be recorded in the audit log"), std::string::npos) << text(p);
  expect_audit_ok();
}

TEST_F(Remediate, DevPolicyMayAllowWritesWithoutApproval) {
  cfg_.policy.tiers["dev"].allow_without_approval = true;
  start();
  json t = call("trigger_dag", {{"dag_id", "etl"}, {"environment", "dev"}});
  ASSERT_FALSE(t.value("isError", false)) << t.dump();
  EXPECT_EQ(t["structuredContent"]["decision"], "allowed_by_policy");
  EXPECT_EQ(dev_->triggered().size(), 1u);
  // Never in prod.
  json p = call("trigger_dag", {{"dag_id", "etl"}, {"environment", "prod"}});
  EXPECT_EQ(p.value("isError", false), true);
  EXPECT_EQ(prod_->calls("trigger_dag_run"), 0);
  expect_audit_ok();
  EXPECT_NE(audit_export().find("allowed_by_policy"), std::string::npos);
}

TEST_F(Remediate, WithoutApprovalOrElicitationTheWriteIsRefused) {
  start();
  json t = call("trigger_dag", {{"dag_id", "etl"}, {"environment", "dev"}});
  EXPECT_EQ(t.value("isError", false), true);
  EXPECT_NE(text(t).find("needs an approval"), std::string::npos) << text(t);
  EXPECT_EQ(dev_->calls("trigger_dag_run"), 0);
}

TEST_F(Remediate, FormElicitationInDevRecordsTheOperatorAsApprover) {
  std::string shown;
  on_elicit_ = [&shown](const json& params) -> Result<json> {
    shown = params.value("message", "");
    return json{{"action", "accept"}, {"content", {{"approve", true}, {"reason", "ok by me"}}}};
  };
  start({{"elicitation", json::object()}});
  json t = call("trigger_dag",
                {{"dag_id", "etl"}, {"conf", {{"date", "2026-05-05"}}}, {"environment", "dev"}});
  ASSERT_FALSE(t.value("isError", false)) << t.dump();
  EXPECT_NE(shown.find("2026-05-05"), std::string::npos) << shown;
  EXPECT_NE(shown.find("etl"), std::string::npos);
  std::string id = t["structuredContent"]["approval_id"];
  auto rec = approvals()->get(id);
  ASSERT_TRUE(rec.ok());
  ASSERT_EQ(rec->decisions.size(), 1u);
  EXPECT_EQ(rec->decisions[0].principal, "alice");
  EXPECT_EQ(rec->state, store::ApprovalState::consumed);
  EXPECT_EQ(dev_->triggered().size(), 1u);
  // A declined form denies; nothing runs.
  on_elicit_ = nullptr;
  expect_audit_ok();
}

TEST_F(Remediate, DeclinedFormElicitationRunsNothing) {
  on_elicit_ = [](const json&) -> Result<json> { return json{{"action", "decline"}}; };
  start({{"elicitation", json::object()}});
  json t = call("trigger_dag", {{"dag_id", "etl"}, {"environment", "dev"}});
  EXPECT_EQ(t.value("isError", false), true);
  EXPECT_NE(text(t).find("denied"), std::string::npos) << text(t);
  EXPECT_EQ(dev_->calls("trigger_dag_run"), 0);
}

// ---- MCP 2026-07-28: approvals through input_required (MRTR) ----

const json kForm = {{"elicitation", {{"form", json::object()}}}};
const json kUrl = {{"elicitation", {{"url", json::object()}}}};

json accept_form() {
  return {{"action", "accept"}, {"content", {{"approve", true}, {"reason", "checked"}}}};
}

TEST_F(Remediate, Mrtr2026FormApprovalAsksThenTheRetryApprovesAndTriggersOnce) {
  start();
  const json args = {{"dag_id", "etl"}, {"conf", {{"date", "2026-05-05"}}}, {"environment", "dev"}};
  json first = modern("trigger_dag", args, kForm);
  const json& r1 = first["result"];
  ASSERT_EQ(r1.value("resultType", ""), "input_required") << first.dump();
  const json& ask = r1["inputRequests"]["approval"];
  EXPECT_EQ(ask["method"], "elicitation/create");
  EXPECT_EQ(ask["params"]["mode"], "form");
  EXPECT_NE(ask["params"]["message"].get<std::string>().find("2026-05-05"), std::string::npos);
  ASSERT_TRUE(r1["requestState"].is_string());
  EXPECT_EQ(dev_->calls("trigger_dag_run"), 0);  // nothing ran on the first round
  const json retry = {{"inputResponses", {{"approval", accept_form()}}},
                      {"requestState", r1["requestState"]}};
  json second = modern("trigger_dag", args, kForm, retry);
  const json& r2 = second["result"];
  ASSERT_FALSE(r2.value("isError", false)) << second.dump();
  EXPECT_EQ(r2["resultType"], "complete");
  EXPECT_EQ(r2["structuredContent"]["status"], "triggered");
  const std::string id = r2["structuredContent"]["approval_id"];
  auto rec = approvals()->get(id);
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->state, store::ApprovalState::consumed);
  ASSERT_EQ(rec->decisions.size(), 1u);
  EXPECT_EQ(rec->decisions[0].principal, "alice");
  EXPECT_EQ(dev_->triggered().size(), 1u);
  // The same retry again (a replay within the state's lifetime) starts nothing new: the approval
  // was used, and the run id it fixed already exists.
  json replay = modern("trigger_dag", args, kForm, retry);
  EXPECT_EQ(dev_->triggered().size(), 1u) << replay.dump();
  EXPECT_EQ(approvals()->get(id)->state, store::ApprovalState::consumed);
  expect_audit_ok();
  EXPECT_NE(audit_export().find("input_required"), std::string::npos);
}

TEST_F(Remediate, Mrtr2026ADeclinedFormDeniesAndRunsNothing) {
  start();
  const json args = {{"dag_id", "etl"}, {"environment", "dev"}};
  json first = modern("trigger_dag", args, kForm);
  ASSERT_EQ(first["result"].value("resultType", ""), "input_required") << first.dump();
  json second = modern("trigger_dag", args, kForm,
                       {{"inputResponses", {{"approval", {{"action", "decline"}}}}},
                        {"requestState", first["result"]["requestState"]}});
  EXPECT_TRUE(second["result"].value("isError", false)) << second.dump();
  EXPECT_NE(text(second["result"]).find("denied"), std::string::npos) << second.dump();
  EXPECT_EQ(dev_->calls("trigger_dag_run"), 0);
}

TEST_F(Remediate, Mrtr2026StatesForOtherArgumentsToolsOrRequestersAreRefused) {
  start();
  const json args = {{"dag_id", "etl"}, {"conf", {{"date", "2026-05-05"}}}, {"environment", "dev"}};
  json first = modern("trigger_dag", args, kForm);
  const std::string state = first["result"].value("requestState", "");
  ASSERT_FALSE(state.empty()) << first.dump();
  auto retry = [&](const std::string& st) {
    return json{{"inputResponses", {{"approval", accept_form()}}}, {"requestState", st}};
  };
  auto refused = [](const json& r) {
    return r.contains("error") && r["error"].value("code", 0) == -32602;
  };
  // Other arguments (the conf an approver would see differs), another tool, another agent.
  json other_conf = args;
  other_conf["conf"]["date"] = "2030-01-01";
  EXPECT_TRUE(refused(modern("trigger_dag", other_conf, kForm, retry(state))));
  EXPECT_TRUE(refused(modern("request_approval",
                             {{"action", "trigger_dag"},
                              {"params", {{"dag_id", "etl"}, {"conf", {{"date", "2026-05-05"}}}}},
                              {"reason", "r"},
                              {"environment", "dev"}},
                             kForm, retry(state))));
  EXPECT_TRUE(refused(modern("trigger_dag", args, kForm, retry(state), "another-agent")));
  // A changed byte, or a state from another server key.
  std::string tampered = state;
  tampered[tampered.size() / 3] = tampered[tampered.size() / 3] == 'A' ? 'B' : 'A';
  EXPECT_TRUE(refused(modern("trigger_dag", args, kForm, retry(tampered))));
  auto other_key = mcp::RequestStateSealer::create(std::string(32, 'z'));
  ASSERT_TRUE(other_key.ok());
  auto forged = (*other_key)->seal(json::object(), {{"approval", "x"}});
  ASSERT_TRUE(forged.ok());
  EXPECT_TRUE(refused(modern("trigger_dag", args, kForm, retry(*forged))));
  EXPECT_EQ(dev_->calls("trigger_dag_run"), 0);
  expect_audit_ok();
}

TEST_F(Remediate, Mrtr2026ProdAsksThroughTheApprovalPageAndTheRetryUsesWhatOthersDecided) {
  start();
  deps_->approval_url = [](const std::string& id) { return "https://dm.example/approvals/" + id; };
  const json args = {{"dag_id", "etl"}, {"environment", "prod"}};
  json first = modern("trigger_dag", args, kUrl);
  const json& r1 = first["result"];
  ASSERT_EQ(r1.value("resultType", ""), "input_required") << first.dump();
  const json& ask = r1["inputRequests"]["approval"]["params"];
  EXPECT_EQ(ask["mode"], "url");
  const std::string url = ask["url"];
  ASSERT_EQ(url.rfind("https://dm.example/approvals/", 0), 0u) << url;
  EXPECT_FALSE(ask.contains("elicitationId"));  // 2025-11-25 only
  const std::string id = url.substr(url.rfind('/') + 1);
  const json retry = {{"inputResponses", {{"approval", {{"action", "accept"}}}}},
                      {"requestState", r1["requestState"]}};
  // The human says they went to the page, but nobody decided yet: nothing runs.
  json early = modern("trigger_dag", args, kUrl, retry);
  EXPECT_TRUE(early["result"].value("isError", false)) << early.dump();
  EXPECT_NE(text(early["result"]).find("pending"), std::string::npos) << early.dump();
  EXPECT_EQ(prod_->calls("trigger_dag_run"), 0);
  approve(id, "bob");
  approve(id, "carol");
  json done = modern("trigger_dag", args, kUrl, retry);
  ASSERT_FALSE(done["result"].value("isError", false)) << done.dump();
  EXPECT_EQ(done["result"]["structuredContent"]["approval_id"], id);
  EXPECT_EQ(prod_->triggered().size(), 1u);
  expect_audit_ok();
}

TEST_F(Remediate, Mrtr2026WithoutElicitationTheAnswerSaysHowToApprove) {
  start();
  json r = modern("trigger_dag", {{"dag_id", "etl"}, {"environment", "dev"}}, json::object());
  EXPECT_TRUE(r["result"].value("isError", false)) << r.dump();
  EXPECT_NE(text(r["result"]).find("dagmedic approvals approve"), std::string::npos) << r.dump();
  EXPECT_EQ(dev_->calls("trigger_dag_run"), 0);
}

TEST_F(Remediate, AConfSchemaThatReliesOnFormatIsRefusedAtStart) {
  // `format` checks nothing under JSON Schema 2020-12: a policy must not look stricter than it is.
  cfg_.policy.dags.insert(
      cfg_.policy.dags.begin(),
      {"reports", R"({"type":"object","properties":{"day":{"type":"string","format":"date"}}})",
       0});
  auto d = make_deps(cfg_, {.clock = clock_, .clients = provider_, .audit_key = kKey});
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("format"), std::string::npos) << d.error().message;
  EXPECT_NE(d.error().message.find("#/properties/day"), std::string::npos) << d.error().message;
  // A conf field that is merely called "format" is fine.
  cfg_.policy.dags.front().conf_schema_json =
      R"({"type":"object","properties":{"format":{"type":"string","pattern":"^(csv|json)$"}}})";
  EXPECT_TRUE(make_deps(cfg_, {.clock = clock_, .clients = provider_, .audit_key = kKey}).ok());
}

TEST_F(Remediate, EveryCallIsAuditedWithADigestNeverRawArgs) {
  start();
  json ctx = {{"log_tail",
               "requests.exceptions.ConnectionError: password=Sup3rS3cretPw connection refused"}};
  json p = call("propose_action", {{"signature", "abc123abc123"}, {"context", ctx}});
  ASSERT_FALSE(p.value("isError", false)) << p.dump();
  json bad =
      call("trigger_dag", {{"dag_id", "other"}, {"conf", {{"x", 1}}}, {"environment", "dev"}});
  EXPECT_EQ(bad.value("isError", false), true);
  const std::string log = audit_export();
  EXPECT_NE(log.find("propose_action"), std::string::npos);
  EXPECT_NE(log.find("args_sha256:"), std::string::npos);
  EXPECT_EQ(log.find("Sup3rS3cretPw"), std::string::npos);
  EXPECT_EQ(log.find("connection refused"), std::string::npos);  // no raw argument text
  EXPECT_NE(log.find("trigger_dag"), std::string::npos);
  expect_audit_ok();
}

TEST_F(Remediate, ProposeActionSmallestSafeAction) {
  start();
  json r = call("propose_action",
                {{"signature", "abc"},
                 {"context", {{"category", "network"}, {"dag_id", "etl"}, {"run_id", "manual__1"}}},
                 {"environment", "dev"}});
  ASSERT_FALSE(r.value("isError", false)) << r.dump();
  const json& s = r["structuredContent"];
  EXPECT_EQ(s["action"], "clear_failed_tasks");
  EXPECT_EQ(s["requires_approval"], true);
  EXPECT_EQ(s["params"]["action"], "clear_failed_tasks");
  EXPECT_EQ(s["params"]["params"]["run_id"], "manual__1");
  EXPECT_EQ(s["policy"], "allowed");
  EXPECT_EQ(
      call("propose_action",
           {{"signature", "abc"},
            {"context", {{"category", "missing_upstream_data"}}}})["structuredContent"]["action"],
      "wait_for_upstream");
  EXPECT_EQ(call("propose_action", {{"signature", "abc"}})["structuredContent"]["action"],
            "escalate");
  json prod = call("propose_action",
                   {{"signature", "abc"},
                    {"context", {{"category", "network"}, {"dag_id", "other"}, {"run_id", "r1"}}},
                    {"environment", "prod"}});
  EXPECT_EQ(prod["structuredContent"]["risk"], "medium");
  EXPECT_NE(prod["structuredContent"]["policy"].get<std::string>().find("allow_dags"),
            std::string::npos);
  EXPECT_EQ(dev_->calls("trigger_dag_run") + dev_->calls("clear_task_instances"), 0);
}

TEST_F(Remediate, UpstreamNotReadyIsNeverAnsweredWithARerun) {
  start();
  const std::string sensor_log =
      "[2026-03-02, 07:00:02 UTC] {s3.py:117} INFO - Poking for key : "
      "s3://acme-raw/orders/dt=2026-03-01/_SUCCESS\n"
      "[2026-03-02, 07:00:02 UTC] {taskinstance.py:3311} ERROR - Task failed with exception\n"
      "Traceback (most recent call last):\n"
      "  File \"/usr/local/lib/python3.11/site-packages/airflow/sensors/base.py\", line 299, in "
      "execute\n"
      "    raise AirflowSensorTimeout(message)\n"
      "airflow.exceptions.AirflowSensorTimeout: Sensor has timed out; run duration of 3601.2 "
      "seconds exceeds the specified timeout of 3600.0.\n";
  // Every category whose own advice is a rerun, by name or from a log; with a run and without.
  std::vector<json> contexts;
  for (const char* cat : {"network", "timeout", "quota_or_throttling", "missing_upstream_data"}) {
    contexts.push_back({{"category", cat}, {"dag_id", "etl"}, {"run_id", "manual__1"}});
    contexts.push_back({{"category", cat}, {"dag_id", "etl"}});
  }
  contexts.push_back({{"log_tail", sensor_log}, {"dag_id", "etl"}, {"run_id", "manual__1"}});
  contexts.push_back({{"log_tail", "requests.exceptions.ConnectionError: connection refused"},
                      {"dag_id", "etl"},
                      {"run_id", "manual__1"}});
  for (json ctx : contexts) {
    ctx["upstream_ready"] = false;
    json r =
        call("propose_action", {{"signature", "abc"}, {"context", ctx}, {"environment", "dev"}});
    ASSERT_FALSE(r.value("isError", false)) << r.dump();
    const json& s = r["structuredContent"];
    EXPECT_EQ(s["action"], "wait_for_upstream") << ctx.dump();
    EXPECT_EQ(s["requires_approval"], false) << ctx.dump();
    EXPECT_TRUE(s["params"].empty()) << ctx.dump();
  }
  // The sensor's log is missing upstream data by itself.
  json sensor =
      call("propose_action", {{"signature", "abc"}, {"context", {{"log_tail", sensor_log}}}});
  EXPECT_EQ(sensor["structuredContent"]["category"], "missing_upstream_data");
  EXPECT_EQ(sensor["structuredContent"]["action"], "wait_for_upstream");
  // Once the upstream has landed, the rerun is proposed; without the flag, the category decides.
  json ready = call("propose_action", {{"signature", "abc"},
                                       {"context",
                                        {{"log_tail", sensor_log},
                                         {"dag_id", "etl"},
                                         {"run_id", "manual__1"},
                                         {"upstream_ready", true}}},
                                       {"environment", "dev"}});
  EXPECT_EQ(ready["structuredContent"]["action"], "clear_failed_tasks");
  json unset = call("propose_action",
                    {{"signature", "abc"},
                     {"context", {{"category", "timeout"}, {"dag_id", "etl"}, {"run_id", "r1"}}},
                     {"environment", "dev"}});
  EXPECT_EQ(unset["structuredContent"]["action"], "clear_failed_tasks");
  // Categories that never rerun keep their own answer.
  json perm = call("propose_action", {{"signature", "abc"},
                                      {"context",
                                       {{"category", "permissions"},
                                        {"dag_id", "etl"},
                                        {"run_id", "manual__1"},
                                        {"upstream_ready", false}}}});
  EXPECT_EQ(perm["structuredContent"]["action"], "escalate");
  EXPECT_EQ(dev_->calls("trigger_dag_run") + dev_->calls("clear_task_instances"), 0);
}

TEST_F(Remediate, ProposeActionTakesTheCategoryDiagnoseRecorded) {
  auto opened = store::open_sqlite_store({.path = tmp_.path()});
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  std::shared_ptr<store::Store> st(std::move(*opened));
  start(json::object(), st);
  // As extract_task_errors leaves it: the sighting and the diagnosis on the run's incident.
  ASSERT_TRUE(
      st->record_occurrence({"feedc0ffee12", "etl", "manual__1", "load", "dev", 1000}).ok());
  store::Incident inc;
  inc.id = store::incident_id_for("dev", "etl", "manual__1");
  inc.env = "dev";
  inc.dag_id = "etl";
  inc.run_id = "manual__1";
  inc.signature = "feedc0ffee12";
  inc.category = "network";
  inc.summary_json = json{{"diagnoses",
                           {{"feedc0ffee12",
                             {{"category", "network"},
                              {"action", "clear_failed_tasks"},
                              {"reason", "A network or endpoint failure is usually transient."}}}}}}
                         .dump();
  inc.opened_at_ms = inc.updated_at_ms = 1000;
  ASSERT_TRUE(st->upsert_incident(inc).ok());

  json r = call("propose_action", {{"signature", "feedc0ffee12"},
                                   {"context", {{"dag_id", "etl"}, {"run_id", "manual__1"}}},
                                   {"environment", "dev"}});
  ASSERT_FALSE(r.value("isError", false)) << r.dump();
  const json& s = r["structuredContent"];
  EXPECT_EQ(s["category"], "network");
  EXPECT_EQ(s["category_source"], "store");
  EXPECT_EQ(s["action"], "clear_failed_tasks");
  EXPECT_EQ(s["params"]["params"]["run_id"], "manual__1");
  EXPECT_NE(text(r).find("stored diagnosis"), std::string::npos) << text(r);

  // Without a dag_id in the context the signature's history still knows it.
  json any = call("propose_action", {{"signature", "feedc0ffee12"}});
  EXPECT_EQ(any["structuredContent"]["category"], "network");
  EXPECT_EQ(any["structuredContent"]["category_source"], "store");

  // A category in the context wins over the store.
  json given = call("propose_action", {{"signature", "feedc0ffee12"},
                                       {"context", {{"category", "missing_upstream_data"}}}});
  EXPECT_EQ(given["structuredContent"]["category"], "missing_upstream_data");
  EXPECT_EQ(given["structuredContent"]["category_source"], "context");
  EXPECT_EQ(given["structuredContent"]["action"], "wait_for_upstream");

  // A signature the store never saw: a proposal for category unknown (investigate), no error.
  json unknown = call(
      "propose_action",
      {{"signature", "000000000000"}, {"context", {{"dag_id", "etl"}, {"run_id", "manual__1"}}}});
  ASSERT_FALSE(unknown.value("isError", false)) << unknown.dump();
  EXPECT_EQ(unknown["structuredContent"]["category"], "unknown");
  EXPECT_EQ(unknown["structuredContent"]["category_source"], "unknown");
  EXPECT_EQ(unknown["structuredContent"]["action"], "escalate");
  EXPECT_NE(
      unknown["structuredContent"]["next_step"].get<std::string>().find("extract_task_errors"),
      std::string::npos);
  EXPECT_EQ(dev_->calls("trigger_dag_run") + dev_->calls("clear_task_instances"), 0);
}

TEST_F(Remediate, ProposeActionWithTheStoreDownStillAnswers) {
  cfg_.store.backend = config::StoreSettings::Backend::postgres;
  cfg_.store.dsn_env = "DM_REMEDIATE_TEST_UNSET_DSN";
  ::unsetenv("DM_REMEDIATE_TEST_UNSET_DSN");
  auto d = make_deps(cfg_, {.clock = clock_, .clients = provider_, .audit_key = kKey});
  ASSERT_TRUE(d.ok()) << d.error().message;
  auto server = mcp::Server::create({.name = "t", .version = "0"});
  ASSERT_TRUE(register_tools(*server, *d).ok());
  mcp::InMemoryClient client(server);
  ASSERT_TRUE(client.initialize().ok());
  auto r = client.call(
      "tools/call", {{"name", "propose_action"}, {"arguments", {{"signature", "feedc0ffee12"}}}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  const json& s = (*r)["structuredContent"];
  EXPECT_EQ(s["category_source"], "unknown") << r->dump();
  EXPECT_EQ(s["action"], "escalate");
  EXPECT_NE(s["notes"].dump().find("store unavailable"), std::string::npos) << s;
}

}  // namespace
}  // namespace dm::runbook
