// The Store contract, run against every implementation: included once per test binary and
// instantiated with INSTANTIATE_TEST_SUITE_P(Backend, StoreContract, Values(NamedBackend{…})).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "store/store_testing.h"

namespace dm::store::testing {

class StoreContract : public ::testing::TestWithParam<NamedBackend> {
 protected:
  void SetUp() override {
    auto b = GetParam().make();
    ASSERT_TRUE(b.ok()) << b.error().message;
    backend_ = std::move(*b);
    auto s = backend_->open();
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    backend_.reset();
  }
  // `n` more stores on the same backend (other replicas' connections).
  void open_replicas(int n, std::vector<std::unique_ptr<Store>>& out) {
    for (int i = 0; i < n; ++i) {
      auto s = backend_->open();
      ASSERT_TRUE(s.ok()) << s.error().message;
      out.push_back(std::move(*s));
    }
  }

  static ApprovalRecord approval(const std::string& id, int required = 1,
                                 int64_t expires = 10'000) {
    ApprovalRecord a;
    a.id = id;
    a.action = "trigger_dag";
    a.env = "dev";
    a.tier = "dev";
    a.params_json = "{}";
    a.params_hash = "h1";
    a.requester = "agent";
    a.requester_is_agent = true;
    a.reason = "retry after fix";
    a.created_at_ms = 1000;
    a.expires_at_ms = expires;
    a.required_approvals = required;
    return a;
  }

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreContract, ReopenKeepsDataAndDoesNotRemigrate) {
  ASSERT_TRUE(store_->create_approval(approval("a1")).ok());
  auto again = backend_->open();
  ASSERT_TRUE(again.ok()) << again.error().message;
  auto a = (*again)->get_approval("a1");
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->reason, "retry after fix");
  EXPECT_EQ(a->state, ApprovalState::pending);
  EXPECT_TRUE(a->requester_is_agent);
}

TEST_P(StoreContract, CreateGetListAndDuplicate) {
  ASSERT_TRUE(store_->create_approval(approval("a1")).ok());
  auto dup = store_->create_approval(approval("a1"));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, Errc::conflict);
  auto missing = store_->get_approval("nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::not_found);
  auto pending = store_->list_approvals(ApprovalState::pending, 10);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].id, "a1");
  auto approved = store_->list_approvals(ApprovalState::approved, 10);
  ASSERT_TRUE(approved.ok());
  EXPECT_TRUE(approved->empty());
}

TEST_P(StoreContract, DecisionsReachThresholdOncePerPrincipal) {
  ASSERT_TRUE(store_->create_approval(approval("a1", 2)).ok());
  auto r = store_->record_decision("a1", {"alice", true, "ok", 2000}, 2000);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->state, ApprovalState::pending);
  auto again = store_->record_decision("a1", {"alice", true, "twice", 2001}, 2001);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::conflict);
  r = store_->record_decision("a1", {"bob", true, "ok", 2002}, 2002);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->state, ApprovalState::approved);
  ASSERT_EQ(r->decisions.size(), 2u);
  EXPECT_EQ(r->decisions[1].principal, "bob");
  auto late = store_->record_decision("a1", {"carol", false, "late", 2003}, 2003);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, Errc::failed_precondition);
  auto got = store_->get_approval("a1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->decisions.size(), 2u);
  EXPECT_EQ(got->decided_at_ms, 2002);
}

TEST_P(StoreContract, DenyIsFinalAndExpiredRefusesDecisions) {
  ASSERT_TRUE(store_->create_approval(approval("d1", 2)).ok());
  auto r = store_->record_decision("d1", {"alice", false, "no", 2000}, 2000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->state, ApprovalState::denied);
  ASSERT_TRUE(store_->create_approval(approval("e1", 1, 5000)).ok());
  auto e = store_->record_decision("e1", {"alice", true, "ok", 5000}, 5000);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, Errc::failed_precondition);
  EXPECT_NE(e.error().message.find("expired"), std::string::npos);
}

TEST_P(StoreContract, ConsumeOnceWithMatchingHash) {
  ASSERT_TRUE(store_->create_approval(approval("a1")).ok());
  auto early = store_->consume_approval("a1", "h1", 2000);
  ASSERT_FALSE(early.ok());
  EXPECT_NE(early.error().message.find("pending"), std::string::npos);
  ASSERT_TRUE(store_->record_decision("a1", {"alice", true, "ok", 2000}, 2000).ok());
  auto wrong = store_->consume_approval("a1", "h2", 2001);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("parameters changed since approval"), std::string::npos);
  auto ok = store_->consume_approval("a1", "h1", 2002);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->state, ApprovalState::consumed);
  EXPECT_EQ(ok->consumed_at_ms, 2002);
  auto replay = store_->consume_approval("a1", "h1", 2003);
  ASSERT_FALSE(replay.ok());
  EXPECT_EQ(replay.error().code, Errc::conflict);
  auto expired_row = approval("x1", 1, 3000);
  ASSERT_TRUE(store_->create_approval(expired_row).ok());
  ASSERT_TRUE(store_->record_decision("x1", {"alice", true, "ok", 2000}, 2000).ok());
  auto late = store_->consume_approval("x1", "h1", 3000);
  ASSERT_FALSE(late.ok());
  EXPECT_NE(late.error().message.find("expired"), std::string::npos);
}

TEST_P(StoreContract, ReplicasRacingToConsumeExactlyOneWins) {
  constexpr int kReplicas = 4, kRounds = 15;
  std::vector<std::unique_ptr<Store>> replicas;
  ASSERT_NO_FATAL_FAILURE(open_replicas(kReplicas, replicas));
  for (int round = 0; round < kRounds; ++round) {
    std::string id = "race" + std::to_string(round);
    ASSERT_TRUE(store_->create_approval(approval(id)).ok());
    ASSERT_TRUE(store_->record_decision(id, {"alice", true, "ok", 2000}, 2000).ok());
    std::atomic<int> ready{0}, wins{0}, conflicts{0};
    std::vector<std::thread> ts;
    for (auto& r : replicas)
      ts.emplace_back([&, store = r.get()] {
        ready.fetch_add(1);
        while (ready.load() < kReplicas) std::this_thread::yield();
        auto c = store->consume_approval(id, "h1", 2001);
        if (c.ok())
          wins.fetch_add(1);
        else if (c.error().code == Errc::conflict)
          conflicts.fetch_add(1);
      });
    for (auto& t : ts) t.join();
    EXPECT_EQ(wins.load(), 1) << "round " << round;
    EXPECT_EQ(conflicts.load(), kReplicas - 1) << "round " << round;
  }
}

inline AuditBuilder simple_builder(const std::string& body, std::optional<Checkpoint> cp = {}) {
  return [=](const AuditHead& h) -> Result<AuditAppend> {
    AuditAppend a;
    a.row = AuditRow{h.seq + 1, 100 + h.seq, h.hash, "hash" + std::to_string(h.seq + 1), body};
    a.checkpoint = cp;
    return a;
  };
}

TEST_P(StoreContract, AuditAppendReadHeadCheckpoints) {
  auto h0 = store_->audit_head();
  ASSERT_TRUE(h0.ok()) << h0.error().message;
  EXPECT_EQ(h0->seq, 0);
  EXPECT_EQ(h0->hash, genesis_hash());
  for (int i = 0; i < 3; ++i) {
    auto r = store_->append_audit(simple_builder("b" + std::to_string(i)));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->seq, i + 1);
  }
  auto cp = Checkpoint{3, "hash3", 5, "mac"};
  ASSERT_TRUE(store_->append_audit(simple_builder("b3", cp)).ok());
  auto rows = store_->read_audit(2, 10);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0].seq, 2);
  EXPECT_EQ((*rows)[0].prev_hash, "hash1");
  EXPECT_EQ((*rows)[2].body, "b3");
  auto h = store_->audit_head();
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->seq, 4);
  EXPECT_EQ(h->hash, "hash4");
  ASSERT_TRUE(store_->put_checkpoint({4, "hash4", 6, "mac2"}).ok());
  auto cps = store_->checkpoints();
  ASSERT_TRUE(cps.ok());
  ASSERT_EQ(cps->size(), 2u);
  EXPECT_EQ((*cps)[0].seq, 3);
  EXPECT_EQ((*cps)[1].mac, "mac2");
}

TEST_P(StoreContract, AuditBuilderErrorOrBadChainWritesNothing) {
  auto failing = [](const AuditHead&) -> Result<AuditAppend> {
    return make_error(Errc::invalid_argument, "nope");
  };
  auto r = store_->append_audit(failing);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "nope");
  auto forked = [](const AuditHead& h) -> Result<AuditAppend> {
    return AuditAppend{AuditRow{h.seq + 2, 1, h.hash, "x", "y"}, std::nullopt};
  };
  r = store_->append_audit(forked);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::internal);
  auto h = store_->audit_head();
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->seq, 0);
  auto rows = store_->read_audit(1, 10);
  ASSERT_TRUE(rows.ok());
  EXPECT_TRUE(rows->empty());
}

TEST_P(StoreContract, AuditLogRefusesUpdateAndDelete) {
  ASSERT_TRUE(store_->append_audit(simple_builder("b")).ok());
  EXPECT_FALSE(backend_->raw_exec("UPDATE audit_log SET body = 'x' WHERE seq = 1").ok());
  EXPECT_FALSE(backend_->raw_exec("DELETE FROM audit_log WHERE seq = 1").ok());
  auto rows = store_->read_audit(1, 10);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].body, "b");
}

TEST_P(StoreContract, ConcurrentAppendsFromReplicasKeepOneChain) {
  constexpr int kReplicas = 3, kEach = 30;
  std::vector<std::unique_ptr<Store>> replicas;
  ASSERT_NO_FATAL_FAILURE(open_replicas(kReplicas, replicas));
  std::atomic<int> failures{0};
  std::vector<std::thread> ts;
  for (auto& r : replicas)
    ts.emplace_back([&, store = r.get()] {
      for (int i = 0; i < kEach; ++i)
        if (!store->append_audit(simple_builder("x")).ok()) failures.fetch_add(1);
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto rows = store_->read_audit(1, 1000);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), static_cast<size_t>(kReplicas * kEach));
  std::string prev = genesis_hash();
  for (size_t i = 0; i < rows->size(); ++i) {
    EXPECT_EQ((*rows)[i].seq, static_cast<int64_t>(i + 1));
    EXPECT_EQ((*rows)[i].prev_hash, prev);
    prev = (*rows)[i].hash;
  }
}

TEST_P(StoreContract, OccurrenceStatsByWindowSignatureAndDag) {
  auto occ = [&](std::string sig, std::string dag, std::string run, int64_t t,
                 std::string env = "dev", std::string task = "task") {
    ASSERT_TRUE(store_->record_occurrence({sig, dag, run, task, env, t}).ok());
  };
  occ("sigA", "etl", "r1", 100);
  occ("sigA", "etl", "r1", 150, "dev", "task2");
  occ("sigA", "etl", "r2", 200);
  occ("sigA", "load", "r1", 300);
  occ("sigB", "etl", "r3", 250);
  occ("sigA", "etl", "r9", 900, "prod");
  auto s = store_->occurrence_stats({"sigA", "", "dev", 0, 1000});
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->count, 4);
  EXPECT_EQ(s->first_seen_ms, 100);
  EXPECT_EQ(s->last_seen_ms, 300);
  EXPECT_EQ(s->distinct_runs, 3);  // etl/r1, etl/r2, load/r1
  EXPECT_EQ(s->distinct_dags, 2);
  s = store_->occurrence_stats({"", "etl", "", 150, 260});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->count, 3);  // 150, 200, 250 (window is [from, to))
  EXPECT_EQ(s->distinct_runs, 3);
  EXPECT_EQ(s->distinct_dags, 1);
  s = store_->occurrence_stats({"none", "", "", 0, 1000});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->count, 0);
  EXPECT_EQ(s->first_seen_ms, 0);
}

TEST_P(StoreContract, RecordOccurrenceIsIdempotentAndKeepsTheEarliest) {
  ASSERT_TRUE(store_->record_occurrence({"sig", "etl", "r1", "load", "dev", 500}).ok());
  ASSERT_TRUE(store_->record_occurrence({"sig", "etl", "r1", "load", "dev", 700}).ok());
  ASSERT_TRUE(store_->record_occurrence({"sig", "etl", "r1", "load", "dev", 300}).ok());
  ASSERT_TRUE(store_->record_occurrence({"sig", "etl", "r1", "load", "dev", 400}).ok());
  auto s = store_->occurrence_stats({});
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->count, 1);
  EXPECT_EQ(s->first_seen_ms, 300);
  EXPECT_EQ(s->last_seen_ms, 300);
  // Any differing key field is a different sighting.
  ASSERT_TRUE(store_->record_occurrence({"sig2", "etl", "r1", "load", "dev", 500}).ok());
  ASSERT_TRUE(store_->record_occurrence({"sig", "etl2", "r1", "load", "dev", 500}).ok());
  ASSERT_TRUE(store_->record_occurrence({"sig", "etl", "r2", "load", "dev", 500}).ok());
  ASSERT_TRUE(store_->record_occurrence({"sig", "etl", "r1", "load2", "dev", 500}).ok());
  ASSERT_TRUE(store_->record_occurrence({"sig", "etl", "r1", "load", "prod", 500}).ok());
  s = store_->occurrence_stats({});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->count, 6);
  auto again = backend_->open();
  ASSERT_TRUE(again.ok()) << again.error().message;
  ASSERT_TRUE((*again)->record_occurrence({"sig", "etl", "r1", "load", "dev", 900}).ok());
  s = store_->occurrence_stats({});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->count, 6);
}

TEST_P(StoreContract, OccurrenceGroupsBySignatureMostFrequentFirst) {
  auto occ = [&](std::string sig, std::string dag, std::string run, std::string task, int64_t t,
                 std::string env = "dev") {
    ASSERT_TRUE(store_->record_occurrence({sig, dag, run, task, env, t}).ok());
  };
  occ("sigA", "etl", "r1", "extract", 100);
  occ("sigA", "etl", "r2", "extract", 200);
  occ("sigA", "load", "r7", "copy", 300);
  occ("sigB", "etl", "r3", "transform", 250);
  occ("sigB", "etl", "r4", "transform", 260);
  occ("sigC", "etl", "r5", "extract", 400);
  occ("sigA", "etl", "r9", "extract", 900, "prod");
  auto g = store_->occurrence_groups({"", "", "dev", 0, INT64_MAX}, 10);
  ASSERT_TRUE(g.ok()) << g.error().message;
  ASSERT_EQ(g->size(), 3u);
  EXPECT_EQ((*g)[0].signature, "sigA");
  EXPECT_EQ((*g)[0].stats.count, 3);
  EXPECT_EQ((*g)[0].stats.first_seen_ms, 100);
  EXPECT_EQ((*g)[0].stats.last_seen_ms, 300);
  EXPECT_EQ((*g)[0].stats.distinct_runs, 3);
  EXPECT_EQ((*g)[0].stats.distinct_dags, 2);
  EXPECT_EQ((*g)[0].dag_ids, (std::vector<std::string>{"load", "etl"}));
  EXPECT_EQ((*g)[0].task_ids, (std::vector<std::string>{"copy", "extract"}));
  EXPECT_EQ((*g)[1].signature, "sigB");
  EXPECT_EQ((*g)[1].stats.count, 2);
  EXPECT_EQ((*g)[1].task_ids, std::vector<std::string>{"transform"});
  EXPECT_EQ((*g)[2].signature, "sigC");
  // The DAG filter narrows counts and lists; limit caps the groups.
  g = store_->occurrence_groups({"", "etl", "dev", 0, INT64_MAX}, 2);
  ASSERT_TRUE(g.ok());
  ASSERT_EQ(g->size(), 2u);
  EXPECT_EQ((*g)[0].stats.count, 2);
  EXPECT_EQ((*g)[0].dag_ids, std::vector<std::string>{"etl"});
  // Ties on count: the most recently seen first.
  EXPECT_EQ((*g)[0].signature, "sigB");
  EXPECT_EQ((*g)[1].signature, "sigA");
  // Window and signature filters.
  g = store_->occurrence_groups({"sigA", "", "", 150, 1000}, 10);
  ASSERT_TRUE(g.ok());
  ASSERT_EQ(g->size(), 1u);
  EXPECT_EQ((*g)[0].stats.count, 3);  // 200, 300, 900 (prod)
  EXPECT_EQ((*g)[0].dag_ids, (std::vector<std::string>{"etl", "load"}));
  g = store_->occurrence_groups({"none", "", "", 0, INT64_MAX}, 10);
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(g->empty());
}

TEST_P(StoreContract, OccurrenceGroupListsAreCappedAt20) {
  for (int i = 0; i < 25; ++i)
    ASSERT_TRUE(store_
                    ->record_occurrence({"sig", "dag" + std::to_string(i), "r",
                                         "t" + std::to_string(i), "dev", 1000 + i})
                    .ok());
  auto g = store_->occurrence_groups({}, 5);
  ASSERT_TRUE(g.ok()) << g.error().message;
  ASSERT_EQ(g->size(), 1u);
  EXPECT_EQ((*g)[0].stats.count, 25);
  ASSERT_EQ((*g)[0].dag_ids.size(), 20u);
  EXPECT_EQ((*g)[0].dag_ids.front(), "dag24");
  ASSERT_EQ((*g)[0].task_ids.size(), 20u);
  EXPECT_EQ((*g)[0].task_ids.back(), "t5");
}

TEST_P(StoreContract, ListOccurrencesNewestFirstWithFilterAndLimit) {
  ASSERT_TRUE(store_->record_occurrence({"s1", "etl", "r1", "a", "dev", 100}).ok());
  ASSERT_TRUE(store_->record_occurrence({"s2", "etl", "r2", "b", "dev", 300}).ok());
  ASSERT_TRUE(store_->record_occurrence({"s1", "load", "r3", "c", "dev", 200}).ok());
  ASSERT_TRUE(store_->record_occurrence({"s1", "etl", "r4", "d", "prod", 400}).ok());
  auto l = store_->list_occurrences({"", "etl", "dev", 0, INT64_MAX}, 10);
  ASSERT_TRUE(l.ok()) << l.error().message;
  ASSERT_EQ(l->size(), 2u);
  EXPECT_EQ((*l)[0].run_id, "r2");
  EXPECT_EQ((*l)[0].signature, "s2");
  EXPECT_EQ((*l)[0].task_id, "b");
  EXPECT_EQ((*l)[0].env, "dev");
  EXPECT_EQ((*l)[0].seen_at_ms, 300);
  EXPECT_EQ((*l)[1].run_id, "r1");
  l = store_->list_occurrences({}, 2);
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->size(), 2u);
  EXPECT_EQ((*l)[0].seen_at_ms, 400);
  EXPECT_EQ((*l)[1].seen_at_ms, 300);
  l = store_->list_occurrences({"s1", "", "", 150, 400}, 10);
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->size(), 1u);
  EXPECT_EQ((*l)[0].dag_id, "load");
}

inline Incident incident(const std::string& run, int64_t at) {
  Incident i;
  i.id = incident_id_for("dev", "etl", run);
  i.env = "dev";
  i.dag_id = "etl";
  i.run_id = run;
  i.first_failing_task = "extract";
  i.opened_at_ms = at;
  i.updated_at_ms = at;
  return i;
}

TEST_P(StoreContract, IncidentUpsertKeepsOpenedAtAndStoredFields) {
  auto missing = store_->get_incident("inc-nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::not_found);
  Incident i = incident("r1", 1000);
  i.state = "";
  i.summary_json = "";
  ASSERT_TRUE(store_->upsert_incident(i).ok());
  auto got = store_->get_incident(i.id);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->state, "open");
  EXPECT_EQ(got->summary_json, "{}");
  EXPECT_EQ(got->first_failing_task, "extract");
  EXPECT_EQ(got->signature, "");
  EXPECT_EQ(got->opened_at_ms, 1000);
  // A diagnosis adds signature/category/error and keeps the rest.
  Incident d;
  d.id = i.id;
  d.signature = "abc123";
  d.category = "upstream_missing";
  d.error = "FileNotFoundError: s3://bucket/x";
  d.summary_json = R"({"k":1})";
  d.opened_at_ms = 5000;
  d.updated_at_ms = 2000;
  ASSERT_TRUE(store_->upsert_incident(d).ok());
  got = store_->get_incident(i.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->env, "dev");
  EXPECT_EQ(got->dag_id, "etl");
  EXPECT_EQ(got->run_id, "r1");
  EXPECT_EQ(got->state, "open");
  EXPECT_EQ(got->signature, "abc123");
  EXPECT_EQ(got->category, "upstream_missing");
  EXPECT_EQ(got->first_failing_task, "extract");
  EXPECT_EQ(got->error, "FileNotFoundError: s3://bucket/x");
  EXPECT_EQ(got->summary_json, R"({"k":1})");
  EXPECT_EQ(got->opened_at_ms, 1000);
  EXPECT_EQ(got->updated_at_ms, 2000);
  // A later triage (no diagnosis) never erases it; state and postmortem update.
  Incident t = incident("r1", 3000);
  t.state = "recovered";
  t.summary_json = "";
  t.postmortem_md = "# Postmortem";
  ASSERT_TRUE(store_->upsert_incident(t).ok());
  got = store_->get_incident(i.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->state, "recovered");
  EXPECT_EQ(got->signature, "abc123");
  EXPECT_EQ(got->category, "upstream_missing");
  EXPECT_EQ(got->summary_json, R"({"k":1})");
  EXPECT_EQ(got->postmortem_md, "# Postmortem");
  EXPECT_EQ(got->opened_at_ms, 1000);
  EXPECT_EQ(got->updated_at_ms, 3000);
  Incident bad;
  EXPECT_FALSE(store_->upsert_incident(bad).ok());
}

TEST_P(StoreContract, IncidentOpenedAtDefaultsToUpdatedAtAndSurvivesReopen) {
  Incident i = incident("r1", 0);
  i.updated_at_ms = 7000;
  i.error = "boom 'quoted' \"text\" ünïcode";
  ASSERT_TRUE(store_->upsert_incident(i).ok());
  auto again = backend_->open();
  ASSERT_TRUE(again.ok()) << again.error().message;
  auto got = (*again)->get_incident(i.id);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->opened_at_ms, 7000);
  EXPECT_EQ(got->error, i.error);
}

TEST_P(StoreContract, ListIncidentsNewestFirstWithFilters) {
  ASSERT_TRUE(store_->upsert_incident(incident("r1", 100)).ok());
  ASSERT_TRUE(store_->upsert_incident(incident("r2", 300)).ok());
  Incident other = incident("r3", 200);
  other.id = incident_id_for("prod", "load", "r3");
  other.env = "prod";
  other.dag_id = "load";
  other.state = "escalated";
  ASSERT_TRUE(store_->upsert_incident(other).ok());
  auto all = store_->list_incidents({}, 10);
  ASSERT_TRUE(all.ok()) << all.error().message;
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].run_id, "r2");
  EXPECT_EQ((*all)[1].run_id, "r3");
  EXPECT_EQ((*all)[2].run_id, "r1");
  auto lim = store_->list_incidents({}, 1);
  ASSERT_TRUE(lim.ok());
  ASSERT_EQ(lim->size(), 1u);
  auto by_dag = store_->list_incidents({"dev", "etl", "", 0}, 10);
  ASSERT_TRUE(by_dag.ok());
  EXPECT_EQ(by_dag->size(), 2u);
  auto by_state = store_->list_incidents({"", "", "escalated", 0}, 10);
  ASSERT_TRUE(by_state.ok());
  ASSERT_EQ(by_state->size(), 1u);
  EXPECT_EQ((*by_state)[0].dag_id, "load");
  auto recent = store_->list_incidents({"", "", "", 150}, 10);
  ASSERT_TRUE(recent.ok());
  EXPECT_EQ(recent->size(), 2u);
  // Updating moves an incident to the front.
  Incident bump = incident("r1", 0);
  bump.updated_at_ms = 400;
  ASSERT_TRUE(store_->upsert_incident(bump).ok());
  all = store_->list_incidents({}, 10);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ((*all)[0].run_id, "r1");
  EXPECT_EQ((*all)[0].opened_at_ms, 100);
}

TEST_P(StoreContract, DiagnosedAtIsSetOnceByTheFirstSignature) {
  Incident i = incident("r1", 1000);
  ASSERT_TRUE(store_->upsert_incident(i).ok());
  auto got = store_->get_incident(i.id);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->diagnosed_at_ms, 0);
  // A triage update with a caller-supplied diagnosed_at but no signature records nothing.
  Incident t = incident("r1", 1500);
  t.diagnosed_at_ms = 1400;
  ASSERT_TRUE(store_->upsert_incident(t).ok());
  got = store_->get_incident(i.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->diagnosed_at_ms, 0);
  // The first diagnosis: its updated_at.
  Incident d = incident("r1", 2000);
  d.signature = "abc";
  d.category = "network";
  ASSERT_TRUE(store_->upsert_incident(d).ok());
  got = store_->get_incident(i.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->diagnosed_at_ms, 2000);
  // A re-diagnosis (another signature, an explicit time) and a later update keep it.
  Incident again = incident("r1", 3000);
  again.signature = "def";
  again.diagnosed_at_ms = 2900;
  ASSERT_TRUE(store_->upsert_incident(again).ok());
  Incident later = incident("r1", 4000);
  later.state = "recovered";
  ASSERT_TRUE(store_->upsert_incident(later).ok());
  got = store_->get_incident(i.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->signature, "def");
  EXPECT_EQ(got->diagnosed_at_ms, 2000);
  EXPECT_EQ(got->updated_at_ms, 4000);
  // Diagnosed at insert, with an explicit time; list_incidents reads it too.
  Incident fresh = incident("r2", 5000);
  fresh.signature = "abc";
  fresh.diagnosed_at_ms = 4500;
  ASSERT_TRUE(store_->upsert_incident(fresh).ok());
  auto all = store_->list_incidents({}, 10);
  ASSERT_TRUE(all.ok()) << all.error().message;
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].run_id, "r2");
  EXPECT_EQ((*all)[0].diagnosed_at_ms, 4500);
  EXPECT_EQ((*all)[1].diagnosed_at_ms, 2000);
}

// What a test that goes back to an older schema removes of version 8 (watch leases), 7 (the
// outbox; it removes version 8 too) and 6 (watch mode; it removes versions 7 and 8 too).
inline constexpr const char* kUndoVersion8 =
    "DROP TABLE watch_leases; DELETE FROM schema_version WHERE version >= 8; ";
inline constexpr const char* kUndoVersion7 =
    "DROP TABLE watch_leases; DROP TABLE outbox; DELETE FROM schema_version WHERE version >= 7; ";
inline constexpr const char* kUndoVersion6 =
    "DROP TABLE watch_leases; DROP TABLE outbox; DROP TABLE watch_runs; DROP TABLE watch_cursors; "
    "DELETE FROM schema_version WHERE version >= 6; ";

inline OutboxMessage outbox_message(const std::string& key, const std::string& target,
                                    int64_t due = 100) {
  OutboxMessage m;
  m.idempotency_key = key;
  m.target = target;
  m.kind = "json";
  m.incident_id = "inc-1";
  m.event = "trigger:1";
  m.payload = "{\"k\":\"" + key + "\"}";
  m.next_attempt_ms = due;
  m.created_ms = 50;
  return m;
}

TEST_P(StoreContract, OutboxEnqueueIsIdempotentPerKeyAndAtomicWithTheMark) {
  const WatchedRun run{"prod", "etl", "r1", 100, 1, "inc-1"};
  ASSERT_TRUE(store_
                  ->mark_watched_run_and_enqueue(
                      run, {outbox_message("k1", "slack"), outbox_message("k2", "pd")})
                  .ok());
  // The same call again (a crash between handling and marking, then a restart): no duplicate.
  ASSERT_TRUE(store_
                  ->mark_watched_run_and_enqueue(
                      run, {outbox_message("k1", "slack"), outbox_message("k2", "pd")})
                  .ok());
  auto runs = store_->list_watched_runs("prod", 0, 10);
  ASSERT_TRUE(runs.ok()) << runs.error().message;
  EXPECT_EQ(runs->size(), 1u);
  auto all = store_->list_outbox("", 10);
  ASSERT_TRUE(all.ok()) << all.error().message;
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].idempotency_key, "k2");  // newest first
  EXPECT_EQ((*all)[1].idempotency_key, "k1");
  EXPECT_EQ((*all)[1].state, "pending");
  EXPECT_EQ((*all)[1].attempts, 0);
  EXPECT_EQ((*all)[1].payload, "{\"k\":\"k1\"}");
  EXPECT_EQ((*all)[1].target, "slack");
  EXPECT_EQ((*all)[1].incident_id, "inc-1");
  EXPECT_EQ((*all)[1].created_ms, 50);
  EXPECT_GT((*all)[0].id, (*all)[1].id);
  auto n = store_->enqueue_messages({outbox_message("k1", "slack"), outbox_message("k3", "pd")});
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 1);
  // A message without a key writes nothing, not even the run's mark.
  const WatchedRun run2{"prod", "etl", "r2", 200, 2, "inc-2"};
  EXPECT_FALSE(
      store_->mark_watched_run_and_enqueue(run2, {outbox_message("k4", "pd"), OutboxMessage{}})
          .ok());
  runs = store_->list_watched_runs("prod", 0, 10);
  ASSERT_TRUE(runs.ok());
  EXPECT_EQ(runs->size(), 1u) << "the mark and the messages are one transaction";
  all = store_->list_outbox("", 10);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3u);
}

TEST_P(StoreContract, OutboxDueAttemptsAndCounts) {
  ASSERT_TRUE(
      store_
          ->enqueue_messages({outbox_message("a", "slack", 100), outbox_message("b", "slack", 300),
                              outbox_message("c", "pd", 200)})
          .ok());
  auto due = store_->due_messages(250, 10);
  ASSERT_TRUE(due.ok()) << due.error().message;
  ASSERT_EQ(due->size(), 2u);
  EXPECT_EQ((*due)[0].idempotency_key, "a");
  EXPECT_EQ((*due)[1].idempotency_key, "c");
  EXPECT_EQ(store_->due_messages(250, 1)->size(), 1u);
  const int64_t a = (*due)[0].id, c = (*due)[1].id;
  // a: a 503, retried later; c: delivered.
  ASSERT_TRUE(store_->record_outbox_attempt(a, {"pending", 1000, "HTTP 503", 250}).ok());
  ASSERT_TRUE(store_->record_outbox_attempt(c, {"delivered", 0, "", 260}).ok());
  EXPECT_EQ(store_->record_outbox_attempt(c, {"dead", 0, "x", 270}).error().code,
            Errc::failed_precondition)
      << "a delivered message is final";
  EXPECT_EQ(store_->record_outbox_attempt(9999, {"dead", 0, "x", 270}).error().code,
            Errc::not_found);
  due = store_->due_messages(999, 10);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].idempotency_key, "b");
  due = store_->due_messages(1000, 10);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 2u);
  EXPECT_EQ((*due)[0].idempotency_key, "b");
  EXPECT_EQ((*due)[1].idempotency_key, "a");
  EXPECT_EQ((*due)[1].attempts, 1);
  EXPECT_EQ((*due)[1].last_error, "HTTP 503");
  ASSERT_TRUE(store_->record_outbox_attempt(a, {"dead", 0, "HTTP 404", 1100}).ok());
  auto dead = store_->list_outbox("dead", 10);
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].idempotency_key, "a");
  EXPECT_EQ((*dead)[0].attempts, 2);
  EXPECT_EQ((*dead)[0].last_error, "HTTP 404");
  EXPECT_EQ((*dead)[0].done_ms, 1100);
  auto counts = store_->outbox_counts();
  ASSERT_TRUE(counts.ok()) << counts.error().message;
  ASSERT_EQ(counts->size(), 2u);
  EXPECT_EQ((*counts)[0].target, "pd");
  EXPECT_EQ((*counts)[0].delivered, 1);
  EXPECT_EQ((*counts)[0].pending, 0);
  EXPECT_EQ((*counts)[1].target, "slack");
  EXPECT_EQ((*counts)[1].pending, 1);
  EXPECT_EQ((*counts)[1].dead, 1);
  EXPECT_EQ((*counts)[1].delivered, 0);
}

TEST_P(StoreContract, MigrationToVersion7AddsTheOutboxAndKeepsWatchRows) {
  ASSERT_TRUE(store_->mark_watched_run({"prod", "etl", "r1", 100, 1, "inc-a"}).ok());
  ASSERT_TRUE(backend_->raw_exec(kUndoVersion7).ok());
  auto s = backend_->open();
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto runs = (*s)->list_watched_runs("prod", 0, 10);
  ASSERT_TRUE(runs.ok());
  EXPECT_EQ(runs->size(), 1u);
  auto n = (*s)->enqueue_messages({outbox_message("k", "slack")});
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 1);
}

// ---- watch leases (several watchers) ----

TEST_P(StoreContract, WatchLeaseIsGrantedRenewedRefusedAndTakenOverAfterExpiry) {
  auto a = store_->acquire_watch_lease("prod", "host-a:1", 1000, 5000);
  ASSERT_TRUE(a.ok()) << a.error().message;
  ASSERT_TRUE(a->granted);
  EXPECT_EQ(a->lease.env, "prod");
  EXPECT_EQ(a->lease.holder, "host-a:1");
  EXPECT_EQ(a->lease.token, 1);
  EXPECT_EQ(a->lease.expires_at_ms, 6000);
  EXPECT_EQ(a->lease.acquired_at_ms, 1000);
  // A renewal by the holder keeps the token and the grant time, and extends the expiry.
  auto renew = store_->acquire_watch_lease("prod", "host-a:1", 3000, 5000);
  ASSERT_TRUE(renew.ok()) << renew.error().message;
  ASSERT_TRUE(renew->granted);
  EXPECT_EQ(renew->lease.token, 1);
  EXPECT_EQ(renew->lease.expires_at_ms, 8000);
  EXPECT_EQ(renew->lease.acquired_at_ms, 1000);
  // Another holder is refused while the lease is live, and told who holds it until when.
  auto b = store_->acquire_watch_lease("prod", "host-b:2", 7999, 5000);
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_FALSE(b->granted);
  EXPECT_EQ(b->lease.holder, "host-a:1");
  EXPECT_EQ(b->lease.token, 1);
  EXPECT_EQ(b->lease.expires_at_ms, 8000);
  // Leases are per environment.
  auto dev = store_->acquire_watch_lease("dev", "host-b:2", 7999, 5000);
  ASSERT_TRUE(dev.ok() && dev->granted);
  EXPECT_EQ(dev->lease.token, 1);
  // Expired (expires_at <= now): taken over, with a higher token.
  auto takeover = store_->acquire_watch_lease("prod", "host-b:2", 8000, 5000);
  ASSERT_TRUE(takeover.ok()) << takeover.error().message;
  ASSERT_TRUE(takeover->granted);
  EXPECT_EQ(takeover->lease.holder, "host-b:2");
  EXPECT_EQ(takeover->lease.token, 2);
  EXPECT_EQ(takeover->lease.acquired_at_ms, 8000);
  EXPECT_EQ(takeover->lease.expires_at_ms, 13000);
  auto old = store_->acquire_watch_lease("prod", "host-a:1", 9000, 5000);
  ASSERT_TRUE(old.ok());
  EXPECT_FALSE(old->granted) << "the old holder comes back to a lease held by another";
  EXPECT_EQ(old->lease.holder, "host-b:2");
  // The same holder after its own lease expired gets a new token too (a new holding).
  auto again = store_->acquire_watch_lease("prod", "host-b:2", 20000, 5000);
  ASSERT_TRUE(again.ok() && again->granted);
  EXPECT_EQ(again->lease.token, 3);
  EXPECT_EQ(again->lease.acquired_at_ms, 20000);
  auto all = store_->list_watch_leases();
  ASSERT_TRUE(all.ok()) << all.error().message;
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].env, "dev");
  EXPECT_EQ((*all)[1].env, "prod");
  EXPECT_EQ((*all)[1].holder, "host-b:2");
  EXPECT_EQ((*all)[1].token, 3);
  EXPECT_EQ((*all)[1].expires_at_ms, 25000);
  // Malformed requests.
  EXPECT_EQ(store_->acquire_watch_lease("prod", "", 1, 5).error().code, Errc::invalid_argument);
  EXPECT_EQ(store_->acquire_watch_lease("", "x", 1, 5).error().code, Errc::invalid_argument);
  EXPECT_EQ(store_->acquire_watch_lease("prod", "x", 1, 0).error().code, Errc::invalid_argument);
}

TEST_P(StoreContract, ReleasedWatchLeaseIsFreeAtOnceAndKeepsItsToken) {
  auto a = store_->acquire_watch_lease("prod", "a", 1000, 60000);
  ASSERT_TRUE(a.ok() && a->granted);
  auto wrong = store_->release_watch_lease("prod", "a", 7);
  ASSERT_TRUE(wrong.ok()) << wrong.error().message;
  EXPECT_FALSE(*wrong) << "a release with another token changes nothing";
  auto other = store_->release_watch_lease("prod", "b", 1);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(*other) << "only the holder releases";
  EXPECT_FALSE(store_->acquire_watch_lease("prod", "b", 1001, 60000)->granted);
  auto rel = store_->release_watch_lease("prod", "a", 1);
  ASSERT_TRUE(rel.ok()) << rel.error().message;
  EXPECT_TRUE(*rel);
  auto row = store_->list_watch_leases();
  ASSERT_TRUE(row.ok() && row->size() == 1u);
  EXPECT_EQ((*row)[0].expires_at_ms, 0);
  EXPECT_EQ((*row)[0].token, 1);
  // Free at once, long before the released lease would have expired.
  auto b = store_->acquire_watch_lease("prod", "b", 1002, 60000);
  ASSERT_TRUE(b.ok() && b->granted);
  EXPECT_EQ(b->lease.token, 2);
  auto late = store_->release_watch_lease("prod", "a", 1);
  ASSERT_TRUE(late.ok());
  EXPECT_FALSE(*late) << "a late release by the old holder does not free the new holder's lease";
  EXPECT_FALSE(store_->acquire_watch_lease("prod", "a", 1003, 60000)->granted);
  auto none = store_->release_watch_lease("staging", "a", 1);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
}

TEST_P(StoreContract, AStaleFencingTokenWritesNothing) {
  auto a = store_->acquire_watch_lease("prod", "a", 1000, 5000);
  ASSERT_TRUE(a.ok() && a->granted);
  const int64_t ta = a->lease.token;
  // The holder's writes with its token are made.
  ASSERT_TRUE(store_->put_watch_cursor({"prod", 100, 1000, "ok", "", 1, 1, 1}, ta).ok());
  ASSERT_TRUE(store_->mark_watched_run({"prod", "etl", "r1", 100, 1000, "inc-1"}, ta).ok());
  ASSERT_TRUE(store_
                  ->mark_watched_run_and_enqueue({"prod", "etl", "r2", 200, 1000, "inc-2"},
                                                 {outbox_message("k2", "slack")}, ta)
                  .ok());
  auto p = store_->prune_watched_runs("prod", 0, ta);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(*p, 0);

  // The lease expires and another watcher takes it over: the old token is stale.
  auto b = store_->acquire_watch_lease("prod", "b", 6000, 5000);
  ASSERT_TRUE(b.ok() && b->granted);
  const int64_t tb = b->lease.token;
  ASSERT_GT(tb, ta);
  auto cur = store_->put_watch_cursor({"prod", 999, 6001, "ok", "stale", 2, 9, 9}, ta);
  ASSERT_FALSE(cur.ok());
  EXPECT_TRUE(is_fenced(cur.error())) << cur.error().message;
  EXPECT_EQ(cur.error().code, Errc::failed_precondition);
  EXPECT_NE(cur.error().message.find("prod"), std::string::npos) << cur.error().message;
  auto mark = store_->mark_watched_run_and_enqueue({"prod", "etl", "r3", 300, 6001, "inc-3"},
                                                   {outbox_message("k3", "slack")}, ta);
  ASSERT_FALSE(mark.ok());
  EXPECT_TRUE(is_fenced(mark.error())) << mark.error().message;
  auto plain = store_->mark_watched_run({"prod", "etl", "r4", 400, 6001, "inc-4"}, ta);
  ASSERT_FALSE(plain.ok());
  EXPECT_TRUE(is_fenced(plain.error())) << plain.error().message;
  auto prune = store_->prune_watched_runs("prod", 1000, ta);
  ASSERT_FALSE(prune.ok());
  EXPECT_TRUE(is_fenced(prune.error())) << prune.error().message;
  // Nothing of the stale writes is there.
  auto c = store_->get_watch_cursor("prod");
  ASSERT_TRUE(c.ok() && c->has_value());
  EXPECT_EQ((*c)->cursor_ms, 100);
  EXPECT_EQ((*c)->last_message, "");
  auto runs = store_->list_watched_runs("prod", 0, 10);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 2u) << "r3 and r4 not marked, r1 and r2 not pruned";
  EXPECT_EQ((*runs)[0].run_id, "r2");
  auto ob = store_->list_outbox("", 10);
  ASSERT_TRUE(ob.ok());
  ASSERT_EQ(ob->size(), 1u);
  EXPECT_EQ((*ob)[0].idempotency_key, "k2");
  // The new holder's writes are made; an environment without a lease fences every token.
  ASSERT_TRUE(store_->put_watch_cursor({"prod", 300, 6001, "ok", "", 2, 1, 0}, tb).ok());
  ASSERT_TRUE(store_
                  ->mark_watched_run_and_enqueue({"prod", "etl", "r3", 300, 6001, "inc-3"},
                                                 {outbox_message("k3", "slack")}, tb)
                  .ok());
  EXPECT_EQ(store_->list_watched_runs("prod", 0, 10)->size(), 3u);
  auto nolease = store_->put_watch_cursor({"dev", 1, 1, "ok", "", 1, 0, 0}, 1);
  ASSERT_FALSE(nolease.ok());
  EXPECT_TRUE(is_fenced(nolease.error())) << nolease.error().message;
  EXPECT_FALSE(is_fenced(make_error(Errc::failed_precondition, "not fenced")));
  // Without a fence, writes are made as before (one watcher, leases off).
  ASSERT_TRUE(store_->put_watch_cursor({"dev", 1, 1, "ok", "", 1, 0, 0}).ok());
}

TEST_P(StoreContract, ReplicasRacingForOneWatchLeaseExactlyOneWins) {
  constexpr int kReplicas = 4, kRounds = 10;
  std::vector<std::unique_ptr<Store>> replicas;
  ASSERT_NO_FATAL_FAILURE(open_replicas(kReplicas, replicas));
  for (int round = 0; round < kRounds; ++round) {
    // Even rounds: a new environment (no row yet); odd rounds: the previous round's environment,
    // whose lease has expired (a takeover race).
    const std::string env = "env" + std::to_string(round / 2);
    const int64_t now = 1000 + 100'000 * round;
    std::atomic<int> ready{0}, wins{0}, refused{0}, errors{0};
    std::vector<int64_t> tokens(kReplicas, -1);
    std::vector<std::thread> ts;
    for (int i = 0; i < kReplicas; ++i)
      ts.emplace_back([&, i, store = replicas[static_cast<std::size_t>(i)].get()] {
        ready.fetch_add(1);
        while (ready.load() < kReplicas) std::this_thread::yield();
        auto g = store->acquire_watch_lease(env, "w" + std::to_string(i), now, 5000);
        if (!g.ok()) {
          errors.fetch_add(1);
        } else if (g->granted) {
          wins.fetch_add(1);
          tokens[static_cast<std::size_t>(i)] = g->lease.token;
        } else {
          refused.fetch_add(1);
        }
      });
    for (auto& t : ts) t.join();
    EXPECT_EQ(errors.load(), 0) << "round " << round;
    EXPECT_EQ(wins.load(), 1) << "round " << round;
    EXPECT_EQ(refused.load(), kReplicas - 1) << "round " << round;
    const int64_t want = round % 2 == 0 ? 1 : 2;
    EXPECT_EQ(std::count(tokens.begin(), tokens.end(), want), 1) << "round " << round;
  }
}

TEST_P(StoreContract, FencedWritesRacingATakeoverLandBeforeItOrNotAtAll) {
  auto old_store = backend_->open();
  auto new_store = backend_->open();
  ASSERT_TRUE(old_store.ok() && new_store.ok());
  auto a = (*old_store)->acquire_watch_lease("prod", "old", 1000, 5000);
  ASSERT_TRUE(a.ok() && a->granted);
  const int64_t token = a->lease.token;
  std::atomic<int> written{0};
  std::atomic<bool> done{false};
  std::string last_error;
  // The old holder keeps marking runs with its token until a write is refused.
  std::thread old_holder([&] {
    for (int i = 0; i < 1'000'000; ++i) {
      auto m = (*old_store)
                   ->mark_watched_run({"prod", "etl", "r" + std::to_string(i), 100 + i, 1, "inc"},
                                      token);
      if (!m.ok()) {
        last_error = m.error().message;
        break;
      }
      written.fetch_add(1);
      // Room for the other connection to get the write lock (SQLite's busy handler is not fair).
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    done = true;
  });
  while (written.load() < 10 && !done.load()) std::this_thread::yield();
  auto b = (*new_store)->acquire_watch_lease("prod", "new", 100'000, 5000);
  ASSERT_TRUE(b.ok() && b->granted);
  // What the new holder sees right after its grant is everything the old holder wrote.
  auto seen = (*new_store)->list_watched_runs("prod", 0, 10'000'000);
  old_holder.join();
  ASSERT_TRUE(seen.ok()) << seen.error().message;
  EXPECT_NE(last_error.find("fenced: "), std::string::npos) << last_error;
  EXPECT_EQ(seen->size(), static_cast<std::size_t>(written.load()))
      << "every write the old holder was told succeeded committed before the takeover";
  auto after = (*new_store)->list_watched_runs("prod", 0, 10'000'000);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size(), seen->size()) << "no write of the old holder landed after the takeover";
}

TEST_P(StoreContract, MigrationToVersion8AddsWatchLeasesAndKeepsTheOutbox) {
  ASSERT_TRUE(store_->enqueue_messages({outbox_message("k", "slack")}).ok());
  ASSERT_TRUE(backend_->raw_exec(kUndoVersion8).ok());
  auto s = backend_->open();
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ((*s)->list_outbox("", 10)->size(), 1u);
  auto g = (*s)->acquire_watch_lease("prod", "a", 1, 10);
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_TRUE(g->granted);
}

TEST_P(StoreContract, WatchCursorRoundTripsAndIsPerEnvironment) {
  auto none = store_->get_watch_cursor("prod");
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_FALSE(none->has_value());
  WatchCursor c{"prod", 1000, 2000, "ok", "3 new failures", 1, 3, 3};
  ASSERT_TRUE(store_->put_watch_cursor(c).ok());
  ASSERT_TRUE(store_->put_watch_cursor({"dev", 5, 6, "error", "down", 1, 0, 0}).ok());
  c.cursor_ms = 1500;
  c.last_outcome = "error";
  c.last_message = "Airflow down";
  c.cycles = 2;
  c.last_opened = 0;
  ASSERT_TRUE(store_->put_watch_cursor(c).ok());
  auto got = store_->get_watch_cursor("prod");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->cursor_ms, 1500);
  EXPECT_EQ((*got)->last_cycle_ms, 2000);
  EXPECT_EQ((*got)->last_outcome, "error");
  EXPECT_EQ((*got)->last_message, "Airflow down");
  EXPECT_EQ((*got)->cycles, 2);
  EXPECT_EQ((*got)->incidents_opened, 3);
  EXPECT_EQ((*got)->last_opened, 0);
  auto all = store_->list_watch_cursors();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].env, "dev");
  EXPECT_EQ((*all)[1].env, "prod");
  EXPECT_FALSE(store_->put_watch_cursor(WatchCursor{}).ok());
}

TEST_P(StoreContract, WatchedRunsDeduplicateListAndPrune) {
  ASSERT_TRUE(store_->mark_watched_run({"prod", "etl", "r1", 100, 1, "inc-a"}).ok());
  ASSERT_TRUE(store_->mark_watched_run({"prod", "etl", "r2", 200, 2, "inc-b"}).ok());
  ASSERT_TRUE(store_->mark_watched_run({"dev", "etl", "r1", 300, 3, "inc-c"}).ok());
  // Again with the same or an older end: kept once, the first row stays.
  ASSERT_TRUE(store_->mark_watched_run({"prod", "etl", "r1", 100, 9, "inc-x"}).ok());
  ASSERT_TRUE(store_->mark_watched_run({"prod", "etl", "r1", 50, 9, "inc-y"}).ok());
  auto runs = store_->list_watched_runs("prod", 0, 10);
  ASSERT_TRUE(runs.ok()) << runs.error().message;
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ((*runs)[0].run_id, "r2");
  EXPECT_EQ((*runs)[1].run_id, "r1");
  EXPECT_EQ((*runs)[1].end_ms, 100);
  EXPECT_EQ((*runs)[1].handled_ms, 1);
  EXPECT_EQ((*runs)[1].incident_id, "inc-a");
  // A newer end (failed again after a clear): still one row, with the newer end.
  ASSERT_TRUE(store_->mark_watched_run({"prod", "etl", "r2", 400, 4, "inc-b"}).ok());
  runs = store_->list_watched_runs("prod", 300, 10);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].run_id, "r2");
  EXPECT_EQ((*runs)[0].end_ms, 400);
  EXPECT_EQ((*runs)[0].handled_ms, 4);
  ASSERT_TRUE(store_->mark_watched_run({"prod", "etl", "r2", 200, 2, "inc-b"}).ok());
  auto later = store_->list_watched_runs("prod", 150, 10);
  ASSERT_TRUE(later.ok());
  ASSERT_EQ(later->size(), 1u);
  EXPECT_EQ((*later)[0].run_id, "r2");
  EXPECT_EQ((*later)[0].end_ms, 400) << "an older end never replaces a newer one";
  auto pruned = store_->prune_watched_runs("prod", 150);
  ASSERT_TRUE(pruned.ok()) << pruned.error().message;
  EXPECT_EQ(*pruned, 1);
  runs = store_->list_watched_runs("prod", 0, 10);
  ASSERT_TRUE(runs.ok());
  EXPECT_EQ(runs->size(), 1u);
  auto dev = store_->list_watched_runs("dev", 0, 10);
  ASSERT_TRUE(dev.ok());
  EXPECT_EQ(dev->size(), 1u);
}

TEST_P(StoreContract, MigrationToVersion6AddsWatchTablesAndKeepsIncidents) {
  ASSERT_TRUE(store_->upsert_incident(incident("r1", 100)).ok());
  ASSERT_TRUE(backend_->raw_exec(kUndoVersion6).ok());
  auto s = backend_->open();
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_TRUE((*s)->get_incident(incident_id_for("dev", "etl", "r1")).ok());
  ASSERT_TRUE((*s)->put_watch_cursor({"dev", 1, 2, "ok", "", 1, 0, 0}).ok());
  auto c = (*s)->get_watch_cursor("dev");
  ASSERT_TRUE(c.ok() && c->has_value());
  EXPECT_EQ((*c)->cursor_ms, 1);
}

TEST_P(StoreContract, MigrationToVersion4KeepsApprovalsAndRecordsRequesterFor) {
  // Back to version 3 (no requester_for), with an approval an older dagmedic wrote.
  ASSERT_TRUE(backend_
                  ->raw_exec(std::string(kUndoVersion6) +
                             "ALTER TABLE approvals DROP COLUMN requester_for; "
                             "ALTER TABLE approval_decisions DROP COLUMN idp_issuer; "
                             "ALTER TABLE approval_decisions DROP COLUMN idp_subject; "
                             "DELETE FROM schema_version WHERE version >= 4")
                  .ok());
  ASSERT_TRUE(backend_
                  ->raw_exec("INSERT INTO approvals(id, action, env, tier, params_json, "
                             "params_hash, requester, requester_is_agent, reason, created_at, "
                             "expires_at, required_approvals, state) VALUES('old', "
                             "'trigger_dag', 'dev', 'dev', '{}', 'h', 'agent:x', 1, 'r', 1, 2, 1, "
                             "'pending')")
                  .ok());
  auto s = backend_->open();
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto old = (*s)->get_approval("old");
  ASSERT_TRUE(old.ok()) << old.error().message;
  EXPECT_EQ(old->requester, "agent:x");
  EXPECT_EQ(old->requester_for, "");
  ApprovalRecord a = old.value();
  a.id = "new";
  a.requester_for = "alice";
  ASSERT_TRUE((*s)->create_approval(a).ok());
  auto got = (*s)->get_approval("new");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->requester_for, "alice");
}

TEST_P(StoreContract, MigrationToVersion5KeepsDecisionsAndRecordsTheIdpIdentity) {
  ApprovalRecord a;
  a.id = "v4";
  a.action = "trigger_dag";
  a.env = a.tier = "dev";
  a.params_json = "{}";
  a.params_hash = "h";
  a.requester = "agent:x";
  a.reason = "r";
  a.created_at_ms = 1;
  a.expires_at_ms = 10'000;
  a.required_approvals = 2;
  ASSERT_TRUE(store_->create_approval(a).ok());
  // Back to version 4 (no IdP columns), with a decision an older dagmedic wrote.
  ASSERT_TRUE(backend_
                  ->raw_exec(std::string(kUndoVersion6) +
                             "ALTER TABLE approval_decisions DROP COLUMN idp_issuer; "
                             "ALTER TABLE approval_decisions DROP COLUMN idp_subject; "
                             "DELETE FROM schema_version WHERE version >= 5; "
                             "INSERT INTO approval_decisions(approval_id, principal, approve, "
                             "reason, at, ord) VALUES('v4', 'bob', 1, 'ok', 2, 1)")
                  .ok());
  auto s = backend_->open();
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto old = (*s)->get_approval("v4");
  ASSERT_TRUE(old.ok()) << old.error().message;
  ASSERT_EQ(old->decisions.size(), 1u);
  EXPECT_EQ(old->decisions[0].idp_subject, "");
  auto r = (*s)->record_decision("v4", Decision{"carol", true, "ok", 3, "https://idp", "sub-c"}, 3);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->state, ApprovalState::approved);
  auto got = (*s)->get_approval("v4");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->decisions[1].idp_issuer, "https://idp");
  EXPECT_EQ(got->decisions[1].idp_subject, "sub-c");
}

TEST_P(StoreContract, MigrationToVersion3KeepsVersion2Incidents) {
  // Put the database back to version 2 (no diagnosed_at), with incidents an older dagmedic wrote.
  ASSERT_TRUE(backend_
                  ->raw_exec(std::string(kUndoVersion6) +
                             "ALTER TABLE incidents DROP COLUMN diagnosed_at; "
                             "ALTER TABLE approvals DROP COLUMN requester_for; "
                             "ALTER TABLE approval_decisions DROP COLUMN idp_issuer; "
                             "ALTER TABLE approval_decisions DROP COLUMN idp_subject; "
                             "DELETE FROM schema_version WHERE version >= 3")
                  .ok());
  const std::string diagnosed = incident_id_for("dev", "etl", "old1");
  const std::string open = incident_id_for("dev", "etl", "old2");
  ASSERT_TRUE(backend_
                  ->raw_exec("INSERT INTO incidents(id, env, dag_id, run_id, state, signature, "
                             "category, first_failing_task, error, summary_json, postmortem_md, "
                             "opened_at, updated_at) VALUES('" +
                             diagnosed +
                             "', 'dev', 'etl', 'old1', 'recovered', 'sig1', 'network', 'load', "
                             "'boom', '{\"k\":1}', '# PM', 100, 200), ('" +
                             open +
                             "', 'dev', 'etl', 'old2', 'open', '', '', 'load', '', '{}', '', "
                             "300, 400)")
                  .ok());
  ASSERT_TRUE(backend_
                  ->raw_exec("INSERT INTO occurrences(signature, dag_id, run_id, task_id, "
                             "env, seen_at) VALUES('sig1', 'etl', 'old1', 'load', 'dev', 90)")
                  .ok());
  auto s = backend_->open();
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto got = (*s)->get_incident(diagnosed);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->state, "recovered");
  EXPECT_EQ(got->signature, "sig1");
  EXPECT_EQ(got->category, "network");
  EXPECT_EQ(got->first_failing_task, "load");
  EXPECT_EQ(got->error, "boom");
  EXPECT_EQ(got->summary_json, R"({"k":1})");
  EXPECT_EQ(got->postmortem_md, "# PM");
  EXPECT_EQ(got->opened_at_ms, 100);
  EXPECT_EQ(got->updated_at_ms, 200);
  EXPECT_EQ(got->diagnosed_at_ms, 0);  // diagnosed before version 3: unknown, stays unknown
  Incident re = incident("old1", 500);
  re.signature = "sig1";
  ASSERT_TRUE((*s)->upsert_incident(re).ok());
  got = (*s)->get_incident(diagnosed);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->diagnosed_at_ms, 0);
  // An undiagnosed version-2 incident gets diagnosed_at at its first diagnosis.
  Incident d = incident("old2", 600);
  d.signature = "sig2";
  ASSERT_TRUE((*s)->upsert_incident(d).ok());
  got = (*s)->get_incident(open);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->opened_at_ms, 300);
  EXPECT_EQ(got->diagnosed_at_ms, 600);
  auto occ = (*s)->occurrence_stats({});
  ASSERT_TRUE(occ.ok());
  EXPECT_EQ(occ->count, 1);
  // Opening again does not migrate twice.
  auto again = backend_->open();
  ASSERT_TRUE(again.ok()) << again.error().message;
  auto list = (*again)->list_incidents({}, 10);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 2u);
}

TEST_P(StoreContract, MigrationToVersion2DeduplicatesOccurrences) {
  // Put the database back to version 1 with duplicate sightings, as an older dagmedic wrote them.
  ASSERT_TRUE(
      backend_
          ->raw_exec(std::string(kUndoVersion6) +
                     "DROP INDEX occurrences_key; DROP INDEX occurrences_by_task; "
                     "DROP TABLE incidents; ALTER TABLE approvals DROP COLUMN requester_for; "
                     "ALTER TABLE approval_decisions DROP COLUMN idp_issuer; "
                     "ALTER TABLE approval_decisions DROP COLUMN idp_subject; "
                     "DELETE FROM schema_version WHERE version >= 2")
          .ok());
  ASSERT_TRUE(
      backend_
          ->raw_exec("INSERT INTO occurrences(signature, dag_id, run_id, task_id, env, "
                     "seen_at) VALUES('s','d','r','t','dev',50), ('s','d','r','t','dev',20),"
                     " ('s','d','r','t','dev',20), ('s','d','r2','t','dev',70)")
          .ok());
  auto s = backend_->open();
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto l = (*s)->list_occurrences({}, 10);
  ASSERT_TRUE(l.ok()) << l.error().message;
  ASSERT_EQ(l->size(), 2u);
  EXPECT_EQ((*l)[0].run_id, "r2");
  EXPECT_EQ((*l)[1].seen_at_ms, 20);
  ASSERT_TRUE((*s)->record_occurrence({"s", "d", "r", "t", "dev", 10}).ok());
  auto st = (*s)->occurrence_stats({});
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->count, 2);
  EXPECT_EQ(st->first_seen_ms, 10);
  ASSERT_TRUE((*s)->upsert_incident(incident("r", 1)).ok());
}

}  // namespace dm::store::testing
