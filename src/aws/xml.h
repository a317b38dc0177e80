// A small, strict XML reader for AWS query-protocol responses (STS): elements, attributes
// (skipped), text, CDATA, the five predefined entities and numeric character references.
// DTDs/DOCTYPE are refused (no entity expansion attacks), depth and size are capped.
// Pure functions; thread-safe.
#pragma once

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace dm::aws {

struct XmlNode {
  std::string name;  // local name: any "prefix:" is dropped
  std::string text;  // concatenated character data directly inside this element
  std::vector<XmlNode> children;

  // First child with this local name, or nullptr.
  const XmlNode* child(std::string_view n) const;
  // Follows a path of child names from this node; nullptr if any step is missing.
  const XmlNode* find(std::initializer_list<std::string_view> path) const;
  // First element with this local name in document order (this node included), or nullptr.
  const XmlNode* descendant(std::string_view n) const;
};

inline constexpr std::size_t kXmlMaxBytes = 1 << 20;
inline constexpr int kXmlMaxDepth = 32;

// Parses a whole document into its root element. Errc::protocol on malformed XML, a DOCTYPE,
// unknown entities, depth > kXmlMaxDepth; Errc::too_large over kXmlMaxBytes.
Result<XmlNode> parse_xml(std::string_view doc);

}  // namespace dm::aws
