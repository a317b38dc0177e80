#include "store/migrations.h"

#include <cstdlib>
#include <string_view>

namespace dm::store {
namespace {

// What `{name}` stands for in each dialect.
struct Substitution {
  std::string_view name;
  std::string_view sqlite;
  std::string_view postgres;
};
constexpr Substitution kSubstitutions[] = {
    // 64-bit integers (milliseconds since the epoch, sequence numbers).
    {"i64", "INTEGER", "BIGINT"},
    // An integer primary key the database numbers itself (a rowid alias in SQLite).
    {"serial", "INTEGER", "BIGSERIAL"},
    // audit_log refuses UPDATE and DELETE (and, in PostgreSQL, TRUNCATE).
    {"audit_append_only",
     R"sql(CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;)sql",
     R"sql(CREATE FUNCTION dagmedic_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION dagmedic_audit_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION dagmedic_audit_append_only();)sql"},
    // Keeps other replicas from adding occurrences while duplicates are deleted (SQLite's
    // migration transaction already holds the only write lock).
    {"lock_occurrences", "", "LOCK TABLE occurrences IN EXCLUSIVE MODE;\n"},
};

// Versioned migrations; index i holds version i+1. Never edit a shipped entry: append a new one.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE approvals(
  id TEXT PRIMARY KEY, action TEXT NOT NULL, env TEXT NOT NULL, tier TEXT NOT NULL,
  params_json TEXT NOT NULL, params_hash TEXT NOT NULL, requester TEXT NOT NULL,
  requester_is_agent INTEGER NOT NULL, reason TEXT NOT NULL, created_at {i64} NOT NULL,
  expires_at {i64} NOT NULL, required_approvals INTEGER NOT NULL, state TEXT NOT NULL,
  decided_at {i64} NOT NULL DEFAULT 0, consumed_at {i64} NOT NULL DEFAULT 0);
CREATE INDEX approvals_by_state ON approvals(state, created_at);
CREATE TABLE approval_decisions(
  approval_id TEXT NOT NULL REFERENCES approvals(id), principal TEXT NOT NULL,
  approve INTEGER NOT NULL, reason TEXT NOT NULL, at {i64} NOT NULL, ord INTEGER NOT NULL,
  PRIMARY KEY(approval_id, principal));
CREATE TABLE audit_log(seq {i64} PRIMARY KEY, time_ms {i64} NOT NULL,
  prev_hash TEXT NOT NULL, hash TEXT NOT NULL, body TEXT NOT NULL);
{audit_append_only}
CREATE TABLE audit_head(id INTEGER PRIMARY KEY CHECK(id = 1), seq {i64} NOT NULL,
  hash TEXT NOT NULL);
INSERT INTO audit_head VALUES(1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
CREATE TABLE audit_checkpoints(seq {i64} NOT NULL, hash TEXT NOT NULL, time_ms {i64} NOT NULL,
  mac TEXT NOT NULL);
CREATE TABLE occurrences(id {serial} PRIMARY KEY, signature TEXT NOT NULL, dag_id TEXT NOT NULL,
  run_id TEXT NOT NULL, task_id TEXT NOT NULL, env TEXT NOT NULL, seen_at {i64} NOT NULL);
CREATE INDEX occurrences_by_signature ON occurrences(signature, seen_at);
CREATE INDEX occurrences_by_dag ON occurrences(dag_id, seen_at);
)sql",
    // 2: one row per sighting (keep the earliest of any duplicates), incidents.
    R"sql(
{lock_occurrences}DELETE FROM occurrences WHERE EXISTS (SELECT 1 FROM occurrences o WHERE
  o.signature = occurrences.signature AND o.env = occurrences.env AND
  o.dag_id = occurrences.dag_id AND o.run_id = occurrences.run_id AND
  o.task_id = occurrences.task_id AND
  (o.seen_at < occurrences.seen_at OR (o.seen_at = occurrences.seen_at AND o.id < occurrences.id)));
CREATE UNIQUE INDEX occurrences_key ON occurrences(signature, env, dag_id, run_id, task_id);
CREATE INDEX occurrences_by_task ON occurrences(env, dag_id, run_id, task_id);
CREATE TABLE incidents(id TEXT PRIMARY KEY, env TEXT NOT NULL, dag_id TEXT NOT NULL,
  run_id TEXT NOT NULL, state TEXT NOT NULL, signature TEXT NOT NULL, category TEXT NOT NULL,
  first_failing_task TEXT NOT NULL, error TEXT NOT NULL, summary_json TEXT NOT NULL,
  postmortem_md TEXT NOT NULL, opened_at {i64} NOT NULL, updated_at {i64} NOT NULL);
CREATE INDEX incidents_by_updated ON incidents(updated_at);
CREATE INDEX incidents_by_dag ON incidents(dag_id, updated_at);
)sql",
    // 3: when the incident was first diagnosed (0 = not yet, or diagnosed before version 3).
    R"sql(
ALTER TABLE incidents ADD COLUMN diagnosed_at {i64} NOT NULL DEFAULT 0;
)sql",
    // 4: the human an agent's request was made for ('' = none recorded), who may not approve it.
    R"sql(
ALTER TABLE approvals ADD COLUMN requester_for TEXT NOT NULL DEFAULT '';
)sql",
    // 5: the identity provider's issuer and subject of a decision made through it ('' = none).
    R"sql(
ALTER TABLE approval_decisions ADD COLUMN idp_issuer TEXT NOT NULL DEFAULT '';
ALTER TABLE approval_decisions ADD COLUMN idp_subject TEXT NOT NULL DEFAULT '';
)sql",
    // 6: watch mode (docs/watch.md): each environment's cursor and last cycle, and the failed
    // runs the watcher handled (de-duplication by (env, dag_id, run_id)).
    R"sql(
CREATE TABLE watch_cursors(env TEXT PRIMARY KEY, cursor_at {i64} NOT NULL,
  last_cycle_at {i64} NOT NULL, last_outcome TEXT NOT NULL, last_message TEXT NOT NULL,
  cycles {i64} NOT NULL, incidents_opened {i64} NOT NULL, last_opened {i64} NOT NULL);
CREATE TABLE watch_runs(env TEXT NOT NULL, dag_id TEXT NOT NULL, run_id TEXT NOT NULL,
  end_at {i64} NOT NULL, handled_at {i64} NOT NULL, incident_id TEXT NOT NULL,
  PRIMARY KEY(env, dag_id, run_id));
CREATE INDEX watch_runs_by_end ON watch_runs(env, end_at);
)sql",
    // 7: watch mode's notification outbox (docs/watch.md "Notifications"): one row per
    // (message, target), unique by idempotency key.
    R"sql(
CREATE TABLE outbox(id {serial} PRIMARY KEY, idempotency_key TEXT NOT NULL UNIQUE,
  target TEXT NOT NULL, kind TEXT NOT NULL, incident_id TEXT NOT NULL, event TEXT NOT NULL,
  payload TEXT NOT NULL, state TEXT NOT NULL, attempts {i64} NOT NULL,
  next_attempt_at {i64} NOT NULL, last_error TEXT NOT NULL, created_at {i64} NOT NULL,
  done_at {i64} NOT NULL);
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
CREATE INDEX outbox_by_target ON outbox(target, state);
)sql",
    // 8: watch mode's leases (docs/watch.md "Several watchers: leases"): per environment, the
    // watcher that holds it, its fencing token and until when (ms, the holders' clock).
    R"sql(
CREATE TABLE watch_leases(env TEXT PRIMARY KEY, holder TEXT NOT NULL, token {i64} NOT NULL,
  expires_at {i64} NOT NULL, acquired_at {i64} NOT NULL);
)sql",
};

// `text` with every `{name}` replaced by its substitution in `d`. An unknown name is a bug in the
// table above: it aborts at the first use (at every store's open; migrations_test.cpp runs it).
std::string fill_in(std::string_view text, SqlDialect d) {
  std::string out;
  out.reserve(text.size() + 256);
  while (!text.empty()) {
    const auto open = text.find('{');
    out += text.substr(0, open);
    if (open == std::string_view::npos) break;
    const auto close = text.find('}', open);
    const std::string_view name =
        text.substr(open + 1, close == std::string_view::npos ? close : close - open - 1);
    const Substitution* sub = nullptr;
    for (const auto& s : kSubstitutions)
      if (s.name == name) sub = &s;
    if (sub == nullptr || close == std::string_view::npos) std::abort();
    out += d == SqlDialect::sqlite ? sub->sqlite : sub->postgres;
    text.remove_prefix(close + 1);
  }
  return out;
}

std::vector<std::string> fill_in_all(SqlDialect d) {
  std::vector<std::string> v;
  for (const char* m : kMigrations) v.push_back(fill_in(m, d));
  return v;
}

}  // namespace

const std::vector<std::string>& migrations(SqlDialect d) {
  static const std::vector<std::string> kSqlite = fill_in_all(SqlDialect::sqlite);
  static const std::vector<std::string> kPostgres = fill_in_all(SqlDialect::postgres);
  return d == SqlDialect::sqlite ? kSqlite : kPostgres;
}

const char* schema_version_ddl(SqlDialect d) {
  return d == SqlDialect::sqlite
             ? "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER PRIMARY KEY, "
               "applied_at INTEGER NOT NULL DEFAULT (strftime('%s','now')))"
             : "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER PRIMARY KEY, "
               "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())";
}

}  // namespace dm::store
