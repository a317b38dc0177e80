// The store's schema, written once for both SQL dialects: versioned migrations whose text says
// `{name}` where SQLite and PostgreSQL differ, filled in per dialect (migrations.cpp lists the
// substitutions). Both stores apply exactly these, in order, recording each version in
// schema_version. Pure data; thread-safe.
#pragma once

#include <string>
#include <vector>

namespace dm::store {

enum class SqlDialect { sqlite, postgres };

// Every migration's SQL for `d`, in order: index i holds version i+1 (its size is the schema
// version this build writes). Several statements per entry, run as one script in one transaction.
// Never edit a shipped entry, not even its white space (SQLite keeps the text of each CREATE, and
// migrations_test.cpp pins every shipped entry's digest): append a new one.
const std::vector<std::string>& migrations(SqlDialect d);

// CREATE TABLE IF NOT EXISTS schema_version(version, applied_at) for `d` (created before any
// migration runs; the highest version in it is the database's schema version).
const char* schema_version_ddl(SqlDialect d);

}  // namespace dm::store
