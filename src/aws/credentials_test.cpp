// The credential chain, source by source, with FakeHttpClient (STS, container, IMDS answers),
// ManualClock (signing time, expiry, retry sleeps) and FakeEnv (variables and files).
#include "aws/credentials.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "http/fake_http_client.h"

namespace dm::aws {
namespace {

using http::FakeHttpClient;
using namespace std::chrono_literals;

const Clock::time_point kStart{std::chrono::seconds(1795656310)};  // 2026-11-26T01:25:10Z

std::string sts_xml(const std::string& action, const std::string& ak, const std::string& exp) {
  return "<" + action + "Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><" + action +
         "Result><Credentials><AccessKeyId>" + ak + "</AccessKeyId><SecretAccessKey>SECRET-" + ak +
         "</SecretAccessKey><SessionToken>TOKEN-" + ak + "</SessionToken><Expiration>" + exp +
         "</Expiration></Credentials></" + action + "Result></" + action + "Response>";
}

std::string creds_json(const std::string& ak, const std::string& exp) {
  return R"({"Code":"Success","Type":"AWS-HMAC","AccessKeyId":")" + ak +
         R"(","SecretAccessKey":"SECRET-)" + ak + R"(","Token":"TOKEN-)" + ak +
         R"(","Expiration":")" + exp + R"("})";
}

std::string header(const http::Request& r, std::string_view name) {
  for (const auto& [k, v] : r.headers)
    if (http::iequals(k, name)) return v;
  return "<absent>";
}

struct Rig {
  std::shared_ptr<FakeHttpClient> http = std::make_shared<FakeHttpClient>();
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>(kStart);
  std::shared_ptr<FakeEnv> env = std::make_shared<FakeEnv>();
  Rig() {
    env->set("HOME", "/home/u");
    env->set("AWS_EC2_METADATA_DISABLED", "true");  // tests that want IMDS turn it back on
  }
  ChainDeps deps() const { return ChainDeps{http, clock, env}; }
  std::unique_ptr<CredentialChain> chain(std::optional<std::string> p = std::nullopt) const {
    return default_chain(deps(), std::move(p));
  }
};

void expect_no_secret(const std::string& msg) {
  for (const char* s : {"SECRET", "TOKEN-", "hunter2", "jwt-token-value"})
    EXPECT_EQ(msg.find(s), std::string::npos) << msg;
}

// ---------------------------------------------------------------- environment and files

TEST(Credentials, EnvironmentVariables) {
  Rig r;
  r.env->set("AWS_ACCESS_KEY_ID", "AKIAENV");
  r.env->set("AWS_SECRET_ACCESS_KEY", "hunter2");
  r.env->set("AWS_SESSION_TOKEN", "tok");
  r.env->set("AWS_CREDENTIAL_EXPIRATION", "2026-11-26T03:00:00Z");
  auto c = r.chain()->get();
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->access_key_id, "AKIAENV");
  EXPECT_EQ(c->secret_access_key, "hunter2");
  EXPECT_EQ(c->session_token, "tok");
  ASSERT_TRUE(c->expiration.has_value());
  EXPECT_EQ(r.http->request_count(), 0u);
}

TEST(Credentials, PartialEnvironmentIsAnErrorNamingTheVariable) {
  Rig r;
  r.env->set("AWS_ACCESS_KEY_ID", "AKIAENV");
  r.env->set("AWS_SECRET_ACCESS_KEY", "");  // empty counts as unset
  r.env->put_file("/home/u/.aws/credentials",
                  "[default]\naws_access_key_id=A\naws_secret_access_key=hunter2\n");
  auto c = r.chain()->get();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("(environment)"), std::string::npos);
  EXPECT_NE(c.error().message.find("AWS_SECRET_ACCESS_KEY"), std::string::npos);
}

TEST(Credentials, PrecedenceEnvThenCredentialsFileThenConfigFile) {
  Rig r;
  r.env->put_file("/home/u/.aws/credentials",
                  "[default]\naws_access_key_id=AKIAFILE\naws_secret_access_key=s1\n");
  r.env->put_file(
      "/home/u/.aws/config",
      "[default]\naws_access_key_id=AKIACONFIG\naws_secret_access_key=s2\n"
      "[profile "
      "other]\naws_access_key_id=AKIAOTHER\naws_secret_access_key=s3\naws_session_token=t3\n");
  {
    auto chain = r.chain();
    auto c = chain->get();
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ(c->access_key_id, "AKIAFILE");
    EXPECT_EQ(chain->source_name(), "shared-credentials-file");
  }
  r.env->set("AWS_ACCESS_KEY_ID", "AKIAENV");
  r.env->set("AWS_SECRET_ACCESS_KEY", "s0");
  EXPECT_EQ(r.chain()->get()->access_key_id, "AKIAENV");
  r.env->unset("AWS_ACCESS_KEY_ID");
  r.env->set("AWS_PROFILE", "other");
  {
    auto chain = r.chain();
    auto c = chain->get();
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->access_key_id, "AKIAOTHER");
    EXPECT_EQ(c->session_token, "t3");
    EXPECT_EQ(chain->source_name(), "config-file");
  }
  // The explicit profile beats AWS_PROFILE; AWS_DEFAULT_PROFILE is the fallback.
  EXPECT_EQ(r.chain(std::string("default"))->get()->access_key_id, "AKIAFILE");
  r.env->unset("AWS_PROFILE");
  r.env->set("AWS_DEFAULT_PROFILE", "other");
  EXPECT_EQ(r.chain()->get()->access_key_id, "AKIAOTHER");
}

TEST(Credentials, FileLocationsFromEnvironment) {
  Rig r;
  r.env->set("AWS_SHARED_CREDENTIALS_FILE", "/etc/dm/creds");
  r.env->set("AWS_CONFIG_FILE", "~/cfg");
  r.env->put_file("/home/u/.aws/credentials",
                  "[default]\naws_access_key_id=WRONG\naws_secret_access_key=x\n");
  r.env->put_file("/home/u/cfg",
                  "[profile p]\naws_access_key_id=AKIACFG\naws_secret_access_key=x\n");
  r.env->put_file("/etc/dm/creds",
                  "[default]\naws_access_key_id=AKIARIGHT\naws_secret_access_key=x\n");
  EXPECT_EQ(r.chain()->get()->access_key_id, "AKIARIGHT");
  EXPECT_EQ(r.chain(std::string("p"))->get()->access_key_id, "AKIACFG");
}

TEST(Credentials, MalformedFilesStopTheChainWithFileAndLine) {
  Rig r;
  r.env->put_file("/home/u/.aws/credentials", "[default]\naws_access_key_id=A\nhunter2\n");
  r.env->set("AWS_EC2_METADATA_DISABLED", "false");
  auto c = r.chain()->get();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("/home/u/.aws/credentials line 3"), std::string::npos);
  expect_no_secret(c.error().message);
  EXPECT_EQ(r.http->request_count(), 0u);  // did not fall through to IMDS

  Rig half;
  half.env->put_file("/home/u/.aws/credentials", "[default]\naws_access_key_id=AKIAHALF\n");
  auto h = half.chain()->get();
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.error().message.find("shared-credentials-file"), std::string::npos);
  EXPECT_NE(h.error().message.find("only one of"), std::string::npos);
}

TEST(Credentials, NothingConfiguredIsUnauthenticatedAndListsSources) {
  Rig r;
  auto c = r.chain()->get();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, Errc::unauthenticated);
  EXPECT_NE(c.error().message.find("tried environment, assume-role, web-identity, "
                                   "shared-credentials-file, config-file, container, imds"),
            std::string::npos)
      << c.error().message;
  EXPECT_NE(c.error().message.find("AWS_EC2_METADATA_DISABLED"), std::string::npos);
  EXPECT_EQ(r.http->request_count(), 0u);
}

// ---------------------------------------------------------------- assume role

TEST(Credentials, AssumeRoleProfileSignsStsWithSourceProfile) {
  Rig r;
  r.env->put_file("/home/u/.aws/credentials",
                  "[base]\naws_access_key_id=AKIABASE\naws_secret_access_key=SECRETBASE\n");
  r.env->put_file(
      "/home/u/.aws/config",
      "[profile ops]\nrole_arn=arn:aws:iam::123456789012:role/dagmedic\nsource_profile=base\n"
      "external_id=ext-1\nrole_session_name=dm-test\nduration_seconds=900\nregion=eu-west-1\n");
  r.http->push(FakeHttpClient::ok(200, sts_xml("AssumeRole", "ASIAROLE", "2026-11-26T02:25:10Z")));
  auto chain = r.chain(std::string("ops"));
  auto c = chain->get();
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->access_key_id, "ASIAROLE");
  EXPECT_EQ(c->session_token, "TOKEN-ASIAROLE");
  EXPECT_EQ(chain->source_name(), "assume-role");
  auto reqs = r.http->requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, http::Method::post);
  EXPECT_EQ(reqs[0].url, "https://sts.eu-west-1.amazonaws.com/");
  EXPECT_EQ(reqs[0].body,
            "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%"
            "2Fdagmedic"
            "&RoleSessionName=dm-test&ExternalId=ext-1&DurationSeconds=900");
  EXPECT_EQ(header(reqs[0], "X-Amz-Date"), "20261126T012510Z");
  EXPECT_EQ(
      header(reqs[0], "Authorization")
          .rfind("AWS4-HMAC-SHA256 Credential=AKIABASE/20261126/eu-west-1/sts/aws4_request, ", 0),
      0u)
      << header(reqs[0], "Authorization");
  // The signature is the one sign() gives for that request and the source's credentials.
  http::Request again = reqs[0];
  Credentials base{"AKIABASE", "SECRETBASE", "", std::nullopt};
  ASSERT_TRUE(sign(again, base, "eu-west-1", "sts", kStart).ok());
  EXPECT_EQ(header(again, "Authorization"), header(reqs[0], "Authorization"));
}

TEST(Credentials, AssumeRoleChainsThroughRolesAndUsesEndpointOverride) {
  Rig r;
  r.env->set("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:5999");
  r.env->put_file("/home/u/.aws/config",
                  "[profile a]\nrole_arn=arn:aws:iam::1:role/a\nsource_profile=b\n"
                  "[profile b]\nrole_arn=arn:aws:iam::1:role/b\nsource_profile=c\n"
                  "[profile c]\naws_access_key_id=AKIAC\naws_secret_access_key=sc\n");
  r.http->push(FakeHttpClient::ok(200, sts_xml("AssumeRole", "ASIAB", "2026-11-26T02:25:10Z")));
  r.http->push(FakeHttpClient::ok(200, sts_xml("AssumeRole", "ASIAA", "2026-11-26T02:25:10Z")));
  auto c = r.chain(std::string("a"))->get();
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->access_key_id, "ASIAA");
  auto reqs = r.http->requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].url, "http://127.0.0.1:5999/");
  EXPECT_NE(reqs[0].body.find("role%2Fb"), std::string::npos);
  EXPECT_NE(header(reqs[0], "Authorization").find("Credential=AKIAC/"), std::string::npos);
  EXPECT_NE(reqs[1].body.find("role%2Fa"), std::string::npos);
  EXPECT_NE(header(reqs[1], "Authorization").find("Credential=ASIAB/20261126/us-east-1/sts/"),
            std::string::npos);
  EXPECT_EQ(header(reqs[1], "X-Amz-Security-Token"), "TOKEN-ASIAB");
}

TEST(Credentials, AssumeRoleConfigurationErrors) {
  struct Case {
    const char* config;
    const char* expect;
  } cases[] = {
      {"[profile x]\nrole_arn=arn:r\nsource_profile=x2\n[profile "
       "x2]\nrole_arn=arn:r2\nsource_profile=x\n",
       "loops"},
      {"[profile x]\nrole_arn=arn:r\nsource_profile=missing\n", "missing not found"},
      {"[profile x]\nrole_arn=arn:r\n", "exactly one of"},
      {"[profile x]\nrole_arn=arn:r\nsource_profile=y\ncredential_source=Environment\n",
       "exactly one of"},
      {"[profile x]\nrole_arn=arn:r\nsource_profile=y\nmfa_serial=arn:mfa\n[profile y]\n",
       "mfa_serial"},
      {"[profile x]\nrole_arn=arn:r\ncredential_source=Moon\n", "unsupported credential_source"},
      {"[profile x]\nrole_arn=arn:r\ncredential_source=Environment\n", "has no credentials"},
      {"[profile x]\nrole_arn=arn:r\nsource_profile=y\n[profile y]\nregion=x\n",
       "has no credentials"},
  };
  for (const auto& tc : cases) {
    Rig r;
    r.env->put_file("/home/u/.aws/config", tc.config);
    auto c = r.chain(std::string("x"))->get();
    ASSERT_FALSE(c.ok()) << tc.config;
    EXPECT_NE(c.error().message.find("(assume-role)"), std::string::npos) << c.error().message;
    EXPECT_NE(c.error().message.find(tc.expect), std::string::npos) << c.error().message;
    EXPECT_EQ(r.http->request_count(), 0u);
  }
}

TEST(Credentials, AssumeRoleWithCredentialSourceEnvironmentAndStsDenial) {
  Rig r;
  r.env->set("AWS_PROFILE", "x");
  // Env keys are present, so the environment source would win first; the role profile only
  // applies when asked through credential_source. Drive the source directly.
  r.env->set("AWS_ACCESS_KEY_ID", "AKIAENV");
  r.env->set("AWS_SECRET_ACCESS_KEY", "SECRETENV");
  r.env->put_file("/home/u/.aws/config",
                  "[profile x]\nrole_arn=arn:aws:iam::1:role/x\ncredential_source=Environment\n");
  r.http->push(
      FakeHttpClient::ok(403,
                         "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</"
                         "Code><Message>User AKIAENV is not "
                         "authorized to perform sts:AssumeRole</Message></Error></ErrorResponse>"));
  auto src = assume_role_source(r.deps(), "x");
  auto c = src->load();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, Errc::permission_denied);
  EXPECT_NE(c.error().message.find("AccessDenied"), std::string::npos);
  expect_no_secret(c.error().message);
  ASSERT_EQ(r.http->request_count(), 1u);
  EXPECT_NE(header(r.http->requests()[0], "Authorization").find("Credential=AKIAENV/"),
            std::string::npos);
}

// ---------------------------------------------------------------- web identity

TEST(Credentials, WebIdentityFromEnvironmentIsUnsigned) {
  Rig r;
  r.env->set("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token");
  r.env->set("AWS_ROLE_ARN", "arn:aws:iam::1:role/web");
  r.env->set("AWS_REGION", "eu-central-1");
  r.env->put_file("/var/run/token", "jwt-token-value\n");
  r.http->push(FakeHttpClient::ok(
      200, sts_xml("AssumeRoleWithWebIdentity", "ASIAWEB", "2026-11-26T02:25:10Z")));
  auto chain = r.chain();
  auto c = chain->get();
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->access_key_id, "ASIAWEB");
  EXPECT_EQ(chain->source_name(), "web-identity");
  auto req = r.http->requests().at(0);
  EXPECT_EQ(req.url, "https://sts.eu-central-1.amazonaws.com/");
  EXPECT_EQ(header(req, "Authorization"), "<absent>");
  EXPECT_EQ(req.body,
            "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A1%"
            "3Arole%2Fweb"
            "&RoleSessionName=dagmedic-1795656310&WebIdentityToken=jwt-token-value");
}

TEST(Credentials, WebIdentityFromProfileAndErrors) {
  Rig r;
  r.env->put_file("/home/u/.aws/config",
                  "[default]\nweb_identity_token_file=/t\nrole_arn=arn:r\nrole_session_name=s1\n");
  r.env->put_file("/t", "jwt-token-value");
  r.http->push(FakeHttpClient::ok(400,
                                  "<ErrorResponse><Error><Code>InvalidIdentityToken</Code>"
                                  "<Message>bad jwt</Message></Error></ErrorResponse>"));
  auto c = r.chain()->get();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, Errc::unauthenticated);
  EXPECT_NE(c.error().message.find("(web-identity)"), std::string::npos);
  EXPECT_NE(c.error().message.find("InvalidIdentityToken"), std::string::npos);
  expect_no_secret(c.error().message);
  EXPECT_NE(r.http->requests().at(0).body.find("RoleSessionName=s1"), std::string::npos);

  Rig missing;
  missing.env->set("AWS_WEB_IDENTITY_TOKEN_FILE", "/nope");
  missing.env->set("AWS_ROLE_ARN", "arn:r");
  auto m = missing.chain()->get();
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("/nope"), std::string::npos);

  Rig norole;
  norole.env->set("AWS_WEB_IDENTITY_TOKEN_FILE", "/t");
  auto n = norole.chain()->get();
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.error().message.find("no role ARN"), std::string::npos);
}

// ---------------------------------------------------------------- container

TEST(Credentials, ContainerRelativeUriWithTokenFile) {
  Rig r;
  r.env->set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc");
  r.env->set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "from-env");
  r.env->set("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/var/run/eks-token");
  r.env->put_file("/var/run/eks-token", "from-file\n");
  r.http->push(FakeHttpClient::json(200, creds_json("ASIAECS", "2026-11-26T07:25:10Z")));
  auto chain = r.chain();
  auto c = chain->get();
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->access_key_id, "ASIAECS");
  EXPECT_EQ(c->session_token, "TOKEN-ASIAECS");
  EXPECT_EQ(chain->source_name(), "container");
  auto req = r.http->requests().at(0);
  EXPECT_EQ(req.url, "http://169.254.170.2/v2/credentials/abc");
  EXPECT_EQ(header(req, "Authorization"), "from-file");
}

TEST(Credentials, ContainerFullUriHostCheckAndRetries) {
  Rig bad;
  bad.env->set("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://evil.example.com/creds");
  auto b = bad.chain()->get();
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, Errc::permission_denied);
  EXPECT_EQ(bad.http->request_count(), 0u);

  Rig r;
  r.env->set("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9911/creds");
  r.env->set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "tok");
  r.http->push(FakeHttpClient::refused());
  r.http->push(FakeHttpClient::ok(500, "oops"));
  r.http->push(FakeHttpClient::json(200, creds_json("ASIAFULL", "2026-11-26T07:25:10Z")));
  auto c = r.chain()->get();
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->access_key_id, "ASIAFULL");
  EXPECT_EQ(r.http->request_count(), 3u);
  EXPECT_EQ(r.clock->now() - kStart, 2s);  // two 1 s pauses, through the Clock seam
  EXPECT_EQ(header(r.http->requests()[0], "Authorization"), "tok");

  Rig fails;
  fails.env->set("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://localhost:1/creds");
  for (int i = 0; i < 3; ++i) fails.http->push(FakeHttpClient::ok(200, "not json SECRET"));
  auto f = fails.chain()->get();
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().message.find("(container)"), std::string::npos);
  expect_no_secret(f.error().message);

  Rig crlf;
  crlf.env->set("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/creds");
  crlf.env->set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "a\r\nX-Evil: 1");
  EXPECT_FALSE(crlf.chain()->get().ok());
  EXPECT_EQ(crlf.http->request_count(), 0u);
}

// ---------------------------------------------------------------- IMDS

struct ImdsRig : Rig {
  ImdsRig() {
    env->unset("AWS_EC2_METADATA_DISABLED");
    env->set("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1338/");
  }
};

TEST(Credentials, ImdsV2TokenRoleCredentials) {
  ImdsRig r;
  r.http->push(FakeHttpClient::ok(200, "imds-session-token"));
  r.http->push(FakeHttpClient::ok(200, "dagmedic-role\n"));
  r.http->push(FakeHttpClient::json(200, creds_json("ASIAIMDS", "2026-11-26T07:25:10Z")));
  auto chain = r.chain();
  auto c = chain->get();
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->access_key_id, "ASIAIMDS");
  EXPECT_EQ(chain->source_name(), "imds");
  auto q = r.http->requests();
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q[0].method, http::Method::put);
  EXPECT_EQ(q[0].url, "http://127.0.0.1:1338/latest/api/token");
  EXPECT_EQ(header(q[0], "X-aws-ec2-metadata-token-ttl-seconds"), "21600");
  EXPECT_EQ(q[1].url, "http://127.0.0.1:1338/latest/meta-data/iam/security-credentials/");
  EXPECT_EQ(header(q[1], "X-aws-ec2-metadata-token"), "imds-session-token");
  EXPECT_EQ(q[2].url,
            "http://127.0.0.1:1338/latest/meta-data/iam/security-credentials/dagmedic-role");
  EXPECT_EQ(header(q[2], "X-aws-ec2-metadata-token"), "imds-session-token");
}

TEST(Credentials, ImdsFallsBackToV1WhenTokenUnavailable) {
  for (auto token_answer : {FakeHttpClient::ok(405, ""), FakeHttpClient::ok(403, ""),
                            FakeHttpClient::ok(404, ""), FakeHttpClient::timed_out()}) {
    ImdsRig r;
    r.http->push(token_answer);
    r.http->push(FakeHttpClient::ok(200, "role"));
    r.http->push(FakeHttpClient::json(200, creds_json("ASIAV1", "2026-11-26T07:25:10Z")));
    auto c = r.chain()->get();
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ(c->access_key_id, "ASIAV1");
    auto q = r.http->requests();
    ASSERT_EQ(q.size(), 3u);
    EXPECT_EQ(header(q[1], "X-aws-ec2-metadata-token"), "<absent>");
  }
}

TEST(Credentials, ImdsV1DisabledBadRequestAndNoRole) {
  ImdsRig v1off;
  v1off.env->set("AWS_EC2_METADATA_V1_DISABLED", "true");
  v1off.http->push(FakeHttpClient::ok(403, ""));
  auto a = v1off.chain()->get();
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().message.find("(imds)"), std::string::npos);
  EXPECT_EQ(v1off.http->request_count(), 1u);

  ImdsRig bad;
  bad.http->push(FakeHttpClient::ok(400, ""));
  auto b = bad.chain()->get();
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, Errc::unauthenticated);
  EXPECT_NE(b.error().message.find("HTTP 400"), std::string::npos);
  EXPECT_EQ(bad.http->request_count(), 1u);

  ImdsRig norole;
  norole.http->push(FakeHttpClient::ok(200, "tok"));
  norole.http->push(FakeHttpClient::ok(404, ""));
  auto n = norole.chain()->get();
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.error().message.find("IMDS answered HTTP 404"), std::string::npos);

  ImdsRig failing;
  failing.http->push(FakeHttpClient::ok(200, "tok"));
  failing.http->push(FakeHttpClient::ok(200, "role"));
  failing.http->push(
      FakeHttpClient::json(200, R"({"Code":"AssumeRoleUnauthorizedAccess","Message":"m"})"));
  auto f = failing.chain()->get();
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().message.find("AssumeRoleUnauthorizedAccess"), std::string::npos);

  ImdsRig down;
  down.env->set("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "2");
  for (int i = 0; i < 3; ++i) down.http->push(FakeHttpClient::refused());
  auto d = down.chain()->get();
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(down.http->request_count(), 3u);  // token + 2 attempts at the role
  EXPECT_NE(d.error().message.find("no answer from IMDS"), std::string::npos);
}

TEST(Credentials, ImdsDisabledMakesNoRequestAndIpv6Mode) {
  Rig r;  // AWS_EC2_METADATA_DISABLED=true
  EXPECT_FALSE(r.chain()->get().ok());
  EXPECT_EQ(r.http->request_count(), 0u);

  Rig v6;
  v6.env->unset("AWS_EC2_METADATA_DISABLED");
  v6.env->set("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6");
  v6.http->push(FakeHttpClient::timed_out());
  v6.http->push(FakeHttpClient::timed_out());
  EXPECT_FALSE(v6.chain()->get().ok());
  EXPECT_EQ(v6.http->requests().at(0).url, "http://[fd00:ec2::254]/latest/api/token");
}

// ---------------------------------------------------------------- caching and refresh

TEST(Credentials, CachedUntilFiveMinutesBeforeExpiryThenRefreshed) {
  ImdsRig r;
  auto serve = [&](const std::string& ak, const std::string& exp) {
    r.http->push(FakeHttpClient::ok(200, "tok"));
    r.http->push(FakeHttpClient::ok(200, "role"));
    r.http->push(FakeHttpClient::json(200, creds_json(ak, exp)));
  };
  serve("ASIA1", "2026-11-26T02:25:10Z");  // start + 1 h
  auto chain = r.chain();
  EXPECT_EQ(chain->get()->access_key_id, "ASIA1");
  r.clock->advance(54min);
  EXPECT_EQ(chain->get()->access_key_id, "ASIA1");  // 6 min left: cached
  EXPECT_EQ(r.http->request_count(), 3u);
  r.clock->advance(2min);  // 4 min left: inside the margin
  serve("ASIA2", "2026-11-26T03:25:10Z");
  EXPECT_EQ(chain->get()->access_key_id, "ASIA2");
  EXPECT_EQ(r.http->request_count(), 6u);
  // A failed refresh inside the margin keeps serving the unexpired credentials...
  r.http->set_handler([](const http::Request&) { return FakeHttpClient::refused(); });
  r.clock->advance(60min);  // 4 min left
  EXPECT_EQ(chain->get()->access_key_id, "ASIA2");
  EXPECT_GT(r.http->request_count(), 6u);  // a refresh was attempted
  // ...but not once they have expired.
  r.clock->advance(5min);
  auto gone = chain->get();
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, Errc::unauthenticated);
}

TEST(Credentials, StaticCredentialsAreNeverRefreshedAndExpiredOnesRejected) {
  Rig r;
  r.env->set("AWS_ACCESS_KEY_ID", "AKIAENV");
  r.env->set("AWS_SECRET_ACCESS_KEY", "x");
  auto chain = r.chain();
  EXPECT_TRUE(chain->get().ok());
  r.env->set("AWS_ACCESS_KEY_ID", "AKIACHANGED");
  r.clock->advance(std::chrono::hours(24 * 365));
  EXPECT_EQ(chain->get()->access_key_id, "AKIAENV");  // no expiry: cached for the process

  Rig old;
  old.env->set("AWS_ACCESS_KEY_ID", "AKIAENV");
  old.env->set("AWS_SECRET_ACCESS_KEY", "x");
  old.env->set("AWS_CREDENTIAL_EXPIRATION", "2026-11-26T01:00:00Z");
  auto e = old.chain()->get();
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("already expired"), std::string::npos);
}

TEST(Credentials, ChainSticksToTheSourceThatWorked) {
  Rig r;
  r.env->set("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/c");
  r.http->push(FakeHttpClient::json(200, creds_json("ASIAC1", "2026-11-26T01:35:10Z")));
  auto chain = r.chain();
  EXPECT_EQ(chain->get()->access_key_id, "ASIAC1");
  // Environment keys appear later; the refresh still asks the container endpoint.
  r.env->set("AWS_ACCESS_KEY_ID", "AKIAENV");
  r.env->set("AWS_SECRET_ACCESS_KEY", "x");
  r.clock->advance(6min);
  r.http->push(FakeHttpClient::json(200, creds_json("ASIAC2", "2026-11-26T02:35:10Z")));
  EXPECT_EQ(chain->get()->access_key_id, "ASIAC2");
  EXPECT_EQ(chain->source_name(), "container");
}

TEST(Credentials, ConcurrentCallersShareOneRefresh) {
  Rig r;
  r.env->set("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/c");
  std::atomic<int> calls{0};
  r.http->set_handler([&](const http::Request&) -> Result<http::Response> {
    ++calls;
    std::this_thread::yield();
    return FakeHttpClient::json(200, creds_json("ASIAT", "2026-11-26T02:25:10Z"));
  });
  auto chain = r.chain();
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i)
    ts.emplace_back([&] {
      for (int k = 0; k < 50; ++k) ok += chain->get().ok();
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 400);
  EXPECT_EQ(calls.load(), 1);
}

}  // namespace
}  // namespace dm::aws
