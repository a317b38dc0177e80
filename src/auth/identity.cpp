#include "auth/identity.h"

#include <algorithm>
#include <set>

namespace dm::auth {
namespace {

using json = nlohmann::json;

Error unauth(std::string msg) { return make_error(Errc::unauthenticated, std::move(msg)); }

std::string str_claim(const json& c, const char* name) {
  auto it = c.find(name);
  return it != c.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

bool has_scope(const std::vector<std::string>& scopes, const std::string& scope) {
  return std::binary_search(scopes.begin(), scopes.end(), scope);
}

Result<Identity> identity_of(const VerifiedToken& token, const IdentityRules& rules) {
  const json& c = token.claims;
  Identity id;
  id.issuer = str_claim(c, "iss");
  id.subject = str_claim(c, "sub");
  auto p = c.find(rules.principal_claim);
  if (p == c.end() || !p->is_string() || p->get_ref<const std::string&>().empty())
    return unauth("the token has no \"" + rules.principal_claim + "\" claim naming the caller");
  id.principal = *p;
  id.client_id = str_claim(c, "azp");
  if (id.client_id.empty()) id.client_id = str_claim(c, "client_id");

  std::set<std::string> scopes;
  if (auto s = c.find("scope"); s != c.end()) {
    if (!s->is_string()) return unauth("the token's \"scope\" claim is not a string");
    const auto& text = s->get_ref<const std::string&>();
    std::size_t i = 0;
    while (i < text.size()) {
      auto j = text.find(' ', i);
      if (j == std::string::npos) j = text.size();
      if (j > i) scopes.insert(text.substr(i, j - i));
      i = j + 1;
    }
  } else if (auto scp = c.find("scp"); scp != c.end()) {
    if (!scp->is_array()) return unauth("the token's \"scp\" claim is not an array");
    for (const auto& v : *scp) {
      if (!v.is_string()) return unauth("the token's \"scp\" claim holds a non-string");
      scopes.insert(v.get<std::string>());
    }
  }
  id.scopes.assign(scopes.begin(), scopes.end());

  std::set<std::string> values;
  if (auto g = c.find(rules.environments_claim); g != c.end()) {
    if (g->is_string()) {
      values.insert(g->get<std::string>());
    } else if (g->is_array()) {
      for (const auto& v : *g)
        if (v.is_string()) values.insert(v.get<std::string>());
    } else {
      return unauth("the token's \"" + rules.environments_claim +
                    "\" claim is neither a string nor a list");
    }
  }
  std::set<std::string> envs;
  for (const auto& [env, grants] : rules.environments)
    for (const auto& v : grants)
      if (values.count(v)) envs.insert(env);
  id.environments.assign(envs.begin(), envs.end());
  return id;
}

}  // namespace dm::auth
