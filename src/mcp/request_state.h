// Integrity-protected `requestState` for multi round-trip requests (MCP 2026-07-28, MRTR).
//
// The state travels through the client, which must treat it as opaque but may be hostile: it is
// attacker-controlled input on the way back. A RequestStateSealer turns a JSON payload into a
// string the server can later trust, and refuses any string it did not make itself for the same
// request:
//   - integrity: HMAC-SHA256 over the whole body with the server key (OpenSSL); a changed byte,
//     another server key, or a truncated string is refused;
//   - binding: the caller passes claims (e.g. {"tool": name, "params": sha256 of the canonical
//     arguments, "principal": who asked}) when sealing and the claims it expects when opening;
//     any difference (another tool, other arguments, another principal) is refused;
//   - expiry: a state older than its time to live is refused (the clock is injectable);
//   - size: a state longer than `max_bytes` is refused before anything is decoded, and seal()
//     refuses to make one.
// The body is signed, not encrypted: the client can read the payload and the claims. Put no
// secret in either (an approval id, a tool name or a hash is fine; a token is not).
// Replay within the expiry is NOT prevented here (the state is not single-use): a consumer that
// must act at most once (an approval) enforces that server-side, e.g. by consuming an id.
//
// Format: base64url(JSON {"v":1,"exp":ms,"iat":ms,"n":nonce,"c":claims,"p":payload}) "."
// base64url(HMAC-SHA256(key, first part)). Stable: replicas with the same key open each other's
// states.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"

namespace dm::mcp {

struct RequestStateOptions {
  std::chrono::milliseconds ttl{std::chrono::minutes(10)};  // how long a sealed state is accepted
  std::size_t max_bytes = 8192;                             // longest state sealed or opened
};

// Thread-safety: immutable after create(); seal/open may run concurrently from any thread.
class RequestStateSealer {
 public:
  // `key`: the server secret, at least 32 bytes (shared by replicas that continue each other's
  // requests). `clock` null = the system clock. Errc::invalid_argument for a short key, a zero
  // ttl or a zero max_bytes.
  static Result<std::shared_ptr<const RequestStateSealer>> create(
      std::string key, RequestStateOptions opts = {}, std::shared_ptr<Clock> clock = nullptr);
  // A sealer with 32 random bytes from OpenSSL's RAND_bytes: states survive only as long as this
  // process. Errc::internal when the RNG fails.
  static Result<std::shared_ptr<const RequestStateSealer>> create_random(
      RequestStateOptions opts = {}, std::shared_ptr<Clock> clock = nullptr);

  // Seals `payload` (any JSON) bound to `claims` (any JSON; compared exactly on open). Two calls
  // never give the same string (a random nonce is inside). Errc::too_large if the result would
  // exceed max_bytes; Errc::internal if the RNG or HMAC fails.
  Result<std::string> seal(const nlohmann::json& claims, const nlohmann::json& payload) const;

  // Checks `state` and returns its payload. Errors, all Errc::invalid_argument except expiry:
  //   too long (checked first, nothing decoded) → Errc::too_large;
  //   not two base64url parts, bad HMAC (tampered, other key) → "integrity check failed";
  //   unreadable body or unknown version → "malformed";
  //   claims differ from `expected_claims` → "issued for another request";
  //   expired → Errc::failed_precondition "expired".
  // Messages never include the key, the MAC or the payload.
  Result<nlohmann::json> open(std::string_view state, const nlohmann::json& expected_claims) const;

  const RequestStateOptions& options() const { return opts_; }

 private:
  RequestStateSealer(std::string key, RequestStateOptions opts, std::shared_ptr<Clock> clock);
  std::string mac(std::string_view data) const;  // raw 32 bytes; empty on failure

  std::string key_;
  RequestStateOptions opts_;
  std::shared_ptr<Clock> clock_;
};

// SHA-256 of `v` serialized canonically (object keys sorted, no whitespace) as lowercase hex:
// the usual "params hash" claim. Equal JSON values give equal hashes.
std::string canonical_sha256(const nlohmann::json& v);

}  // namespace dm::mcp
