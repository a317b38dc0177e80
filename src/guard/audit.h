// Tamper-evident, fail-closed audit log (docs/guard.md).
//
// Every entry is one link of a hash chain: hash = SHA-256(prev_hash || canonical entry), where the
// canonical entry (canonical.h) holds seq, time_ms and the AuditEvent fields. The store serializes
// appends (SQLite write transaction / PostgreSQL row lock on the head), so replicas never fork the
// chain. The head is anchored by HMAC-SHA256-signed checkpoints (key from a file or an env var,
// never stored with the log) written every `checkpoint_every` entries and on demand, into the store
// and, optionally, appended to a separate file. verify() reports the first bad seq and why for
// edited, deleted, reordered and truncated entries.
//
// FAIL-CLOSED PROTOCOL for writes (Vault-style: nothing runs that the audit cannot record):
//
//   auto ticket = audit.begin_write(event);      // appends a "begin" entry
//   if (!ticket) return ticket.error();          // audit down => the write MUST NOT run
//   auto r = run_the_write();                    // only now
//   auto st = audit.complete(std::move(*ticket), {status, summary});  // appends the outcome
//
// or, harder to get wrong, let guarded() do all three:
//
//   Result<T> r = audit.guarded(event, [&]() -> Result<T> { return run_the_write(); });
//
// AuditTicket is move-only and can only be made by begin_write(); complete() takes it by rvalue
// and can be called once. A ticket destroyed without complete() records an "abandoned" outcome
// (best effort), so a forgotten completion is visible in the log.
//
// Thread-safety: every AuditLog method may be called concurrently; tickets may be completed on
// any thread. An AuditTicket keeps the log's internals alive, so it may outlive the AuditLog.
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <type_traits>

#include "common/clock.h"
#include "common/result.h"
#include "store/store.h"

namespace dm::guard {

// The HMAC key for checkpoints: >= 32 bytes. Its bytes never appear in errors or logs.
class AuditKey {
 public:
  static Result<AuditKey> from_bytes(std::string bytes);
  // File contents (trailing newline/whitespace trimmed).
  static Result<AuditKey> from_file(const std::string& path);
  // The named environment variable's value.
  static Result<AuditKey> from_env(const char* var);
  const std::string& bytes() const { return bytes_; }

 private:
  explicit AuditKey(std::string b) : bytes_(std::move(b)) {}
  std::string bytes_;
};

// What happened, as the caller reports it. args_digest must already be redacted (a digest of the
// arguments, never raw secrets).
struct AuditEvent {
  std::string principal;    // who asked (or decided)
  std::string tool;         // e.g. "trigger_dag", "request_approval"
  std::string args_digest;  // caller-computed digest of the (redacted) arguments
  std::string decision;     // e.g. "allowed", "refused", "approved", "denied"
  std::string approval_id;
  std::string approval_event;   // "requested" | "approved" | "denied" | "consumed" | ""
  std::string ran;              // what ran, e.g. "trigger_dag prod etl run_id=dagmedic__…"
  std::string upstream_status;  // the upstream answer (HTTP status / result)
  std::string upstream_summary;
};

struct AuditOutcome {
  std::string status;   // e.g. "ok", "409", "unavailable"
  std::string summary;  // short, redacted
};

struct AuditOptions {
  int64_t checkpoint_every = 100;  // a signed checkpoint every N entries (>= 1)
  std::string checkpoint_file{};   // also append checkpoints here (JSON lines); empty = store only
};

struct VerifyReport {
  bool ok = true;
  int64_t entries = 0;        // entries read
  int64_t checkpoints = 0;    // signed checkpoints checked (store + file)
  int64_t anchored_seq = 0;   // highest seq covered by a valid checkpoint
  int64_t first_bad_seq = 0;  // 0 when ok
  std::string reason;         // empty when ok
};

class AuditLog;

class [[nodiscard]] AuditTicket {
 public:
  AuditTicket(AuditTicket&& o) noexcept;
  AuditTicket& operator=(AuditTicket&&) = delete;
  AuditTicket(const AuditTicket&) = delete;
  AuditTicket& operator=(const AuditTicket&) = delete;
  ~AuditTicket();
  int64_t seq() const { return seq_; }  // seq of the "begin" entry

 private:
  friend class AuditLog;
  struct Core;
  AuditTicket(std::shared_ptr<Core> core, int64_t seq, AuditEvent event);
  std::shared_ptr<Core> core_;
  int64_t seq_ = 0;
  AuditEvent event_;
  bool open_ = false;
};

class AuditLog {
 public:
  // `store` and `clock` non-null, shared, thread-safe.
  AuditLog(std::shared_ptr<store::Store> store, std::shared_ptr<Clock> clock, AuditKey key,
           AuditOptions opts = {});

  // Appends one event (phase "event"): approval requests/decisions, refusals, reads worth noting.
  Result<store::AuditRow> append(const AuditEvent& e);

  // Step 1 of the fail-closed protocol: records the intent. An error means the write must not run.
  Result<AuditTicket> begin_write(const AuditEvent& intent);
  // Step 3: records the outcome, referring to the ticket's begin entry. Once per ticket.
  Status complete(AuditTicket&& ticket, const AuditOutcome& outcome);

  // begin_write → write() only if that succeeded → complete(). `write` returns Result<T>.
  // If the outcome cannot be recorded the write's result is replaced by an error (Vault-style),
  // so the caller never reports success for a write the audit does not show.
  template <class F>
  std::invoke_result_t<F> guarded(const AuditEvent& intent, F&& write);

  // Writes a signed checkpoint of the current head now (store, and file if configured).
  Result<store::Checkpoint> checkpoint();

  // Reads the whole chain and all checkpoints. Tampering is reported in the VerifyReport
  // (ok=false); an error means the log could not be read.
  Result<VerifyReport> verify();

  // One JSON object per line: {"seq","time_ms","prev_hash","hash","entry":{…}}.
  Status export_jsonl(std::ostream& out);

 private:
  std::shared_ptr<AuditTicket::Core> core_;
};

template <class F>
std::invoke_result_t<F> AuditLog::guarded(const AuditEvent& intent, F&& write) {
  auto ticket = begin_write(intent);
  if (!ticket) return ticket.error();
  auto r = write();
  AuditOutcome out =
      r.ok() ? AuditOutcome{"ok", ""} : AuditOutcome{errc_name(r.error().code), r.error().message};
  if (auto st = complete(std::move(*ticket), out); !st)
    return make_error(Errc::internal,
                      "the write ran but its outcome could not be audited: " + st.error().message);
  return r;
}

}  // namespace dm::guard
