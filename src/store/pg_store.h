// PostgreSQL implementation of the Store seam, for several dagmedic replicas sharing approvals
// and one audit chain (libpqxx 6.4). Atomicity across replicas:
// - consume: `UPDATE … WHERE state='approved' AND … RETURNING` — under READ COMMITTED a racing
//   second UPDATE re-checks the row after the first commits and matches nothing;
// - decisions: `SELECT … FOR UPDATE` on the approval row;
// - audit appends: `SELECT … FOR UPDATE` on the single audit_head row, so the chain never forks;
// - watch leases: a grant locks the environment's lease row `FOR UPDATE`, a fenced write `FOR
//   SHARE`, so a write with a token lands before a takeover commits or sees the new token;
// - migrations: a transaction-scoped advisory lock, so replicas starting together migrate once.
// Within one object, calls are serialized by a mutex (one connection). A broken connection is
// reported as `unavailable` and re-opened on the next call.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "store/store.h"

namespace dm::store {

struct PgOptions {
  // libpq connection string or URI, e.g. "host=127.0.0.1 port=5432 dbname=dagmedic user=dm".
  // Never echoed in errors (it may hold a password).
  std::string dsn{};
};

// Connects and migrates. Errors: unavailable if the server cannot be reached,
// failed_precondition if the schema is newer than this build.
Result<std::unique_ptr<Store>> open_pg_store(const PgOptions& opts);

}  // namespace dm::store
