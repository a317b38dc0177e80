// `approvers:` — who may decide on the approval page, as principal -> SHA-256 of their token.
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

#include "common/yaml_load.h"
#include "web/approval_web.h"

namespace dm::web {
namespace {

Error bad(std::string_view source, const std::string& key, const std::string& problem) {
  return make_error(Errc::invalid_argument, std::string(source) + ": " + key + ": " + problem);
}

bool is_hex64(std::string& s) {
  if (s.size() != 64) return false;
  for (auto& c : s) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

Result<ApproverMap> parse_approvers(std::string_view yaml, std::string_view source) {
  ApproverMap out;
  try {
    YAML::Node root = load_one_yaml_document(std::string(yaml));
    if (root.IsNull()) return out;
    if (!root.IsMap()) return bad(source, "(top level)", "must be a mapping");
    YAML::Node n = root["approvers"];
    if (!n || n.IsNull()) return out;
    if (!n.IsMap())
      return bad(source, "approvers", "must be a mapping of principal to {token_sha256: HEX}");
    for (const auto& kv : n) {
      const std::string name = kv.first.as<std::string>();
      const std::string key = "approvers." + name;
      auto principal = guard::normalize_principal(name);
      if (!principal) return bad(source, key, principal.error().message);
      const YAML::Node& v = kv.second;
      if (!v.IsMap()) return bad(source, key, "must be a mapping with token_sha256");
      for (const auto& f : v) {
        std::string fk = f.first.as<std::string>();
        if (fk == "token" || fk == "password" || fk == "secret")
          return bad(source, key + "." + fk,
                     "never write the token itself here: put its SHA-256 in token_sha256 "
                     "(printf %s \"$TOKEN\" | sha256sum)");
        if (fk != "token_sha256")
          return bad(source, key + "." + fk, "unknown key (allowed: token_sha256)");
      }
      if (!v["token_sha256"] || !v["token_sha256"].IsScalar())
        return bad(source, key + ".token_sha256", "missing (64 hex digits)");
      std::string hash = v["token_sha256"].as<std::string>();
      if (!is_hex64(hash))
        return bad(source, key + ".token_sha256", "must be 64 hex digits (a SHA-256)");
      if (!out.emplace(*principal, hash).second)
        return bad(source, key,
                   "the same approver (ids compare case-insensitively) is listed twice");
    }
  } catch (const YAML::Exception& e) {
    return make_error(Errc::invalid_argument,
                      std::string(source) + ": not valid YAML: " + e.what());
  }
  return out;
}

Result<ApproverMap> load_approvers(const std::string& yaml_path) {
  std::ifstream in(yaml_path, std::ios::binary);
  if (!in) return make_error(Errc::not_found, "approvers file " + yaml_path + " cannot be read");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_approvers(ss.str(), yaml_path);
}

}  // namespace dm::web
