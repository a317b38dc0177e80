#include "watch/watch.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <tuple>
#include <utility>

#include "common/iso_time.h"
#include "runbook/failure.h"
#include "runbook/triage_facts.h"
#include "runbook/triage_incident.h"
#include "watch/followup.h"

namespace dm::watch {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

// Handled-run rows read back per cycle to de-duplicate (more than any overlap window holds).
constexpr std::size_t kWatchedRowsMax = 1'000'000;
// Handled-run rows are kept this long behind cursor − overlap (a later, larger overlap setting
// still finds them).
constexpr int64_t kPruneMarginMs = 24LL * 3600 * 1000;

int64_t end_ms_of(const airflow::DagRun& r, int64_t fallback) {
  if (auto e = iso_to_ms(r.end_date)) return *e;
  return fallback;
}

int64_t to_ms(Clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}

// What a handled entry is about, as the cycle's text names it.
std::string subject_of(const HandledRun& h) {
  if (h.kind == kImportErrorKind) return "import error " + h.run_id;
  if (h.kind == kNotSucceedingKind) return h.dag_id + " keeps failing (newest " + h.run_id + ")";
  if (h.kind == kLateKind) return h.dag_id + " is late (run expected at " + h.end_date + ")";
  if (h.kind == kStuckKind)
    return h.dag_id + " / " + h.run_id + " task " +
           runbook::task_label(h.first_failing_task, h.first_failing_map_index) + " is stuck";
  return h.dag_id + " / " + h.run_id;
}

std::string iso_or_none(int64_t ms) { return ms > 0 ? ms_to_iso(ms) : std::string("none"); }

// A lease in the JSON reports; times also in ms, for tools that measure takeovers.
json lease_json(const store::WatchLease& l) {
  return {{"holder", l.holder},
          {"token", l.token},
          {"expires_at", l.expires_at_ms > 0 ? ms_to_iso(l.expires_at_ms) : ""},
          {"expires_at_ms", l.expires_at_ms},
          {"acquired_at", l.acquired_at_ms > 0 ? ms_to_iso(l.acquired_at_ms) : ""},
          {"acquired_at_ms", l.acquired_at_ms}};
}

}  // namespace

bool CycleReport::ok() const {
  return std::all_of(envs.begin(), envs.end(), [](const EnvReport& e) { return e.ok; });
}

std::string default_lease_holder() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
    std::snprintf(host, sizeof host, "unknown-host");
  return std::string(host) + ":" + std::to_string(::getpid());
}

Watcher::Watcher(std::shared_ptr<const runbook::Deps> deps, std::shared_ptr<Outbox> outbox)
    : deps_(std::move(deps)), outbox_(std::move(outbox)) {
  const auto& l = deps_->config.watch.lease;
  holder_ = l.holder.empty() ? default_lease_holder() : l.holder;
}

bool Watcher::leases() const { return deps_->config.watch.lease.enabled; }

std::chrono::milliseconds Watcher::lease_renew_every() const {
  if (!leases()) return milliseconds(0);
  return milliseconds(int64_t{std::max(1, deps_->config.watch.lease.ttl_seconds)} * 1000 / 3);
}

void Watcher::restrict_to(std::string env) { only_ = std::move(env); }

std::vector<std::string> Watcher::watched() const {
  std::vector<std::string> out;
  for (const auto& env : deps_->config.environments)
    if (only_ ? env.name == *only_ : deps_->config.watch.enabled_for(env.name))
      out.push_back(env.name);
  return out;
}

CycleReport Watcher::run_once() {
  CycleReport c;
  for (const auto& env : watched()) c.envs.push_back(run_env(env));
  c.delivery = deliver();
  return c;
}

std::optional<DeliveryReport> Watcher::deliver() {
  if (!outbox_ || !outbox_->enabled()) return std::nullopt;
  auto st = deps_->store();
  if (!st) {
    DeliveryReport r;
    r.ok = false;
    r.error = "store unavailable: " + st.error().message;
    return r;
  }
  return outbox_->deliver_due(**st);
}

CycleReport Watcher::tend_leases() {
  CycleReport c;
  if (!leases()) return c;
  auto st = deps_->store();
  if (!st) return c;
  const int64_t ttl_ms = int64_t{deps_->config.watch.lease.ttl_seconds} * 1000;
  for (const auto& env : watched()) {
    auto g = (*st)->acquire_watch_lease(env, holder_, to_ms(deps_->clock->now()), ttl_ms);
    if (!g) continue;  // the next cycle reports the store's error
    if (!g->granted) {
      held_.erase(env);
      continue;
    }
    auto h = held_.find(env);
    if (h != held_.end() && h->second == g->lease.token) continue;  // renewed
    // Newly acquired (a takeover, or ours again after an expiry): its cycle now.
    held_[env] = g->lease.token;
    c.envs.push_back(run_env(env));
  }
  if (!c.envs.empty()) c.delivery = deliver();
  return c;
}

Status Watcher::release_leases() {
  if (held_.empty()) return {};
  auto st = deps_->store();
  if (!st) return st.error();
  Status first;
  for (const auto& [env, token] : held_)
    if (auto r = (*st)->release_watch_lease(env, holder_, token); !r && first.ok())
      first = Error{r.error().code, "lease of " + env + " not released: " + r.error().message};
  held_.clear();
  return first;
}

EnvReport Watcher::run_env(const std::string& env) {
  const runbook::Deps& deps = *deps_;
  const config::WatchSettings& ws = deps.config.watch;
  EnvReport rep;
  rep.env = env;
  auto fail = [&](std::string why) {
    rep.ok = false;
    rep.error = std::move(why);
  };

  auto st = deps.store();
  if (!st) {
    fail("store unavailable: " + st.error().message);
    return rep;
  }
  store::Store& s = **st;

  // Leases: this environment's, acquired or renewed before anything is read. Its token fences
  // every write below.
  std::optional<int64_t> fence;
  const int64_t ttl_ms = int64_t{ws.lease.ttl_seconds} * 1000;
  const int64_t renew_every_ms = lease_renew_every().count();
  int64_t renewed_ms = 0;
  // Another watcher has the environment (`other`: its lease): this watcher lets go of it.
  auto lost_to = [&](const store::WatchLease& other) {
    held_.erase(env);
    rep.lease = other;
    rep.held_by = other.holder;
  };
  // Renews the lease; false when it is not ours with the same token any more (or the store
  // failed: an error), and the cycle must stop.
  auto renew = [&]() -> bool {
    const int64_t now = to_ms(deps.clock->now());
    auto g = s.acquire_watch_lease(env, holder_, now, ttl_ms);
    if (!g) {
      fail("lease not renewed: " + g.error().message);
      return false;
    }
    if (!g->granted || (fence && g->lease.token != *fence)) {
      // Taken by another watcher (or expired and granted to us again under a new token: a new
      // holding, whose cycle starts afresh from the store's cursor).
      if (fence) {
        rep.lease_lost = true;
        lost_to(g->lease);
        if (g->granted) held_[env] = g->lease.token;
      } else {
        rep.held_elsewhere = true;
        lost_to(g->lease);
      }
      return false;
    }
    renewed_ms = now;
    fence = g->lease.token;
    held_[env] = g->lease.token;
    rep.lease = g->lease;
    return true;
  };
  if (leases() && !renew()) return rep;

  auto row = s.get_watch_cursor(env);
  if (!row) {
    fail("watch cursor unreadable: " + row.error().message);
    return rep;
  }
  store::WatchCursor cur = row->value_or(store::WatchCursor{.env = env});
  const int64_t now_ms = to_ms(deps.clock->now());
  const int64_t overlap_ms = int64_t{ws.overlap_seconds} * 1000;
  // No cursor yet: start initial_lookback_minutes back (on dagmedic's clock, far enough back that
  // skew against Airflow's does not matter). Afterwards the cursor is on Airflow's clock.
  const int64_t cursor =
      cur.cursor_ms > 0 ? cur.cursor_ms : now_ms - int64_t{ws.initial_lookback_minutes} * 60'000;
  const int64_t from_ms = cursor - overlap_ms;
  rep.cursor_before_ms = cur.cursor_ms;
  rep.cursor_after_ms = cur.cursor_ms;
  int64_t next_cursor = cursor;

  // A fenced write: the environment is another watcher's now. Nothing of the write was made.
  auto fenced = [&](const Error& e) {
    rep.lease_lost = true;
    held_.erase(env);
    rep.notes.push_back("lease lost to another watcher: " + e.message);
    auto all = s.list_watch_leases();  // who has it, for the report
    if (all)
      for (const auto& l : *all)
        if (l.env == env) lost_to(l);
  };

  auto finish = [&](int64_t new_cursor) {
    if (rep.lease_lost) return;  // the cursor is the new holder's: not ours to move
    cur.cursor_ms = std::max(cursor, new_cursor);
    cur.last_cycle_ms = to_ms(deps.clock->now());
    cur.last_outcome = rep.ok ? "ok" : "error";
    cur.last_message =
        rep.ok ? std::to_string(rep.handled.size()) + " new failure(s), " +
                     std::to_string(rep.opened) + " incident(s) opened" +
                     (rep.deferred ? ", " + std::to_string(rep.deferred) + " deferred" : "")
               : rep.error;
    cur.cycles += 1;
    cur.incidents_opened += static_cast<int64_t>(rep.opened);
    cur.last_opened = static_cast<int64_t>(rep.opened);
    if (auto w = s.put_watch_cursor(cur, fence); !w) {
      if (store::is_fenced(w.error())) {
        fenced(w.error());
        return;
      }
      // Nothing is lost: the handled runs are recorded, and the old cursor only re-lists them.
      rep.notes.push_back("cursor not saved: " + w.error().message);
      return;
    }
    rep.cursor_after_ms = cur.cursor_ms;
    if (rep.ok) {
      auto p = s.prune_watched_runs(env, cur.cursor_ms - overlap_ms - kPruneMarginMs, fence);
      if (p)
        rep.pruned = *p;
      else if (store::is_fenced(p.error()))
        fenced(p.error());
    }
  };

  auto target = deps.clients->get(env);
  if (!target) {
    fail(target.error().message);
    finish(cursor);
    return rep;
  }
  airflow::AirflowClient& client = *target->client;

  // Every failed run that ended since cursor − overlap: one listing, paged by the client.
  airflow::RunQuery q;
  q.dag_id = "~";
  q.states = {"failed"};
  q.ended_since = Clock::time_point(milliseconds(from_ms));
  auto runs = client.list_dag_runs(q);
  if (!runs) {
    fail("Airflow could not be read: " + runs.error().message);
    finish(cursor);
    return rep;
  }
  rep.listed = runs->size();

  auto seen = s.list_watched_runs(env, from_ms, kWatchedRowsMax);
  if (!seen) {
    fail("handled runs unreadable: " + seen.error().message);
    finish(cursor);
    return rep;
  }
  // (dag_id, run_id) -> the end of the failure handled. A listed run whose end is not newer is a
  // duplicate; a newer end is the same run failing again after a clear: a new failure.
  std::map<std::pair<std::string, std::string>, int64_t> done;
  for (const auto& w : *seen) done[{w.dag_id, w.run_id}] = w.end_ms;

  // New failures, oldest end first, so that the cursor moves past handled runs only.
  std::vector<std::pair<int64_t, const airflow::DagRun*>> todo;
  int64_t newest_listed = cursor;
  for (const auto& r : *runs) {
    const int64_t end = end_ms_of(r, from_ms);
    newest_listed = std::max(newest_listed, end);
    if (auto d = done.find({r.dag_id, r.run_id}); d != done.end() && d->second >= end) {
      ++rep.already_handled;
      continue;
    }
    todo.emplace_back(end, &r);
  }
  std::sort(todo.begin(), todo.end(), [](const auto& a, const auto& b) {
    return std::tie(a.first, a.second->dag_id, a.second->run_id) <
           std::tie(b.first, b.second->dag_id, b.second->run_id);
  });

  const std::size_t cap = static_cast<std::size_t>(std::max(1, ws.max_runs_per_cycle));
  std::size_t i = 0;
  for (; i < todo.size() && i < cap; ++i) {
    const auto& [end, run] = todo[i];
    // A long cycle renews the lease on the way, so that it is not taken over for being slow.
    if (fence && to_ms(deps.clock->now()) - renewed_ms >= renew_every_ms && !renew()) break;
    auto h = runbook::handle_failed_run(deps, env, client, *run, "watch");
    if (!h) {
      fail("run " + run->dag_id + "/" + run->run_id + " not handled: " + h.error().message);
      break;
    }
    const store::WatchedRun mark{
        env, run->dag_id, run->run_id, end, to_ms(deps.clock->now()), h->incident_id};
    auto inc = s.get_incident(h->incident_id);
    // A new failure of an incident that had recovered (its run cleared, then failing again)
    // reopens it: it is open until a check says recovered again (and sends a new resolve).
    if (inc && inc->state == "recovered") {
      nlohmann::json facts = {{"verdict", "reopened"},
                              {"reason", "the run failed again at " + ms_to_iso(end)},
                              {"checked_at", ms_to_iso(to_ms(deps.clock->now()))}};
      if (auto st = runbook::set_incident_state(deps, *inc, "open", std::move(facts)); !st) {
        fail("run " + run->dag_id + "/" + run->run_id +
             " handled but its incident not reopened: " + st.error().message);
        break;
      }
    }
    // The run's messages (one per notify target), enqueued with its mark: both or neither.
    std::vector<store::OutboxMessage> messages;
    if (outbox_ && outbox_->enabled()) {
      IncidentFacts f;
      f.incident_id = h->incident_id;
      f.env = env;
      f.dag_id = run->dag_id;
      f.run_id = run->run_id;
      f.severity = h->severity;
      f.first_failing_task = runbook::task_label(h->first_failing_task, h->first_failing_map_index);
      f.signature = h->signature;
      f.category = h->category;
      f.notes = h->notes;
      f.failed_at_ms = end;
      f.opened = h->opened;
      if (inc) f.error = inc->error;
      auto m = outbox_->messages_for(std::move(f), s);
      if (!m) {
        fail("run " + run->dag_id + "/" + run->run_id +
             " handled but its messages not built: " + m.error().message);
        break;
      }
      messages = std::move(*m);
    }
    if (auto m = messages.empty() ? s.mark_watched_run(mark, fence)
                                  : s.mark_watched_run_and_enqueue(mark, messages, fence);
        !m) {
      if (store::is_fenced(m.error())) {
        // Not marked, no message enqueued: the new holder handles this run again (the same
        // incident) and enqueues its messages once.
        fenced(m.error());
        break;
      }
      fail("run " + run->dag_id + "/" + run->run_id +
           " handled but not marked: " + m.error().message);
      break;
    }
    if (h->opened) ++rep.opened;
    rep.handled.push_back(HandledRun{"dag_run", run->dag_id, run->run_id, run->end_date,
                                     h->incident_id, h->opened, h->first_failing_task, h->severity,
                                     h->signature, h->category, std::move(h->notes),
                                     h->first_failing_map_index});
  }
  rep.deferred = todo.size() - rep.handled.size();
  if (rep.lease_lost) {
    if (rep.deferred > 0)
      rep.notes.push_back(std::to_string(rep.deferred) +
                          " new failure(s) left to the watcher that holds the environment now");
    return rep;
  }
  if (rep.deferred > 0) {
    // Stop just before the oldest run not handled: the next cycle lists it again.
    next_cursor = std::min(newest_listed, todo[rep.handled.size()].first);
    if (rep.ok)
      rep.notes.push_back(std::to_string(rep.deferred) +
                          " new failure(s) left for the next cycle (watch.max_runs_per_cycle " +
                          std::to_string(cap) + ")");
  } else {
    next_cursor = newest_listed;
  }
  // The follow-up passes read Airflow again: renew the lease first when it is due. Lost now: the
  // rest of the cycle (and the cursor) is the new holder's.
  const bool held = !fence || to_ms(deps.clock->now()) - renewed_ms < renew_every_ms || renew();
  if (rep.lease_lost) return rep;
  if (rep.ok && held) {
    // Airflow answered the listing: the rest of the cycle (errors here are notes, never lose
    // anything, and never hold the cursor back).
    // What happened since the previous cycle (with the overlap and a minute more, for late
    // writes and clock skew; on the first cycle, the initial lookback).
    const int64_t since = cur.last_cycle_ms > 0
                              ? cur.last_cycle_ms - overlap_ms - 60'000
                              : now_ms - int64_t{ws.initial_lookback_minutes} * 60'000;
    watch_streaks(deps, env, client, s, outbox_.get(), rep);
    if (!ws.freshness.rules.empty()) {
      int64_t& last = freshness_at_[env];
      if (last == 0 || now_ms - last >= int64_t{ws.freshness.interval_seconds} * 1000) {
        last = now_ms;
        watch_freshness(deps, env, client, s, outbox_.get(), rep);
      }
    }
    watch_stuck(deps, env, client, s, outbox_.get(), durations_[env], rep);
    check_recoveries(deps, env, client, s, since, rep);
    watch_import_errors(deps, env, client, s, outbox_.get(), rep);
    // Resolves: enqueueing one again is a no-op, so an hour's margin costs nothing.
    if (outbox_) enqueue_resolves(env, s, *outbox_, since - 3'600'000, rep);
  }
  finish(next_cursor);
  return rep;
}

void run_loop(Watcher& w, const runbook::Deps& deps, Waiter& waiter,
              const std::function<void(const CycleReport&)>& on_cycle) {
  const auto interval = std::chrono::seconds(std::max(1, deps.config.watch.interval_seconds));
  const auto renew_every = w.lease_renew_every();  // zero: leases off
  auto next = deps.clock->now();
  for (;;) {
    on_cycle(w.run_once());
    next += interval;
    const auto now = deps.clock->now();
    if (next < now) next = now;  // a cycle longer than the interval: the next one starts at once
    for (;;) {
      // With leases, wake at least every ttl/3 to renew them (and to take over the environments
      // of a watcher that stopped renewing) without running a whole cycle.
      auto wake = next;
      if (renew_every.count() > 0) wake = std::min(next, deps.clock->now() + renew_every);
      if (!waiter.wait_until(wake)) return;
      if (deps.clock->now() >= next) break;
      if (auto t = w.tend_leases(); !t.envs.empty()) on_cycle(t);
    }
  }
}

Result<std::vector<EnvStatus>> watch_status(const runbook::Deps& deps) {
  auto st = deps.store();
  if (!st) return st.error();
  auto rows = (*st)->list_watch_cursors();
  if (!rows) return rows.error();
  auto leases = (*st)->list_watch_leases();
  if (!leases) return leases.error();
  const int64_t now = to_ms(deps.clock->now());
  std::vector<EnvStatus> out;
  for (const auto& env : deps.config.environments) {
    EnvStatus e{env.name, deps.config.watch.enabled_for(env.name), std::nullopt, std::nullopt,
                false};
    for (const auto& r : *rows)
      if (r.env == env.name) e.cursor = r;
    for (const auto& l : *leases)
      if (l.env == env.name) {
        e.lease = l;
        e.lease_live = l.expires_at_ms > now;
      }
    out.push_back(std::move(e));
  }
  return out;
}

std::string format_cycle(const CycleReport& c) {
  std::string out;
  if (c.envs.empty()) return "no environment to watch (none configured, or all disabled)\n";
  for (const auto& e : c.envs) {
    if (e.held_elsewhere) {
      out += e.env + ": held by " + e.held_by +
             (e.lease ? " until " + iso_or_none(e.lease->expires_at_ms) : std::string()) +
             " (another watcher's lease): skipped\n";
      continue;
    }
    if (!e.ok) {
      out += e.env + ": error: " + e.error + " (cursor kept at " + iso_or_none(e.cursor_after_ms) +
             ")\n";
    } else {
      out += e.env + ": ok, " + std::to_string(e.handled.size()) + " new failure(s), " +
             std::to_string(e.opened) + " incident(s) opened, " +
             std::to_string(e.already_handled) + " already handled, cursor " +
             iso_or_none(e.cursor_after_ms) + "\n";
    }
    if (e.lease_lost)
      out += "  lease lost to " + (e.held_by.empty() ? std::string("another watcher") : e.held_by) +
             ": stopped; it goes on from the cursor\n";
    for (const auto& h : e.handled) {
      out += "  " + std::string(h.opened ? "+ " : "~ ") + subject_of(h) + " -> " + h.incident_id +
             " (" + h.severity;
      if (!h.first_failing_task.empty())
        out += ", first failing " +
               runbook::task_label(h.first_failing_task, h.first_failing_map_index);
      if (!h.category.empty()) out += ", " + h.category + " " + h.signature;
      out += ")\n";
      for (const auto& n : h.notes) out += "    note: " + n + "\n";
    }
    for (const auto& id : e.recovered) out += "  recovered " + id + "\n";
    for (const auto& id : e.escalated) out += "  escalated " + id + "\n";
    for (const auto& n : e.notes) out += "  note: " + n + "\n";
  }
  if (c.delivery) {
    const auto& d = *c.delivery;
    if (!d.ok)
      out += "outbox: error: " + d.error + "\n";
    else if (d.attempted > 0 || d.deferred > 0 || d.dead > 0)
      out += "outbox: " + std::to_string(d.delivered) + " delivered, " + std::to_string(d.retried) +
             " to retry, " + std::to_string(d.dead) + " dead, " + std::to_string(d.deferred) +
             " deferred\n";
    for (const auto& n : d.notes) out += "  note: " + n + "\n";
  }
  return out;
}

std::string format_status(const std::vector<EnvStatus>& s) {
  if (s.empty()) return "no environment configured\n";
  std::string out;
  for (const auto& e : s) {
    out += e.env + (e.enabled ? "" : " (disabled)") + ": ";
    if (!e.cursor) {
      out += "never watched\n";
      continue;
    }
    const auto& c = *e.cursor;
    out += "cursor " + iso_or_none(c.cursor_ms) + ", last cycle " + iso_or_none(c.last_cycle_ms) +
           " " + c.last_outcome + " (" + c.last_message + "), " + std::to_string(c.cycles) +
           " cycle(s), " + std::to_string(c.incidents_opened) + " incident(s) opened";
    if (e.lease) {
      const auto& l = *e.lease;
      out += "; lease: " + l.holder + " (token " + std::to_string(l.token) + ") " +
             (e.lease_live           ? "until " + ms_to_iso(l.expires_at_ms)
              : l.expires_at_ms == 0 ? std::string("released")
                                     : "expired " + ms_to_iso(l.expires_at_ms));
    }
    out += "\n";
  }
  return out;
}

json cycle_json(const CycleReport& c) {
  json envs = json::array();
  for (const auto& e : c.envs) {
    json handled = json::array();
    for (const auto& h : e.handled)
      handled.push_back({{"kind", h.kind},
                         {"dag_id", h.dag_id},
                         {"run_id", h.run_id},
                         {"end_date", iso_utc(h.end_date)},
                         {"incident_id", h.incident_id},
                         {"opened", h.opened},
                         {"first_failing_task", h.first_failing_task},
                         {"first_failing_map_index", h.first_failing_map_index},
                         {"severity", h.severity},
                         {"signature", h.signature},
                         {"category", h.category},
                         {"notes", h.notes}});
    envs.push_back({{"environment", e.env},
                    {"ok", e.ok},
                    {"error", e.error},
                    {"listed", e.listed},
                    {"already_handled", e.already_handled},
                    {"deferred", e.deferred},
                    {"opened", e.opened},
                    {"cursor_before", e.cursor_before_ms > 0 ? ms_to_iso(e.cursor_before_ms) : ""},
                    {"cursor_after", e.cursor_after_ms > 0 ? ms_to_iso(e.cursor_after_ms) : ""},
                    {"handled", handled},
                    {"recovery_checked", e.recovery_checked},
                    {"recovered", e.recovered},
                    {"escalated", e.escalated},
                    {"import_errors", e.import_errors},
                    {"freshness_checked", e.freshness_checked},
                    {"stuck_checked", e.stuck_checked},
                    {"resolves_enqueued", e.resolves},
                    {"notes", e.notes}});
    if (e.lease) {
      json& j = envs.back();
      j["lease"] = lease_json(*e.lease);
      j["held_elsewhere"] = e.held_elsewhere;
      j["lease_lost"] = e.lease_lost;
      j["held_by"] = e.held_by;
    }
  }
  json j = {{"ok", c.ok()}, {"environments", envs}};
  if (c.delivery) j["delivery"] = delivery_json(*c.delivery);
  return j;
}

json status_json(const std::vector<EnvStatus>& s) {
  json envs = json::array();
  for (const auto& e : s) {
    json j = {{"environment", e.env}, {"enabled", e.enabled}, {"watched", e.cursor.has_value()}};
    if (e.cursor) {
      const auto& c = *e.cursor;
      j["cursor"] = c.cursor_ms > 0 ? ms_to_iso(c.cursor_ms) : "";
      j["last_cycle"] = c.last_cycle_ms > 0 ? ms_to_iso(c.last_cycle_ms) : "";
      j["last_outcome"] = c.last_outcome;
      j["last_message"] = c.last_message;
      j["cycles"] = c.cycles;
      j["incidents_opened"] = c.incidents_opened;
      j["last_opened"] = c.last_opened;
    }
    if (e.lease) {
      j["lease"] = lease_json(*e.lease);
      j["lease"]["live"] = e.lease_live;
    }
    envs.push_back(std::move(j));
  }
  return {{"environments", envs}};
}

}  // namespace dm::watch
