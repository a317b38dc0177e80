#include "config/credentials.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace dm::config {
namespace {

Result<std::string> from_env(const std::string& env_name, const std::string& env,
                             const char* what) {
  const char* v = std::getenv(env_name.c_str());
  if (!v || !*v)
    return make_error(Errc::failed_precondition, "environment \"" + env + "\": " + what +
                                                     " variable $" + env_name +
                                                     " is not set (or empty)");
  return std::string(v);
}

Result<std::string> from_file(const std::string& path, const std::string& env, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return make_error(Errc::failed_precondition,
                      "environment \"" + env + "\": cannot read " + what + " file " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  if (s.empty())
    return make_error(Errc::failed_precondition,
                      "environment \"" + env + "\": " + what + " file " + path + " is empty");
  return s;
}

}  // namespace

Result<Credentials> resolve_credentials(const Environment& e) {
  Credentials c;
  if (!e.token_env.empty() || !e.token_file.empty()) {
    auto t = e.token_env.empty() ? from_file(e.token_file, e.name, "token")
                                 : from_env(e.token_env, e.name, "token");
    if (!t) return t.error();
    c.type = Credentials::Type::token;
    c.token = std::move(*t);
    c.origin = e.token_env.empty() ? "token from " + e.token_file : "token from $" + e.token_env;
    return c;
  }
  if (e.username_env.empty()) return c;
  auto u = from_env(e.username_env, e.name, "user name");
  if (!u) return u.error();
  auto p = e.password_env.empty() ? from_file(e.password_file, e.name, "password")
                                  : from_env(e.password_env, e.name, "password");
  if (!p) return p.error();
  c.type = Credentials::Type::basic;
  c.username = std::move(*u);
  c.password = std::move(*p);
  c.origin = "user from $" + e.username_env + ", password from " +
             (e.password_env.empty() ? e.password_file : "$" + e.password_env);
  return c;
}

}  // namespace dm::config
