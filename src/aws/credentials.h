// The AWS credential chain, resolved in the order botocore (and the AWS CLI) uses:
//   1. environment     AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY [+ AWS_SESSION_TOKEN,
//                      AWS_CREDENTIAL_EXPIRATION]
//   2. assume-role     the profile has role_arn + source_profile | credential_source → STS
//                      AssumeRole signed with the source's credentials (chains, cycle-checked)
//   3. web-identity    AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN [+ AWS_ROLE_SESSION_NAME], or the
//                      profile's web_identity_token_file + role_arn → STS
//                      AssumeRoleWithWebIdentity (unsigned)
//   4. shared-credentials-file  [PROFILE] of AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials)
//   5. config-file     [profile PROFILE] static keys in AWS_CONFIG_FILE (~/.aws/config)
//   6. container       AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (http://169.254.170.2…) or
//                      AWS_CONTAINER_CREDENTIALS_FULL_URI, with
//                      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or AWS_CONTAINER_AUTHORIZATION_TOKEN
//                      as the Authorization header
//   7. imds            EC2 instance metadata, IMDSv2 (PUT token, GET role, GET credentials),
//                      falling back to IMDSv1 as botocore does; AWS_EC2_METADATA_DISABLED,
//                      AWS_EC2_METADATA_SERVICE_ENDPOINT[_MODE], AWS_EC2_METADATA_V1_DISABLED
// PROFILE is the constructor's argument, else AWS_PROFILE, else AWS_DEFAULT_PROFILE, else
// "default". STS endpoint: AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, else regional (sts.h).
// Not supported (documented in docs/aws.md): SSO, credential_process, login, mfa_serial.
//
// Every outside world goes through a seam: HttpClient (STS, container, IMDS), Clock (signing
// time, expiry), Env (variables and files). Errors name the source and never hold a secret.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws/env.h"
#include "aws/sigv4.h"
#include "common/clock.h"
#include "http/http_client.h"

namespace dm::aws {

// The seams every source uses. All three must be non-null.
struct ChainDeps {
  std::shared_ptr<http::HttpClient> http;
  std::shared_ptr<Clock> clock;
  std::shared_ptr<Env> env;
};

// One place credentials can come from. load() is called with the chain's lock held, so a source
// need not be thread-safe itself.
class CredentialSource {
 public:
  virtual ~CredentialSource() = default;
  // Short stable name used in messages: "environment", "assume-role", "imds", …
  virtual std::string name() const = 0;
  // nullopt: not configured here, the chain moves on. Error: configured but failed, the chain
  // stops (as the SDKs do: a broken profile must not silently fall through to instance creds).
  virtual Result<std::optional<Credentials>> load() = 0;
  // Why the last load() returned nullopt when that is worth telling ("IMDS: no answer from
  // http://169.254.169.254"), for the chain's "no credentials" message. No secrets.
  virtual std::string note() const { return {}; }
};

std::unique_ptr<CredentialSource> environment_source(ChainDeps d);
std::unique_ptr<CredentialSource> assume_role_source(ChainDeps d, std::string profile);
std::unique_ptr<CredentialSource> web_identity_source(ChainDeps d, std::string profile);
std::unique_ptr<CredentialSource> shared_credentials_source(ChainDeps d, std::string profile);
std::unique_ptr<CredentialSource> config_file_source(ChainDeps d, std::string profile);
std::unique_ptr<CredentialSource> container_source(ChainDeps d);
std::unique_ptr<CredentialSource> imds_source(ChainDeps d);

// Something that hands out valid credentials. Thread-safe.
class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  // Credentials valid for at least the refresh margin, or an error (Errc::unauthenticated when
  // no source has any; a failing source's own code otherwise), message prefixed with
  // "aws credentials (SOURCE): ".
  virtual Result<Credentials> get() = 0;
};

inline constexpr std::chrono::minutes kRefreshMargin{5};

// Walks the sources in order; the first that returns credentials is remembered and asked again
// on refresh (as the SDKs stick to the provider that worked). Credentials are cached until
// `margin` before their expiration (by the injected Clock); if a refresh fails while the cached
// credentials have not yet expired, those are returned. One mutex: concurrent get() calls wait
// for a single refresh instead of stampeding STS/IMDS.
class CredentialChain final : public CredentialsProvider {
 public:
  CredentialChain(std::vector<std::unique_ptr<CredentialSource>> sources,
                  std::shared_ptr<Clock> clock, std::chrono::seconds margin = kRefreshMargin);
  Result<Credentials> get() override;
  // Name of the source that produced the cached credentials ("" before the first success).
  std::string source_name() const;

 private:
  Result<Credentials> reload(Clock::time_point now);

  std::vector<std::unique_ptr<CredentialSource>> sources_;
  std::shared_ptr<Clock> clock_;
  std::chrono::seconds margin_;
  mutable std::mutex mu_;
  std::optional<Credentials> cached_;
  int chosen_ = -1;
};

// The profile name in effect: `explicit_profile` if set, else AWS_PROFILE, AWS_DEFAULT_PROFILE,
// "default".
std::string active_profile(const Env& env, const std::optional<std::string>& explicit_profile);

// The full default chain (order above) for the active profile.
std::unique_ptr<CredentialChain> default_chain(ChainDeps d,
                                               std::optional<std::string> profile = std::nullopt);

// Fixed credentials (tests, or keys from dagmedic's own config).
class StaticCredentialsProvider final : public CredentialsProvider {
 public:
  explicit StaticCredentialsProvider(Credentials c) : c_(std::move(c)) {}
  Result<Credentials> get() override { return c_; }

 private:
  Credentials c_;
};

}  // namespace dm::aws
