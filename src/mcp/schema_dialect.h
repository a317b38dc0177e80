// JSON Schema dialects of tool schemas. MCP 2026-07-28 makes JSON Schema 2020-12 the default
// dialect of inputSchema/outputSchema; the validator underneath (valijson) implements draft 7.
// to_draft7() rewrites a 2020-12 schema into a draft-7 schema that accepts exactly the same
// instances, and refuses — never silently ignores — a keyword whose meaning it cannot keep.
//
// Rewritten (2020-12 → draft 7):
//   prefixItems [A, B] + items S      → items [A, B] + additionalItems S
//   dependentRequired / dependentSchemas → dependencies
//   $ref with sibling keywords         → allOf [{$ref}, {siblings}] (draft 7 ignores siblings)
//   $ref "#name" to an $anchor         → $ref to that subschema's JSON pointer
// Kept as they are (same meaning in both): type, enum, const, properties, required,
// additionalProperties, patternProperties, propertyNames, min/maxProperties, items (one schema),
// contains, min/maxItems, uniqueItems, min/maxLength, pattern, minimum, maximum, exclusiveMinimum,
// exclusiveMaximum, multipleOf, allOf, anyOf, oneOf, not, if/then/else, $defs, definitions, and
// $ref to a JSON pointer. Annotations (title, description, default, examples, format, $comment,
// readOnly, deprecated, …) are not checked, as 2020-12 itself says for `format` by default.
// Refused (invalid_argument naming the keyword and where it is): unevaluatedProperties,
// unevaluatedItems, minContains, maxContains, $dynamicRef, $dynamicAnchor, $recursiveRef,
// $recursiveAnchor, an `items` array (draft-7 tuple syntax, invalid in 2020-12), and a $ref to an
// anchor that is not defined.
// A schema whose $schema names draft 7 (or 6, 4) is returned unchanged.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace dm::mcp {

// Pure; thread-safe. `schema` must be an object (invalid_argument otherwise).
Result<nlohmann::json> to_draft7(const nlohmann::json& schema);

// Where `keyword` is used as a keyword of `schema` or of a subschema (not as a property name):
// its JSON pointer ("" for the root), or nullopt. E.g. a policy that must not rely on `format`.
std::optional<std::string> find_keyword(const nlohmann::json& schema, std::string_view keyword);

}  // namespace dm::mcp
