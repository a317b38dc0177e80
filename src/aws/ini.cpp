#include "aws/ini.h"

#include <cctype>
#include <vector>

namespace dm::aws {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Error bad(std::string_view label, std::size_t line, std::string_view what) {
  return make_error(Errc::invalid_argument, std::string(label) + " line " + std::to_string(line) +
                                                ": " + std::string(what));
}

}  // namespace

Result<IniFile> parse_ini(std::string_view text, std::string_view label) {
  IniFile out;
  IniSection* section = nullptr;
  std::string last_key;  // for nested (indented) blocks
  std::size_t lineno = 0;
  std::size_t pos = 0;
  if (text.starts_with("\xEF\xBB\xBF")) pos = 3;  // UTF-8 BOM
  while (pos <= text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view raw = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++lineno;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') {
      if (nl == text.size()) break;
      continue;
    }
    bool indented = std::isspace(static_cast<unsigned char>(raw.front()));
    if (line.front() == '[') {
      auto close = line.find(']');
      if (close == std::string_view::npos) return bad(label, lineno, "unterminated section header");
      std::string name(trim(line.substr(1, close - 1)));
      if (name.empty()) return bad(label, lineno, "empty section name");
      if (out.count(name)) return bad(label, lineno, "duplicate section [" + name + "]");
      section = &out[name];
      last_key.clear();
    } else {
      auto sep = line.find_first_of("=:");
      if (indented && section && !last_key.empty()) {
        // Nested block under the previous key (botocore parses it into a sub-dictionary).
        if (sep == std::string_view::npos) return bad(label, lineno, "malformed nested setting");
        std::string key = last_key + "." + lower(trim(line.substr(0, sep)));
        (*section)[key] = std::string(trim(line.substr(sep + 1)));
      } else {
        if (!section) return bad(label, lineno, "setting before any [section]");
        if (sep == std::string_view::npos || sep == 0)
          return bad(label, lineno, "expected 'key = value'");
        std::string key = lower(trim(line.substr(0, sep)));
        if (key.empty()) return bad(label, lineno, "expected 'key = value'");
        if (section->count(key)) return bad(label, lineno, "duplicate key '" + key + "'");
        (*section)[key] = std::string(trim(line.substr(sep + 1)));
        last_key = key;
      }
    }
    if (nl == text.size()) break;
  }
  return out;
}

std::map<std::string, IniSection> config_profiles(const IniFile& config) {
  std::map<std::string, IniSection> out;
  if (auto it = config.find("default"); it != config.end()) out["default"] = it->second;
  for (const auto& [name, sec] : config) {
    std::string_view n = name;
    if (!n.starts_with("profile")) continue;
    n.remove_prefix(7);
    if (n.empty() || !std::isspace(static_cast<unsigned char>(n.front()))) continue;
    n = trim(n);
    if (n.empty() || n.find_first_of(" \t") != std::string_view::npos) continue;
    out[std::string(n)] = sec;
  }
  return out;
}

}  // namespace dm::aws
