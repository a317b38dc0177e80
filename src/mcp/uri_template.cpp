#include "mcp/uri_template.h"

#include <cctype>
#include <set>

namespace dm::mcp {

namespace {
int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
std::string pct_decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
      if (h >= 0 && l >= 0) {
        out.push_back(static_cast<char>(h * 16 + l));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}
}  // namespace

Result<UriTemplate> UriTemplate::parse(const std::string& tmpl) {
  UriTemplate t;
  t.text_ = tmpl;
  std::set<std::string> names;
  std::string lit;
  for (std::size_t i = 0; i < tmpl.size(); ++i) {
    const char c = tmpl[i];
    if (c == '}') return make_error(Errc::invalid_argument, "unbalanced '}' in URI template");
    if (c != '{') {
      lit.push_back(c);
      continue;
    }
    const auto end = tmpl.find('}', i);
    if (end == std::string::npos)
      return make_error(Errc::invalid_argument, "unclosed '{' in URI template");
    std::string name = tmpl.substr(i + 1, end - i - 1);
    if (name.empty()) return make_error(Errc::invalid_argument, "empty variable in URI template");
    for (char n : name) {
      if (!(std::isalnum(static_cast<unsigned char>(n)) || n == '_')) {
        return make_error(Errc::invalid_argument,
                          "unsupported URI template expression {" + name + "} (level 1 only)");
      }
    }
    if (!names.insert(name).second) {
      return make_error(Errc::invalid_argument, "repeated variable {" + name + "} in URI template");
    }
    if (lit.empty() && !t.parts_.empty() && t.parts_.back().var) {
      return make_error(Errc::invalid_argument, "adjacent variables in URI template");
    }
    if (!lit.empty()) t.parts_.push_back({false, std::move(lit)});
    lit.clear();
    t.parts_.push_back({true, std::move(name)});
    i = end;
  }
  if (!lit.empty()) t.parts_.push_back({false, std::move(lit)});
  return t;
}

std::optional<std::map<std::string, std::string>> UriTemplate::match(const std::string& uri) const {
  std::map<std::string, std::string> vars;
  std::size_t pos = 0;
  for (std::size_t k = 0; k < parts_.size(); ++k) {
    const Part& p = parts_[k];
    if (!p.var) {
      if (uri.compare(pos, p.s.size(), p.s) != 0) return std::nullopt;
      pos += p.s.size();
      continue;
    }
    // A variable runs to the next literal (or the end), never across '/'.
    std::size_t end;
    if (k + 1 < parts_.size()) {
      end = uri.find(parts_[k + 1].s, pos);
      if (end == std::string::npos) return std::nullopt;
    } else {
      end = uri.size();
    }
    if (end == pos) return std::nullopt;
    std::string value = uri.substr(pos, end - pos);
    if (value.find('/') != std::string::npos) return std::nullopt;
    vars[p.s] = pct_decode(value);
    pos = end;
  }
  if (pos != uri.size()) return std::nullopt;
  return vars;
}

}  // namespace dm::mcp
