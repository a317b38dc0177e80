// Redaction rule files (rules/redaction.yaml format) parsed into plain structs. No regex is
// compiled here (redact_engine.h does that).
//
//   version: 1
//   allow: ['^(?:None|null)$']     # optional: secret values never redacted (full match, any rule)
//   rules:
//     - id: aws-access-key-id      # unique, [a-z0-9-]+
//       type: aws-access-key-id    # marker name: [REDACTED:<type>]; defaults to id
//       pattern: '...'             # RE2 syntax, also valid for vectorscan and Python re
//       keywords: [akia]           # optional: the rule applies only to lines containing one
//       secret_group: 1            # optional: only this capture group is replaced (0 = match)
//       flags: [caseless]          # optional
//       min_entropy: 3.5           # optional: Shannon entropy (bits/byte) the secret must reach
//       allow: ['^example$']       # optional: secret values this rule leaves alone (full match)
//       block_end: '...'           # optional: multi-line block (PEM); see redact.h
//       block_max_lines: 200       # optional, with block_end
//       prefilter: pattern         # optional: vectorscan scans for the regex, not the keywords
//                                  # (for rules whose keywords are common, e.g. '://')
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace dm::logs {

struct RedactRule {
  std::string id;
  std::string type;
  std::string pattern;
  std::vector<std::string> keywords;  // lower-cased
  int secret_group = 0;
  bool caseless = false;
  double min_entropy = 0.0;
  std::vector<std::string> allow;
  std::string block_end;  // empty: single-line rule
  int block_max_lines = 200;
  bool prefilter_pattern = false;  // `prefilter: pattern` (default: keywords when present)
  std::string source;              // "file:line" of the rule, for error messages
};

struct RedactRuleSet {
  std::vector<RedactRule> rules;
  std::vector<std::string> allow;  // global allow list
};

// Parses one rule file. `source` names it in errors, with the line: "redaction rules
// <source>:<line>: …". Errors: invalid_argument (YAML syntax, missing/ill-typed field, unknown
// flag, duplicate id within the file).
dm::Result<RedactRuleSet> parse_redaction_rules(std::string_view yaml_text,
                                                std::string_view source);

// Appends `more` to `base`. Errors: invalid_argument on a duplicate rule id.
dm::Status merge_rule_sets(RedactRuleSet& base, RedactRuleSet more);

// Shannon entropy of the bytes of `s`, in bits per byte (0 for empty).
double shannon_entropy(std::string_view s);

}  // namespace dm::logs
