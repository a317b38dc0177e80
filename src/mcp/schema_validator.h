// JSON Schema validation of tool arguments / structured output (valijson underneath, draft 7
// semantics; 2020-12 keywords such as $defs are kept in listings and `$ref`s into them resolve).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/result.h"

namespace dm::mcp {

// Immutable once compiled; validate() is thread-safe.
class SchemaValidator {
 public:
  // Errc::invalid_argument if `schema` is not an object or valijson cannot compile it.
  static Result<std::shared_ptr<const SchemaValidator>> compile(const nlohmann::json& schema);
  ~SchemaValidator();

  // nullopt when `instance` is valid; else a message naming each offending field, e.g.
  // "arguments.count: Value type not permitted by 'type' constraint." (`root` prefixes paths).
  std::optional<std::string> validate(const nlohmann::json& instance,
                                      const std::string& root = "arguments") const;

 private:
  SchemaValidator();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dm::mcp
