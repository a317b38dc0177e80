#include "store/pg_store.h"

#include <mutex>
#include <pqxx/pqxx>

namespace dm::store {
namespace {

// Versioned migrations; index i holds version i+1. Never edit a shipped entry: append a new one.
const char* const kMigrations[] = {
    R"sql(
CREATE TABLE approvals(
  id TEXT PRIMARY KEY, action TEXT NOT NULL, env TEXT NOT NULL, tier TEXT NOT NULL,
  params_json TEXT NOT NULL, params_hash TEXT NOT NULL, requester TEXT NOT NULL,
  requester_is_agent INTEGER NOT NULL, reason TEXT NOT NULL, created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL, required_approvals INTEGER NOT NULL, state TEXT NOT NULL,
  decided_at BIGINT NOT NULL DEFAULT 0, consumed_at BIGINT NOT NULL DEFAULT 0);
CREATE INDEX approvals_by_state ON approvals(state, created_at);
CREATE TABLE approval_decisions(
  approval_id TEXT NOT NULL REFERENCES approvals(id), principal TEXT NOT NULL,
  approve INTEGER NOT NULL, reason TEXT NOT NULL, at BIGINT NOT NULL, ord INTEGER NOT NULL,
  PRIMARY KEY(approval_id, principal));
CREATE TABLE audit_log(seq BIGINT PRIMARY KEY, time_ms BIGINT NOT NULL,
  prev_hash TEXT NOT NULL, hash TEXT NOT NULL, body TEXT NOT NULL);
CREATE FUNCTION dagmedic_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION dagmedic_audit_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION dagmedic_audit_append_only();
CREATE TABLE audit_head(id INTEGER PRIMARY KEY CHECK(id = 1), seq BIGINT NOT NULL,
  hash TEXT NOT NULL);
INSERT INTO audit_head VALUES(1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
CREATE TABLE audit_checkpoints(seq BIGINT NOT NULL, hash TEXT NOT NULL, time_ms BIGINT NOT NULL,
  mac TEXT NOT NULL);
CREATE TABLE occurrences(id BIGSERIAL PRIMARY KEY, signature TEXT NOT NULL, dag_id TEXT NOT NULL,
  run_id TEXT NOT NULL, task_id TEXT NOT NULL, env TEXT NOT NULL, seen_at BIGINT NOT NULL);
CREATE INDEX occurrences_by_signature ON occurrences(signature, seen_at);
CREATE INDEX occurrences_by_dag ON occurrences(dag_id, seen_at);
)sql",
};
constexpr int kSchemaVersion = sizeof(kMigrations) / sizeof(kMigrations[0]);
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
    "created_at, expires_at, required_approvals, state, decided_at, consumed_at";

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
      "SELECT principal, approve, reason, at FROM approval_decisions WHERE approval_id = $1 "
      "ORDER BY ord",
      id);
  for (const auto& row : d)
    a.decisions.push_back(Decision{row[0].as<std::string>(), row[1].as<int>() != 0,
                                   row[2].as<std::string>(), row[3].as<int64_t>()});
  return a;
}

class PgStore final : public Store {
 public:
  explicit PgStore(std::string dsn) : dsn_(std::move(dsn)) {}

  const char* backend() const noexcept override { return "postgres"; }

  Status connect_and_migrate() {
    auto r = run<int>("migrate", [&](pqxx::connection& c) -> Result<int> {
      pqxx::work w(c);
      w.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
      w.exec(
          "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER PRIMARY KEY, "
          "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())");
      int v = w.exec("SELECT COALESCE(MAX(version), 0) FROM schema_version")[0][0].as<int>();
      if (v > kSchemaVersion)
        return make_error(Errc::failed_precondition, "postgres store: schema version " +
                                                         std::to_string(v) +
                                                         " is newer than this dagmedic (" +
                                                         std::to_string(kSchemaVersion) + ")");
      for (int i = v; i < kSchemaVersion; ++i) {
        w.exec(kMigrations[i]);
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
                        ") VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,'pending',0,0)",
                    a.id, a.action, a.env, a.tier, a.params_json, a.params_hash, a.requester,
                    a.requester_is_agent ? 1 : 0, a.reason, a.created_at_ms, a.expires_at_ms,
                    a.required_approvals);
      w.commit();
      return 0;
    }));
  }

  Result<ApprovalRecord> get_approval(const std::string& id) override {
    return run<ApprovalRecord>("read approval " + id,
                               [&](pqxx::connection& c) -> Result<ApprovalRecord> {
                                 pqxx::read_transaction w(c);
                                 auto a = load(w, id, false);
                                 if (!a) return make_error(Errc::not_found, "no approval " + id);
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
          if (!a) return make_error(Errc::not_found, "no approval " + id);
          if (a->state != ApprovalState::pending)
            return make_error(
                Errc::failed_precondition,
                "approval " + id + " is " + approval_state_name(a->state) + ", not pending");
          if (a->expires_at_ms <= now_ms)
            return make_error(Errc::failed_precondition, "approval " + id + " has expired");
          for (const auto& prev : a->decisions)
            if (prev.principal == d.principal)
              return make_error(Errc::conflict,
                                "principal " + d.principal + " already decided on approval " + id);
          w.exec_params(
              "INSERT INTO approval_decisions(approval_id, principal, approve, reason, at, ord) "
              "VALUES($1,$2,$3,$4,$5,$6)",
              id, d.principal, d.approve ? 1 : 0, d.reason, d.at_ms,
              static_cast<int>(a->decisions.size() + 1));
          a->decisions.push_back(d);
          int approvals = 0;
          for (const auto& x : a->decisions) approvals += x.approve ? 1 : 0;
          std::optional<ApprovalState> next;
          if (!d.approve)
            next = ApprovalState::denied;
          else if (approvals >= a->required_approvals)
            next = ApprovalState::approved;
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
          if (!a) return make_error(Errc::not_found, "no approval " + id);
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
      w.exec_params(
          "INSERT INTO occurrences(signature, dag_id, run_id, task_id, env, seen_at) "
          "VALUES($1,$2,$3,$4,$5,$6)",
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

 private:
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
