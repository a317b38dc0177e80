// AWS Signature Version 4, computed exactly as botocore's SigV4Auth (and S3SigV4Auth for the
// service "s3") computes it, so anything botocore can call, dagmedic can call: MWAA
// (service "airflow"), CloudWatch Logs ("logs"), STS ("sts").
//
// Checked byte for byte against botocore by tests/aws/gen_vectors.py + sigv4_vectors_test.cpp.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"
#include "http/http_client.h"

namespace dm::aws {

// A set of AWS credentials. Holds secrets: never log or format one; use describe() instead.
struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;                    // empty for long-term (AKIA…) keys
  std::optional<Clock::time_point> expiration;  // none = does not expire
};

// "AKIA…XYZ (session token: yes, expires 2026-11-26T02:00:00Z)": the key id and facts only.
std::string describe(const Credentials& c);

// Signs `req` in place for `service` in `region` at time `now` (the injected Clock's now()).
//
// Adds/replaces, as botocore does:
//  - `X-Amz-Date` (YYYYMMDD'T'HHMMSS'Z'); if the request carries a `Date` header, that header
//    is rewritten to `now` instead and no X-Amz-Date is added (botocore's rule);
//  - `X-Amz-Security-Token` when `creds.session_token` is set;
//  - `X-Amz-Content-SHA256` (hex SHA-256 of the body) for service "s3" only; for other services
//    a caller-provided X-Amz-Content-SHA256 is used as the payload hash, unchanged;
//  - `Host`, if the request has none: the value derived from the URL (lower-case host, port only
//    when not the default), so what is sent is what was signed;
//  - `Authorization` (any earlier one is removed, so re-signing a retry is safe).
// Canonical form: path with dot-segments and empty segments removed and percent-encoded once
// more (not for s3); query pairs percent-decoded and re-encoded with the RFC 3986 unreserved set,
// then sorted by (name, value) — the identity for an already-encoded query (what botocore
// assumes); header names lower-cased, values whitespace-folded, repeated headers joined with
// ','; hop-by-hop headers and User-Agent / X-Amzn-Trace-Id are not signed.
// The request URL must be absolute (http or https); its query must be percent-encoded.
//
// Errors (Errc::invalid_argument; the request is then left unchanged): empty key id or secret,
// empty region/service, a malformed URL, a malformed percent-escape in the query, a header
// name that is empty or not a token, a header value containing CR or LF. Messages never
// contain the secret, the token or header values.
// Thread-safe (no shared state).
Status sign(http::Request& req, const Credentials& creds, std::string_view region,
            std::string_view service, Clock::time_point now);

// The pieces of a signature, for diagnostics and tests. Same inputs and errors as sign(), but
// `req` is not modified; the canonical request and string to sign hold no secret.
struct SigningDetail {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;  // hex
};
Result<SigningDetail> signing_detail(const http::Request& req, const Credentials& creds,
                                     std::string_view region, std::string_view service,
                                     Clock::time_point now);

// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

// "20261126T012510Z" for `t` (UTC, seconds truncated).
std::string amz_date(Clock::time_point t);

}  // namespace dm::aws
