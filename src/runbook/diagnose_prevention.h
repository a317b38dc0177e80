// Prevention rules: what keeps a failure of a given category from coming back. Data, not code:
// rules/prevention.yaml (embedded at build time; its header documents the format). Used by
// suggest_prevention_actions and available to the postmortem.
// A PreventionRules is immutable after load; every method is thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace dm::runbook {

struct PreventionStep {
  std::string kind;  // stable id, e.g. "precheck_upstream"
  std::string title;
  std::string detail;
};

class PreventionRules {
 public:
  // The embedded rules/prevention.yaml, parsed once per process. Errors: internal (the embedded
  // file is missing or broken — a build bug).
  static Result<std::shared_ptr<const PreventionRules>> builtin();
  // Rules from YAML text. Errors: invalid_argument naming the problem (YAML syntax, an action
  // without title/detail, a category or `always` naming an unknown kind, a bad kind id).
  static Result<std::shared_ptr<const PreventionRules>> from_yaml(std::string_view yaml);

  // The category's steps, then the `always` ones (no duplicates). An unknown category gets the
  // steps of "unknown" (if any) plus `always`.
  std::vector<PreventionStep> for_category(std::string_view category) const;
  bool knows(std::string_view category) const;
  // Category names, sorted.
  std::vector<std::string> categories() const;

  struct Impl;
  explicit PreventionRules(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

 private:
  std::shared_ptr<const Impl> impl_;
};

}  // namespace dm::runbook
