// The Store contract, run against every implementation: included once per test binary and
// instantiated with INSTANTIATE_TEST_SUITE_P(Backend, StoreContract, Values(NamedBackend{…})).
#pragma once

#include <gtest/gtest.h>

#include <atomic>
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
  for (int i = 0; i < kReplicas; ++i) {
    auto s = backend_->open();
    ASSERT_TRUE(s.ok()) << s.error().message;
    replicas.push_back(std::move(*s));
  }
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
  for (int i = 0; i < kReplicas; ++i) {
    auto s = backend_->open();
    ASSERT_TRUE(s.ok()) << s.error().message;
    replicas.push_back(std::move(*s));
  }
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
                 std::string env = "dev") {
    ASSERT_TRUE(store_->record_occurrence({sig, dag, run, "task", env, t}).ok());
  };
  occ("sigA", "etl", "r1", 100);
  occ("sigA", "etl", "r1", 150);
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

}  // namespace dm::store::testing
