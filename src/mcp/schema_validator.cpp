// valijson reports schema problems by throwing only when VALIJSON_USE_EXCEPTIONS is set (else it
// aborts); this is the only translation unit that includes it.
#define VALIJSON_USE_EXCEPTIONS 1
#include "mcp/schema_validator.h"

#include <exception>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

namespace dm::mcp {

struct SchemaValidator::Impl {
  nlohmann::json doc;  // kept alive: the compiled schema may refer to it
  valijson::Schema schema;
};

SchemaValidator::SchemaValidator() : impl_(std::make_unique<Impl>()) {}
SchemaValidator::~SchemaValidator() = default;

Result<std::shared_ptr<const SchemaValidator>> SchemaValidator::compile(
    const nlohmann::json& schema) {
  if (!schema.is_object())
    return make_error(Errc::invalid_argument, "schema must be a JSON object");
  std::shared_ptr<SchemaValidator> v(new SchemaValidator());
  v->impl_->doc = schema;
  try {
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::NlohmannJsonAdapter adapter(v->impl_->doc);
    parser.populateSchema(adapter, v->impl_->schema);
  } catch (const std::exception& e) {
    return make_error(Errc::invalid_argument, std::string("invalid JSON schema: ") + e.what());
  }
  return std::shared_ptr<const SchemaValidator>(std::move(v));
}

std::optional<std::string> SchemaValidator::validate(const nlohmann::json& instance,
                                                     const std::string& root) const {
  valijson::ValidationResults results;
  try {
    valijson::Validator validator(valijson::Validator::kStrongTypes);
    valijson::adapters::NlohmannJsonAdapter target(instance);
    if (validator.validate(impl_->schema, target, &results)) return std::nullopt;
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
