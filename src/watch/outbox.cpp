#include "watch/outbox.h"

#include <algorithm>
#include <mutex>
#include <random>
#include <set>

#include "common/iso_time.h"
#include "http/retrying_http_client.h"

namespace dm::watch {
namespace {

using json = nlohmann::json;

int64_t to_ms(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

bool retryable_status(int status) { return status >= 500 || status == 408 || status == 429; }

std::function<double()> default_random() {
  auto gen = std::make_shared<std::mt19937_64>(std::random_device{}());
  auto mu = std::make_shared<std::mutex>();
  return [gen, mu] {
    std::lock_guard lk(*mu);
    return std::uniform_real_distribution<double>(0.0, 1.0)(*gen);
  };
}

}  // namespace

Outbox::Outbox(config::NotifySettings settings, std::shared_ptr<const logs::Redactor> redactor,
               OutboxDeps d)
    : settings_(std::move(settings)), redactor_(std::move(redactor)), d_(std::move(d)) {
  if (!d_.random) d_.random = default_random();
}

Status Outbox::check_secrets() const {
  for (const auto& t : settings_.targets) {
    const std::string key = t.kind == "pagerduty" ? "routing_key_env" : "secret_env";
    const std::string& var = t.kind == "pagerduty" ? t.routing_key_env : t.secret_env;
    if (var.empty()) continue;
    if (!d_.secret)
      return make_error(Errc::failed_precondition,
                        "notify.targets." + t.name + "." + key + ": no way to read $" + var);
    if (auto v = d_.secret(var); !v || v->empty())
      return make_error(Errc::failed_precondition, "notify.targets." + t.name + "." + key + ": $" +
                                                       var + " is unset or empty");
  }
  return {};
}

std::optional<store::ApprovalRecord> pending_approval_for(
    const std::vector<store::ApprovalRecord>& approvals, const IncidentFacts& f, int64_t now_ms) {
  for (const auto& a : approvals) {  // newest first, as list_approvals gives them
    if (a.state != store::ApprovalState::pending || a.expires_at_ms <= now_ms || a.env != f.env)
      continue;
    const auto p = nlohmann::json::parse(a.params_json, nullptr, false);
    if (!p.is_object()) continue;
    const auto str = [&](const char* k) {
      return p.contains(k) && p[k].is_string() ? p[k].get<std::string>() : std::string();
    };
    if (str("dag_id") != f.dag_id) continue;
    const std::string run = str("run_id");
    if (!run.empty() && !f.run_id.empty() && run != f.run_id) continue;
    return a;
  }
  return std::nullopt;
}

Result<std::vector<store::OutboxMessage>> Outbox::messages_for(IncidentFacts f,
                                                               store::Store& s) const {
  if (f.incident_url.empty() && !settings_.base_url.empty())
    f.incident_url = settings_.base_url + "/incidents/" + f.incident_id;
  const int64_t now = to_ms(d_.clock->now());
  if (f.approval_url.empty() && d_.approval_url && f.event_action != "resolve") {
    // A pending approval is rare and short-lived: the newest hundred are plenty.
    if (auto all = s.list_approvals(store::ApprovalState::pending, 100); all)
      if (auto a = pending_approval_for(*all, f, now)) f.approval_url = d_.approval_url(a->id);
  }
  const std::string event = event_of(f);
  std::vector<store::OutboxMessage> out;
  for (const auto& t : settings_.targets) {
    auto p = build_payload(t.kind, f, *redactor_);
    if (!p) return p.error();
    store::OutboxMessage m;
    m.idempotency_key = idempotency_key(f.incident_id, event, t.name);
    m.target = t.name;
    m.kind = t.kind;
    m.incident_id = f.incident_id;
    m.event = event;
    m.payload = p->dump();
    m.next_attempt_ms = now;
    m.created_ms = now;
    out.push_back(std::move(m));
  }
  return out;
}

std::chrono::milliseconds Outbox::backoff(int64_t attempts_made) const {
  const int64_t initial = int64_t{settings_.backoff_initial_seconds} * 1000;
  const int64_t cap = int64_t{settings_.backoff_max_seconds} * 1000;
  int64_t ceiling = initial;
  for (int64_t i = 1; i < attempts_made && ceiling < cap; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, cap);
  double r = d_.random();
  r = std::clamp(r, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<int64_t>(r * static_cast<double>(ceiling)));
}

DeliveryReport Outbox::deliver_due(store::Store& s) {
  DeliveryReport rep;
  if (!enabled()) return rep;
  auto due = s.due_messages(to_ms(d_.clock->now()),
                            static_cast<std::size_t>(std::max(1, settings_.max_per_cycle)));
  if (!due) {
    rep.ok = false;
    rep.error = "outbox unreadable: " + due.error().message;
    return rep;
  }
  std::set<std::string> down;  // targets that timed out or were unreachable in this pass
  for (const auto& m : *due) {
    if (down.count(m.target)) {
      ++rep.deferred;
      continue;
    }
    const config::NotifyTarget* t = settings_.find(m.target);
    const int64_t attempt_no = m.attempts + 1;
    store::OutboxAttempt a;
    bool delivered = false, retry = false;
    std::chrono::milliseconds retry_after{0};  // the receiver's Retry-After (429, 503)
    std::string err;
    if (t == nullptr) {
      err = "target " + m.target + " is no longer configured under notify.targets";
    } else {
      const std::string& var = t->kind == "pagerduty" ? t->routing_key_env : t->secret_env;
      std::string secret;
      if (!var.empty()) {
        auto v =
            d_.secret
                ? d_.secret(var)
                : Result<std::string>(make_error(Errc::failed_precondition, "no secret source"));
        if (!v || v->empty()) {
          err = "$" + var + " is unset or empty";
          retry = true;
        } else {
          secret = *v;
        }
      }
      if (err.empty()) {
        const int64_t now_s = to_ms(d_.clock->now()) / 1000;
        auto req = prepare_request(*t, m.payload, m.idempotency_key, secret, now_s);
        if (!req) {
          err = req.error().message;
        } else {
          ++rep.attempted;
          auto resp = d_.http->send(*req);
          if (!resp) {
            err = std::string(errc_name(resp.error().code)) + ": " + resp.error().message;
            retry = true;
            down.insert(m.target);
          } else if (resp->status >= 200 && resp->status < 300) {
            delivered = true;
          } else {
            std::string body = redactor_->redact(resp->body.substr(0, 200));
            err = "HTTP " + std::to_string(resp->status) + (body.empty() ? "" : ": " + body);
            retry = retryable_status(resp->status);
            if (auto ra = http::parse_retry_after(resp->header("Retry-After"), d_.clock->now());
                retry && ra) {
              // The receiver says when to come back: no earlier (up to backoff_max), and its
              // other messages wait too.
              retry_after = std::min<std::chrono::milliseconds>(
                  *ra, std::chrono::seconds(settings_.backoff_max_seconds));
              down.insert(m.target);
            }
          }
        }
      }
    }
    const int64_t now = to_ms(d_.clock->now());
    a.at_ms = now;
    if (delivered) {
      a.state = "delivered";
    } else if (retry && t != nullptr && attempt_no < t->max_attempts) {
      a.state = "pending";
      a.next_attempt_ms = now + std::max(backoff(attempt_no), retry_after).count();
      a.last_error = err;
    } else {
      a.state = "dead";
      a.last_error = err;
    }
    if (auto w = s.record_outbox_attempt(m.id, a); !w) {
      // Delivered but not recorded: it stays pending and is sent again (at-least-once).
      rep.notes.push_back("message " + std::to_string(m.id) + " to " + m.target +
                          ": attempt not recorded: " + w.error().message);
      continue;
    }
    if (a.state == "delivered")
      ++rep.delivered;
    else if (a.state == "pending")
      ++rep.retried;
    else
      ++rep.dead;
  }
  if (rep.deferred > 0)
    rep.notes.push_back(std::to_string(rep.deferred) +
                        " message(s) wait for the next pass (their target did not answer)");
  return rep;
}

Result<OutboxStatus> outbox_status(store::Store& s, const config::NotifySettings& n) {
  auto counts = s.list_outbox("dead", 100);
  if (!counts) return counts.error();
  auto c = s.outbox_counts();
  if (!c) return c.error();
  OutboxStatus o;
  for (const auto& t : n.targets) {
    store::OutboxCounts row{t.name, 0, 0, 0};
    for (const auto& r : *c)
      if (r.target == t.name) row = r;
    o.targets.push_back(row);
  }
  for (const auto& r : *c)
    if (n.find(r.target) == nullptr) o.targets.push_back(r);
  o.dead = std::move(*counts);
  for (auto& m : o.dead) m.payload.clear();
  return o;
}

std::string format_outbox_status(const OutboxStatus& o) {
  if (o.targets.empty()) return "outbox: no notify target configured\n";
  std::string out = "outbox:\n";
  for (const auto& t : o.targets)
    out += "  " + t.target + ": " + std::to_string(t.pending) + " pending, " +
           std::to_string(t.delivered) + " delivered, " + std::to_string(t.dead) + " dead\n";
  if (!o.dead.empty()) out += "dead letters (newest first):\n";
  for (const auto& m : o.dead)
    out += "  #" + std::to_string(m.id) + " " + m.target + " " + m.incident_id + " " + m.event +
           ": " + std::to_string(m.attempts) + " attempt(s), last error: " + m.last_error + "\n";
  return out;
}

json outbox_status_json(const OutboxStatus& o) {
  json targets = json::array();
  for (const auto& t : o.targets)
    targets.push_back({{"target", t.target},
                       {"pending", t.pending},
                       {"delivered", t.delivered},
                       {"dead", t.dead}});
  json dead = json::array();
  for (const auto& m : o.dead)
    dead.push_back({{"id", m.id},
                    {"target", m.target},
                    {"kind", m.kind},
                    {"incident_id", m.incident_id},
                    {"event", m.event},
                    {"idempotency_key", m.idempotency_key},
                    {"attempts", m.attempts},
                    {"last_error", m.last_error},
                    {"created_at", m.created_ms > 0 ? ms_to_iso(m.created_ms) : ""},
                    {"dead_at", m.done_ms > 0 ? ms_to_iso(m.done_ms) : ""}});
  return {{"targets", targets}, {"dead", dead}};
}

json delivery_json(const DeliveryReport& r) {
  return {{"ok", r.ok},
          {"error", r.error},
          {"attempted", r.attempted},
          {"delivered", r.delivered},
          {"retried", r.retried},
          {"dead", r.dead},
          {"deferred", r.deferred},
          {"notes", r.notes}};
}

}  // namespace dm::watch
