// Test support for the Detect/Triage/Verify tool tests (header-only, *_test.cpp only): a Store
// whose incidents live in memory (other calls go to a real SQLite store), and a harness that
// registers every runbook tool over a FakeAirflow with a ManualClock and calls them through MCP.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <string>

#include "common/iso_time.h"
#include "mcp/memory_transport.h"
#include "runbook/runbook.h"
#include "runbook/testing/fake_airflow.h"
#include "runbook/testing/flaky_store.h"
#include "runbook/tool_kit.h"
#include "store/sqlite_store.h"

namespace dm::runbook::testing {

using json = nlohmann::json;

// Incidents in memory, everything else forwarded to an in-memory SQLite store, so these tests do
// not depend on which backend implements incidents yet.
class MemIncidentStore final : public ForwardingStore {
 public:
  MemIncidentStore() : ForwardingStore(open_memory()) {}
  const char* backend() const noexcept override { return "memory"; }
  // Not kept here, and not the SQLite store's either: the Store defaults (unsupported).
  Result<std::vector<store::SignatureGroup>> occurrence_groups(const store::OccurrenceQuery& q,
                                                               size_t limit) override {
    return store::Store::occurrence_groups(q, limit);
  }
  Result<std::vector<store::Occurrence>> list_occurrences(const store::OccurrenceQuery& q,
                                                          size_t limit) override {
    return store::Store::list_occurrences(q, limit);
  }
  Result<std::vector<store::Incident>> list_incidents(const store::IncidentQuery& q,
                                                      size_t limit) override {
    return store::Store::list_incidents(q, limit);
  }

  Status upsert_incident(const store::Incident& i) override {
    std::lock_guard lk(mu_);
    ++upserts_;
    auto it = incidents_.find(i.id);
    if (it == incidents_.end()) {
      incidents_[i.id] = i;
      return Status::Ok();
    }
    store::Incident merged = i;
    merged.opened_at_ms = it->second.opened_at_ms;
    auto keep = [](std::string& field, const std::string& old) {
      if (field.empty()) field = old;
    };
    keep(merged.signature, it->second.signature);
    keep(merged.category, it->second.category);
    keep(merged.first_failing_task, it->second.first_failing_task);
    keep(merged.error, it->second.error);
    keep(merged.summary_json, it->second.summary_json);
    keep(merged.postmortem_md, it->second.postmortem_md);
    it->second = merged;
    return Status::Ok();
  }
  Result<store::Incident> get_incident(const std::string& id) override {
    std::lock_guard lk(mu_);
    auto it = incidents_.find(id);
    if (it == incidents_.end()) return make_error(Errc::not_found, "incident " + id + " not found");
    return it->second;
  }
  int upserts() const {
    std::lock_guard lk(mu_);
    return upserts_;
  }

 private:
  static std::shared_ptr<store::Store> open_memory() {
    auto s = store::open_sqlite_store({.path = ":memory:"});
    EXPECT_TRUE(s.ok());
    return s.ok() ? std::shared_ptr<store::Store>(std::move(*s)) : nullptr;
  }
  mutable std::mutex mu_;
  std::map<std::string, store::Incident> incidents_;
  int upserts_ = 0;
};

// 2026-11-26T12:00:00Z, the harness's "now".
inline Clock::time_point test_now() { return *parse_iso8601("2026-11-26T12:00:00Z"); }

// Airflow-style time (with +00:00 offset and microseconds) `minutes` after test_now().
inline std::string at(int minutes) {
  auto t = test_now() + std::chrono::minutes(minutes);
  std::string z = format_iso8601(t);  // "…:SSZ"
  return z.substr(0, z.size() - 1) + ".000000+00:00";
}
// The tools' normalized form of the same time.
inline std::string at_z(int minutes) {
  return format_iso8601(test_now() + std::chrono::minutes(minutes));
}

inline airflow::DagRun run(const std::string& dag, const std::string& id, const std::string& state,
                           int run_after_min, int end_min) {
  return airflow::DagRun{.dag_id = dag,
                         .run_id = id,
                         .state = state,
                         .run_type = "scheduled",
                         .logical_date = at(run_after_min),
                         .run_after = at(run_after_min),
                         .start_date = at(run_after_min),
                         .end_date = end_min == INT32_MIN ? "" : at(end_min),
                         .queued_at = at(run_after_min)};
}

inline airflow::TaskInstance task(const std::string& dag, const std::string& run,
                                  const std::string& id, const std::string& state, int start_min,
                                  int end_min, int try_number = 1, int max_tries = 0) {
  return airflow::TaskInstance{.dag_id = dag,
                               .run_id = run,
                               .task_id = id,
                               .map_index = -1,
                               .try_number = try_number,
                               .max_tries = max_tries,
                               .state = state,
                               .operator_name = "PythonOperator",
                               .start_date = start_min == INT32_MIN ? "" : at(start_min),
                               .end_date = end_min == INT32_MIN ? "" : at(end_min),
                               .duration = std::nullopt,
                               .hostname = "worker-1"};
}

struct HarnessOptions {
  config::Config config{};
  bool with_environment = true;  // false: the production provider over `config` (no env)
  bool store_unavailable = false;
};

// Every runbook tool over one FakeAirflow ("test" environment), called through MCP.
class Harness {
 public:
  explicit Harness(HarnessOptions o = {})
      : fake(std::make_shared<FakeAirflow>("test")),
        clock(std::make_shared<ManualClock>(test_now())),
        store(std::make_shared<MemIncidentStore>()) {
    DepsOverrides ov{.clock = clock};
    // A fixed audit key: the audit of every call must not create key files outside the test.
    ov.audit_key = std::string(64, 'k');
    if (o.with_environment)
      ov.clients = std::make_shared<FakeProvider>(std::vector<std::shared_ptr<FakeAirflow>>{fake});
    if (o.store_unavailable) {
      // A store path that can never be created: every store() call fails.
      o.config.store.path = "/proc/dagmedic-no-such-dir/store.db";
    } else {
      ov.store = store;
    }
    auto deps = make_deps(std::move(o.config), std::move(ov));
    EXPECT_TRUE(deps.ok()) << (deps.ok() ? "" : deps.error().message);
    server = mcp::Server::create({.name = "t", .version = "0"});
    EXPECT_TRUE(register_tools(*server, *deps).ok());
    client = std::make_unique<mcp::InMemoryClient>(server);
    EXPECT_TRUE(client->initialize().ok());
  }

  // The whole tools/call result.
  json call(const std::string& tool, json args) {
    auto r = client->call("tools/call", {{"name", tool}, {"arguments", std::move(args)}});
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : json::object();
  }
  // structuredContent of a successful call.
  json ok(const std::string& tool, json args) {
    json r = call(tool, std::move(args));
    EXPECT_FALSE(r.value("isError", false)) << tool << ": " << r.dump();
    return r.value("structuredContent", json::object());
  }
  // Text of a call that must fail with isError.
  std::string err(const std::string& tool, json args) {
    json r = call(tool, std::move(args));
    EXPECT_TRUE(r.value("isError", false)) << tool << ": " << r.dump();
    std::string text;
    for (const auto& c : r.value("content", json::array()))
      if (c.value("type", "") == "text") text += c.value("text", "");
    return text;
  }
  static std::string text_of(const json& result) {
    std::string text;
    for (const auto& c : result.value("content", json::array()))
      if (c.value("type", "") == "text") text += c.value("text", "");
    return text;
  }

  std::shared_ptr<FakeAirflow> fake;
  std::shared_ptr<ManualClock> clock;
  std::shared_ptr<MemIncidentStore> store;
  std::shared_ptr<mcp::Server> server;
  std::unique_ptr<mcp::InMemoryClient> client;
};

}  // namespace dm::runbook::testing
