// Error categories: maps an extracted error (+ its signature) to one of permissions,
// missing_upstream_data, schema_drift, resource_exhaustion, timeout, network, dependency_or_import,
// code_bug, quota_or_throttling, unknown — with a proposed action, a risk level and a one-line
// reason, for propose_action.
//
// Rules are data (rules/categories.yaml, embedded at build time; its header documents the format).
// Users add files whose rules are checked BEFORE the builtin ones (first match wins) and whose
// `categories` entries override the builtin defaults. Regexes are compiled once into a vectorscan
// database (case-insensitive; no back-references or look-around).
// A Categorizer is immutable after load; categorize() is thread-safe (per-call scratch).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "logs/extract.h"
#include "logs/signature.h"

namespace dm::logs {

struct Category {
  std::string name = "unknown";
  std::string action = "escalate";
  std::string risk = "high";  // low | medium | high
  std::string reason;
  std::string rule_id;  // the rule that matched; "" for the unknown fallback
};

class Categorizer {
 public:
  // The embedded rules/categories.yaml. Errors: internal (embedded file broken — a build bug).
  static Result<std::shared_ptr<const Categorizer>> builtin();
  // Rules from YAML texts; rules of later texts are checked first (a user file goes last).
  // Errors: invalid_argument naming the rule and the reason (YAML syntax, unknown category or
  // kind, bad risk, no condition, a regex vectorscan rejects).
  static Result<std::shared_ptr<const Categorizer>> from_yaml(
      const std::vector<std::string>& yaml_texts);
  // A rule file's name (for errors) and text.
  struct NamedRules {
    std::string name;
    std::string text;
  };
  // As from_yaml; errors say "<name>:<line>: …" (the line of the offending rule or entry).
  static Result<std::shared_ptr<const Categorizer>> from_named(
      const std::vector<NamedRules>& files);
  // builtin + user files (their rules first). Errors: not_found (unreadable file), as above,
  // naming the file and line.
  static Result<std::shared_ptr<const Categorizer>> builtin_plus_files(
      const std::vector<std::string>& paths);

  // `e` may be null (nothing found) → the "unknown" category.
  Category categorize(const ExtractedError* e, const Signature* sig) const;
  std::size_t rule_count() const;
  // The pattern database was deserialized (precompiled_db.h), not compiled.
  bool precompiled() const;
  // The built-in set's plan text and pattern database, serialized; for the build-time generator
  // (precompiled_db_gen_main.cpp). Errors: internal.
  static Result<std::pair<std::string, std::string>> precompile_builtin();

  struct Impl;
  explicit Categorizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

 private:
  std::shared_ptr<const Impl> impl_;
};

}  // namespace dm::logs
