// Data compiled at build time into the dagmedic executable (not into dm_app, whose tests compile
// as before).
#pragma once

namespace dm::app {

// Registers the built-in redaction rules' vectorscan database, compiled at build time
// (src/logs/redact_db_gen_main.cpp; logs/redact.h register_precompiled_redaction_db): a start then
// deserializes it instead of compiling it (~40 ms of CPU). Call once, first thing in main.
void register_builtin_redaction_db();

}  // namespace dm::app
