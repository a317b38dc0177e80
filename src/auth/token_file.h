// Where `dagmedic login` keeps its tokens: one JSON file, mode 0600, in a 0700 directory of the
// user's state dir ($XDG_STATE_HOME/dagmedic, else ~/.local/state/dagmedic), replaced atomically
// (written to a temporary file in the same directory, fsync'd, renamed over the old one), so a
// reader sees the old login or the new one, never half of one.
//
// The file holds the issuer, audience and client it was made for, the issuer's token and
// revocation endpoints (for refresh and logout without discovery) and the token set. Tokens are
// secrets: nothing here prints them, and errors never hold them.
//
// fresh_login() renews an access token that expires within `margin` with the refresh token
// (DeviceClient::refresh) and saves the renewed login.
#pragma once

#include <chrono>
#include <string>

#include "auth/device_login.h"
#include "common/clock.h"
#include "common/result.h"

namespace dm::auth {

struct StoredLogin {
  std::string issuer;
  std::string audience;
  std::string client_id;
  std::string token_endpoint;
  std::string revocation_endpoint;  // "" when the issuer has none
  TokenSet tokens;
};

// The login file's path from the environment: $XDG_STATE_HOME/dagmedic/login.json, else
// $HOME/.local/state/dagmedic/login.json. failed_precondition when neither variable is set.
Result<std::string> default_login_path();

// Creates the directory (0700, and its parents) when missing and writes the file atomically with
// mode 0600. Errors: internal (an I/O failure, naming the path).
Status save_login(const std::string& path, const StoredLogin& login);

// not_found when there is no file (never logged in, or logged out); failed_precondition when the
// file is readable or writable by others than its owner (a token file must be 0600) or is not a
// regular file; protocol when it is not a login file.
Result<StoredLogin> load_login(const std::string& path);

// Removes the file; ok when it was already gone.
Status remove_login(const std::string& path);

// The login with an access token valid for at least `margin` more: as it is when it still is,
// else renewed through `client` with its refresh token and saved to `path`. unauthenticated
// ("run dagmedic login") when it has expired and cannot be renewed (no refresh token, the
// refresh token expired or was refused).
Result<StoredLogin> fresh_login(const std::string& path, StoredLogin login, DeviceClient& client,
                                const Clock& clock,
                                std::chrono::seconds margin = std::chrono::seconds(30));

}  // namespace dm::auth
