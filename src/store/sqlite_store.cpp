#include "store/sqlite_store.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "store/migrations.h"

namespace dm::store {
namespace {

// The schema version this build writes.
int latest_version() { return static_cast<int>(migrations(SqlDialect::sqlite).size()); }

Error sq_error(sqlite3* db, int rc, const std::string& what) {
  Errc c = Errc::internal;
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_READONLY:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
      c = Errc::unavailable;
      break;
    case SQLITE_CONSTRAINT:
      c = Errc::conflict;
      break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      c = Errc::failed_precondition;
      break;
    default:
      break;
  }
  std::string msg = "sqlite store: " + what + ": " + sqlite3_errstr(rc);
  if (db != nullptr) {
    const char* m = sqlite3_errmsg(db);
    if (m != nullptr && std::string(m) != sqlite3_errstr(rc)) msg += std::string(" (") + m + ")";
  }
  return make_error(c, std::move(msg));
}

// A prepared statement. Errors are kept and reported by the first step().
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, int64_t v) {
    if (rc_ == SQLITE_OK) rc_ = sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& bind(int i, const std::string& v) {
    if (rc_ == SQLITE_OK)
      rc_ = sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() {
    if (rc_ != SQLITE_OK) return rc_;
    return sqlite3_step(s_);
  }
  // Runs to completion; error for anything but DONE.
  Status run(const std::string& what) {
    int rc = step();
    while (rc == SQLITE_ROW) rc = sqlite3_step(s_);
    if (rc != SQLITE_DONE) return sq_error(db_, rc, what);
    return {};
  }
  int64_t i64(int col) { return sqlite3_column_int64(s_, col); }
  std::string text(int col) {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s_, col))) : std::string();
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
  int rc_;
};

Status exec(sqlite3* db, const char* sql, const std::string& what) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  sqlite3_free(err);
  if (rc != SQLITE_OK) return sq_error(db, rc, what);
  return {};
}

// BEGIN IMMEDIATE … COMMIT; rolls back unless committed.
class Tx {
 public:
  explicit Tx(sqlite3* db) : db_(db) {}
  Status begin() {
    auto s = exec(db_, "BEGIN IMMEDIATE", "begin transaction");
    open_ = s.ok();
    return s;
  }
  Status commit() {
    auto s = exec(db_, "COMMIT", "commit");
    if (s.ok()) open_ = false;
    return s;
  }
  ~Tx() {
    if (open_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }

 private:
  sqlite3* db_;
  bool open_ = false;
};

constexpr const char* kApprovalCols =
    "id, action, env, tier, params_json, params_hash, requester, requester_is_agent, reason, "
    "created_at, expires_at, required_approvals, state, decided_at, consumed_at, requester_for";

ApprovalRecord read_approval(Stmt& s) {
  ApprovalRecord a;
  a.id = s.text(0);
  a.action = s.text(1);
  a.env = s.text(2);
  a.tier = s.text(3);
  a.params_json = s.text(4);
  a.params_hash = s.text(5);
  a.requester = s.text(6);
  a.requester_is_agent = s.i64(7) != 0;
  a.reason = s.text(8);
  a.created_at_ms = s.i64(9);
  a.expires_at_ms = s.i64(10);
  a.required_approvals = static_cast<int>(s.i64(11));
  a.state = parse_approval_state(s.text(12)).value_or(ApprovalState::denied);
  a.decided_at_ms = s.i64(13);
  a.consumed_at_ms = s.i64(14);
  a.requester_for = s.text(15);
  return a;
}

// WHERE clause of the occurrence queries; parameters ?1..?5 (bind_filter).
constexpr const char* kOccFilter =
    "(?1 = '' OR signature = ?1) AND (?2 = '' OR dag_id = ?2) AND (?3 = '' OR env = ?3) "
    "AND seen_at >= ?4 AND seen_at < ?5";

constexpr const char* kIncidentCols =
    "id, env, dag_id, run_id, state, signature, category, first_failing_task, error, "
    "summary_json, postmortem_md, opened_at, updated_at, diagnosed_at";

Incident read_incident(Stmt& s) {
  Incident i;
  i.id = s.text(0);
  i.env = s.text(1);
  i.dag_id = s.text(2);
  i.run_id = s.text(3);
  i.state = s.text(4);
  i.signature = s.text(5);
  i.category = s.text(6);
  i.first_failing_task = s.text(7);
  i.error = s.text(8);
  i.summary_json = s.text(9);
  i.postmortem_md = s.text(10);
  i.opened_at_ms = s.i64(11);
  i.updated_at_ms = s.i64(12);
  i.diagnosed_at_ms = s.i64(13);
  return i;
}

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(sqlite3* db) : db_(db) {}
  ~SqliteStore() override { sqlite3_close_v2(db_); }

  const char* backend() const noexcept override { return "sqlite"; }

  Status create_approval(const ApprovalRecord& a) override {
    std::lock_guard lk(mu_);
    Stmt s(db_, (std::string("INSERT INTO approvals(") + kApprovalCols +
                 ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,0,0,?)")
                    .c_str());
    s.bind(1, a.id).bind(2, a.action).bind(3, a.env).bind(4, a.tier).bind(5, a.params_json);
    s.bind(6, a.params_hash).bind(7, a.requester).bind(8, int64_t{a.requester_is_agent});
    s.bind(9, a.reason).bind(10, a.created_at_ms).bind(11, a.expires_at_ms);
    s.bind(12, int64_t{a.required_approvals}).bind(13, std::string("pending"));
    s.bind(14, a.requester_for);
    return s.run("create approval " + a.id);
  }

  Result<ApprovalRecord> get_approval(const std::string& id) override {
    std::lock_guard lk(mu_);
    return load(id);
  }

  Result<std::vector<ApprovalRecord>> list_approvals(ApprovalState state, size_t limit) override {
    std::lock_guard lk(mu_);
    std::vector<std::string> ids;
    {
      Stmt s(db_, "SELECT id FROM approvals WHERE state = ? ORDER BY created_at DESC, id LIMIT ?");
      s.bind(1, std::string(approval_state_name(state))).bind(2, static_cast<int64_t>(limit));
      int rc;
      while ((rc = s.step()) == SQLITE_ROW) ids.push_back(s.text(0));
      if (rc != SQLITE_DONE) return sq_error(db_, rc, "list approvals");
    }
    std::vector<ApprovalRecord> out;
    for (const auto& id : ids) {
      auto a = load(id);
      if (!a) return a.error();
      out.push_back(std::move(*a));
    }
    return out;
  }

  Result<ApprovalRecord> record_decision(const std::string& id, const Decision& d,
                                         int64_t now_ms) override {
    std::lock_guard lk(mu_);
    Tx tx(db_);
    if (auto s = tx.begin(); !s) return s.error();
    auto a = load(id);
    if (!a) return a.error();
    if (auto st = check_decision(*a, d, now_ms); !st) return st.error();
    {
      Stmt s(db_,
             "INSERT INTO approval_decisions(approval_id, principal, approve, reason, at, ord, "
             "idp_issuer, idp_subject) VALUES(?,?,?,?,?,?,?,?)");
      s.bind(1, id).bind(2, d.principal).bind(3, int64_t{d.approve}).bind(4, d.reason);
      s.bind(5, d.at_ms).bind(6, static_cast<int64_t>(a->decisions.size() + 1));
      s.bind(7, d.idp_issuer).bind(8, d.idp_subject);
      if (auto st = s.run("record decision on " + id); !st) return st.error();
    }
    a->decisions.push_back(d);
    const std::optional<ApprovalState> next = state_after_decision(*a);
    if (next) {
      Stmt s(db_, "UPDATE approvals SET state = ?, decided_at = ? WHERE id = ? AND state = ?");
      s.bind(1, std::string(approval_state_name(*next))).bind(2, now_ms).bind(3, id);
      s.bind(4, std::string("pending"));
      if (auto st = s.run("update approval " + id); !st) return st.error();
      a->state = *next;
      a->decided_at_ms = now_ms;
    }
    if (auto st = tx.commit(); !st) return st.error();
    return std::move(*a);
  }

  Result<ApprovalRecord> consume_approval(const std::string& id, const std::string& params_hash,
                                          int64_t now_ms) override {
    std::lock_guard lk(mu_);
    Tx tx(db_);
    if (auto s = tx.begin(); !s) return s.error();
    {
      // The conditional UPDATE is the decision: under SQLite's write lock exactly one
      // connection can move approved -> consumed.
      Stmt s(db_,
             "UPDATE approvals SET state = 'consumed', consumed_at = ? WHERE id = ? AND "
             "state = 'approved' AND expires_at > ? AND params_hash = ?");
      s.bind(1, now_ms).bind(2, id).bind(3, now_ms).bind(4, params_hash);
      if (auto st = s.run("consume approval " + id); !st) return st.error();
    }
    bool won = sqlite3_changes(db_) == 1;
    auto a = load(id);
    if (!a) return a.error();
    if (!won) return explain_consume_failure(*a, params_hash, now_ms);
    if (auto st = tx.commit(); !st) return st.error();
    return std::move(*a);
  }

  Result<AuditRow> append_audit(const AuditBuilder& build) override {
    std::lock_guard lk(mu_);
    Tx tx(db_);
    if (auto s = tx.begin(); !s) return s.error();
    AuditHead head;
    {
      Stmt s(db_, "SELECT seq, hash FROM audit_head WHERE id = 1");
      int rc = s.step();
      if (rc != SQLITE_ROW)
        return sq_error(db_, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc, "read audit head");
      head.seq = s.i64(0);
      head.hash = s.text(1);
    }
    auto next = build(head);
    if (!next) return next.error();
    const AuditRow& r = next->row;
    if (r.seq != head.seq + 1 || r.prev_hash != head.hash)
      return make_error(Errc::internal, "audit builder did not chain onto the head");
    {
      Stmt s(db_, "INSERT INTO audit_log(seq, time_ms, prev_hash, hash, body) VALUES(?,?,?,?,?)");
      s.bind(1, r.seq).bind(2, r.time_ms).bind(3, r.prev_hash).bind(4, r.hash).bind(5, r.body);
      if (auto st = s.run("append audit entry"); !st) return st.error();
    }
    {
      Stmt s(db_, "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1");
      s.bind(1, r.seq).bind(2, r.hash);
      if (auto st = s.run("move audit head"); !st) return st.error();
    }
    if (next->checkpoint)
      if (auto st = insert_checkpoint(*next->checkpoint); !st) return st.error();
    if (auto st = tx.commit(); !st) return st.error();
    return r;
  }

  Result<std::vector<AuditRow>> read_audit(int64_t from_seq, size_t limit) override {
    std::lock_guard lk(mu_);
    Stmt s(db_,
           "SELECT seq, time_ms, prev_hash, hash, body FROM audit_log WHERE seq >= ? "
           "ORDER BY seq LIMIT ?");
    s.bind(1, from_seq).bind(2, static_cast<int64_t>(limit));
    std::vector<AuditRow> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW)
      out.push_back(AuditRow{s.i64(0), s.i64(1), s.text(2), s.text(3), s.text(4)});
    if (rc != SQLITE_DONE) return sq_error(db_, rc, "read audit");
    return out;
  }

  Result<AuditHead> audit_head() override {
    std::lock_guard lk(mu_);
    Stmt s(db_, "SELECT seq, hash FROM audit_head WHERE id = 1");
    int rc = s.step();
    if (rc == SQLITE_ROW) return AuditHead{s.i64(0), s.text(1)};
    return sq_error(db_, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc, "read audit head");
  }

  Status put_checkpoint(const Checkpoint& c) override {
    std::lock_guard lk(mu_);
    return insert_checkpoint(c);
  }

  Result<std::vector<Checkpoint>> checkpoints() override {
    std::lock_guard lk(mu_);
    Stmt s(db_, "SELECT seq, hash, time_ms, mac FROM audit_checkpoints ORDER BY seq, time_ms");
    std::vector<Checkpoint> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW)
      out.push_back(Checkpoint{s.i64(0), s.text(1), s.i64(2), s.text(3)});
    if (rc != SQLITE_DONE) return sq_error(db_, rc, "read checkpoints");
    return out;
  }

  Status record_occurrence(const Occurrence& o) override {
    std::lock_guard lk(mu_);
    // Idempotent per sighting: a repeat keeps one row with the earliest seen_at.
    Stmt s(db_,
           "INSERT INTO occurrences(signature, dag_id, run_id, task_id, env, seen_at) "
           "VALUES(?,?,?,?,?,?) ON CONFLICT(signature, env, dag_id, run_id, task_id) "
           "DO UPDATE SET seen_at = excluded.seen_at WHERE excluded.seen_at < seen_at");
    s.bind(1, o.signature).bind(2, o.dag_id).bind(3, o.run_id).bind(4, o.task_id);
    s.bind(5, o.env).bind(6, o.seen_at_ms);
    return s.run("record occurrence");
  }

  Result<OccurrenceStats> occurrence_stats(const OccurrenceQuery& q) override {
    std::lock_guard lk(mu_);
    Stmt s(db_,
           "SELECT COUNT(*), COALESCE(MIN(seen_at), 0), COALESCE(MAX(seen_at), 0), "
           "COUNT(DISTINCT dag_id || char(31) || run_id), COUNT(DISTINCT dag_id) "
           "FROM occurrences WHERE (?1 = '' OR signature = ?1) AND (?2 = '' OR dag_id = ?2) "
           "AND (?3 = '' OR env = ?3) AND seen_at >= ?4 AND seen_at < ?5");
    s.bind(1, q.signature).bind(2, q.dag_id).bind(3, q.env).bind(4, q.from_ms).bind(5, q.to_ms);
    int rc = s.step();
    if (rc != SQLITE_ROW) return sq_error(db_, rc, "occurrence stats");
    return OccurrenceStats{s.i64(0), s.i64(1), s.i64(2), s.i64(3), s.i64(4)};
  }

  Result<std::vector<SignatureGroup>> occurrence_groups(const OccurrenceQuery& q,
                                                        size_t limit) override {
    std::lock_guard lk(mu_);
    std::vector<SignatureGroup> out;
    {
      Stmt s(db_,
             (std::string("SELECT signature, COUNT(*), MIN(seen_at), MAX(seen_at), "
                          "COUNT(DISTINCT dag_id || char(31) || run_id), COUNT(DISTINCT dag_id) "
                          "FROM occurrences WHERE ") +
              kOccFilter +
              " GROUP BY signature ORDER BY COUNT(*) DESC, MAX(seen_at) DESC, signature LIMIT ?6")
                 .c_str());
      bind_filter(s, q).bind(6, clamp_limit(limit));
      int rc;
      while ((rc = s.step()) == SQLITE_ROW) {
        SignatureGroup g;
        g.signature = s.text(0);
        g.stats = OccurrenceStats{s.i64(1), s.i64(2), s.i64(3), s.i64(4), s.i64(5)};
        out.push_back(std::move(g));
      }
      if (rc != SQLITE_DONE) return sq_error(db_, rc, "group occurrences");
    }
    for (auto& g : out) {
      OccurrenceQuery one = q;
      one.signature = g.signature;
      auto dags = recent_distinct("dag_id", one);
      if (!dags) return dags.error();
      g.dag_ids = std::move(*dags);
      auto tasks = recent_distinct("task_id", one);
      if (!tasks) return tasks.error();
      g.task_ids = std::move(*tasks);
    }
    return out;
  }

  Result<std::vector<Occurrence>> list_occurrences(const OccurrenceQuery& q,
                                                   size_t limit) override {
    std::lock_guard lk(mu_);
    Stmt s(db_, (std::string("SELECT signature, dag_id, run_id, task_id, env, seen_at "
                             "FROM occurrences WHERE ") +
                 kOccFilter + " ORDER BY seen_at DESC, id DESC LIMIT ?6")
                    .c_str());
    bind_filter(s, q).bind(6, clamp_limit(limit));
    std::vector<Occurrence> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW)
      out.push_back(Occurrence{s.text(0), s.text(1), s.text(2), s.text(3), s.text(4), s.i64(5)});
    if (rc != SQLITE_DONE) return sq_error(db_, rc, "list occurrences");
    return out;
  }

  Status upsert_incident(const Incident& i) override {
    if (i.id.empty())
      return make_error(Errc::invalid_argument, "sqlite store: incident without id");
    std::lock_guard lk(mu_);
    // Empty fields keep the stored value (state/summary get defaults on insert only), so a
    // later partial update never erases a diagnosis; opened_at is never updated. diagnosed_at is
    // set once, when the first signature is stored (?14, else updated_at); the SET expressions
    // read the row as it was before this update.
    Stmt s(db_,
           "INSERT INTO incidents(id, env, dag_id, run_id, state, signature, category, "
           "first_failing_task, error, summary_json, postmortem_md, opened_at, updated_at, "
           "diagnosed_at) "
           "VALUES(?1, ?2, ?3, ?4, CASE WHEN ?5 = '' THEN 'open' ELSE ?5 END, ?6, ?7, ?8, ?9, "
           "CASE WHEN ?10 = '' THEN '{}' ELSE ?10 END, ?11, "
           "CASE WHEN ?12 = 0 THEN ?13 ELSE ?12 END, ?13, "
           "CASE WHEN ?6 = '' THEN 0 WHEN ?14 = 0 THEN ?13 ELSE ?14 END) "
           "ON CONFLICT(id) DO UPDATE SET "
           "diagnosed_at = CASE WHEN diagnosed_at <> 0 OR signature <> '' OR ?6 = '' "
           "THEN diagnosed_at WHEN ?14 = 0 THEN ?13 ELSE ?14 END, "
           "env = CASE WHEN ?2 = '' THEN env ELSE ?2 END, "
           "dag_id = CASE WHEN ?3 = '' THEN dag_id ELSE ?3 END, "
           "run_id = CASE WHEN ?4 = '' THEN run_id ELSE ?4 END, "
           "state = CASE WHEN ?5 = '' THEN state ELSE ?5 END, "
           "signature = CASE WHEN ?6 = '' THEN signature ELSE ?6 END, "
           "category = CASE WHEN ?7 = '' THEN category ELSE ?7 END, "
           "first_failing_task = CASE WHEN ?8 = '' THEN first_failing_task ELSE ?8 END, "
           "error = CASE WHEN ?9 = '' THEN error ELSE ?9 END, "
           "summary_json = CASE WHEN ?10 = '' THEN summary_json ELSE ?10 END, "
           "postmortem_md = CASE WHEN ?11 = '' THEN postmortem_md ELSE ?11 END, "
           "updated_at = ?13");
    s.bind(1, i.id).bind(2, i.env).bind(3, i.dag_id).bind(4, i.run_id).bind(5, i.state);
    s.bind(6, i.signature).bind(7, i.category).bind(8, i.first_failing_task).bind(9, i.error);
    s.bind(10, i.summary_json).bind(11, i.postmortem_md).bind(12, i.opened_at_ms);
    s.bind(13, i.updated_at_ms).bind(14, i.diagnosed_at_ms);
    return s.run("upsert incident " + i.id);
  }

  Result<Incident> get_incident(const std::string& id) override {
    std::lock_guard lk(mu_);
    Stmt s(db_, (std::string("SELECT ") + kIncidentCols + " FROM incidents WHERE id = ?").c_str());
    s.bind(1, id);
    int rc = s.step();
    if (rc == SQLITE_DONE) return make_error(Errc::not_found, "no incident " + id);
    if (rc != SQLITE_ROW) return sq_error(db_, rc, "read incident " + id);
    return read_incident(s);
  }

  Result<std::vector<Incident>> list_incidents(const IncidentQuery& q, size_t limit) override {
    std::lock_guard lk(mu_);
    Stmt s(db_, (std::string("SELECT ") + kIncidentCols +
                 " FROM incidents WHERE (?1 = '' OR env = ?1) AND (?2 = '' OR dag_id = ?2) AND "
                 "(?3 = '' OR state = ?3) AND updated_at >= ?4 "
                 "ORDER BY updated_at DESC, id LIMIT ?5")
                    .c_str());
    s.bind(1, q.env).bind(2, q.dag_id).bind(3, q.state).bind(4, q.updated_from_ms);
    s.bind(5, clamp_limit(limit));
    std::vector<Incident> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) out.push_back(read_incident(s));
    if (rc != SQLITE_DONE) return sq_error(db_, rc, "list incidents");
    return out;
  }

  // ---- watch mode ----
  static constexpr const char* kCursorCols =
      "env, cursor_at, last_cycle_at, last_outcome, last_message, cycles, incidents_opened, "
      "last_opened";
  static WatchCursor read_cursor(Stmt& s) {
    return WatchCursor{s.text(0), s.i64(1), s.i64(2), s.text(3),
                       s.text(4), s.i64(5), s.i64(6), s.i64(7)};
  }

  Result<std::optional<WatchCursor>> get_watch_cursor(const std::string& env) override {
    std::lock_guard lk(mu_);
    Stmt s(db_,
           (std::string("SELECT ") + kCursorCols + " FROM watch_cursors WHERE env = ?").c_str());
    s.bind(1, env);
    int rc = s.step();
    if (rc == SQLITE_DONE) return std::optional<WatchCursor>();
    if (rc != SQLITE_ROW) return sq_error(db_, rc, "read watch cursor of " + env);
    return std::optional<WatchCursor>(read_cursor(s));
  }

  Result<std::vector<WatchCursor>> list_watch_cursors() override {
    std::lock_guard lk(mu_);
    Stmt s(db_,
           (std::string("SELECT ") + kCursorCols + " FROM watch_cursors ORDER BY env").c_str());
    std::vector<WatchCursor> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) out.push_back(read_cursor(s));
    if (rc != SQLITE_DONE) return sq_error(db_, rc, "list watch cursors");
    return out;
  }

  Status put_watch_cursor(const WatchCursor& c, std::optional<int64_t> fence) override {
    if (c.env.empty())
      return make_error(Errc::invalid_argument, "sqlite store: watch cursor without env");
    std::lock_guard lk(mu_);
    Tx tx(db_);
    if (auto st = tx.begin(); !st) return st;
    if (auto st = check_fence(c.env, fence); !st) return st;
    Stmt s(db_,
           "INSERT INTO watch_cursors(env, cursor_at, last_cycle_at, last_outcome, last_message, "
           "cycles, incidents_opened, last_opened) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
           "ON CONFLICT(env) DO UPDATE SET cursor_at = excluded.cursor_at, "
           "last_cycle_at = excluded.last_cycle_at, last_outcome = excluded.last_outcome, "
           "last_message = excluded.last_message, cycles = excluded.cycles, "
           "incidents_opened = excluded.incidents_opened, last_opened = excluded.last_opened");
    s.bind(1, c.env).bind(2, c.cursor_ms).bind(3, c.last_cycle_ms).bind(4, c.last_outcome);
    s.bind(5, c.last_message).bind(6, c.cycles).bind(7, c.incidents_opened);
    s.bind(8, c.last_opened);
    if (auto st = s.run("write watch cursor of " + c.env); !st) return st;
    return tx.commit();
  }

  Status mark_watched_run(const WatchedRun& r, std::optional<int64_t> fence) override {
    return mark_watched_run_and_enqueue(r, {}, fence);  // one upsert statement, in one place
  }

  Result<std::vector<WatchedRun>> list_watched_runs(const std::string& env, int64_t from_end_ms,
                                                    size_t limit) override {
    std::lock_guard lk(mu_);
    Stmt s(db_,
           "SELECT env, dag_id, run_id, end_at, handled_at, incident_id FROM watch_runs "
           "WHERE env = ?1 AND end_at >= ?2 ORDER BY end_at DESC, dag_id, run_id LIMIT ?3");
    s.bind(1, env).bind(2, from_end_ms).bind(3, clamp_limit(limit));
    std::vector<WatchedRun> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW)
      out.push_back(WatchedRun{s.text(0), s.text(1), s.text(2), s.i64(3), s.i64(4), s.text(5)});
    if (rc != SQLITE_DONE) return sq_error(db_, rc, "list watched runs");
    return out;
  }

  Result<int64_t> prune_watched_runs(const std::string& env, int64_t before_end_ms,
                                     std::optional<int64_t> fence) override {
    std::lock_guard lk(mu_);
    Tx tx(db_);
    if (auto st = tx.begin(); !st) return st.error();
    if (auto st = check_fence(env, fence); !st) return st.error();
    Stmt s(db_, "DELETE FROM watch_runs WHERE env = ?1 AND end_at < ?2");
    s.bind(1, env).bind(2, before_end_ms);
    if (auto st = s.run("prune watched runs"); !st) return st.error();
    const auto n = static_cast<int64_t>(sqlite3_changes(db_));
    if (auto st = tx.commit(); !st) return st.error();
    return n;
  }

  // ---- watch mode: leases ----
  Result<LeaseGrant> acquire_watch_lease(const std::string& env, const std::string& holder,
                                         int64_t now_ms, int64_t ttl_ms) override {
    if (auto st = check_lease_request(env, holder, ttl_ms); !st) return st.error();
    std::lock_guard lk(mu_);
    // BEGIN IMMEDIATE takes the write lock first: the read and the grant are one decision.
    Tx tx(db_);
    if (auto st = tx.begin(); !st) return st.error();
    WatchLease cur{.env = env};
    {
      Stmt s(db_, "SELECT holder, token, expires_at, acquired_at FROM watch_leases WHERE env = ?1");
      s.bind(1, env);
      int rc = s.step();
      if (rc == SQLITE_ROW)
        cur = WatchLease{env, s.text(0), s.i64(1), s.i64(2), s.i64(3)};
      else if (rc != SQLITE_DONE)
        return sq_error(db_, rc, "read watch lease of " + env);
    }
    LeaseGrant g = decide_lease(cur, holder, now_ms, ttl_ms);
    if (!g.granted) return g;
    Stmt s(db_,
           "INSERT INTO watch_leases(env, holder, token, expires_at, acquired_at) "
           "VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(env) DO UPDATE SET holder = excluded.holder, "
           "token = excluded.token, expires_at = excluded.expires_at, "
           "acquired_at = excluded.acquired_at");
    s.bind(1, env).bind(2, g.lease.holder).bind(3, g.lease.token).bind(4, g.lease.expires_at_ms);
    s.bind(5, g.lease.acquired_at_ms);
    if (auto st = s.run("write watch lease of " + env); !st) return st.error();
    if (auto st = tx.commit(); !st) return st.error();
    return g;
  }

  Result<bool> release_watch_lease(const std::string& env, const std::string& holder,
                                   int64_t token) override {
    std::lock_guard lk(mu_);
    Stmt s(db_,
           "UPDATE watch_leases SET expires_at = 0 WHERE env = ?1 AND holder = ?2 AND token = ?3");
    s.bind(1, env).bind(2, holder).bind(3, token);
    if (auto st = s.run("release watch lease of " + env); !st) return st.error();
    return sqlite3_changes(db_) == 1;
  }

  Result<std::vector<WatchLease>> list_watch_leases() override {
    std::lock_guard lk(mu_);
    Stmt s(db_,
           "SELECT env, holder, token, expires_at, acquired_at FROM watch_leases ORDER BY env");
    std::vector<WatchLease> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW)
      out.push_back(WatchLease{s.text(0), s.text(1), s.i64(2), s.i64(3), s.i64(4)});
    if (rc != SQLITE_DONE) return sq_error(db_, rc, "list watch leases");
    return out;
  }

  // ---- watch mode: the notification outbox ----
  static constexpr const char* kOutboxCols =
      "id, idempotency_key, target, kind, incident_id, event, payload, state, attempts, "
      "next_attempt_at, last_error, created_at, done_at";
  static OutboxMessage read_message(Stmt& s) {
    return OutboxMessage{s.i64(0),   s.text(1), s.text(2), s.text(3), s.text(4),
                         s.text(5),  s.text(6), s.text(7), s.i64(8),  s.i64(9),
                         s.text(10), s.i64(11), s.i64(12)};
  }

  Status mark_watched_run_and_enqueue(const WatchedRun& r,
                                      const std::vector<OutboxMessage>& messages,
                                      std::optional<int64_t> fence) override {
    std::lock_guard lk(mu_);
    Tx tx(db_);
    if (auto st = tx.begin(); !st) return st;
    if (auto st = check_fence(r.env, fence); !st) return st;
    {
      Stmt s(db_,
             "INSERT INTO watch_runs(env, dag_id, run_id, end_at, handled_at, incident_id) "
             "VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(env, dag_id, run_id) DO UPDATE SET "
             "end_at = excluded.end_at, handled_at = excluded.handled_at, "
             "incident_id = excluded.incident_id WHERE excluded.end_at > watch_runs.end_at");
      s.bind(1, r.env).bind(2, r.dag_id).bind(3, r.run_id).bind(4, r.end_ms);
      s.bind(5, r.handled_ms).bind(6, r.incident_id);
      if (auto st = s.run("record watched run " + r.dag_id + "/" + r.run_id); !st) return st;
    }
    if (auto n = insert_messages(messages); !n) return n.error();
    return tx.commit();
  }

  Result<int64_t> enqueue_messages(const std::vector<OutboxMessage>& messages) override {
    std::lock_guard lk(mu_);
    Tx tx(db_);
    if (auto st = tx.begin(); !st) return st.error();
    auto n = insert_messages(messages);
    if (!n) return n.error();
    if (auto st = tx.commit(); !st) return st.error();
    return *n;
  }

  Result<std::vector<OutboxMessage>> due_messages(int64_t now_ms, size_t limit) override {
    std::lock_guard lk(mu_);
    Stmt s(db_, (std::string("SELECT ") + kOutboxCols +
                 " FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?1 "
                 "ORDER BY next_attempt_at, id LIMIT ?2")
                    .c_str());
    s.bind(1, now_ms).bind(2, clamp_limit(limit));
    std::vector<OutboxMessage> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) out.push_back(read_message(s));
    if (rc != SQLITE_DONE) return sq_error(db_, rc, "list due messages");
    return out;
  }

  Status record_outbox_attempt(int64_t id, const OutboxAttempt& a) override {
    std::lock_guard lk(mu_);
    Stmt s(db_,
           "UPDATE outbox SET attempts = attempts + 1, state = ?2, next_attempt_at = ?3, "
           "last_error = ?4, done_at = CASE WHEN ?2 = 'pending' THEN 0 ELSE ?5 END "
           "WHERE id = ?1 AND state = 'pending'");
    s.bind(1, id).bind(2, a.state).bind(3, a.next_attempt_ms).bind(4, a.last_error);
    s.bind(5, a.at_ms);
    if (auto st = s.run("record delivery attempt"); !st) return st;
    if (sqlite3_changes(db_) == 1) return {};
    Stmt q(db_, "SELECT state FROM outbox WHERE id = ?1");
    q.bind(1, id);
    int rc = q.step();
    if (rc == SQLITE_DONE)
      return make_error(Errc::not_found, "no outbox message " + std::to_string(id));
    if (rc != SQLITE_ROW) return sq_error(db_, rc, "read outbox message");
    return make_error(Errc::failed_precondition,
                      "outbox message " + std::to_string(id) + " is " + q.text(0));
  }

  Result<std::vector<OutboxCounts>> outbox_counts() override {
    std::lock_guard lk(mu_);
    Stmt s(db_,
           "SELECT target, SUM(state = 'pending'), SUM(state = 'delivered'), SUM(state = 'dead') "
           "FROM outbox GROUP BY target ORDER BY target");
    std::vector<OutboxCounts> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW)
      out.push_back(OutboxCounts{s.text(0), s.i64(1), s.i64(2), s.i64(3)});
    if (rc != SQLITE_DONE) return sq_error(db_, rc, "count outbox messages");
    return out;
  }

  Result<std::vector<OutboxMessage>> list_outbox(const std::string& state, size_t limit) override {
    std::lock_guard lk(mu_);
    Stmt s(db_, (std::string("SELECT ") + kOutboxCols +
                 " FROM outbox WHERE (?1 = '' OR state = ?1) ORDER BY id DESC LIMIT ?2")
                    .c_str());
    s.bind(1, state).bind(2, clamp_limit(limit));
    std::vector<OutboxMessage> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) out.push_back(read_message(s));
    if (rc != SQLITE_DONE) return sq_error(db_, rc, "list outbox messages");
    return out;
  }

 private:
  // Caller holds mu_ and an open (write) transaction: ok without a fence, or when env's lease
  // still carries that token; fenced_error otherwise.
  Status check_fence(const std::string& env, std::optional<int64_t> fence) {
    if (!fence) return {};
    Stmt s(db_, "SELECT token FROM watch_leases WHERE env = ?1");
    s.bind(1, env);
    int rc = s.step();
    if (rc == SQLITE_DONE) return fenced_error(env, *fence, std::nullopt);
    if (rc != SQLITE_ROW) return sq_error(db_, rc, "read watch lease of " + env);
    if (s.i64(0) != *fence) return fenced_error(env, *fence, s.i64(0));
    return {};
  }

  // Caller holds mu_ and an open transaction. New rows inserted (existing keys are skipped).
  Result<int64_t> insert_messages(const std::vector<OutboxMessage>& messages) {
    int64_t n = 0;
    for (const auto& m : messages) {
      if (m.idempotency_key.empty())
        return make_error(Errc::invalid_argument, "sqlite store: outbox message without key");
      Stmt s(db_,
             "INSERT INTO outbox(idempotency_key, target, kind, incident_id, event, payload, "
             "state, attempts, next_attempt_at, last_error, created_at, done_at) "
             "VALUES(?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?7, '', ?8, 0) "
             "ON CONFLICT(idempotency_key) DO NOTHING");
      s.bind(1, m.idempotency_key).bind(2, m.target).bind(3, m.kind).bind(4, m.incident_id);
      s.bind(5, m.event).bind(6, m.payload).bind(7, m.next_attempt_ms).bind(8, m.created_ms);
      if (auto st = s.run("enqueue message " + m.idempotency_key); !st) return st.error();
      n += sqlite3_changes(db_);
    }
    return n;
  }

  // Caller holds mu_.
  Result<ApprovalRecord> load(const std::string& id) {
    ApprovalRecord a;
    {
      Stmt s(db_,
             (std::string("SELECT ") + kApprovalCols + " FROM approvals WHERE id = ?").c_str());
      s.bind(1, id);
      int rc = s.step();
      if (rc == SQLITE_DONE) return make_error(Errc::not_found, "approval " + id + " not found");
      if (rc != SQLITE_ROW) return sq_error(db_, rc, "read approval " + id);
      a = read_approval(s);
    }
    Stmt s(db_,
           "SELECT principal, approve, reason, at, idp_issuer, idp_subject FROM approval_decisions "
           "WHERE approval_id = ? ORDER BY ord");
    s.bind(1, id);
    int rc;
    while ((rc = s.step()) == SQLITE_ROW)
      a.decisions.push_back(
          Decision{s.text(0), s.i64(1) != 0, s.text(2), s.i64(3), s.text(4), s.text(5)});
    if (rc != SQLITE_DONE) return sq_error(db_, rc, "read decisions of " + id);
    return a;
  }

  static int64_t clamp_limit(size_t limit) {
    return limit > static_cast<size_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(limit);
  }

  // Parameters ?1..?5 of kOccFilter.
  static Stmt& bind_filter(Stmt& s, const OccurrenceQuery& q) {
    return s.bind(1, q.signature)
        .bind(2, q.dag_id)
        .bind(3, q.env)
        .bind(4, q.from_ms)
        .bind(5, q.to_ms);
  }

  // Distinct values of `col` ("dag_id" or "task_id") among occurrences matching q, most recently
  // seen first, at most 20. Caller holds mu_.
  Result<std::vector<std::string>> recent_distinct(const char* col, const OccurrenceQuery& q) {
    Stmt s(db_, (std::string("SELECT ") + col + ", MAX(seen_at) AS m FROM occurrences WHERE " +
                 kOccFilter + " GROUP BY " + col + " ORDER BY m DESC, " + col + " LIMIT 20")
                    .c_str());
    bind_filter(s, q);
    std::vector<std::string> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) out.push_back(s.text(0));
    if (rc != SQLITE_DONE)
      return sq_error(db_, rc, std::string("list ") + col + "s of a signature");
    return out;
  }

  Status insert_checkpoint(const Checkpoint& c) {
    Stmt s(db_, "INSERT INTO audit_checkpoints(seq, hash, time_ms, mac) VALUES(?,?,?,?)");
    s.bind(1, c.seq).bind(2, c.hash).bind(3, c.time_ms).bind(4, c.mac);
    return s.run("write audit checkpoint");
  }

  std::mutex mu_;
  sqlite3* db_;
};

Result<int> schema_version(sqlite3* db) {
  {
    Stmt s(db,
           "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'");
    int rc = s.step();
    if (rc != SQLITE_ROW) return sq_error(db, rc, "read schema");
    if (s.i64(0) == 0) return 0;
  }
  Stmt s(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version");
  int rc = s.step();
  if (rc != SQLITE_ROW) return sq_error(db, rc, "read schema version");
  return static_cast<int>(s.i64(0));
}

Status migrate(sqlite3* db) {
  Tx tx(db);
  if (auto s = tx.begin(); !s) return s;
  if (auto s = exec(db, schema_version_ddl(SqlDialect::sqlite), "create schema_version"); !s)
    return s;
  auto v = schema_version(db);
  if (!v) return v.error();
  const auto& steps = migrations(SqlDialect::sqlite);
  const int latest = latest_version();
  if (*v > latest)
    return make_error(Errc::failed_precondition,
                      "sqlite store: schema version " + std::to_string(*v) +
                          " is newer than this dagmedic (" + std::to_string(latest) + ")");
  for (int i = *v; i < latest; ++i) {
    if (auto s = exec(db, steps[static_cast<std::size_t>(i)].c_str(),
                      "migration " + std::to_string(i + 1));
        !s)
      return s;
    Stmt s(db, "INSERT INTO schema_version(version) VALUES(?)");
    s.bind(1, int64_t{i + 1});
    if (auto st = s.run("record migration"); !st) return st;
  }
  return tx.commit();
}

}  // namespace

Result<std::string> default_sqlite_path() {
  std::string base;
  if (const char* x = std::getenv("XDG_STATE_HOME"); x != nullptr && *x == '/') {
    base = x;
  } else if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') {
    base = std::string(h) + "/.local/state";
  } else {
    return make_error(Errc::failed_precondition,
                      "sqlite store: neither XDG_STATE_HOME nor HOME is set; configure a path");
  }
  return base + "/dagmedic/dagmedic.db";
}

Result<std::unique_ptr<Store>> open_sqlite_store(const SqliteOptions& opts) {
  std::string path = opts.path;
  if (path.empty()) {
    auto p = default_sqlite_path();
    if (!p) return p.error();
    path = *p;
  }
  if (!opts.read_only) {
    std::error_code ec;
    auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty() && !std::filesystem::exists(parent, ec)) {
      std::filesystem::create_directories(parent, ec);
      if (ec)
        return make_error(Errc::unavailable,
                          "sqlite store: cannot create " + parent.string() + ": " + ec.message());
      ::chmod(parent.c_str(), 0700);
    }
  }
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_FULLMUTEX |
              (opts.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Error e = sq_error(db, rc, "open " + path);
    sqlite3_close_v2(db);
    return e;
  }
  auto store = std::make_unique<SqliteStore>(db);  // owns db from here
  sqlite3_busy_timeout(db, opts.busy_timeout_ms);
  if (auto s = exec(db, "PRAGMA foreign_keys = ON", "enable foreign keys"); !s) return s.error();
  if (!opts.read_only) {
    // WAL: readers don't block the writer; synchronous=FULL keeps audit appends durable.
    if (auto s = exec(db, "PRAGMA journal_mode = WAL", "enable WAL"); !s) return s.error();
    if (auto s = exec(db, "PRAGMA synchronous = FULL", "set synchronous"); !s) return s.error();
    if (auto s = migrate(db); !s) return s.error();
  } else {
    auto v = schema_version(db);
    if (!v) return v.error();
    if (*v != latest_version())
      return make_error(Errc::failed_precondition,
                        "sqlite store: " + path + " has schema version " + std::to_string(*v) +
                            ", expected " + std::to_string(latest_version()) +
                            " (open it writable once to migrate)");
  }
  if (opts.max_pages > 0) {
    auto pragma = "PRAGMA max_page_count = " + std::to_string(opts.max_pages);
    if (auto s = exec(db, pragma.c_str(), "set max_page_count"); !s) return s.error();
  }
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace dm::store
