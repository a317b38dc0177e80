// RFC 6570 level-1 URI templates ("test://template/{id}/data"): match a concrete URI and bind the
// variables. Each {var} matches one or more characters other than '/'.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace dm::mcp {

class UriTemplate {
 public:
  // Errc::invalid_argument for unbalanced braces, empty or repeated variable names, two adjacent
  // variables, or operators ({+x}, {?x}...: level 2+ is not supported).
  static Result<UriTemplate> parse(const std::string& tmpl);
  // Bound variables (percent-decoded) when `uri` matches, else nullopt.
  std::optional<std::map<std::string, std::string>> match(const std::string& uri) const;
  const std::string& text() const { return text_; }

 private:
  struct Part {
    bool var = false;
    std::string s;  // literal text or variable name
  };
  std::string text_;
  std::vector<Part> parts_;
};

}  // namespace dm::mcp
