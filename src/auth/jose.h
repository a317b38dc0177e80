// JOSE primitives for validating OAuth access tokens locally (OpenSSL 3 EVP underneath):
// JSON Web Keys (RFC 7517/7518/8037) for public keys, and compact JWS (RFC 7515) parsing and
// signature verification for the three asymmetric algorithms dagmedic accepts: RS256
// (RSASSA-PKCS1-v1_5 + SHA-256, keys of at least 2048 bits), ES256 (ECDSA P-256 + SHA-256; the
// JOSE signature is r||s, 64 bytes, turned into DER for OpenSSL) and EdDSA (Ed25519).
//
// Never accepted, whatever a caller configures: "none" and every symmetric (HS*) algorithm — a
// token signed with HMAC under the issuer's *public* key must never verify — and any header
// with "crit" (no extension is understood). Header keys that point at other keys (jku, jwk,
// x5u, x5c) are ignored: keys come only from the configured key set.
//
// Pure functions over values; thread-safe. Jwk objects are immutable and may be shared.
// Errors: invalid_argument with a message safe to show to the token's sender (it never holds
// the token or key bytes).
#pragma once

#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY

namespace dm::auth {

enum class Alg { rs256, es256, eddsa };

// "RS256", "ES256", "EdDSA".
const char* alg_name(Alg a) noexcept;
// The algorithm a JOSE "alg" value names, if dagmedic can accept it at all (nullopt for "none",
// HS256/384/512 and anything else).
std::optional<Alg> parse_alg(std::string_view name) noexcept;

enum class KeyType { rsa, ec_p256, ed25519 };

// One public signing key of a JWK set.
struct Jwk {
  std::string kid;  // "" when the key has none
  KeyType type = KeyType::rsa;
  std::string alg;                   // the key's "alg" member ("" = unstated)
  std::shared_ptr<evp_pkey_st> key;  // never null once parsed
};

// Whether `key` may verify a signature made with `alg` (key type, curve and the key's own "alg").
bool key_fits(const Jwk& key, Alg alg) noexcept;

// A JWK object → a public key. Accepted: kty RSA (n, e; >= 2048 bits), kty EC with crv P-256
// (x, y of 32 bytes each, the point on the curve), kty OKP with crv Ed25519 (x of 32 bytes).
// Refused: private members (d, p, q, …: a key set must not carry them), use other than "sig",
// key_ops without "verify", malformed base64url, other key types.
Result<Jwk> parse_jwk(const nlohmann::json& jwk);

// A JWK set document ({"keys": [...]}). Keys that cannot verify signatures here (encryption
// keys, unknown types, malformed members) are skipped, each with its reason in `skipped`.
// Errors: invalid_argument when the text is not a JWK set or no usable key is left.
struct JwkSet {
  std::vector<Jwk> keys;
  std::vector<std::string> skipped;
};
Result<JwkSet> parse_jwks(std::string_view text);

// A compact JWS split and decoded, before any signature check: nothing in it is trusted yet.
struct Jws {
  nlohmann::json header;      // a JSON object
  nlohmann::json payload;     // a JSON object (the JWT claims set)
  std::string signing_input;  // the ASCII "<header>.<payload>" the signature covers
  std::string signature;      // raw signature bytes
  Alg alg = Alg::rs256;       // from the header, already known to be acceptable by parse_alg
  std::string kid;            // header "kid", "" when absent
};

// Splits and decodes a compact JWS of at most `max_bytes` bytes: three base64url segments
// (no padding, nothing outside the URL-safe alphabet), a JSON-object header with an acceptable
// "alg" (see above) and no "crit", a JSON-object payload. Errors name what is wrong.
Result<Jws> parse_compact(std::string_view token, std::size_t max_bytes);

// Verifies `jws.signature` over `jws.signing_input` with `key` (which must fit jws.alg).
// invalid_argument "bad signature" (or a mismatch of key and algorithm) when it does not verify.
Status verify_signature(const Jws& jws, const Jwk& key);

}  // namespace dm::auth
