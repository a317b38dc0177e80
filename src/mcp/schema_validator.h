// JSON Schema validation of tool arguments / structured output. Schemas are JSON Schema 2020-12
// (MCP's default dialect) unless their $schema names draft 7/6/4; valijson (draft 7) checks them
// after schema_dialect.h's rewrite, which refuses the keywords it cannot enforce. Listings keep
// every schema exactly as written.
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
  // Errc::invalid_argument if `schema` is not an object, uses a keyword schema_dialect.h refuses,
  // or valijson cannot compile it.
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
