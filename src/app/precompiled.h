// Data compiled at build time into the dagmedic executable (and app_tests), not into dm_app.
#pragma once

namespace dm::app {

// Registers the vectorscan databases of the built-in redaction and category rules, compiled at
// build time (src/logs/precompiled_db_gen_main.cpp, logs/precompiled_db.h): a start then
// deserializes them instead of compiling them (~40 ms and ~190 ms of CPU). Call once, first
// thing in main.
void register_precompiled_dbs();

}  // namespace dm::app
