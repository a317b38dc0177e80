// Who a verified access token speaks for, in the terms the server decides with: the principal
// (a configurable claim), the OAuth client acting (azp, else client_id), the scopes granted, and
// the environments its group-like claim maps to. Pure functions; thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "auth/token_verifier.h"
#include "common/result.h"

namespace dm::auth {

struct IdentityRules {
  // The claim naming the caller: "sub", "email" or "preferred_username".
  std::string principal_claim = "preferred_username";
  // The claim holding group-like values (a string or an array of strings), e.g. "groups".
  std::string environments_claim = "groups";
  // Environment name -> the claim values that grant it (any one suffices).
  std::map<std::string, std::vector<std::string>> environments;
};

struct Identity {
  std::string issuer;
  std::string subject;                    // "sub" ("" when absent)
  std::string principal;                  // the value of principal_claim, as the token has it
  std::string client_id;                  // "azp", else "client_id" ("" when neither)
  std::vector<std::string> scopes;        // sorted, unique: "scope" (space-separated) or "scp"
  std::vector<std::string> environments;  // sorted, unique: environment names granted
};

// Errors: unauthenticated when the principal claim is missing, not a string or empty, or when
// "scope"/"scp" or the environments claim has the wrong type (the token is not usable here).
Result<Identity> identity_of(const VerifiedToken& token, const IdentityRules& rules);

// True when `scopes` (sorted, as Identity has them) holds `scope`.
bool has_scope(const std::vector<std::string>& scopes, const std::string& scope);

}  // namespace dm::auth
