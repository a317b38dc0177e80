// Test support (tests only, header-only): ForwardingStore, which passes every call to a wrapped
// store so a test double overrides only what it changes, and FlakyStore, whose audit appends fail
// on demand (fault injection for the fail-closed audit rules).
#pragma once

#include <atomic>
#include <memory>
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
