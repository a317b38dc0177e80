// Test support: the built-in rule sets, compiled once per test binary (the vectorscan compile is
// the slow part) and shared; a failed load fails the calling test.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "logs/category.h"
#include "logs/pipeline.h"
#include "logs/redact.h"

namespace dm::logs::testing {

inline std::shared_ptr<const Redactor> builtin_redactor() {
  static const auto r = Redactor::builtin();
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? r.value() : nullptr;
}

// DiagnoseOptions with the built-in redaction and category rules.
inline DiagnoseOptions builtin_diagnose_options() {
  static const auto cat = Categorizer::builtin();
  EXPECT_TRUE(cat.ok()) << (cat.ok() ? "" : cat.error().message);
  DiagnoseOptions o;
  o.redactor = builtin_redactor();
  if (cat.ok()) o.categorizer = cat.value();
  return o;
}

}  // namespace dm::logs::testing
