#include "store/pg_store.h"

#include <mutex>
#include <pqxx/pqxx>

#include "store/migrations.h"

namespace dm::store {
namespace {

constexpr int64_t kMigrationLockKey = 0x646d6d6967;  // "dmmig"

Error pg_error(const std::string& what, const std::exception& e) {
  Errc c = Errc::internal;
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr ||
      dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    c = Errc::unavailable;
  } else if (auto* se = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string& st = se->sqlstate();
    if (st == "23505")
      c = Errc::conflict;
    else if (st.rfind("08", 0) == 0 || st.rfind("53", 0) == 0 || st.rfind("57", 0) == 0 ||
             st == "40001" || st == "40P01" || st == "25006")
      c = Errc::unavailable;
  }
  std::string msg = e.what();
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  return make_error(c, "postgres store: " + what + ": " + msg);
}

constexpr const char* kApprovalCols =
    "id, action, env, tier, params_json, params_hash, requester, requester_is_agent, reason, "
    "created_at, expires_at, required_approvals, state, decided_at, consumed_at, requester_for";

ApprovalRecord read_approval(const pqxx::row& r) {
  ApprovalRecord a;
  a.id = r[0].as<std::string>();
  a.action = r[1].as<std::string>();
  a.env = r[2].as<std::string>();
  a.tier = r[3].as<std::string>();
  a.params_json = r[4].as<std::string>();
  a.params_hash = r[5].as<std::string>();
  a.requester = r[6].as<std::string>();
  a.requester_is_agent = r[7].as<int>() != 0;
  a.reason = r[8].as<std::string>();
  a.created_at_ms = r[9].as<int64_t>();
  a.expires_at_ms = r[10].as<int64_t>();
  a.required_approvals = r[11].as<int>();
  a.state = parse_approval_state(r[12].as<std::string>()).value_or(ApprovalState::denied);
  a.decided_at_ms = r[13].as<int64_t>();
  a.consumed_at_ms = r[14].as<int64_t>();
  a.requester_for = r[15].as<std::string>();
  return a;
}

// Reads an approval and its decisions inside transaction `w`; FOR UPDATE locks the row.
std::optional<ApprovalRecord> load(pqxx::transaction_base& w, const std::string& id,
                                   bool for_update) {
  auto r = w.exec_params(std::string("SELECT ") + kApprovalCols + " FROM approvals WHERE id = $1" +
                             (for_update ? " FOR UPDATE" : ""),
                         id);
  if (r.empty()) return std::nullopt;
  ApprovalRecord a = read_approval(r[0]);
  auto d = w.exec_params(
      "SELECT principal, approve, reason, at, idp_issuer, idp_subject FROM approval_decisions "
      "WHERE approval_id = $1 ORDER BY ord",
      id);
  for (const auto& row : d)
    a.decisions.push_back(Decision{row[0].as<std::string>(), row[1].as<int>() != 0,
                                   row[2].as<std::string>(), row[3].as<int64_t>(),
                                   row[4].as<std::string>(), row[5].as<std::string>()});
  return a;
}

// WHERE clause of the occurrence queries; parameters $1..$5.
constexpr const char* kOccFilter =
    "($1::text = '' OR signature = $1::text) AND ($2::text = '' OR dag_id = $2::text) AND "
    "($3::text = '' OR env = $3::text) AND seen_at >= $4::bigint AND seen_at < $5::bigint";

constexpr const char* kIncidentCols =
    "id, env, dag_id, run_id, state, signature, category, first_failing_task, error, "
    "summary_json, postmortem_md, opened_at, updated_at, diagnosed_at";

Incident read_incident(const pqxx::row& r) {
  Incident i;
  i.id = r[0].as<std::string>();
  i.env = r[1].as<std::string>();
  i.dag_id = r[2].as<std::string>();
  i.run_id = r[3].as<std::string>();
  i.state = r[4].as<std::string>();
  i.signature = r[5].as<std::string>();
  i.category = r[6].as<std::string>();
  i.first_failing_task = r[7].as<std::string>();
  i.error = r[8].as<std::string>();
  i.summary_json = r[9].as<std::string>();
  i.postmortem_md = r[10].as<std::string>();
  i.opened_at_ms = r[11].as<int64_t>();
  i.updated_at_ms = r[12].as<int64_t>();
  i.diagnosed_at_ms = r[13].as<int64_t>();
  return i;
}

class PgStore final : public Store {
 public:
  explicit PgStore(std::string dsn) : dsn_(std::move(dsn)) {}

  const char* backend() const noexcept override { return "postgres"; }

  Status connect_and_migrate() {
    auto r = run<int>("migrate", [&](pqxx::connection& c) -> Result<int> {
      pqxx::work w(c);
      w.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
      w.exec(schema_version_ddl(SqlDialect::postgres));
      int v = w.exec("SELECT COALESCE(MAX(version), 0) FROM schema_version")[0][0].as<int>();
      const auto& steps = migrations(SqlDialect::postgres);
      const int latest = static_cast<int>(steps.size());
      if (v > latest)
        return make_error(Errc::failed_precondition,
                          "postgres store: schema version " + std::to_string(v) +
                              " is newer than this dagmedic (" + std::to_string(latest) + ")");
      for (int i = v; i < latest; ++i) {
        w.exec(steps[static_cast<std::size_t>(i)]);
        w.exec_params("INSERT INTO schema_version(version) VALUES($1)", i + 1);
      }
      w.commit();
      return v;
    });
    if (!r) return r.error();
    return {};
  }

  Status create_approval(const ApprovalRecord& a) override {
    return status(run<int>("create approval " + a.id, [&](pqxx::connection& c) -> Result<int> {
      pqxx::work w(c);
      w.exec_params(std::string("INSERT INTO approvals(") + kApprovalCols +
                        ") VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,'pending',0,0,$13)",
                    a.id, a.action, a.env, a.tier, a.params_json, a.params_hash, a.requester,
                    a.requester_is_agent ? 1 : 0, a.reason, a.created_at_ms, a.expires_at_ms,
                    a.required_approvals, a.requester_for);
      w.commit();
      return 0;
    }));
  }

  Result<ApprovalRecord> get_approval(const std::string& id) override {
    return run<ApprovalRecord>(
        "read approval " + id, [&](pqxx::connection& c) -> Result<ApprovalRecord> {
          pqxx::read_transaction w(c);
          auto a = load(w, id, false);
          if (!a) return make_error(Errc::not_found, "approval " + id + " not found");
          return std::move(*a);
        });
  }

  Result<std::vector<ApprovalRecord>> list_approvals(ApprovalState state, size_t limit) override {
    using V = std::vector<ApprovalRecord>;
    return run<V>("list approvals", [&](pqxx::connection& c) -> Result<V> {
      pqxx::read_transaction w(c);
      auto ids = w.exec_params(
          "SELECT id FROM approvals WHERE state = $1 ORDER BY created_at DESC, id LIMIT $2",
          std::string(approval_state_name(state)), static_cast<int64_t>(limit));
      V out;
      for (const auto& row : ids) {
        auto a = load(w, row[0].as<std::string>(), false);
        if (a) out.push_back(std::move(*a));
      }
      return out;
    });
  }

  Result<ApprovalRecord> record_decision(const std::string& id, const Decision& d,
                                         int64_t now_ms) override {
    return run<ApprovalRecord>(
        "record decision on " + id, [&](pqxx::connection& c) -> Result<ApprovalRecord> {
          pqxx::work w(c);
          auto a = load(w, id, true);
          if (!a) return make_error(Errc::not_found, "approval " + id + " not found");
          if (auto st = check_decision(*a, d, now_ms); !st) return st.error();
          w.exec_params(
              "INSERT INTO approval_decisions(approval_id, principal, approve, reason, at, ord, "
              "idp_issuer, idp_subject) VALUES($1,$2,$3,$4,$5,$6,$7,$8)",
              id, d.principal, d.approve ? 1 : 0, d.reason, d.at_ms,
              static_cast<int>(a->decisions.size() + 1), d.idp_issuer, d.idp_subject);
          a->decisions.push_back(d);
          const std::optional<ApprovalState> next = state_after_decision(*a);
          if (next) {
            w.exec_params("UPDATE approvals SET state = $1, decided_at = $2 WHERE id = $3",
                          std::string(approval_state_name(*next)), now_ms, id);
            a->state = *next;
            a->decided_at_ms = now_ms;
          }
          w.commit();
          return std::move(*a);
        });
  }

  Result<ApprovalRecord> consume_approval(const std::string& id, const std::string& params_hash,
                                          int64_t now_ms) override {
    return run<ApprovalRecord>(
        "consume approval " + id, [&](pqxx::connection& c) -> Result<ApprovalRecord> {
          pqxx::work w(c);
          // The conditional UPDATE decides the race: a concurrent second UPDATE waits for the
          // first to commit, re-evaluates the WHERE on the new row (state='consumed') and
          // matches nothing.
          auto r = w.exec_params(
              "UPDATE approvals SET state = 'consumed', consumed_at = $1 WHERE id = $2 AND "
              "state = 'approved' AND expires_at > $3 AND params_hash = $4 RETURNING id",
              now_ms, id, now_ms, params_hash);
          auto a = load(w, id, false);
          if (!a) return make_error(Errc::not_found, "approval " + id + " not found");
          if (r.affected_rows() != 1) return explain_consume_failure(*a, params_hash, now_ms);
          w.commit();
          return std::move(*a);
        });
  }

  Result<AuditRow> append_audit(const AuditBuilder& build) override {
    return run<AuditRow>("append audit entry", [&](pqxx::connection& c) -> Result<AuditRow> {
      pqxx::work w(c);
      // The head row lock serializes appends from every replica: the chain cannot fork.
      auto h = w.exec("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE");
      if (h.empty()) return make_error(Errc::failed_precondition, "audit head row is missing");
      AuditHead head{h[0][0].as<int64_t>(), h[0][1].as<std::string>()};
      auto next = build(head);
      if (!next) return next.error();
      const AuditRow& r = next->row;
      if (r.seq != head.seq + 1 || r.prev_hash != head.hash)
        return make_error(Errc::internal, "audit builder did not chain onto the head");
      w.exec_params(
          "INSERT INTO audit_log(seq, time_ms, prev_hash, hash, body) VALUES($1,$2,$3,$4,$5)",
          r.seq, r.time_ms, r.prev_hash, r.hash, r.body);
      w.exec_params("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1", r.seq, r.hash);
      if (next->checkpoint) insert_checkpoint(w, *next->checkpoint);
      w.commit();
      return r;
    });
  }

  Result<std::vector<AuditRow>> read_audit(int64_t from_seq, size_t limit) override {
    using V = std::vector<AuditRow>;
    return run<V>("read audit", [&](pqxx::connection& c) -> Result<V> {
      pqxx::read_transaction w(c);
      auto r = w.exec_params(
          "SELECT seq, time_ms, prev_hash, hash, body FROM audit_log WHERE seq >= $1 "
          "ORDER BY seq LIMIT $2",
          from_seq, static_cast<int64_t>(limit));
      V out;
      for (const auto& row : r)
        out.push_back(AuditRow{row[0].as<int64_t>(), row[1].as<int64_t>(), row[2].as<std::string>(),
                               row[3].as<std::string>(), row[4].as<std::string>()});
      return out;
    });
  }

  Result<AuditHead> audit_head() override {
    return run<AuditHead>("read audit head", [&](pqxx::connection& c) -> Result<AuditHead> {
      pqxx::read_transaction w(c);
      auto h = w.exec("SELECT seq, hash FROM audit_head WHERE id = 1");
      if (h.empty()) return make_error(Errc::failed_precondition, "audit head row is missing");
      return AuditHead{h[0][0].as<int64_t>(), h[0][1].as<std::string>()};
    });
  }

  Status put_checkpoint(const Checkpoint& cp) override {
    return status(run<int>("write audit checkpoint", [&](pqxx::connection& c) -> Result<int> {
      pqxx::work w(c);
      insert_checkpoint(w, cp);
      w.commit();
      return 0;
    }));
  }

  Result<std::vector<Checkpoint>> checkpoints() override {
    using V = std::vector<Checkpoint>;
    return run<V>("read checkpoints", [&](pqxx::connection& c) -> Result<V> {
      pqxx::read_transaction w(c);
      auto r =
          w.exec("SELECT seq, hash, time_ms, mac FROM audit_checkpoints ORDER BY seq, time_ms");
      V out;
      for (const auto& row : r)
        out.push_back(Checkpoint{row[0].as<int64_t>(), row[1].as<std::string>(),
                                 row[2].as<int64_t>(), row[3].as<std::string>()});
      return out;
    });
  }

  Status record_occurrence(const Occurrence& o) override {
    return status(run<int>("record occurrence", [&](pqxx::connection& c) -> Result<int> {
      pqxx::work w(c);
      // Idempotent per sighting: a repeat keeps one row with the earliest seen_at.
      w.exec_params(
          "INSERT INTO occurrences(signature, dag_id, run_id, task_id, env, seen_at) "
          "VALUES($1,$2,$3,$4,$5,$6) ON CONFLICT(signature, env, dag_id, run_id, task_id) "
          "DO UPDATE SET seen_at = excluded.seen_at WHERE excluded.seen_at < occurrences.seen_at",
          o.signature, o.dag_id, o.run_id, o.task_id, o.env, o.seen_at_ms);
      w.commit();
      return 0;
    }));
  }

  Result<OccurrenceStats> occurrence_stats(const OccurrenceQuery& q) override {
    return run<OccurrenceStats>(
        "occurrence stats", [&](pqxx::connection& c) -> Result<OccurrenceStats> {
          pqxx::read_transaction w(c);
          auto r = w.exec_params(
              "SELECT COUNT(*), COALESCE(MIN(seen_at), 0), COALESCE(MAX(seen_at), 0), "
              "COUNT(DISTINCT (dag_id, run_id)), COUNT(DISTINCT dag_id) FROM occurrences "
              "WHERE ($1 = '' OR signature = $1) AND ($2 = '' OR dag_id = $2) "
              "AND ($3 = '' OR env = $3) AND seen_at >= $4 AND seen_at < $5",
              q.signature, q.dag_id, q.env, q.from_ms, q.to_ms);
          return OccurrenceStats{r[0][0].as<int64_t>(), r[0][1].as<int64_t>(),
                                 r[0][2].as<int64_t>(), r[0][3].as<int64_t>(),
                                 r[0][4].as<int64_t>()};
        });
  }

  Result<std::vector<SignatureGroup>> occurrence_groups(const OccurrenceQuery& q,
                                                        size_t limit) override {
    using V = std::vector<SignatureGroup>;
    return run<V>("group occurrences", [&](pqxx::connection& c) -> Result<V> {
      pqxx::read_transaction w(c);
      auto r = w.exec_params(
          std::string("SELECT signature, COUNT(*), MIN(seen_at), MAX(seen_at), "
                      "COUNT(DISTINCT (dag_id, run_id)), COUNT(DISTINCT dag_id) FROM occurrences "
                      "WHERE ") +
              kOccFilter +
              " GROUP BY signature ORDER BY COUNT(*) DESC, MAX(seen_at) DESC, signature "
              "LIMIT $6",
          q.signature, q.dag_id, q.env, q.from_ms, q.to_ms, clamp_limit(limit));
      V out;
      for (const auto& row : r) {
        SignatureGroup g;
        g.signature = row[0].as<std::string>();
        g.stats = OccurrenceStats{row[1].as<int64_t>(), row[2].as<int64_t>(), row[3].as<int64_t>(),
                                  row[4].as<int64_t>(), row[5].as<int64_t>()};
        g.dag_ids = recent_distinct(w, "dag_id", q, g.signature);
        g.task_ids = recent_distinct(w, "task_id", q, g.signature);
        out.push_back(std::move(g));
      }
      return out;
    });
  }

  Result<std::vector<Occurrence>> list_occurrences(const OccurrenceQuery& q,
                                                   size_t limit) override {
    using V = std::vector<Occurrence>;
    return run<V>("list occurrences", [&](pqxx::connection& c) -> Result<V> {
      pqxx::read_transaction w(c);
      auto r = w.exec_params(std::string("SELECT signature, dag_id, run_id, task_id, env, seen_at "
                                         "FROM occurrences WHERE ") +
                                 kOccFilter + " ORDER BY seen_at DESC, id DESC LIMIT $6",
                             q.signature, q.dag_id, q.env, q.from_ms, q.to_ms, clamp_limit(limit));
      V out;
      for (const auto& row : r)
        out.push_back(Occurrence{row[0].as<std::string>(), row[1].as<std::string>(),
                                 row[2].as<std::string>(), row[3].as<std::string>(),
                                 row[4].as<std::string>(), row[5].as<int64_t>()});
      return out;
    });
  }

  Status upsert_incident(const Incident& i) override {
    if (i.id.empty())
      return make_error(Errc::invalid_argument, "postgres store: incident without id");
    return status(run<int>("upsert incident " + i.id, [&](pqxx::connection& c) -> Result<int> {
      pqxx::work w(c);
      // Empty fields keep the stored value (state/summary get defaults on insert only), so a
      // later partial update never erases a diagnosis; opened_at is never updated. diagnosed_at
      // is set once, when the first signature is stored ($14, else updated_at); t.* is the row
      // as it was before this update.
      w.exec_params(
          "INSERT INTO incidents AS t(id, env, dag_id, run_id, state, signature, category, "
          "first_failing_task, error, summary_json, postmortem_md, opened_at, updated_at, "
          "diagnosed_at) "
          "VALUES($1::text, $2::text, $3::text, $4::text, "
          "CASE WHEN $5::text = '' THEN 'open' ELSE $5::text END, $6::text, $7::text, $8::text, "
          "$9::text, CASE WHEN $10::text = '' THEN '{}' ELSE $10::text END, $11::text, "
          "CASE WHEN $12::bigint = 0 THEN $13::bigint ELSE $12::bigint END, $13::bigint, "
          "CASE WHEN $6::text = '' THEN 0 WHEN $14::bigint = 0 THEN $13::bigint "
          "ELSE $14::bigint END) "
          "ON CONFLICT(id) DO UPDATE SET "
          "diagnosed_at = CASE WHEN t.diagnosed_at <> 0 OR t.signature <> '' OR $6::text = '' "
          "THEN t.diagnosed_at WHEN $14::bigint = 0 THEN $13::bigint ELSE $14::bigint END, "
          "env = CASE WHEN $2::text = '' THEN t.env ELSE $2::text END, "
          "dag_id = CASE WHEN $3::text = '' THEN t.dag_id ELSE $3::text END, "
          "run_id = CASE WHEN $4::text = '' THEN t.run_id ELSE $4::text END, "
          "state = CASE WHEN $5::text = '' THEN t.state ELSE $5::text END, "
          "signature = CASE WHEN $6::text = '' THEN t.signature ELSE $6::text END, "
          "category = CASE WHEN $7::text = '' THEN t.category ELSE $7::text END, "
          "first_failing_task = CASE WHEN $8::text = '' THEN t.first_failing_task "
          "ELSE $8::text END, "
          "error = CASE WHEN $9::text = '' THEN t.error ELSE $9::text END, "
          "summary_json = CASE WHEN $10::text = '' THEN t.summary_json ELSE $10::text END, "
          "postmortem_md = CASE WHEN $11::text = '' THEN t.postmortem_md ELSE $11::text END, "
          "updated_at = $13::bigint",
          i.id, i.env, i.dag_id, i.run_id, i.state, i.signature, i.category, i.first_failing_task,
          i.error, i.summary_json, i.postmortem_md, i.opened_at_ms, i.updated_at_ms,
          i.diagnosed_at_ms);
      w.commit();
      return 0;
    }));
  }

  Result<Incident> get_incident(const std::string& id) override {
    return run<Incident>("read incident " + id, [&](pqxx::connection& c) -> Result<Incident> {
      pqxx::read_transaction w(c);
      auto r = w.exec_params(
          std::string("SELECT ") + kIncidentCols + " FROM incidents WHERE id = $1", id);
      if (r.empty()) return make_error(Errc::not_found, "no incident " + id);
      return read_incident(r[0]);
    });
  }

  Result<std::vector<Incident>> list_incidents(const IncidentQuery& q, size_t limit) override {
    using V = std::vector<Incident>;
    return run<V>("list incidents", [&](pqxx::connection& c) -> Result<V> {
      pqxx::read_transaction w(c);
      auto r = w.exec_params(
          std::string("SELECT ") + kIncidentCols +
              " FROM incidents WHERE ($1::text = '' OR env = $1::text) AND "
              "($2::text = '' OR dag_id = $2::text) AND ($3::text = '' OR state = $3::text) AND "
              "updated_at >= $4::bigint ORDER BY updated_at DESC, id LIMIT $5::bigint",
          q.env, q.dag_id, q.state, q.updated_from_ms, clamp_limit(limit));
      V out;
      for (const auto& row : r) out.push_back(read_incident(row));
      return out;
    });
  }

  // ---- watch mode ----
  static constexpr const char* kCursorCols =
      "env, cursor_at, last_cycle_at, last_outcome, last_message, cycles, incidents_opened, "
      "last_opened";
  static WatchCursor read_cursor(const pqxx::row& r) {
    return WatchCursor{r[0].as<std::string>(), r[1].as<int64_t>(),     r[2].as<int64_t>(),
                       r[3].as<std::string>(), r[4].as<std::string>(), r[5].as<int64_t>(),
                       r[6].as<int64_t>(),     r[7].as<int64_t>()};
  }

  Result<std::optional<WatchCursor>> get_watch_cursor(const std::string& env) override {
    using V = std::optional<WatchCursor>;
    return run<V>("read watch cursor of " + env, [&](pqxx::connection& c) -> Result<V> {
      pqxx::read_transaction w(c);
      auto r = w.exec_params(
          std::string("SELECT ") + kCursorCols + " FROM watch_cursors WHERE env = $1", env);
      if (r.empty()) return V();
      return V(read_cursor(r[0]));
    });
  }

  Result<std::vector<WatchCursor>> list_watch_cursors() override {
    using V = std::vector<WatchCursor>;
    return run<V>("list watch cursors", [&](pqxx::connection& c) -> Result<V> {
      pqxx::read_transaction w(c);
      auto r = w.exec(std::string("SELECT ") + kCursorCols + " FROM watch_cursors ORDER BY env");
      V out;
      for (const auto& row : r) out.push_back(read_cursor(row));
      return out;
    });
  }

  Status put_watch_cursor(const WatchCursor& wc, std::optional<int64_t> fence) override {
    if (wc.env.empty())
      return make_error(Errc::invalid_argument, "postgres store: watch cursor without env");
    return status(
        run<int>("write watch cursor of " + wc.env, [&](pqxx::connection& c) -> Result<int> {
          pqxx::work w(c);
          if (auto e = check_fence(w, wc.env, fence)) return *e;
          w.exec_params(
              "INSERT INTO watch_cursors(env, cursor_at, last_cycle_at, last_outcome, "
              "last_message, cycles, incidents_opened, last_opened) VALUES($1::text, $2::bigint, "
              "$3::bigint, $4::text, $5::text, $6::bigint, $7::bigint, $8::bigint) "
              "ON CONFLICT(env) DO UPDATE SET cursor_at = excluded.cursor_at, "
              "last_cycle_at = excluded.last_cycle_at, last_outcome = excluded.last_outcome, "
              "last_message = excluded.last_message, cycles = excluded.cycles, "
              "incidents_opened = excluded.incidents_opened, last_opened = excluded.last_opened",
              wc.env, wc.cursor_ms, wc.last_cycle_ms, wc.last_outcome, wc.last_message, wc.cycles,
              wc.incidents_opened, wc.last_opened);
          w.commit();
          return 0;
        }));
  }

  Status mark_watched_run(const WatchedRun& r, std::optional<int64_t> fence) override {
    return mark_watched_run_and_enqueue(r, {}, fence);  // one upsert statement, in one place
  }

  Result<std::vector<WatchedRun>> list_watched_runs(const std::string& env, int64_t from_end_ms,
                                                    size_t limit) override {
    using V = std::vector<WatchedRun>;
    return run<V>("list watched runs", [&](pqxx::connection& c) -> Result<V> {
      pqxx::read_transaction w(c);
      auto r = w.exec_params(
          "SELECT env, dag_id, run_id, end_at, handled_at, incident_id FROM watch_runs "
          "WHERE env = $1::text AND end_at >= $2::bigint ORDER BY end_at DESC, dag_id, run_id "
          "LIMIT $3::bigint",
          env, from_end_ms, clamp_limit(limit));
      V out;
      for (const auto& row : r)
        out.push_back(WatchedRun{row[0].as<std::string>(), row[1].as<std::string>(),
                                 row[2].as<std::string>(), row[3].as<int64_t>(),
                                 row[4].as<int64_t>(), row[5].as<std::string>()});
      return out;
    });
  }

  Result<int64_t> prune_watched_runs(const std::string& env, int64_t before_end_ms,
                                     std::optional<int64_t> fence) override {
    return run<int64_t>("prune watched runs", [&](pqxx::connection& c) -> Result<int64_t> {
      pqxx::work w(c);
      if (auto e = check_fence(w, env, fence)) return *e;
      auto r = w.exec_params("DELETE FROM watch_runs WHERE env = $1::text AND end_at < $2::bigint",
                             env, before_end_ms);
      w.commit();
      return static_cast<int64_t>(r.affected_rows());
    });
  }

  // ---- watch mode: leases ----
  Result<LeaseGrant> acquire_watch_lease(const std::string& env, const std::string& holder,
                                         int64_t now_ms, int64_t ttl_ms) override {
    if (auto st = check_lease_request(env, holder, ttl_ms); !st) return st.error();
    return run<LeaseGrant>(
        "acquire watch lease of " + env, [&](pqxx::connection& c) -> Result<LeaseGrant> {
          pqxx::work w(c);
          // Make sure the row exists (a never-held one: holder '', token 0), then lock it: every
          // grant and every fenced write of this environment is serialized on that row lock.
          // A concurrent first insert waits for the other's commit, then does nothing.
          w.exec_params(
              "INSERT INTO watch_leases(env, holder, token, expires_at, acquired_at) "
              "VALUES($1::text, '', 0, 0, 0) ON CONFLICT(env) DO NOTHING",
              env);
          auto r = w.exec_params(
              "SELECT holder, token, expires_at, acquired_at FROM watch_leases "
              "WHERE env = $1::text FOR UPDATE",
              env);
          if (r.empty())
            return make_error(Errc::internal, "watch lease row of " + env + " vanished");
          const WatchLease cur{env, r[0][0].as<std::string>(), r[0][1].as<int64_t>(),
                               r[0][2].as<int64_t>(), r[0][3].as<int64_t>()};
          LeaseGrant g = decide_lease(cur, holder, now_ms, ttl_ms);
          if (!g.granted) return g;  // rolled back: nothing changed
          w.exec_params(
              "UPDATE watch_leases SET holder = $2::text, token = $3::bigint, "
              "expires_at = $4::bigint, acquired_at = $5::bigint WHERE env = $1::text",
              env, g.lease.holder, g.lease.token, g.lease.expires_at_ms, g.lease.acquired_at_ms);
          w.commit();
          return g;
        });
  }

  Result<bool> release_watch_lease(const std::string& env, const std::string& holder,
                                   int64_t token) override {
    return run<bool>("release watch lease of " + env, [&](pqxx::connection& c) -> Result<bool> {
      pqxx::work w(c);
      auto r = w.exec_params(
          "UPDATE watch_leases SET expires_at = 0 WHERE env = $1::text AND holder = $2::text "
          "AND token = $3::bigint",
          env, holder, token);
      w.commit();
      return r.affected_rows() == 1;
    });
  }

  Result<std::vector<WatchLease>> list_watch_leases() override {
    using V = std::vector<WatchLease>;
    return run<V>("list watch leases", [&](pqxx::connection& c) -> Result<V> {
      pqxx::read_transaction w(c);
      auto r = w.exec(
          "SELECT env, holder, token, expires_at, acquired_at FROM watch_leases ORDER BY env");
      V out;
      for (const auto& row : r)
        out.push_back(WatchLease{row[0].as<std::string>(), row[1].as<std::string>(),
                                 row[2].as<int64_t>(), row[3].as<int64_t>(), row[4].as<int64_t>()});
      return out;
    });
  }

  // ---- watch mode: the notification outbox ----
  static constexpr const char* kOutboxCols =
      "id, idempotency_key, target, kind, incident_id, event, payload, state, attempts, "
      "next_attempt_at, last_error, created_at, done_at";
  static OutboxMessage read_message(const pqxx::row& r) {
    return OutboxMessage{r[0].as<int64_t>(),     r[1].as<std::string>(),  r[2].as<std::string>(),
                         r[3].as<std::string>(), r[4].as<std::string>(),  r[5].as<std::string>(),
                         r[6].as<std::string>(), r[7].as<std::string>(),  r[8].as<int64_t>(),
                         r[9].as<int64_t>(),     r[10].as<std::string>(), r[11].as<int64_t>(),
                         r[12].as<int64_t>()};
  }

  Status mark_watched_run_and_enqueue(const WatchedRun& r,
                                      const std::vector<OutboxMessage>& messages,
                                      std::optional<int64_t> fence) override {
    for (const auto& m : messages)
      if (m.idempotency_key.empty())
        return make_error(Errc::invalid_argument, "postgres store: outbox message without key");
    return status(run<int>("record watched run " + r.dag_id + "/" + r.run_id + " and its messages",
                           [&](pqxx::connection& c) -> Result<int> {
                             pqxx::work w(c);
                             if (auto e = check_fence(w, r.env, fence)) return *e;
                             w.exec_params(
                                 "INSERT INTO watch_runs(env, dag_id, run_id, end_at, handled_at, "
                                 "incident_id) VALUES($1::text, $2::text, $3::text, $4::bigint, "
                                 "$5::bigint, $6::text) ON CONFLICT(env, dag_id, run_id) DO "
                                 "UPDATE SET end_at = excluded.end_at, handled_at = "
                                 "excluded.handled_at, incident_id = excluded.incident_id "
                                 "WHERE excluded.end_at > watch_runs.end_at",
                                 r.env, r.dag_id, r.run_id, r.end_ms, r.handled_ms, r.incident_id);
                             insert_messages(w, messages);
                             w.commit();
                             return 0;
                           }));
  }

  Result<int64_t> enqueue_messages(const std::vector<OutboxMessage>& messages) override {
    for (const auto& m : messages)
      if (m.idempotency_key.empty())
        return make_error(Errc::invalid_argument, "postgres store: outbox message without key");
    return run<int64_t>("enqueue messages", [&](pqxx::connection& c) -> Result<int64_t> {
      pqxx::work w(c);
      const int64_t n = insert_messages(w, messages);
      w.commit();
      return n;
    });
  }

  Result<std::vector<OutboxMessage>> due_messages(int64_t now_ms, size_t limit) override {
    using V = std::vector<OutboxMessage>;
    return run<V>("list due messages", [&](pqxx::connection& c) -> Result<V> {
      pqxx::read_transaction w(c);
      auto r = w.exec_params(std::string("SELECT ") + kOutboxCols +
                                 " FROM outbox WHERE state = 'pending' AND next_attempt_at <= "
                                 "$1::bigint ORDER BY next_attempt_at, id LIMIT $2::bigint",
                             now_ms, clamp_limit(limit));
      V out;
      for (const auto& row : r) out.push_back(read_message(row));
      return out;
    });
  }

  Status record_outbox_attempt(int64_t id, const OutboxAttempt& a) override {
    return status(run<int>("record delivery attempt", [&](pqxx::connection& c) -> Result<int> {
      pqxx::work w(c);
      auto r = w.exec_params(
          "UPDATE outbox SET attempts = attempts + 1, state = $2::text, next_attempt_at = "
          "$3::bigint, last_error = $4::text, done_at = CASE WHEN $2::text = 'pending' THEN 0 "
          "ELSE $5::bigint END WHERE id = $1::bigint AND state = 'pending'",
          id, a.state, a.next_attempt_ms, a.last_error, a.at_ms);
      if (r.affected_rows() == 1) {
        w.commit();
        return 0;
      }
      auto q = w.exec_params("SELECT state FROM outbox WHERE id = $1::bigint", id);
      if (q.empty()) return make_error(Errc::not_found, "no outbox message " + std::to_string(id));
      return make_error(Errc::failed_precondition, "outbox message " + std::to_string(id) + " is " +
                                                       q[0][0].as<std::string>());
    }));
  }

  Result<std::vector<OutboxCounts>> outbox_counts() override {
    using V = std::vector<OutboxCounts>;
    return run<V>("count outbox messages", [&](pqxx::connection& c) -> Result<V> {
      pqxx::read_transaction w(c);
      auto r = w.exec(
          "SELECT target, COUNT(*) FILTER (WHERE state = 'pending'), "
          "COUNT(*) FILTER (WHERE state = 'delivered'), COUNT(*) FILTER (WHERE state = 'dead') "
          "FROM outbox GROUP BY target ORDER BY target");
      V out;
      for (const auto& row : r)
        out.push_back(OutboxCounts{row[0].as<std::string>(), row[1].as<int64_t>(),
                                   row[2].as<int64_t>(), row[3].as<int64_t>()});
      return out;
    });
  }

  Result<std::vector<OutboxMessage>> list_outbox(const std::string& state, size_t limit) override {
    using V = std::vector<OutboxMessage>;
    return run<V>("list outbox messages", [&](pqxx::connection& c) -> Result<V> {
      pqxx::read_transaction w(c);
      auto r = w.exec_params(std::string("SELECT ") + kOutboxCols +
                                 " FROM outbox WHERE ($1::text = '' OR state = $1::text) "
                                 "ORDER BY id DESC LIMIT $2::bigint",
                             state, clamp_limit(limit));
      V out;
      for (const auto& row : r) out.push_back(read_message(row));
      return out;
    });
  }

 private:
  // Inside the caller's write transaction: nothing without a fence, or when env's lease still
  // carries that token; else the fenced error (the caller returns it: its transaction is rolled
  // back). FOR SHARE holds the lease row until the caller commits, so a grant to another holder
  // (FOR UPDATE in acquire_watch_lease) waits for this write, or this write sees its new token.
  static std::optional<Error> check_fence(pqxx::transaction_base& w, const std::string& env,
                                          std::optional<int64_t> fence) {
    if (!fence) return std::nullopt;
    auto r = w.exec_params("SELECT token FROM watch_leases WHERE env = $1::text FOR SHARE", env);
    if (r.empty()) return fenced_error(env, *fence, std::nullopt);
    const auto current = r[0][0].as<int64_t>();
    if (current != *fence) return fenced_error(env, *fence, current);
    return std::nullopt;
  }

  // Inside the caller's transaction. New rows inserted (existing keys are skipped).
  static int64_t insert_messages(pqxx::transaction_base& w,
                                 const std::vector<OutboxMessage>& messages) {
    int64_t n = 0;
    for (const auto& m : messages) {
      auto r = w.exec_params(
          "INSERT INTO outbox(idempotency_key, target, kind, incident_id, event, payload, state, "
          "attempts, next_attempt_at, last_error, created_at, done_at) VALUES($1::text, $2::text, "
          "$3::text, $4::text, $5::text, $6::text, 'pending', 0, $7::bigint, '', $8::bigint, 0) "
          "ON CONFLICT(idempotency_key) DO NOTHING",
          m.idempotency_key, m.target, m.kind, m.incident_id, m.event, m.payload, m.next_attempt_ms,
          m.created_ms);
      n += static_cast<int64_t>(r.affected_rows());
    }
    return n;
  }

  static int64_t clamp_limit(size_t limit) {
    return limit > static_cast<size_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(limit);
  }

  // Distinct values of `col` ("dag_id" or "task_id") among the occurrences of `signature` that
  // match q, most recently seen first, at most 20.
  static std::vector<std::string> recent_distinct(pqxx::transaction_base& w, const char* col,
                                                  const OccurrenceQuery& q,
                                                  const std::string& signature) {
    auto r = w.exec_params(std::string("SELECT ") + col +
                               ", MAX(seen_at) AS m FROM occurrences WHERE " + kOccFilter +
                               " GROUP BY " + col + " ORDER BY m DESC, " + col + " LIMIT 20",
                           signature, q.dag_id, q.env, q.from_ms, q.to_ms);
    std::vector<std::string> out;
    for (const auto& row : r) out.push_back(row[0].as<std::string>());
    return out;
  }

  static void insert_checkpoint(pqxx::transaction_base& w, const Checkpoint& cp) {
    w.exec_params("INSERT INTO audit_checkpoints(seq, hash, time_ms, mac) VALUES($1,$2,$3,$4)",
                  cp.seq, cp.hash, cp.time_ms, cp.mac);
  }

  template <class T>
  static Status status(const Result<T>& r) {
    if (!r) return r.error();
    return {};
  }

  // Runs `fn` on the (re)opened connection under the mutex; exceptions become errors here, at the
  // edge of libpqxx. A broken connection is dropped so the next call reconnects.
  template <class T, class F>
  Result<T> run(const std::string& what, F&& fn) {
    std::lock_guard lk(mu_);
    try {
      if (!conn_ || !conn_->is_open()) {
        conn_.reset();
        conn_ = std::make_unique<pqxx::connection>(dsn_);
      }
      return fn(*conn_);
    } catch (const pqxx::broken_connection& e) {
      conn_.reset();
      return pg_error(what, e);
    } catch (const std::exception& e) {
      if (conn_ && !conn_->is_open()) conn_.reset();
      return pg_error(what, e);
    }
  }

  std::mutex mu_;
  std::string dsn_;
  std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace

Result<std::unique_ptr<Store>> open_pg_store(const PgOptions& opts) {
  if (opts.dsn.empty())
    return make_error(Errc::invalid_argument, "postgres store: empty connection string");
  auto s = std::make_unique<PgStore>(opts.dsn);
  if (auto st = s->connect_and_migrate(); !st) return st.error();
  return std::unique_ptr<Store>(std::move(s));
}

}  // namespace dm::store
