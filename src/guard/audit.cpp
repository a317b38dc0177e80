#include "guard/audit.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "guard/canonical.h"

namespace dm::guard {

using store::AuditRow;
using store::Checkpoint;

// Shared by the log and its tickets.
struct AuditTicket::Core {
  std::shared_ptr<store::Store> store;
  std::shared_ptr<Clock> clock;
  std::string key;
  AuditOptions opts;
  std::mutex file_mu;  // serializes appends to opts.checkpoint_file

  int64_t now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock->now().time_since_epoch())
        .count();
  }

  std::string mac(int64_t seq, const std::string& hash, int64_t time_ms) const {
    return hmac_sha256_hex(key, "dagmedic-audit-checkpoint-v1\n" + std::to_string(seq) + "\n" +
                                    hash + "\n" + std::to_string(time_ms));
  }

  Checkpoint sign(int64_t seq, const std::string& hash) const {
    int64_t t = now_ms();
    return Checkpoint{seq, hash, t, mac(seq, hash, t)};
  }

  Status write_file(const Checkpoint& c) {
    if (opts.checkpoint_file.empty()) return {};
    std::lock_guard lk(file_mu);
    std::ofstream f(opts.checkpoint_file, std::ios::app);
    nlohmann::json j = {{"seq", c.seq}, {"hash", c.hash}, {"time_ms", c.time_ms}, {"mac", c.mac}};
    f << j.dump() << '\n';
    f.flush();
    if (!f)
      return make_error(Errc::unavailable,
                        "cannot append audit checkpoint to " + opts.checkpoint_file);
    return {};
  }

  Result<AuditRow> append(const AuditEvent& e, const std::string& phase, int64_t ref_seq) {
    std::optional<Checkpoint> cp_written;
    auto row = store->append_audit([&](const store::AuditHead& head) -> Result<store::AuditAppend> {
      store::AuditAppend out;
      out.row.seq = head.seq + 1;
      out.row.time_ms = now_ms();
      out.row.prev_hash = head.hash;
      nlohmann::json body = {{"seq", out.row.seq},
                             {"time_ms", out.row.time_ms},
                             {"phase", phase},
                             {"ref_seq", ref_seq},
                             {"principal", e.principal},
                             {"tool", e.tool},
                             {"args_digest", e.args_digest},
                             {"decision", e.decision},
                             {"approval_id", e.approval_id},
                             {"approval_event", e.approval_event},
                             {"ran", e.ran},
                             {"upstream_status", e.upstream_status},
                             {"upstream_summary", e.upstream_summary}};
      auto canon = canonical_json(body);
      if (!canon) return canon.error();
      out.row.body = std::move(*canon);
      out.row.hash = sha256_hex(out.row.prev_hash + out.row.body);
      if (out.row.seq % opts.checkpoint_every == 0)
        out.checkpoint = sign(out.row.seq, out.row.hash);
      cp_written = out.checkpoint;
      return out;
    });
    if (!row) return row.error();
    if (cp_written)
      if (auto s = write_file(*cp_written); !s) return s.error();
    return row;
  }
};

// ---- AuditKey ----

Result<AuditKey> AuditKey::from_bytes(std::string bytes) {
  if (bytes.size() < 32)
    return make_error(Errc::invalid_argument, "audit key must be at least 32 bytes");
  return AuditKey(std::move(bytes));
}

Result<AuditKey> AuditKey::from_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return make_error(Errc::failed_precondition, "cannot read audit key file " + path);
  std::ostringstream ss;
  ss << f.rdbuf();
  std::string b = ss.str();
  while (!b.empty() && (b.back() == '\n' || b.back() == '\r' || b.back() == ' ')) b.pop_back();
  auto k = from_bytes(std::move(b));
  if (!k)
    return make_error(Errc::invalid_argument, "audit key file " + path + ": " + k.error().message);
  return k;
}

Result<AuditKey> AuditKey::from_env(const char* var) {
  const char* v = std::getenv(var);
  if (v == nullptr || *v == '\0')
    return make_error(Errc::failed_precondition,
                      std::string("audit key variable ") + var + " is not set");
  auto k = from_bytes(v);
  if (!k)
    return make_error(Errc::invalid_argument,
                      std::string("audit key variable ") + var + ": " + k.error().message);
  return k;
}

// ---- AuditTicket ----

AuditTicket::AuditTicket(std::shared_ptr<Core> core, int64_t seq, AuditEvent event)
    : core_(std::move(core)), seq_(seq), event_(std::move(event)), open_(true) {}

AuditTicket::AuditTicket(AuditTicket&& o) noexcept
    : core_(std::move(o.core_)), seq_(o.seq_), event_(std::move(o.event_)), open_(o.open_) {
  o.open_ = false;
}

AuditTicket::~AuditTicket() {
  if (!open_ || !core_) return;
  AuditEvent e = event_;
  e.upstream_status = "abandoned";
  e.upstream_summary = "ticket dropped without complete()";
  (void)core_->append(e, "abandoned", seq_);  // best effort: a destructor cannot report errors
}

// ---- AuditLog ----

AuditLog::AuditLog(std::shared_ptr<store::Store> store, std::shared_ptr<Clock> clock, AuditKey key,
                   AuditOptions opts)
    : core_(std::make_shared<AuditTicket::Core>()) {
  core_->store = std::move(store);
  core_->clock = std::move(clock);
  core_->key = key.bytes();
  if (opts.checkpoint_every < 1) opts.checkpoint_every = 1;
  core_->opts = std::move(opts);
}

Result<AuditRow> AuditLog::append(const AuditEvent& e) { return core_->append(e, "event", 0); }

Result<AuditTicket> AuditLog::begin_write(const AuditEvent& intent) {
  auto row = core_->append(intent, "begin", 0);
  if (!row)
    return make_error(Errc::failed_precondition,
                      "audit log unavailable, refusing the write: " + row.error().message);
  return AuditTicket(core_, row->seq, intent);
}

Status AuditLog::complete(AuditTicket&& t, const AuditOutcome& outcome) {
  if (!t.open_ || t.core_ != core_)
    return make_error(Errc::failed_precondition, "audit ticket already completed or foreign");
  t.open_ = false;
  AuditEvent e = t.event_;
  e.upstream_status = outcome.status;
  e.upstream_summary = outcome.summary;
  auto row = core_->append(e, "complete", t.seq_);
  if (!row) return row.error();
  return {};
}

Result<Checkpoint> AuditLog::checkpoint() {
  auto head = core_->store->audit_head();
  if (!head) return head.error();
  Checkpoint c = core_->sign(head->seq, head->hash);
  if (auto s = core_->store->put_checkpoint(c); !s) return s.error();
  if (auto s = core_->write_file(c); !s) return s.error();
  return c;
}

namespace {

struct Finding {
  int64_t seq = 0;
  std::string reason;
};

// Keeps the earliest finding.
void note(std::optional<Finding>& f, int64_t seq, std::string reason) {
  if (!f || seq < f->seq) f = Finding{seq, std::move(reason)};
}

// The checkpoints of the file; `exists` says whether the file could be opened at all.
Result<std::vector<Checkpoint>> read_checkpoint_file(const std::string& path, bool& exists) {
  std::vector<Checkpoint> out;
  exists = false;
  if (path.empty()) return out;
  std::ifstream f(path);
  if (!f) return out;  // missing: verify() decides whether it should exist by now
  exists = true;
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    try {
      auto j = nlohmann::json::parse(line);
      out.push_back(Checkpoint{j.at("seq").get<int64_t>(), j.at("hash").get<std::string>(),
                               j.at("time_ms").get<int64_t>(), j.at("mac").get<std::string>()});
    } catch (const std::exception&) {
      out.push_back(Checkpoint{0, "", 0, "unparseable"});  // fails its MAC check below
    }
  }
  return out;
}

}  // namespace

Result<VerifyReport> AuditLog::verify() {
  auto& st = *core_->store;
  VerifyReport rep;
  std::optional<Finding> bad;

  auto cps = st.checkpoints();
  if (!cps) return cps.error();
  const std::string& file = core_->opts.checkpoint_file;
  bool file_exists = false;
  auto file_cps = read_checkpoint_file(file, file_exists);
  if (!file_cps) return file_cps.error();
  std::vector<Checkpoint> all = *cps;
  all.insert(all.end(), file_cps->begin(), file_cps->end());
  std::map<int64_t, std::string> hash_at;  // seq -> chain hash, for checkpointed seqs
  for (const auto& c : all) hash_at[c.seq];

  int64_t expected = 1;
  std::string prev = store::genesis_hash();
  constexpr size_t kPage = 500;
  while (!bad) {
    auto rows = st.read_audit(expected, kPage);
    if (!rows) return rows.error();
    for (const auto& r : *rows) {
      ++rep.entries;
      if (r.seq != expected) {
        note(bad, expected, "entry " + std::to_string(expected) + " is missing (deleted)");
        break;
      }
      int64_t body_seq = -1, body_time = -1;
      try {
        auto j = nlohmann::json::parse(r.body);
        body_seq = j.at("seq").get<int64_t>();
        body_time = j.at("time_ms").get<int64_t>();
      } catch (const std::exception&) {
        note(bad, r.seq, "entry " + std::to_string(r.seq) + " is not valid JSON (edited)");
        break;
      }
      if (body_seq != r.seq) {
        note(bad, r.seq,
             "entry " + std::to_string(r.seq) + " holds the entry written as seq " +
                 std::to_string(body_seq) + " (reordered)");
        break;
      }
      if (r.prev_hash != prev) {
        note(bad, r.seq,
             "entry " + std::to_string(r.seq) +
                 " does not chain onto the previous entry (an entry before it was "
                 "deleted, reordered or rewritten)");
        break;
      }
      if (sha256_hex(r.prev_hash + r.body) != r.hash || body_time != r.time_ms) {
        note(bad, r.seq, "entry " + std::to_string(r.seq) + " does not match its hash (edited)");
        break;
      }
      if (auto it = hash_at.find(r.seq); it != hash_at.end()) it->second = r.hash;
      prev = r.hash;
      ++expected;
    }
    if (rows->size() < kPage) break;
  }
  const int64_t last = expected - 1;

  for (const auto& c : all) {
    ++rep.checkpoints;
    if (!constant_time_equal(core_->mac(c.seq, c.hash, c.time_ms), c.mac)) {
      note(bad, std::max<int64_t>(c.seq, 1),
           "checkpoint for seq " + std::to_string(c.seq) + " has an invalid signature (forged)");
      continue;
    }
    if (c.seq > last) {
      if (!bad)  // otherwise the chain scan stopped early and `last` says nothing
        note(bad, last + 1,
             "log truncated: a signed checkpoint covers seq " + std::to_string(c.seq) +
                 " but the log ends at seq " + std::to_string(last));
      continue;
    }
    if (c.seq > 0 && hash_at[c.seq] != c.hash) {
      if (!bad || c.seq < bad->seq)
        note(bad, c.seq,
             "entry " + std::to_string(c.seq) +
                 " differs from its signed checkpoint (chain rewritten)");
      continue;
    }
    if (c.seq == 0 && c.hash != store::genesis_hash()) {
      note(bad, 1, "checkpoint for seq 0 does not hold the empty-chain hash");
      continue;
    }
    rep.anchored_seq = std::max(rep.anchored_seq, c.seq);
  }

  // A configured checkpoint file is a second, independent copy: it must hold what was written to
  // it. Every automatic checkpoint (each checkpoint_every-th entry) is appended to it, so by now
  // it holds one at or after the last such seq, and every checkpoint the store holds from its own
  // first one on. Without this, deleting the file together with the store's checkpoints would
  // leave nothing to check.
  if (!bad && !file.empty()) {
    const int64_t every = core_->opts.checkpoint_every;
    const int64_t due = (last / every) * every;  // the newest automatic checkpoint's seq
    int64_t newest_in_file = -1;
    for (const auto& c : *file_cps) newest_in_file = std::max(newest_in_file, c.seq);
    const std::string fix =
        " (if the file was only just configured, or checkpoint_every changed, `dagmedic audit "
        "checkpoint` anchors the log in it now)";
    if (due > 0 && !file_exists)
      note(bad, due,
           "the checkpoint file " + file + " is missing, but the log has " + std::to_string(last) +
               " entries and a checkpoint is written to it every " + std::to_string(every) + fix);
    else if (due > 0 && newest_in_file < due)
      note(bad, due,
           "the checkpoint file " + file + " holds no checkpoint at or after seq " +
               std::to_string(due) + ", which was written to it (lines removed?)" + fix);
    if (!bad && !file_cps->empty()) {
      // Each checkpoint goes to the store and the file together: from the file's first one on,
      // every checkpoint the store holds must be in the file too.
      int64_t first_in_file = INT64_MAX;
      std::set<int64_t> in_file;
      for (const auto& c : *file_cps) {
        first_in_file = std::min(first_in_file, c.seq);
        in_file.insert(c.seq);
      }
      for (const auto& c : *cps)
        if (c.seq >= first_in_file && !in_file.count(c.seq)) {
          note(bad, std::max<int64_t>(c.seq, 1),
               "the checkpoint file " + file + " lacks the checkpoint for seq " +
                   std::to_string(c.seq) + " that the store holds (lines removed?)");
          break;
        }
    }
  }

  if (!bad) {
    auto head = st.audit_head();
    if (!head) return head.error();
    if (head->seq > last)
      note(bad, last + 1,
           "log truncated: the head says seq " + std::to_string(head->seq) +
               " but the log ends at seq " + std::to_string(last));
    else if (head->seq != last || head->hash != prev)
      note(bad, head->seq + 1,
           "the head (seq " + std::to_string(head->seq) + ") does not match the last entry (seq " +
               std::to_string(last) + ")");
  }
  if (bad) {
    rep.ok = false;
    rep.first_bad_seq = bad->seq;
    rep.reason = bad->reason;
    rep.anchored_seq = std::min(rep.anchored_seq, bad->seq - 1);
  }
  return rep;
}

Status AuditLog::export_jsonl(std::ostream& out) {
  int64_t from = 1;
  constexpr size_t kPage = 500;
  for (;;) {
    auto rows = core_->store->read_audit(from, kPage);
    if (!rows) return rows.error();
    for (const auto& r : *rows) {
      nlohmann::json entry;
      try {
        entry = nlohmann::json::parse(r.body);
      } catch (const std::exception&) {
        entry = r.body;  // tampered row: export the raw text so verify's finding can be inspected
      }
      nlohmann::json line = {{"seq", r.seq},
                             {"time_ms", r.time_ms},
                             {"prev_hash", r.prev_hash},
                             {"hash", r.hash},
                             {"entry", entry}};
      try {
        out << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
      } catch (const std::exception& e) {
        return make_error(Errc::internal, std::string("audit export: ") + e.what());
      }
      from = r.seq + 1;
    }
    if (!out) return make_error(Errc::unavailable, "audit export: write failed");
    if (rows->size() < kPage) break;
  }
  return {};
}

}  // namespace dm::guard
