// The notification outbox: payloads per kind, signing, redaction, delivery outcomes, backoff,
// timeouts, idempotency keys, and the watcher enqueueing with its marks. FakeHttpClient (the HTTP
// seam), a ManualClock and an in-memory SQLite store: no network, no sleeping.
#include "watch/outbox.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <map>
#include <set>

#include "common/iso_time.h"
#include "http/fake_http_client.h"
#include "runbook/testing/fake_airflow.h"
#include "store/sqlite_store.h"
#include "watch/testing/watch_rig.h"
#include "watch/watch.h"

namespace dm::watch {
namespace {

using json = nlohmann::json;
using http::FakeHttpClient;

Clock::time_point t0() { return *parse_iso8601("2026-11-26T12:00:00Z"); }
int64_t ms(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::shared_ptr<const logs::Redactor> redactor() {
  auto r = logs::Redactor::builtin();
  EXPECT_TRUE(r.ok());
  return *r;
}

IncidentFacts facts() {
  IncidentFacts f;
  f.incident_id = "inc-0123456789abcdef";
  f.env = "prod";
  f.dag_id = "etl_orders";
  f.run_id = "scheduled__2026-11-26";
  f.severity = "sev1";
  f.first_failing_task = "load";
  f.signature = "FileNotFoundError: s3://lake/<path> does not exist";
  f.category = "missing_input";
  f.error = "FileNotFoundError: s3://lake/orders does not exist";
  f.notes = {"log truncated"};
  f.failed_at_ms = ms(t0());
  f.opened = true;
  f.incident_url = "https://dagmedic.example.com/incidents/inc-0123456789abcdef";
  return f;
}

config::NotifyTarget target(const std::string& name, const std::string& kind,
                            int max_attempts = 4) {
  return testing::fake_target(name, kind, max_attempts);
}

std::string hmac_hex(const std::string& key, const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len);
  std::string out;
  static const char* hex = "0123456789abcdef";
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(hex[md[i] >> 4]);
    out.push_back(hex[md[i] & 15]);
  }
  return out;
}

// ---- payloads ----

TEST(NotifyPayload, SlackHasTextBlocksAndTheIncidentLink) {
  auto p = build_payload("slack", facts(), *redactor());
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE((*p)["text"].is_string());
  EXPECT_NE((*p)["text"].get<std::string>().find("etl_orders failed in prod"), std::string::npos);
  EXPECT_NE((*p)["text"].get<std::string>().find(facts().incident_url), std::string::npos);
  ASSERT_TRUE((*p)["blocks"].is_array());
  EXPECT_EQ((*p)["blocks"][0]["type"], "header");
  EXPECT_EQ((*p)["blocks"][1]["type"], "section");
  EXPECT_NE(p->dump().find("\"url\":\"" + facts().incident_url + "\""), std::string::npos);
}

TEST(NotifyPayload, PagerDutyEventsV2Fields) {
  auto p = build_payload("pagerduty", facts(), *redactor());
  ASSERT_TRUE(p.ok());
  const json& j = *p;
  EXPECT_EQ(j["routing_key"], "") << "the key is added at send time, never stored";
  EXPECT_EQ(j["event_action"], "trigger");
  EXPECT_EQ(j["dedup_key"], "inc-0123456789abcdef");
  const json& pl = j["payload"];
  for (const char* k : {"summary", "source", "severity", "timestamp", "component", "group", "class",
                        "custom_details"})
    EXPECT_TRUE(pl.contains(k)) << k;
  EXPECT_LE(pl["summary"].get<std::string>().size(), 1024u);
  EXPECT_EQ(pl["severity"], "critical");
  EXPECT_EQ(pl["timestamp"], "2026-11-26T12:00:00Z");
  EXPECT_EQ(pl["component"], "etl_orders");
  EXPECT_EQ(pl["group"], "prod");
  EXPECT_EQ(pl["custom_details"]["incident_id"], "inc-0123456789abcdef");
  ASSERT_EQ(j["links"].size(), 1u);
  EXPECT_EQ(j["links"][0]["href"], facts().incident_url);
  EXPECT_TRUE(j["links"][0]["text"].is_string());
  EXPECT_EQ(pagerduty_severity("sev2"), "error");
  EXPECT_EQ(pagerduty_severity("sev3"), "warning");
  EXPECT_EQ(pagerduty_severity(""), "info");
  // A long error: the summary is cut to PagerDuty's 1024 characters.
  IncidentFacts f = facts();
  f.error = std::string(5000, 'x');
  auto longp = build_payload("pagerduty", f, *redactor());
  ASSERT_TRUE(longp.ok());
  EXPECT_EQ((*longp)["payload"]["summary"].get<std::string>().size(), 1024u);
  // A resolve: the same dedup_key.
  f.event_action = "resolve";
  auto res = build_payload("pagerduty", f, *redactor());
  ASSERT_TRUE(res.ok());
  EXPECT_EQ((*res)["event_action"], "resolve");
  EXPECT_EQ((*res)["dedup_key"], "inc-0123456789abcdef");
}

TEST(NotifyPayload, TeamsAdaptiveCard) {
  auto p = build_payload("teams", facts(), *redactor());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ((*p)["type"], "message");
  const json& a = (*p)["attachments"][0];
  EXPECT_EQ(a["contentType"], "application/vnd.microsoft.card.adaptive");
  EXPECT_EQ(a["content"]["type"], "AdaptiveCard");
  EXPECT_EQ(a["content"]["version"], "1.4");
  ASSERT_TRUE(a["content"]["body"].is_array());
  EXPECT_EQ(a["content"]["body"][0]["type"], "TextBlock");
  EXPECT_EQ(a["content"]["body"][1]["type"], "FactSet");
  EXPECT_EQ(a["content"]["actions"][0]["type"], "Action.OpenUrl");
  EXPECT_EQ(a["content"]["actions"][0]["url"], facts().incident_url);
}

TEST(NotifyPayload, GenericJsonHasTheIncidentFacts) {
  auto p = build_payload("json", facts(), *redactor());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ((*p)["event"], "incident.failure");
  EXPECT_EQ((*p)["incident_id"], "inc-0123456789abcdef");
  EXPECT_EQ((*p)["environment"], "prod");
  EXPECT_EQ((*p)["dag_id"], "etl_orders");
  EXPECT_EQ((*p)["severity"], "sev1");
  EXPECT_EQ((*p)["signature"], facts().signature);
  EXPECT_EQ((*p)["incident_url"], facts().incident_url);
  EXPECT_EQ((*p)["opened"], true);
  EXPECT_FALSE(build_payload("email", facts(), *redactor()).ok());
}

TEST(NotifyPayload, APlantedSecretIsRedactedInEveryKind) {
  IncidentFacts f = facts();
  f.signature = "ConnectionError password=hunter2 id=AKIAIOSFODNN7EXAMPLE";
  f.error = "login failed: password=hunter2";
  f.notes = {"token AKIAIOSFODNN7EXAMPLE seen"};
  for (const char* kind : {"slack", "pagerduty", "teams", "json"}) {
    auto p = build_payload(kind, f, *redactor());
    ASSERT_TRUE(p.ok());
    const std::string s = p->dump();
    EXPECT_EQ(s.find("hunter2"), std::string::npos) << kind << ": " << s;
    EXPECT_EQ(s.find("AKIAIOSFODNN7EXAMPLE"), std::string::npos) << kind;
    EXPECT_NE(s.find("[REDACTED:password]"), std::string::npos) << kind;
  }
}

TEST(NotifyRequest, JsonSignatureVerifiesWithHmacSha256OfTimestampDotBody) {
  auto t = target("hook", "json");
  auto req = prepare_request(t, "{\"a\":1}", "key-1", "s3cr3t", 1764158400);
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->method, http::Method::post);
  EXPECT_EQ(req->body, "{\"a\":1}") << "the exact stored body is sent and signed";
  http::Response hdrs{200, req->headers, ""};
  EXPECT_EQ(hdrs.header("X-Dagmedic-Timestamp"), "1764158400");
  EXPECT_EQ(hdrs.header("X-Dagmedic-Signature"),
            "sha256=" + hmac_hex("s3cr3t", std::string("1764158400.") + req->body));
  EXPECT_EQ(hdrs.header("Idempotency-Key"), "key-1");
  EXPECT_EQ(hdrs.header("Content-Type"), "application/json");
  EXPECT_EQ(req->timeout, std::chrono::seconds(2));
}

TEST(NotifyRequest, PagerDutyRoutingKeyIsAddedAtSendTime) {
  auto p = build_payload("pagerduty", facts(), *redactor());
  ASSERT_TRUE(p.ok());
  auto req = prepare_request(target("pd", "pagerduty"), p->dump(), "k", "R0UTING", 1);
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(json::parse(req->body)["routing_key"], "R0UTING");
  EXPECT_FALSE(prepare_request(target("pd", "pagerduty"), "not json", "k", "R", 1).ok());
}

TEST(NotifyRequest, IdempotencyKeyDependsOnIncidentEventAndTarget) {
  const auto k = idempotency_key("inc-1", "trigger:5", "slack");
  EXPECT_EQ(k.size(), 64u);
  EXPECT_EQ(k, idempotency_key("inc-1", "trigger:5", "slack"));
  EXPECT_NE(k, idempotency_key("inc-1", "trigger:6", "slack"));
  EXPECT_NE(k, idempotency_key("inc-1", "trigger:5", "pd"));
  EXPECT_NE(k, idempotency_key("inc-2", "trigger:5", "slack"));
}

// ---- delivery ----

struct OutboxRig {
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>(t0());
  std::shared_ptr<FakeHttpClient> http = std::make_shared<FakeHttpClient>();
  std::unique_ptr<store::Store> store;
  std::map<std::string, std::string> env = {{"HOOK_KEY", "hook-secret"}, {"PD_KEY", "pd-key"}};
  double jitter = 1.0;  // the top of every backoff window, so delays are exact
  std::unique_ptr<Outbox> outbox;

  explicit OutboxRig(std::vector<config::NotifyTarget> targets,
                     std::function<std::string(const std::string&)> approval_page = {}) {
    auto s = store::open_sqlite_store({.path = ":memory:"});
    EXPECT_TRUE(s.ok());
    store = std::move(*s);
    config::NotifySettings n;
    n.backoff_initial_seconds = 10;
    n.backoff_max_seconds = 60;
    n.targets = std::move(targets);
    OutboxDeps d;
    d.http = http;
    d.clock = clock;
    d.secret = [this](const std::string& v) -> Result<std::string> {
      auto it = env.find(v);
      if (it == env.end()) return make_error(Errc::failed_precondition, "$" + v + " unset");
      return it->second;
    };
    d.random = [this] { return jitter; };
    d.approval_url = std::move(approval_page);
    outbox = std::make_unique<Outbox>(n, redactor(), d);
  }
  void enqueue(const IncidentFacts& f) {
    auto m = outbox->messages_for(f, *store);
    ASSERT_TRUE(m.ok()) << m.error().message;
    ASSERT_TRUE(store->enqueue_messages(*m).ok());
  }
  store::OutboxMessage only() {
    auto l = store->list_outbox("", 10);
    EXPECT_TRUE(l.ok() && l->size() == 1u);
    return l->at(0);
  }
};

// ---- approval links ----

store::ApprovalRecord approval(const std::string& id, const std::string& env, nlohmann::json params,
                               int64_t created_ms) {
  store::ApprovalRecord a;
  a.id = id;
  a.action = params.contains("run_id") ? "clear_failed_tasks" : "trigger_dag";
  a.env = env;
  a.tier = "prod";
  a.params_json = params.dump();
  a.params_hash = std::string(64, 'a');
  a.requester = "alice";
  a.reason = "rerun after the fix";
  a.created_at_ms = created_ms;
  a.expires_at_ms = created_ms + 3'600'000;
  return a;
}

// A pending clear of f's run, made at t0().
store::ApprovalRecord clear_of(const IncidentFacts& f, const std::string& id) {
  return approval(id, f.env, {{"dag_id", f.dag_id}, {"run_id", f.run_id}}, ms(t0()));
}

TEST(OutboxApprovalLink, ThePendingApprovalOfTheIncidentsDagAndRunIsChosen) {
  const int64_t now = ms(t0());
  const IncidentFacts f = facts();
  std::vector<store::ApprovalRecord> all = {
      approval("other-env", "staging", {{"dag_id", f.dag_id}, {"run_id", f.run_id}}, now),
      approval("other-dag", "prod", {{"dag_id", "etl_users"}, {"run_id", f.run_id}}, now),
      approval("other-run", "prod", {{"dag_id", f.dag_id}, {"run_id", "manual__x"}}, now),
      approval("expired", "prod", {{"dag_id", f.dag_id}, {"run_id", f.run_id}}, now - 3'600'000),
      approval("garbled", "prod", nlohmann::json::array(), now),
  };
  all.push_back(approval("decided", "prod", {{"dag_id", f.dag_id}, {"run_id", f.run_id}}, now));
  all.back().state = store::ApprovalState::denied;
  EXPECT_FALSE(pending_approval_for(all, f, now).has_value());

  // A clear of this very run; a trigger of the DAG (no run) matches too, but the list is newest
  // first and the first match wins.
  all.insert(all.begin() + 2, approval("clear-it", "prod",
                                       {{"dag_id", f.dag_id}, {"run_id", f.run_id}}, now - 1000));
  all.push_back(approval("trigger-it", "prod", {{"dag_id", f.dag_id}}, now - 2000));
  auto a = pending_approval_for(all, f, now);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->id, "clear-it");
  all.erase(all.begin() + 2);
  a = pending_approval_for(all, f, now);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->id, "trigger-it");
  // An incident of a whole DAG (late, not succeeding) has no run: a clear of any run matches.
  IncidentFacts late = f;
  late.run_id.clear();
  a = pending_approval_for(
      {approval("clear-other", "prod", {{"dag_id", f.dag_id}, {"run_id", "manual__x"}}, now)}, late,
      now);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->id, "clear-other");
}

TEST(OutboxApprovalLink, MessagesLinkThePendingApprovalPageButResolvesDoNot) {
  OutboxRig r({target("hook", "json"), target("slack", "slack"), target("teams", "teams"),
               target("pd", "pagerduty")},
              [](const std::string& id) { return "https://approve.example.com/approvals/" + id; });
  const IncidentFacts f = facts();
  ASSERT_TRUE(r.store->create_approval(clear_of(f, "apr-1")).ok());
  auto m = r.outbox->messages_for(f, *r.store);
  ASSERT_TRUE(m.ok()) << m.error().message;
  ASSERT_EQ(m->size(), 4u);
  const std::string url = "https://approve.example.com/approvals/apr-1";
  for (const auto& msg : *m) EXPECT_NE(msg.payload.find(url), std::string::npos) << msg.kind;
  EXPECT_EQ(nlohmann::json::parse(m->at(0).payload).value("approval_url", ""), url);

  IncidentFacts resolve = f;
  resolve.event_action = "resolve";
  m = r.outbox->messages_for(resolve, *r.store);
  ASSERT_TRUE(m.ok());
  for (const auto& msg : *m) EXPECT_EQ(msg.payload.find("approvals/apr-1"), std::string::npos);

  // Once decided it is no longer pending: no link.
  ASSERT_TRUE(
      r.store->record_decision("apr-1", {.principal = "bob", .approve = true}, ms(t0())).ok());
  m = r.outbox->messages_for(f, *r.store);
  ASSERT_TRUE(m.ok());
  for (const auto& msg : *m) EXPECT_EQ(msg.payload.find("approvals/apr-1"), std::string::npos);
}

TEST(OutboxApprovalLink, WithoutAnApprovalPageThereIsNoLink) {
  OutboxRig r({target("hook", "json")});
  const IncidentFacts f = facts();
  ASSERT_TRUE(r.store->create_approval(clear_of(f, "apr-1")).ok());
  auto m = r.outbox->messages_for(f, *r.store);
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(nlohmann::json::parse(m->at(0).payload).contains("approval_url"));
}

TEST(OutboxDelivery, A2xxIsDeliveredOnceWithTheIdempotencyKey) {
  OutboxRig r({target("hook", "json")});
  r.enqueue(facts());
  r.http->push(FakeHttpClient::ok(202, ""));
  auto rep = r.outbox->deliver_due(*r.store);
  EXPECT_EQ(rep.delivered, 1u);
  auto m = r.only();
  EXPECT_EQ(m.state, "delivered");
  EXPECT_EQ(m.attempts, 1);
  auto reqs = r.http->requests();
  ASSERT_EQ(reqs.size(), 1u);
  http::Response h{0, reqs[0].headers, ""};
  EXPECT_EQ(h.header("Idempotency-Key"), m.idempotency_key);
  EXPECT_EQ(m.idempotency_key, idempotency_key(facts().incident_id, event_of(facts()), "hook"));
  EXPECT_EQ(
      h.header("X-Dagmedic-Signature"),
      "sha256=" + hmac_hex("hook-secret", h.header("X-Dagmedic-Timestamp") + "." + reqs[0].body));
  // Nothing due any more.
  EXPECT_EQ(r.outbox->deliver_due(*r.store).attempted, 0u);
  EXPECT_EQ(r.http->request_count(), 1u);
}

TEST(OutboxDelivery, A4xxIsDeadAtOnceBut408And429AreRetried) {
  OutboxRig r({target("a", "slack"), target("b", "slack"), target("c", "slack")});
  r.enqueue(facts());
  r.http->set_handler([](const http::Request& q) -> Result<http::Response> {
    if (q.url.ends_with("/a")) return FakeHttpClient::ok(404, "no such hook");
    if (q.url.ends_with("/b")) return FakeHttpClient::ok(429, "");
    return FakeHttpClient::ok(408, "");
  });
  auto rep = r.outbox->deliver_due(*r.store);
  EXPECT_EQ(rep.dead, 1u);
  EXPECT_EQ(rep.retried, 2u);
  auto dead = r.store->list_outbox("dead", 10);
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].target, "a");
  EXPECT_EQ((*dead)[0].attempts, 1);
  EXPECT_EQ((*dead)[0].last_error, "HTTP 404: no such hook");
  auto st = outbox_status(*r.store, r.outbox->settings());
  ASSERT_TRUE(st.ok());
  ASSERT_EQ(st->targets.size(), 3u);
  EXPECT_EQ(st->targets[0].dead, 1);
  EXPECT_EQ(st->targets[1].pending, 1);
  ASSERT_EQ(st->dead.size(), 1u);
  EXPECT_NE(format_outbox_status(*st).find("a: 0 pending, 0 delivered, 1 dead"), std::string::npos)
      << format_outbox_status(*st);
  EXPECT_EQ(outbox_status_json(*st)["dead"][0]["last_error"], "HTTP 404: no such hook");
}

TEST(OutboxDelivery, RetryAfterDelaysTheNextAttemptAndTheTargetsOtherMessages) {
  OutboxRig r({target("hook", "json")});
  r.jitter = 0.0;  // the backoff alone would allow an attempt at once
  IncidentFacts second = facts();
  second.incident_id = "inc-second";
  r.enqueue(facts());
  r.enqueue(second);
  r.http->push(FakeHttpClient::too_many("30"));
  auto rep = r.outbox->deliver_due(*r.store);
  EXPECT_EQ(rep.attempted, 1u);
  EXPECT_EQ(rep.retried, 1u);
  EXPECT_EQ(rep.deferred, 1u) << "the receiver asked to slow down: its other message waits";
  auto pending = r.store->list_outbox("pending", 10);
  ASSERT_TRUE(pending.ok());
  bool waited = false;
  for (const auto& m : *pending)
    if (m.attempts == 1) {
      EXPECT_EQ(m.next_attempt_ms, ms(t0()) + 30'000) << "Retry-After: 30";
      waited = true;
    }
  EXPECT_TRUE(waited);
  // A Retry-After beyond backoff_max (60 s) is capped there.
  r.clock->advance(std::chrono::seconds(31));
  r.http->push(FakeHttpClient::too_many("86400"));
  r.outbox->deliver_due(*r.store);
  auto later = r.store->list_outbox("pending", 10);
  ASSERT_TRUE(later.ok());
  int64_t newest = 0;
  for (const auto& m : *later) newest = std::max(newest, m.next_attempt_ms);
  EXPECT_EQ(newest, ms(t0()) + 31'000 + 60'000);
}

TEST(OutboxDelivery, A5xxIsRetriedWithGrowingBackoffUntilDeadAtMaxAttempts) {
  OutboxRig r({target("pd", "pagerduty", 5)});
  r.enqueue(facts());
  r.http->set_handler([](const http::Request&) { return FakeHttpClient::ok(503, "busy"); });
  std::vector<int64_t> delays;
  std::set<std::string> keys;
  for (int i = 0; i < 5; ++i) {
    auto rep = r.outbox->deliver_due(*r.store);
    EXPECT_EQ(rep.attempted, 1u) << "attempt " << i + 1;
    auto m = r.only();
    EXPECT_EQ(m.attempts, i + 1);
    if (m.state == "dead") break;
    EXPECT_EQ(m.state, "pending");
    delays.push_back(m.next_attempt_ms - ms(r.clock->now()));
    // Not due before its time.
    r.clock->advance(std::chrono::milliseconds(delays.back() - 1));
    EXPECT_EQ(r.outbox->deliver_due(*r.store).attempted, 0u);
    r.clock->advance(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(delays, (std::vector<int64_t>{10'000, 20'000, 40'000, 60'000}))
      << "exponential from backoff_initial_seconds, capped at backoff_max_seconds";
  auto m = r.only();
  EXPECT_EQ(m.state, "dead");
  EXPECT_EQ(m.attempts, 5);
  EXPECT_EQ(m.last_error, "HTTP 503: busy");
  // The same key on every attempt; the routing key in every body.
  auto reqs = r.http->requests();
  ASSERT_EQ(reqs.size(), 5u);
  for (const auto& q : reqs) {
    keys.insert(http::Response{0, q.headers, ""}.header("Idempotency-Key"));
    EXPECT_EQ(json::parse(q.body)["routing_key"], "pd-key");
  }
  EXPECT_EQ(keys.size(), 1u);
  EXPECT_EQ(*keys.begin(), m.idempotency_key);
}

TEST(OutboxDelivery, FullJitterDrawsBelowTheCeiling) {
  OutboxRig r({target("s", "slack")});
  r.jitter = 0.25;
  EXPECT_EQ(r.outbox->backoff(1).count(), 2'500);
  EXPECT_EQ(r.outbox->backoff(3).count(), 10'000);
  EXPECT_EQ(r.outbox->backoff(30).count(), 15'000);
  r.jitter = 0.0;
  EXPECT_EQ(r.outbox->backoff(2).count(), 0);
}

TEST(OutboxDelivery, AHangingReceiverCostsOneTimeoutNotTheLoop) {
  OutboxRig r({target("slow", "slack"), target("fast", "teams")});
  for (int i = 0; i < 3; ++i) {
    IncidentFacts f = facts();
    f.incident_id = "inc-" + std::to_string(i);
    r.enqueue(f);
  }
  int hung = 0;
  r.http->set_handler([&](const http::Request& q) -> Result<http::Response> {
    if (q.url.ends_with("/slow")) {
      ++hung;
      r.clock->advance(q.timeout);  // the receiver never answers: curl gives up after timeout
      return FakeHttpClient::timed_out();
    }
    return FakeHttpClient::ok(200, "1");
  });
  const auto start = r.clock->now();
  auto rep = r.outbox->deliver_due(*r.store);
  EXPECT_EQ(hung, 1) << "one timeout per pass for a hanging target";
  EXPECT_EQ(r.clock->now() - start, std::chrono::seconds(2));
  EXPECT_EQ(rep.delivered, 3u) << "the other target's messages still go";
  EXPECT_EQ(rep.retried, 1u);
  EXPECT_EQ(rep.deferred, 2u);
  auto pending = r.store->list_outbox("pending", 10);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 3u);
  int charged = 0;
  for (const auto& m : *pending) {
    charged += static_cast<int>(m.attempts);
    if (m.attempts == 1) {
      EXPECT_NE(m.last_error.find("timeout"), std::string::npos) << m.last_error;
    }
  }
  EXPECT_EQ(charged, 1) << "deferred messages are not charged an attempt";
}

TEST(OutboxDelivery, AMissingSecretIsRetriedAndNamed) {
  OutboxRig r({target("hook", "json")});
  r.env.clear();
  EXPECT_FALSE(r.outbox->check_secrets().ok());
  EXPECT_NE(r.outbox->check_secrets().error().message.find("notify.targets.hook.secret_env"),
            std::string::npos);
  r.enqueue(facts());
  auto rep = r.outbox->deliver_due(*r.store);
  EXPECT_EQ(rep.retried, 1u);
  EXPECT_EQ(r.http->request_count(), 0u);
  EXPECT_EQ(r.only().last_error, "$HOOK_KEY is unset or empty");
}

// ---- the watcher enqueues with its marks ----

using runbook::testing::FakeAirflow;
using runbook::testing::FakeProvider;

std::string at(int minutes) {
  std::string z = format_iso8601(t0() + std::chrono::minutes(minutes));
  return z.substr(0, z.size() - 1) + ".000000+00:00";
}

TEST(WatchOutbox, EachNewFailureIsNotifiedOncePerTargetAndDelivered) {
  auto fake = std::make_shared<FakeAirflow>("prod");
  auto clock = std::make_shared<ManualClock>(t0());
  auto st = store::open_sqlite_store({.path = ":memory:"});
  ASSERT_TRUE(st.ok());
  std::shared_ptr<store::Store> store = std::move(*st);
  auto provider = std::make_shared<FakeProvider>(std::vector<std::shared_ptr<FakeAirflow>>{fake});
  config::Config cfg = provider->config();
  cfg.notify.base_url = "https://dm.example";
  cfg.notify.targets = {target("hook", "json"), target("chat", "slack")};
  runbook::DepsOverrides ov{.clock = clock, .clients = provider, .store = store};
  ov.audit_key = std::string(64, 'k');
  auto deps = runbook::make_deps(std::move(cfg), std::move(ov));
  ASSERT_TRUE(deps.ok()) << deps.error().message;
  auto http = std::make_shared<FakeHttpClient>();
  http->set_handler([](const http::Request&) { return FakeHttpClient::ok(200, "ok"); });
  OutboxDeps od{http,
                clock,
                [](const std::string&) -> Result<std::string> { return std::string("k"); },
                [] { return 0.5; },
                {}};
  auto outbox = std::make_shared<Outbox>((*deps)->config.notify, (*deps)->redactor, od);

  fake->add_dag(airflow::Dag{.dag_id = "etl", .tags = {"tier=1"}});
  fake->add_run(airflow::DagRun{.dag_id = "etl",
                                .run_id = "r1",
                                .state = "failed",
                                .start_date = at(-10),
                                .end_date = at(-5)});
  fake->add_task(airflow::TaskInstance{.dag_id = "etl",
                                       .run_id = "r1",
                                       .task_id = "load",
                                       .try_number = 1,
                                       .state = "failed",
                                       .start_date = at(-9),
                                       .end_date = at(-5)});
  fake->set_log("etl", "r1", "load", 1,
                "Traceback (most recent call last):\nValueError: password=hunter2 rejected\n");
  Watcher w(*deps, outbox);
  CycleReport c = w.run_once();
  ASSERT_TRUE(c.ok()) << c.envs[0].error;
  ASSERT_EQ(c.envs[0].handled.size(), 1u);
  ASSERT_TRUE(c.delivery.has_value());
  EXPECT_EQ(c.delivery->delivered, 2u);
  EXPECT_NE(format_cycle(c).find("outbox: 2 delivered"), std::string::npos) << format_cycle(c);
  EXPECT_EQ(cycle_json(c)["delivery"]["delivered"], 2);
  auto reqs = http->requests();
  ASSERT_EQ(reqs.size(), 2u);
  const std::string id = store::incident_id_for("prod", "etl", "r1");
  for (const auto& q : reqs) {
    EXPECT_NE(q.body.find("https://dm.example/incidents/" + id), std::string::npos) << q.body;
    EXPECT_EQ(q.body.find("hunter2"), std::string::npos) << q.body;
  }
  auto j = json::parse(reqs[0].url.ends_with("/hook") ? reqs[0].body : reqs[1].body);
  EXPECT_EQ(j["incident_id"], id);
  EXPECT_EQ(j["severity"], "sev1");
  EXPECT_EQ(j["first_failing_task"], "load");

  // The next cycles: the run is handled, nothing new is enqueued or sent.
  clock->advance(std::chrono::minutes(1));
  CycleReport again = w.run_once();
  EXPECT_EQ(again.envs[0].handled.size(), 0u);
  EXPECT_EQ(http->request_count(), 2u);
  auto all = store->list_outbox("", 10);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 2u);
}

}  // namespace
}  // namespace dm::watch
