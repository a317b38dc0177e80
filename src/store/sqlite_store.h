// SQLite implementation of the Store seam: one file, WAL journal, migrations applied at open.
// Several SqliteStore objects (or processes) may share one file: writes use BEGIN IMMEDIATE
// transactions, so state changes (decide, consume, audit append) are serialized by SQLite's write
// lock and a conditional UPDATE decides races. Within one object, calls are serialized by a mutex.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "store/store.h"

namespace dm::store {

struct SqliteOptions {
  // Database file. Empty: default_sqlite_path(). Its parent folder is created (0700) if missing.
  std::string path{};
  // Open without write access (SQLITE_OPEN_READONLY): reads work on an up-to-date schema, every
  // write returns an error. Used for inspection (e.g. `audit verify`) and to test fail-closed
  // paths.
  bool read_only = false;
  // How long a write waits for another connection's lock before failing with `unavailable`.
  int busy_timeout_ms = 10000;
  // > 0: cap the file at this many pages (PRAGMA max_page_count); a write past it fails like a full
  // disk does. A quota knob; tests use it to inject "disk full".
  int64_t max_pages = 0;
};

// ${XDG_STATE_HOME:-$HOME/.local/state}/dagmedic/dagmedic.db. failed_precondition if neither
// XDG_STATE_HOME nor HOME is set.
Result<std::string> default_sqlite_path();

// Opens (creating if needed, unless read_only) and migrates. Errors: unavailable if the file cannot
// be opened/written, failed_precondition if the schema is newer than this build or (read_only)
// not migrated yet.
Result<std::unique_ptr<Store>> open_sqlite_store(const SqliteOptions& opts);

}  // namespace dm::store
