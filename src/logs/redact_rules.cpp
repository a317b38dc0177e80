#include "logs/redact_rules.h"

#include <yaml-cpp/yaml.h>

#include <array>
#include <cctype>
#include <cmath>
#include <set>

#include "common/yaml_load.h"

namespace dm::logs {
namespace {

// `where` is "file:line" (or the file alone when no line is known).
dm::Error bad(std::string_view where, const std::string& what) {
  return make_error(Errc::invalid_argument, "redaction rules " + std::string(where) + ": " + what);
}

// "source:line" of a node (1-based line), or the source alone for a node without a position.
std::string at(std::string_view source, const YAML::Mark& m) {
  if (m.is_null() || m.line < 0) return std::string(source);
  return std::string(source) + ":" + std::to_string(m.line + 1);
}

bool valid_id(const std::string& s) {
  if (s.empty() || s.size() > 100) return false;
  for (char c : s) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      return false;
  }
  return true;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Reads a scalar or a sequence of scalars as strings.
std::vector<std::string> string_list(const YAML::Node& n) {
  std::vector<std::string> v;
  if (!n) return v;
  if (n.IsScalar()) {
    v.push_back(n.as<std::string>());
    return v;
  }
  if (!n.IsSequence()) throw YAML::Exception(n.Mark(), "expected a list of strings");
  for (const auto& e : n) v.push_back(e.as<std::string>());
  return v;
}

dm::Result<RedactRule> parse_rule(const YAML::Node& n, std::size_t index, std::string_view file) {
  const std::string where = "rule #" + std::to_string(index + 1);
  const std::string source = at(file, n.Mark());  // errors below name the rule's own line
  if (!n.IsMap()) return bad(source, where + ": expected a mapping");
  static const std::set<std::string> kKnown = {
      "id",          "type",        "pattern",  "keywords",  "secret_group",
      "flags",       "min_entropy", "allow",    "block_end", "block_max_lines",
      "description", "examples",    "prefilter"};
  for (const auto& kv : n) {
    const auto key = kv.first.as<std::string>();
    if (!kKnown.count(key)) return bad(source, where + ": unknown field '" + key + "'");
  }
  RedactRule r;
  r.source = source;
  if (!n["id"] || !n["id"].IsScalar()) return bad(source, where + ": missing 'id'");
  r.id = n["id"].as<std::string>();
  if (!valid_id(r.id)) return bad(source, where + ": id '" + r.id + "' must match [a-z0-9._-]+");
  const std::string rw = "rule '" + r.id + "'";
  r.type = n["type"] ? n["type"].as<std::string>() : r.id;
  if (!valid_id(r.type)) return bad(source, rw + ": type must match [a-z0-9._-]+");
  if (!n["pattern"] || !n["pattern"].IsScalar()) return bad(source, rw + ": missing 'pattern'");
  r.pattern = n["pattern"].as<std::string>();
  if (r.pattern.empty()) return bad(source, rw + ": empty pattern");
  for (auto& k : string_list(n["keywords"])) {
    if (k.empty()) return bad(source, rw + ": empty keyword");
    if (k.find('\n') != std::string::npos) return bad(source, rw + ": keyword with a newline");
    r.keywords.push_back(lower(std::move(k)));
  }
  if (n["secret_group"]) {
    r.secret_group = n["secret_group"].as<int>();
    if (r.secret_group < 0 || r.secret_group > 20)
      return bad(source, rw + ": secret_group out of range");
  }
  for (const auto& f : string_list(n["flags"])) {
    if (f == "caseless" || f == "i")
      r.caseless = true;
    else
      return bad(source, rw + ": unknown flag '" + f + "' (known: caseless)");
  }
  if (n["min_entropy"]) {
    r.min_entropy = n["min_entropy"].as<double>();
    if (!(r.min_entropy >= 0 && r.min_entropy <= 8))
      return bad(source, rw + ": min_entropy must be within [0, 8]");
  }
  r.allow = string_list(n["allow"]);
  if (n["block_end"]) {
    r.block_end = n["block_end"].as<std::string>();
    if (r.block_end.empty()) return bad(source, rw + ": empty block_end");
  }
  if (n["block_max_lines"]) {
    r.block_max_lines = n["block_max_lines"].as<int>();
    if (r.block_max_lines < 1 || r.block_max_lines > 100000)
      return bad(source, rw + ": block_max_lines must be within [1, 100000]");
  }
  if (n["prefilter"]) {
    const auto p = n["prefilter"].as<std::string>();
    if (p == "pattern")
      r.prefilter_pattern = true;
    else if (p != "keywords")
      return bad(source, rw + ": prefilter must be 'keywords' or 'pattern'");
  }
  return r;
}

}  // namespace

dm::Result<RedactRuleSet> parse_redaction_rules(std::string_view yaml_text,
                                                std::string_view source) {
  try {
    const YAML::Node root = load_one_yaml_document(std::string(yaml_text));
    if (!root.IsMap())
      return bad(at(source, root.Mark()), "top level must be a mapping with 'rules'");
    for (const auto& kv : root) {
      const auto key = kv.first.as<std::string>();
      if (key != "version" && key != "rules" && key != "allow" && key != "description")
        return bad(at(source, kv.first.Mark()), "unknown top-level field '" + key + "'");
    }
    if (root["version"] && root["version"].as<int>() != 1)
      return bad(at(source, root["version"].Mark()), "unsupported version (expected 1)");
    RedactRuleSet set;
    set.allow = string_list(root["allow"]);
    const YAML::Node rules = root["rules"];
    if (!rules || !rules.IsSequence())
      return bad(at(source, rules ? rules.Mark() : root.Mark()), "'rules' must be a list");
    std::set<std::string> ids;
    for (std::size_t i = 0; i < rules.size(); ++i) {
      auto r = parse_rule(rules[i], i, source);
      if (!r) return r.error();
      if (!ids.insert(r->id).second) return bad(r->source, "duplicate rule id '" + r->id + "'");
      set.rules.push_back(std::move(*r));
    }
    return set;
  } catch (const YAML::Exception& e) {
    return bad(at(source, e.mark), e.msg);
  } catch (const std::exception& e) {
    return bad(source, e.what());
  }
}

dm::Status merge_rule_sets(RedactRuleSet& base, RedactRuleSet more) {
  std::set<std::string> ids;
  for (const auto& r : base.rules) ids.insert(r.id);
  for (auto& r : more.rules) {
    if (!ids.insert(r.id).second)
      return make_error(Errc::invalid_argument, "redaction rules " + r.source + ": rule id '" +
                                                    r.id + "' is already defined");
    base.rules.push_back(std::move(r));
  }
  for (auto& a : more.allow) base.allow.push_back(std::move(a));
  return Status::Ok();
}

double shannon_entropy(std::string_view s) {
  if (s.empty()) return 0.0;
  std::array<std::size_t, 256> counts{};
  for (unsigned char c : s) ++counts[c];
  double h = 0.0;
  const double n = static_cast<double>(s.size());
  for (std::size_t c : counts) {
    if (c == 0) continue;
    const double p = static_cast<double>(c) / n;
    h -= p * std::log2(p);
  }
  return h;
}

}  // namespace dm::logs
