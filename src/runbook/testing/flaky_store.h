// Test support (tests only, header-only): ForwardingStore, which passes every call to a wrapped
// store so a test double overrides only what it changes, and FlakyStore, whose audit appends fail
// on demand (fault injection for the fail-closed audit rules).
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/store.h"

namespace dm::runbook::testing {

// Every Store call goes to `s`.
class ForwardingStore : public store::Store {
 public:
  explicit ForwardingStore(std::shared_ptr<store::Store> s) : s_(std::move(s)) {}
  const char* backend() const noexcept override { return s_->backend(); }
  Status create_approval(const store::ApprovalRecord& a) override { return s_->create_approval(a); }
  Result<store::ApprovalRecord> get_approval(const std::string& id) override {
    return s_->get_approval(id);
  }
  Result<std::vector<store::ApprovalRecord>> list_approvals(store::ApprovalState st,
                                                            size_t n) override {
    return s_->list_approvals(st, n);
  }
  Result<store::ApprovalRecord> record_decision(const std::string& id, const store::Decision& d,
                                                int64_t now) override {
    return s_->record_decision(id, d, now);
  }
  Result<store::ApprovalRecord> consume_approval(const std::string& id, const std::string& h,
                                                 int64_t now) override {
    return s_->consume_approval(id, h, now);
  }
  Result<store::AuditRow> append_audit(const store::AuditBuilder& b) override {
    return s_->append_audit(b);
  }
  Result<std::vector<store::AuditRow>> read_audit(int64_t from, size_t n) override {
    return s_->read_audit(from, n);
  }
  Result<store::AuditHead> audit_head() override { return s_->audit_head(); }
  Status put_checkpoint(const store::Checkpoint& c) override { return s_->put_checkpoint(c); }
  Result<std::vector<store::Checkpoint>> checkpoints() override { return s_->checkpoints(); }
  Status record_occurrence(const store::Occurrence& o) override { return s_->record_occurrence(o); }
  Result<store::OccurrenceStats> occurrence_stats(const store::OccurrenceQuery& q) override {
    return s_->occurrence_stats(q);
  }
  Result<std::vector<store::SignatureGroup>> occurrence_groups(const store::OccurrenceQuery& q,
                                                               size_t limit) override {
    return s_->occurrence_groups(q, limit);
  }
  Result<std::vector<store::Occurrence>> list_occurrences(const store::OccurrenceQuery& q,
                                                          size_t limit) override {
    return s_->list_occurrences(q, limit);
  }
  Status upsert_incident(const store::Incident& i) override { return s_->upsert_incident(i); }
  Result<store::Incident> get_incident(const std::string& id) override {
    return s_->get_incident(id);
  }
  Result<std::vector<store::Incident>> list_incidents(const store::IncidentQuery& q,
                                                      size_t limit) override {
    return s_->list_incidents(q, limit);
  }
  Result<std::optional<store::WatchCursor>> get_watch_cursor(const std::string& env) override {
    return s_->get_watch_cursor(env);
  }
  Result<std::vector<store::WatchCursor>> list_watch_cursors() override {
    return s_->list_watch_cursors();
  }
  Status put_watch_cursor(const store::WatchCursor& c, std::optional<int64_t> fence) override {
    return s_->put_watch_cursor(c, fence);
  }
  Status mark_watched_run(const store::WatchedRun& r, std::optional<int64_t> fence) override {
    return s_->mark_watched_run(r, fence);
  }
  Result<std::vector<store::WatchedRun>> list_watched_runs(const std::string& env, int64_t from,
                                                           size_t limit) override {
    return s_->list_watched_runs(env, from, limit);
  }
  Result<int64_t> prune_watched_runs(const std::string& env, int64_t before,
                                     std::optional<int64_t> fence) override {
    return s_->prune_watched_runs(env, before, fence);
  }
  Result<store::LeaseGrant> acquire_watch_lease(const std::string& env, const std::string& holder,
                                                int64_t now, int64_t ttl) override {
    return s_->acquire_watch_lease(env, holder, now, ttl);
  }
  Result<bool> release_watch_lease(const std::string& env, const std::string& holder,
                                   int64_t token) override {
    return s_->release_watch_lease(env, holder, token);
  }
  Result<std::vector<store::WatchLease>> list_watch_leases() override {
    return s_->list_watch_leases();
  }
  Status mark_watched_run_and_enqueue(const store::WatchedRun& r,
                                      const std::vector<store::OutboxMessage>& messages,
                                      std::optional<int64_t> fence) override {
    return s_->mark_watched_run_and_enqueue(r, messages, fence);
  }
  Result<int64_t> enqueue_messages(const std::vector<store::OutboxMessage>& messages) override {
    return s_->enqueue_messages(messages);
  }
  Result<std::vector<store::OutboxMessage>> due_messages(int64_t now, size_t limit) override {
    return s_->due_messages(now, limit);
  }
  Status record_outbox_attempt(int64_t id, const store::OutboxAttempt& a) override {
    return s_->record_outbox_attempt(id, a);
  }
  Result<std::vector<store::OutboxCounts>> outbox_counts() override { return s_->outbox_counts(); }
  Result<std::vector<store::OutboxMessage>> list_outbox(const std::string& state,
                                                        size_t limit) override {
    return s_->list_outbox(state, limit);
  }

 protected:
  std::shared_ptr<store::Store> s_;
};

// Delegates to a real store; appends to the audit fail while `fail_audit` is set.
class FlakyStore final : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  std::atomic<bool> fail_audit{false};
  Result<store::AuditRow> append_audit(const store::AuditBuilder& b) override {
    if (fail_audit) return make_error(Errc::unavailable, "injected: audit store down");
    return s_->append_audit(b);
  }
};

}  // namespace dm::runbook::testing
