// Approval and audit behaviour, run against every store backend: included once per test binary
// and instantiated with INSTANTIATE_TEST_SUITE_P(Backend, GuardContract, Values(NamedBackend{…})).
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "guard/approval.h"
#include "guard/audit.h"
#include "guard/canonical.h"
#include "store/store_testing.h"

namespace dm::guard::testing {

using store::ApprovalState;
using store::testing::Backend;
using store::testing::NamedBackend;
using namespace std::chrono_literals;

inline AuditKey test_key() { return AuditKey::from_bytes(std::string(32, 'k')).value(); }

// SQL (for Backend::raw_exec) of an attacker without the key: replaces `from` by `to` in the body
// of entry `seq`, recomputes every hash after it and the head, so the chain itself stays valid.
inline std::string rewrite_chain_sql(store::Store& st, int64_t seq, const std::string& from,
                                     const std::string& to) {
  auto rows = st.read_audit(1, 1000);
  if (!rows || rows->empty()) return "SELECT 'no rows to rewrite'";
  std::string prev = store::genesis_hash(), sql;
  for (auto& r : *rows) {
    if (r.seq == seq) r.body.replace(r.body.find(from), from.size(), to);
    r.prev_hash = prev;
    r.hash = sha256_hex(r.prev_hash + r.body);
    prev = r.hash;
    sql += "UPDATE audit_log SET body = '" + r.body + "', prev_hash = '" + r.prev_hash +
           "', hash = '" + r.hash + "' WHERE seq = " + std::to_string(r.seq) + ";";
  }
  return sql + "UPDATE audit_head SET hash = '" + prev + "';";
}

class GuardContract : public ::testing::TestWithParam<NamedBackend> {
 protected:
  void SetUp() override {
    auto b = GetParam().make();
    ASSERT_TRUE(b.ok()) << b.error().message;
    backend_ = std::move(*b);
    auto s = backend_->open();
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::shared_ptr<store::Store>(std::move(*s));
    clock_ = std::make_shared<ManualClock>(std::chrono::system_clock::time_point(1'700'000'000s));
    ApprovalPolicy p;
    p.required_by_tier["prod"] = 2;
    approvals_ = std::make_unique<Approvals>(store_, clock_, p);
  }

  std::shared_ptr<store::Store> replica() {
    auto s = backend_->open();
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.ok() ? std::shared_ptr<store::Store>(std::move(*s)) : nullptr;
  }

  static ActionParams trigger(std::string dag = "etl_daily") {
    ActionParams p;
    p.dag_id = std::move(dag);
    p.conf = {{"date", "2026-11-24"}, {"full", true}};
    return p;
  }
  static ActionParams clear() {
    ActionParams p;
    p.dag_id = "etl_daily";
    p.conf = nlohmann::json::object();
    p.run_id = "scheduled__2026-11-24T00:00:00+00:00";
    p.task_ids = {"load", "extract"};
    return p;
  }

  const Principal agent_{"claude-agent", true};
  const Principal alice_{"alice@example.com", false};
  const Principal bob_{"bob@example.com", false};
  const Principal carol_{"carol@example.com", false};

  // A dev approval requested by the agent and approved by alice.
  store::ApprovalRecord approved_dev(const ActionParams& p,
                                     std::string_view action = "trigger_dag") {
    auto a = approvals_->request(action, p, agent_, "rerun after fix", "dev", "dev");
    EXPECT_TRUE(a.ok()) << a.error().message;
    if (!a.ok()) return {};
    auto r = approvals_->approve(a->id, alice_, "looks right");
    EXPECT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->state, ApprovalState::approved);
    return *r;
  }

  AuditLog make_audit(AuditOptions o = {}) { return AuditLog(store_, clock_, test_key(), o); }

  // n events from alternating principals.
  void fill(AuditLog& log, int n) {
    for (int i = 0; i < n; ++i) {
      AuditEvent e{
          i % 2 ? "bob" : "alice", "trigger_dag", "sha256:abc", "allowed", "", "", "", "", ""};
      auto r = log.append(e);
      ASSERT_TRUE(r.ok()) << r.error().message;
    }
  }

  std::unique_ptr<Backend> backend_;
  std::shared_ptr<store::Store> store_;
  std::shared_ptr<ManualClock> clock_;
  std::unique_ptr<Approvals> approvals_;
};

// ---------------- approvals ----------------

TEST_P(GuardContract, RequesterCannotApproveOwnRequest) {
  auto a = approvals_->request("trigger_dag", trigger(), alice_, "need a rerun", "dev", "dev");
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->requester, "alice@example.com");
  auto self = approvals_->approve(a->id, alice_, "me");
  ASSERT_FALSE(self.ok());
  EXPECT_EQ(self.error().code, Errc::permission_denied);
  // Case and surrounding blanks don't make a different person.
  auto sneaky = approvals_->approve(a->id, Principal{"  ALICE@Example.com ", false}, "me");
  ASSERT_FALSE(sneaky.ok());
  EXPECT_EQ(sneaky.error().code, Errc::permission_denied);
  auto got = approvals_->get(a->id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->state, ApprovalState::pending);
  EXPECT_TRUE(got->decisions.empty());
}

TEST_P(GuardContract, AgentIdentityCannotApprove) {
  auto a = approvals_->request("trigger_dag", trigger(), alice_, "need a rerun", "dev", "dev");
  ASSERT_TRUE(a.ok());
  auto r = approvals_->approve(a->id, Principal{"other-agent", true}, "lgtm");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::permission_denied);
  EXPECT_NE(r.error().message.find("agent"), std::string::npos);
  auto c = approvals_->consume(a->id, "trigger_dag", trigger(), "dev");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("pending"), std::string::npos);
}

// The human an agent acts for is in the requester set (issue 14): alice's agent asks, alice can
// never approve it (in any case spelling), and the record keeps who it was for in both stores.
TEST_P(GuardContract, TheHumanAnAgentActsForCannotApproveItsRequest) {
  Principal agent_for_alice{"agent:claude", true, " Alice@Example.com"};
  auto a =
      approvals_->request("trigger_dag", trigger(), agent_for_alice, "rerun", "prod-eu", "prod");
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->requester, "agent:claude");
  EXPECT_EQ(a->requester_for, "alice@example.com");
  auto stored = approvals_->get(a->id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->requester_for, "alice@example.com");
  for (const char* who : {"alice@example.com", "ALICE@example.com"}) {
    auto r = approvals_->approve(a->id, Principal{who, false}, "my own agent, fine");
    ASSERT_FALSE(r.ok()) << who;
    EXPECT_EQ(r.error().code, Errc::permission_denied);
    EXPECT_NE(r.error().message.find("their own agent"), std::string::npos) << r.error().message;
  }
  ASSERT_TRUE(approvals_->approve(a->id, bob_, "ok").ok());
  auto still = approvals_->get(a->id);
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(still->state, ApprovalState::pending);  // bob alone is not two people
  EXPECT_EQ(still->decisions.size(), 1u);
  // A malformed acting_for is refused, not dropped.
  auto bad = approvals_->request("trigger_dag", trigger(),
                                 Principal{"agent:claude", true, "al ice"}, "rerun", "dev", "dev");
  EXPECT_FALSE(bad.ok());
}

TEST_P(GuardContract, NOfMCountsDistinctIdpSubjects) {
  auto a = approvals_->request("trigger_dag", trigger(), agent_, "rerun", "prod-eu", "prod");
  ASSERT_TRUE(a.ok()) << a.error().message;
  const std::string iss = "https://sso.example.com/realms/data";
  Principal carol{"carol", false, "", iss, "sub-carol"};
  ASSERT_TRUE(approvals_->approve(a->id, carol, "looked").ok());
  // The same IdP subject under another principal spelling (a renamed account) counts once.
  Principal renamed{"carol.renamed", false, "", iss, "sub-carol"};
  auto again = approvals_->approve(a->id, renamed, "again");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::conflict);
  EXPECT_NE(again.error().message.find("same person (IdP subject sub-carol)"), std::string::npos)
      << again.error().message;
  // The same subject at another issuer is another person.
  Principal other_iss{"carol2", false, "", "https://other.example.com", "sub-carol"};
  auto two = approvals_->approve(a->id, other_iss, "looked too");
  ASSERT_TRUE(two.ok()) << two.error().message;
  EXPECT_EQ(two->state, ApprovalState::approved);
  auto stored = approvals_->get(a->id);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->decisions.size(), 2u);
  EXPECT_EQ(stored->decisions[0].idp_issuer, iss);
  EXPECT_EQ(stored->decisions[0].idp_subject, "sub-carol");
  EXPECT_EQ(stored->decisions[1].idp_issuer, "https://other.example.com");
}

TEST_P(GuardContract, WithRequiredIdpApproversOnlyVouchedApprovalsCount) {
  ApprovalPolicy p;
  p.require_idp_approvers = true;
  Approvals strict(store_, clock_, p);
  auto a = strict.request("trigger_dag", trigger(), agent_, "rerun", "dev", "dev");
  ASSERT_TRUE(a.ok()) << a.error().message;
  auto r = strict.approve(a->id, bob_, "from the CLI");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::permission_denied);
  EXPECT_NE(r.error().message.find("signed in through the identity provider"), std::string::npos);
  auto ok = strict.approve(a->id, Principal{"bob", false, "", "https://sso", "sub-bob"}, "page");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->state, ApprovalState::approved);
}

TEST_P(GuardContract, ProdNeedsTwoDistinctHumansDuplicateCountsOnce) {
  auto a = approvals_->request("trigger_dag", trigger(), agent_, "rerun", "prod-eu", "prod");
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->required_approvals, 2);
  auto r1 = approvals_->approve(a->id, alice_, "ok");
  ASSERT_TRUE(r1.ok()) << r1.error().message;
  EXPECT_EQ(r1->state, ApprovalState::pending);
  auto dup = approvals_->approve(a->id, Principal{"Alice@example.com", false}, "ok again");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, Errc::conflict);
  auto early = approvals_->consume(a->id, "trigger_dag", trigger(), "prod-eu");
  ASSERT_FALSE(early.ok());
  auto r2 = approvals_->approve(a->id, bob_, "ok");
  ASSERT_TRUE(r2.ok()) << r2.error().message;
  EXPECT_EQ(r2->state, ApprovalState::approved);
  auto c = approvals_->consume(a->id, "trigger_dag", trigger(), "prod-eu");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->state, ApprovalState::consumed);
}

TEST_P(GuardContract, DeniedCannotBeApprovedOrConsumed) {
  auto a = approvals_->request("trigger_dag", trigger(), agent_, "rerun", "dev", "dev");
  ASSERT_TRUE(a.ok());
  auto d = approvals_->deny(a->id, bob_, "wrong date");
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->state, ApprovalState::denied);
  auto r = approvals_->approve(a->id, alice_, "ok");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::failed_precondition);
  auto c = approvals_->consume(a->id, "trigger_dag", trigger(), "dev");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("denied"), std::string::npos);
}

TEST_P(GuardContract, ReasonIsRequiredForEveryStep) {
  auto none = approvals_->request("trigger_dag", trigger(), agent_, "  ", "dev", "dev");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, Errc::invalid_argument);
  auto a = approvals_->request("trigger_dag", trigger(), agent_, "rerun", "dev", "dev");
  ASSERT_TRUE(a.ok());
  auto r = approvals_->approve(a->id, alice_, "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  auto d = approvals_->deny(a->id, alice_, "");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, Errc::invalid_argument);
}

TEST_P(GuardContract, ExpiryFollowsTheInjectedClock) {
  auto a = approvals_->request("trigger_dag", trigger(), agent_, "rerun", "dev", "dev");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->expires_at_ms - a->created_at_ms, 3'600'000);
  clock_->advance(61min);
  auto r = approvals_->approve(a->id, alice_, "ok");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("expired"), std::string::npos);

  auto b = approvals_->request("trigger_dag", trigger(), agent_, "rerun", "dev", "dev", 10min);
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(approvals_->approve(b->id, alice_, "ok").ok());
  clock_->advance(10min);
  auto c = approvals_->consume(b->id, "trigger_dag", trigger(), "dev");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("expired"), std::string::npos);
  auto bad_ttl = approvals_->request("trigger_dag", trigger(), agent_, "x", "dev", "dev", 25h);
  ASSERT_FALSE(bad_ttl.ok());
  EXPECT_EQ(bad_ttl.error().code, Errc::invalid_argument);
}

TEST_P(GuardContract, ConsumedApprovalCannotBeReplayed) {
  auto a = approved_dev(trigger());
  auto c = approvals_->consume(a.id, "trigger_dag", trigger(), "dev");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(run_id_for(*c), "dagmedic__" + a.id);
  auto again = approvals_->consume(a.id, "trigger_dag", trigger(), "dev");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::conflict);
  EXPECT_NE(again.error().message.find("already used"), std::string::npos);
  auto late = approvals_->approve(a.id, bob_, "late");
  ASSERT_FALSE(late.ok());
}

TEST_P(GuardContract, EveryChangedParameterIsRefused) {
  auto a = approved_dev(trigger());
  struct Case {
    const char* what;
    std::string action;
    ActionParams p;
    std::string env;
  };
  ActionParams other_dag = trigger("etl_hourly");
  ActionParams other_conf = trigger();
  other_conf.conf["date"] = "2026-11-25";
  ActionParams extra_conf = trigger();
  extra_conf.conf["force"] = true;
  ActionParams run_target = trigger();
  run_target.run_id = "manual__1";
  ActionParams task_target = trigger();
  task_target.task_ids = {"load"};
  std::vector<Case> cases = {{"dag", "trigger_dag", other_dag, "dev"},
                             {"conf value", "trigger_dag", other_conf, "dev"},
                             {"conf key", "trigger_dag", extra_conf, "dev"},
                             {"run target", "trigger_dag", run_target, "dev"},
                             {"task target", "trigger_dag", task_target, "dev"},
                             {"action", "clear_failed_tasks", trigger(), "dev"},
                             {"environment", "trigger_dag", trigger(), "prod"}};
  for (const auto& c : cases) {
    auto r = approvals_->consume(a.id, c.action, c.p, c.env);
    ASSERT_FALSE(r.ok()) << c.what;
    EXPECT_EQ(r.error().code, Errc::failed_precondition) << c.what;
    EXPECT_NE(r.error().message.find("parameters changed since approval"), std::string::npos)
        << c.what << ": " << r.error().message;
  }
  // None of the refused attempts used it up; conf key order does not matter.
  ActionParams same = trigger();
  same.conf = nlohmann::json::parse(R"({"full":true,"date":"2026-11-24"})");
  auto ok = approvals_->consume(a.id, "trigger_dag", same, "dev");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
}

TEST_P(GuardContract, ClearRunTargetIsBoundIncludingTasks) {
  auto a = approved_dev(clear(), "clear_failed_tasks");
  ActionParams other_run = clear();
  other_run.run_id = "scheduled__2026-11-23T00:00:00+00:00";
  auto r = approvals_->consume(a.id, "clear_failed_tasks", other_run, "dev");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("parameters changed"), std::string::npos);
  ActionParams more_tasks = clear();
  more_tasks.task_ids.push_back("publish");
  r = approvals_->consume(a.id, "clear_failed_tasks", more_tasks, "dev");
  ASSERT_FALSE(r.ok());
  ActionParams reordered = clear();
  reordered.task_ids = {"extract", "load", "load"};  // a set: same target
  r = approvals_->consume(a.id, "clear_failed_tasks", reordered, "dev");
  ASSERT_TRUE(r.ok()) << r.error().message;
}

TEST_P(GuardContract, CrossEnvironmentApprovalIsUseless) {
  // Approved for staging; the same DAG and conf in prod is another request.
  auto a = approvals_->request("trigger_dag", trigger(), agent_, "rerun", "staging", "dev");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(approvals_->approve(a->id, alice_, "ok").ok());
  auto prod = approvals_->consume(a->id, "trigger_dag", trigger(), "prod");
  ASSERT_FALSE(prod.ok());
  EXPECT_NE(prod.error().message.find("parameters changed"), std::string::npos);
  auto unknown_tier = approvals_->request("trigger_dag", trigger(), agent_, "r", "x", "qa");
  ASSERT_FALSE(unknown_tier.ok());
  EXPECT_EQ(unknown_tier.error().code, Errc::invalid_argument);
}

TEST_P(GuardContract, ReplicasRacingToConsumeExactlyOneWins) {
  constexpr int kReplicas = 4, kRounds = 10;
  std::vector<std::unique_ptr<Approvals>> reps;
  for (int i = 0; i < kReplicas; ++i) {
    auto s = replica();
    ASSERT_NE(s, nullptr);
    reps.push_back(std::make_unique<Approvals>(s, clock_));
  }
  for (int round = 0; round < kRounds; ++round) {
    auto a = approved_dev(trigger());
    std::atomic<int> ready{0}, wins{0};
    std::vector<std::thread> ts;
    for (auto& r : reps)
      ts.emplace_back([&, rep = r.get()] {
        ready.fetch_add(1);
        while (ready.load() < kReplicas) std::this_thread::yield();
        if (rep->consume(a.id, "trigger_dag", trigger(), "dev").ok()) wins.fetch_add(1);
      });
    for (auto& t : ts) t.join();
    EXPECT_EQ(wins.load(), 1) << "round " << round;
  }
}

TEST_P(GuardContract, ListByState) {
  auto a = approved_dev(trigger());
  auto b = approvals_->request("trigger_dag", trigger(), agent_, "rerun", "dev", "dev");
  ASSERT_TRUE(b.ok());
  auto pending = approvals_->list(ApprovalState::pending);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].id, b->id);
  auto approved = approvals_->list(ApprovalState::approved);
  ASSERT_TRUE(approved.ok());
  ASSERT_EQ(approved->size(), 1u);
  EXPECT_EQ((*approved)[0].id, a.id);
  EXPECT_EQ((*approved)[0].params_hash, params_hash("trigger_dag", trigger(), "dev").value());
}

TEST_P(GuardContract, RowForcedToApprovedWithoutApprovalsIsRefused) {
  auto a = approvals_->request("trigger_dag", trigger(), agent_, "rerun", "dev", "dev");
  ASSERT_TRUE(a.ok());
  // Someone with database access flips the state without any human decision.
  ASSERT_TRUE(
      backend_->raw_exec("UPDATE approvals SET state = 'approved' WHERE id = '" + a->id + "'")
          .ok());
  auto c = approvals_->consume(a->id, "trigger_dag", trigger(), "dev");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("enough distinct approvals"), std::string::npos);
  auto got = approvals_->get(a->id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->state, ApprovalState::approved);  // not consumed
}

TEST_P(GuardContract, ApprovalStepsAreAuditedIncludingRefusals) {
  auto audit = std::make_shared<AuditLog>(store_, clock_, test_key());
  Approvals ap(store_, clock_, {}, audit);
  auto a = ap.request("trigger_dag", trigger(), agent_, "rerun", "dev", "dev");
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_FALSE(ap.approve(a->id, agent_, "self").ok());
  ASSERT_TRUE(ap.approve(a->id, alice_, "ok").ok());
  ASSERT_TRUE(ap.consume(a->id, "trigger_dag", trigger(), "dev").ok());
  auto rows = store_->read_audit(1, 10);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 4u);
  std::vector<nlohmann::json> e;
  for (const auto& r : *rows) e.push_back(nlohmann::json::parse(r.body));
  EXPECT_EQ(e[0]["approval_event"], "requested");
  EXPECT_EQ(e[0]["principal"], "claude-agent");
  EXPECT_EQ(e[0]["args_digest"], "params_sha256:" + a->params_hash);
  EXPECT_EQ(e[1]["decision"], "refused");
  EXPECT_EQ(e[1]["upstream_status"], "permission_denied");
  EXPECT_EQ(e[2]["approval_event"], "approved");
  EXPECT_EQ(e[2]["principal"], "alice@example.com");
  EXPECT_EQ(e[3]["approval_event"], "consumed");
  EXPECT_EQ(e[3]["approval_id"], a->id);
  auto rep = audit->verify();
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->ok) << rep->reason;
}

// ---------------- audit ----------------

TEST_P(GuardContract, AuditChainVerifiesAndRecordsTheWriteProtocol) {
  auto log = make_audit({.checkpoint_every = 4});
  fill(log, 3);
  bool ran = false;
  AuditEvent intent{"alice",
                    "trigger_dag",
                    "sha256:1",
                    "allowed",
                    "apr1",
                    "consumed",
                    "trigger_dag dev etl_daily run_id=dagmedic__apr1",
                    "",
                    ""};
  Result<int> r = log.guarded(intent, [&]() -> Result<int> {
    ran = true;
    return 201;
  });
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(ran);
  auto rep = log.verify();
  ASSERT_TRUE(rep.ok()) << rep.error().message;
  EXPECT_TRUE(rep->ok) << rep->reason;
  EXPECT_EQ(rep->entries, 5);
  EXPECT_EQ(rep->anchored_seq, 4);  // checkpoint every 4
  auto rows = store_->read_audit(4, 10);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  auto begin = nlohmann::json::parse((*rows)[0].body);
  auto done = nlohmann::json::parse((*rows)[1].body);
  EXPECT_EQ(begin["phase"], "begin");
  EXPECT_EQ(done["phase"], "complete");
  EXPECT_EQ(done["ref_seq"], 4);
  EXPECT_EQ(done["upstream_status"], "ok");
  EXPECT_EQ(done["approval_id"], "apr1");
  EXPECT_EQ((*rows)[1].hash, sha256_hex((*rows)[1].prev_hash + (*rows)[1].body));
}

TEST_P(GuardContract, AuditEditDetected) {
  auto log = make_audit({.checkpoint_every = 5});
  fill(log, 6);
  ASSERT_TRUE(backend_->allow_tampering().ok());
  ASSERT_TRUE(backend_
                  ->raw_exec("UPDATE audit_log SET body = replace(body, 'alice', 'mallory') "
                             "WHERE seq = 3")
                  .ok());
  auto rep = log.verify();
  ASSERT_TRUE(rep.ok()) << rep.error().message;
  EXPECT_FALSE(rep->ok);
  EXPECT_EQ(rep->first_bad_seq, 3);
  EXPECT_NE(rep->reason.find("edited"), std::string::npos) << rep->reason;
}

TEST_P(GuardContract, AuditDeleteDetected) {
  auto log = make_audit({.checkpoint_every = 5});
  fill(log, 6);
  ASSERT_TRUE(backend_->allow_tampering().ok());
  ASSERT_TRUE(backend_->raw_exec("DELETE FROM audit_log WHERE seq = 4").ok());
  auto rep = log.verify();
  ASSERT_TRUE(rep.ok());
  EXPECT_FALSE(rep->ok);
  EXPECT_EQ(rep->first_bad_seq, 4);
  EXPECT_NE(rep->reason.find("missing"), std::string::npos) << rep->reason;
}

TEST_P(GuardContract, AuditReorderDetected) {
  auto log = make_audit({.checkpoint_every = 5});
  fill(log, 6);
  ASSERT_TRUE(backend_->allow_tampering().ok());
  ASSERT_TRUE(backend_
                  ->raw_exec("UPDATE audit_log SET seq = -3 WHERE seq = 3; "
                             "UPDATE audit_log SET seq = 3 WHERE seq = 4; "
                             "UPDATE audit_log SET seq = 4 WHERE seq = -3;")
                  .ok());
  auto rep = log.verify();
  ASSERT_TRUE(rep.ok());
  EXPECT_FALSE(rep->ok);
  EXPECT_EQ(rep->first_bad_seq, 3);
  EXPECT_NE(rep->reason.find("reordered"), std::string::npos) << rep->reason;
}

TEST_P(GuardContract, AuditTruncationDetectedBySignedCheckpoint) {
  auto log = make_audit({.checkpoint_every = 5});
  fill(log, 10);  // checkpoints at 5 and 10
  ASSERT_TRUE(backend_->allow_tampering().ok());
  // Cut the last two entries and move the head back, so the remaining chain is self-consistent.
  ASSERT_TRUE(backend_
                  ->raw_exec("DELETE FROM audit_log WHERE seq > 8; UPDATE audit_head SET "
                             "seq = 8, hash = (SELECT hash FROM audit_log WHERE seq = 8)")
                  .ok());
  auto rep = log.verify();
  ASSERT_TRUE(rep.ok());
  EXPECT_FALSE(rep->ok);
  EXPECT_EQ(rep->first_bad_seq, 9);
  EXPECT_NE(rep->reason.find("truncated"), std::string::npos) << rep->reason;
}

TEST_P(GuardContract, AuditTruncationPastLastPeriodicCheckpointCaughtByOnDemandOne) {
  auto log = make_audit({.checkpoint_every = 5});
  fill(log, 7);
  auto cp = log.checkpoint();
  ASSERT_TRUE(cp.ok()) << cp.error().message;
  EXPECT_EQ(cp->seq, 7);
  ASSERT_TRUE(backend_->allow_tampering().ok());
  ASSERT_TRUE(backend_
                  ->raw_exec("DELETE FROM audit_log WHERE seq = 7; UPDATE audit_head SET "
                             "seq = 6, hash = (SELECT hash FROM audit_log WHERE seq = 6)")
                  .ok());
  auto rep = log.verify();
  ASSERT_TRUE(rep.ok());
  EXPECT_FALSE(rep->ok);
  EXPECT_EQ(rep->first_bad_seq, 7);
}

TEST_P(GuardContract, AuditRewrittenChainDetectedByCheckpoint) {
  auto log = make_audit({.checkpoint_every = 5});
  fill(log, 6);
  ASSERT_TRUE(backend_->allow_tampering().ok());
  // An attacker without the key edits entry 2 and recomputes every later hash and the head.
  const std::string sql = rewrite_chain_sql(*store_, 2, "bob", "eve");
  ASSERT_TRUE(backend_->raw_exec(sql).ok());
  auto rep = log.verify();
  ASSERT_TRUE(rep.ok());
  EXPECT_FALSE(rep->ok);
  EXPECT_EQ(rep->first_bad_seq, 5);
  EXPECT_NE(rep->reason.find("rewritten"), std::string::npos) << rep->reason;
}

TEST_P(GuardContract, AuditForgedCheckpointDetected) {
  auto log = make_audit({.checkpoint_every = 100});
  fill(log, 3);
  auto h = store_->audit_head();
  ASSERT_TRUE(h.ok());
  ASSERT_TRUE(store_->put_checkpoint({3, h->hash, 1, std::string(64, 'a')}).ok());
  auto rep = log.verify();
  ASSERT_TRUE(rep.ok());
  EXPECT_FALSE(rep->ok);
  EXPECT_EQ(rep->first_bad_seq, 3);
  EXPECT_NE(rep->reason.find("signature"), std::string::npos) << rep->reason;
  // A log signed with another key fails too.
  AuditLog other(store_, clock_, AuditKey::from_bytes(std::string(32, 'z')).value(), {});
  ASSERT_TRUE(log.checkpoint().ok());
  auto rep2 = other.verify();
  ASSERT_TRUE(rep2.ok());
  EXPECT_FALSE(rep2->ok);
}

TEST_P(GuardContract, ConcurrentAppendsFromReplicasKeepOneChain) {
  constexpr int kReplicas = 3, kEach = 25;
  std::vector<std::unique_ptr<AuditLog>> logs;
  for (int i = 0; i < kReplicas; ++i) {
    auto s = replica();
    ASSERT_NE(s, nullptr);
    logs.push_back(
        std::make_unique<AuditLog>(s, clock_, test_key(), AuditOptions{.checkpoint_every = 10}));
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < kReplicas; ++i)
    ts.emplace_back([&, log = logs[i].get(), i] {
      for (int k = 0; k < kEach; ++k) {
        auto t = log->begin_write(
            {"replica" + std::to_string(i), "trigger_dag", "", "allowed", "", "", "x", "", ""});
        if (!t.ok() || !log->complete(std::move(*t), {"ok", ""}).ok()) failures.fetch_add(1);
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto rep = make_audit().verify();
  ASSERT_TRUE(rep.ok()) << rep.error().message;
  EXPECT_TRUE(rep->ok) << rep->reason;
  EXPECT_EQ(rep->entries, 2 * kReplicas * kEach);
  EXPECT_EQ(rep->checkpoints, 2 * kReplicas * kEach / 10);
  EXPECT_EQ(rep->anchored_seq, 2 * kReplicas * kEach);
}

}  // namespace dm::guard::testing
