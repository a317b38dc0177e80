// Canonical JSON and the hashing primitives the guard binds approvals and audit entries with.
//
// Canonical JSON (what params_hash and audit hashes are computed over):
// - objects with keys sorted by their UTF-8 bytes (nlohmann::json's std::map order), at every
// level;
// - no insignificant whitespace (",", ":" separators, no spaces or newlines);
// - strings UTF-8, not \u-escaped except control characters (JSON's mandatory escapes);
// - integers in decimal; floats in nlohmann's shortest round-trip form; NaN/Infinity rejected.
// For documents of strings, integers, booleans, null, arrays and objects this equals Python's
// json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).
// All functions are pure and thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/result.h"

namespace dm::guard {

// invalid_argument for invalid UTF-8 or non-finite numbers.
Result<std::string> canonical_json(const nlohmann::json& doc);

// Lowercase hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

// Lowercase hex HMAC-SHA256(key, data).
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

// Compares without early exit (for MACs).
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

// `bytes` random bytes from OpenSSL's CSPRNG, as lowercase hex. unavailable if the RNG fails.
Result<std::string> random_hex(size_t bytes);

}  // namespace dm::guard
