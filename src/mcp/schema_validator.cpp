// valijson reports schema problems by throwing only when VALIJSON_USE_EXCEPTIONS is set (else it
// aborts); this is the only translation unit that includes it.
#define VALIJSON_USE_EXCEPTIONS 1
#include "mcp/schema_validator.h"

#include <exception>
#include <regex>
#include <string_view>
#include <unordered_map>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include "mcp/schema_dialect.h"

namespace dm::mcp {

// libstdc++'s default (backtracking) std::regex recurses once per character: a `pattern` such as
// ^[a-z]+$ against a 100 000-character argument overflows the stack and kills the server. valijson
// looks its patterns up in a cache by their text, so the cache is filled beforehand with the same
// patterns compiled for libstdc++'s breadth-first executor (__polynomial: no recursion on the
// input, linear memory; back-references are refused). patternProperties regexes are built by
// valijson itself, on property names: with them, property names are capped (kMaxPatternKey).
using RegexCache = std::unordered_map<std::string, std::regex>;
constexpr std::size_t kMaxPatternKey = 1024;

struct SchemaValidator::Impl {
  nlohmann::json doc;  // kept alive: the compiled schema may refer to it
  valijson::Schema schema;
  RegexCache regexes;  // read-only after compile(); copied per validate() (shared automata)
  bool pattern_properties = false;
};

namespace {

// Every string under a "pattern" key, and whether a "patternProperties" key occurs (anywhere:
// an entry that is not really a schema keyword costs a cache slot, nothing else).
void collect_patterns(const nlohmann::json& j, RegexCache& out, bool& pattern_properties) {
  if (j.is_array()) {
    for (const auto& e : j) collect_patterns(e, out, pattern_properties);
    return;
  }
  if (!j.is_object()) return;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "patternProperties") pattern_properties = true;
    if (it.key() == "pattern" && it.value().is_string()) {
      const std::string& p = it.value().get_ref<const std::string&>();
      if (!out.count(p))
        out.emplace(p, std::regex(p, std::regex::ECMAScript | std::regex_constants::__polynomial));
    }
    collect_patterns(it.value(), out, pattern_properties);
  }
}

// The first object key longer than kMaxPatternKey, if any.
const std::string* overlong_key(const nlohmann::json& j) {
  if (j.is_array()) {
    for (const auto& e : j)
      if (auto k = overlong_key(e)) return k;
  } else if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.key().size() > kMaxPatternKey) return &it.key();
      if (auto k = overlong_key(it.value())) return k;
    }
  }
  return nullptr;
}

}  // namespace

SchemaValidator::SchemaValidator() : impl_(std::make_unique<Impl>()) {}
SchemaValidator::~SchemaValidator() = default;

Result<std::shared_ptr<const SchemaValidator>> SchemaValidator::compile(
    const nlohmann::json& schema) {
  if (!schema.is_object())
    return make_error(Errc::invalid_argument, "schema must be a JSON object");
  auto draft7 = to_draft7(schema);  // 2020-12 (the default dialect) as valijson's draft 7
  if (!draft7) return draft7.error();
  std::shared_ptr<SchemaValidator> v(new SchemaValidator());
  v->impl_->doc = std::move(*draft7);
  try {
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::NlohmannJsonAdapter adapter(v->impl_->doc);
    parser.populateSchema(adapter, v->impl_->schema);
    collect_patterns(v->impl_->doc, v->impl_->regexes, v->impl_->pattern_properties);
  } catch (const std::regex_error& e) {
    return make_error(Errc::invalid_argument,
                      std::string("invalid JSON schema: a pattern is not a usable regular "
                                  "expression (back-references are not supported): ") +
                          e.what());
  } catch (const std::exception& e) {
    return make_error(Errc::invalid_argument, std::string("invalid JSON schema: ") + e.what());
  }
  return std::shared_ptr<const SchemaValidator>(std::move(v));
}

std::optional<std::string> SchemaValidator::validate(const nlohmann::json& instance,
                                                     const std::string& root) const {
  if (impl_->pattern_properties)
    if (const std::string* k = overlong_key(instance))
      return root + ": a property name of " + std::to_string(k->size()) +
             " bytes is longer than the " + std::to_string(kMaxPatternKey) +
             " this schema's patternProperties can check";
  valijson::ValidationResults results;
  try {
    RegexCache regexes = impl_->regexes;  // valijson may add to it; never shared between calls
    valijson::adapters::NlohmannJsonAdapter target(instance);
    valijson::ValidationVisitor<valijson::adapters::NlohmannJsonAdapter> visitor(
        target, std::vector<std::string>(1, "<root>"), /*strictTypes=*/true, &results, regexes);
    if (visitor.validateSchema(impl_->schema)) return std::nullopt;
  } catch (const std::exception& e) {
    return root + ": schema validation failed: " + e.what();
  }
  std::string out;
  valijson::ValidationResults::Error err;
  int n = 0;
  while (results.popError(err)) {
    std::string path = root;
    for (const auto& c : err.context) {
      if (c == "<root>") continue;
      // valijson writes properties as "[name]" and items as "[0]".
      if (c.size() >= 2 && c.front() == '[' && c.back() == ']') {
        const std::string inner = c.substr(1, c.size() - 2);
        const bool index =
            !inner.empty() && inner.find_first_not_of("0123456789") == std::string::npos;
        path += index ? c : "." + inner;
      } else {
        path += "." + c;
      }
    }
    if (++n > 8) break;
    if (!out.empty()) out += "; ";
    out += path + ": " + err.description;
  }
  if (out.empty()) out = root + ": does not match its schema";
  return out;
}

}  // namespace dm::mcp
