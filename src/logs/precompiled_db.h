// Vectorscan databases compiled ahead of time. Compiling the built-in rule sets' databases takes
// most of a CLI start (redaction ~40 ms, categories ~190 ms of CPU); the dagmedic executable
// registers the databases compiled at build time (precompiled_db_gen_main.cpp, app/precompiled.h),
// and a compile whose plan (expressions, flags, mode) is byte for byte a registered one
// deserializes it instead. Exact or nothing: another plan, another vectorscan version or a CPU
// without the features the database was built for (hs_deserialize_database refuses) compiles as
// before.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

struct hs_database;

namespace dm::logs {

// The plan of a block-mode database of `exprs` with `flags` (same length) and ids 0..n-1, as
// text: equal texts compile to the same database. `kind` names the rule set ("redaction").
std::string hs_plan_text(std::string_view kind, const std::vector<std::string>& exprs,
                         const std::vector<unsigned>& flags);

// Registers `db` (hs_serialize_database bytes) for `plan`. The views must stay valid for the life
// of the process (static data). A plan registered twice: the first registration is used.
// Thread-safe.
void register_precompiled_db(std::string_view plan, std::string_view db);

// The database registered for `plan`, deserialized; the caller owns it (hs_free_database). Null
// when none is registered or vectorscan refuses the bytes. Thread-safe.
hs_database* precompiled_db(const std::string& plan);

// `db` serialized (hs_serialize_database). Errors: internal.
Result<std::string> serialize_db(const hs_database* db);

}  // namespace dm::logs
