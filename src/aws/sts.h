// STS calls the credential chain needs: AssumeRole (SigV4-signed) and
// AssumeRoleWithWebIdentity (unsigned), over the HttpClient seam, query protocol (form POST,
// XML answer). Thread-safe if the HttpClient is.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "aws/env.h"
#include "aws/sigv4.h"
#include "http/http_client.h"

namespace dm::aws {

struct StsEndpoint {
  std::string url;     // e.g. "https://sts.eu-west-1.amazonaws.com/" or an override
  std::string region;  // signing region
};

// AWS_ENDPOINT_URL_STS, else AWS_ENDPOINT_URL, else the regional endpoint of `region`
// ("https://sts.{region}.amazonaws.com", ".amazonaws.com.cn" for cn-*), else the global
// "https://sts.amazonaws.com" signed for us-east-1 when no region is known.
StsEndpoint sts_endpoint(const Env& env, std::string_view region);

struct AssumeRoleParams {
  std::string role_arn;
  std::string session_name;
  std::string external_id;              // empty = none
  std::optional<int> duration_seconds;  // none = STS default (1 h)
};

// Errors: Errc::unauthenticated / permission_denied for STS 4xx (message carries STS's error code
// and message, which hold no secrets), Errc::unavailable for 5xx and transport failures,
// Errc::protocol for an answer without credentials. Messages never contain keys or tokens.
Result<Credentials> assume_role(http::HttpClient& http, const StsEndpoint& ep,
                                const Credentials& source, const AssumeRoleParams& p,
                                Clock::time_point now);
Result<Credentials> assume_role_with_web_identity(http::HttpClient& http, const StsEndpoint& ep,
                                                  const AssumeRoleParams& p,
                                                  std::string_view web_identity_token);

// Parses <…Response><…Result><Credentials>…</Credentials> (any action) or an <ErrorResponse>.
Result<Credentials> parse_sts_response(int status, std::string_view body, std::string_view action);

}  // namespace dm::aws
