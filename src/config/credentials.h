// Resolves an environment's credential references (env vars, files) into secrets at the moment
// they are needed. Secrets are never logged; error messages name the variable or file, never
// its content. Not thread-safe with concurrent setenv() (reads the process environment).
#pragma once

#include <string>

#include "common/result.h"
#include "config/config.h"

namespace dm::config {

struct Credentials {
  enum class Type { none, basic, token };
  Type type = Type::none;
  std::string username;
  std::string password;
  std::string token;
  // Where they came from, for messages: e.g. "user from $AF_USER, password from $AF_PASSWORD".
  std::string origin;
};

// Token references win over username/password. An environment with no references yields
// Type::none. Errors (Errc::failed_precondition): a named variable unset or empty, a file
// unreadable or empty, a username without a password or the reverse. Trailing newlines of
// files are stripped.
Result<Credentials> resolve_credentials(const Environment& env);

}  // namespace dm::config
