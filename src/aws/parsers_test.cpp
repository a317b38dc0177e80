// INI (shared config files), XML (STS answers), ISO 8601 and URL parsing.
#include <gtest/gtest.h>

#include "aws/ini.h"
#include "aws/sts.h"
#include "aws/url.h"
#include "aws/xml.h"

namespace dm::aws {
namespace {

TEST(Ini, ParsesSectionsKeysCommentsAndNestedBlocks) {
  auto f = parse_ini(
      "\xEF\xBB\xBF# comment\n[default]\r\nAWS_Access_Key_ID = AKID \n"
      "aws_secret_access_key: s=e:c\n ; indented comment\n[profile dev]\nregion=eu-west-1\n"
      "s3 =\n  max_concurrent_requests = 4\n[ spaced ]\nk=v # not a comment",
      "cfg");
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->at("default").at("aws_access_key_id"), "AKID");
  EXPECT_EQ(f->at("default").at("aws_secret_access_key"), "s=e:c");
  EXPECT_EQ(f->at("profile dev").at("s3.max_concurrent_requests"), "4");
  EXPECT_EQ(f->at("spaced").at("k"), "v # not a comment");
  auto profiles = config_profiles(*f);
  EXPECT_EQ(profiles.count("dev"), 1u);
  EXPECT_EQ(profiles.count("default"), 1u);
  EXPECT_EQ(profiles.count("spaced"), 0u);
}

TEST(Ini, ProfileDefaultWinsOverBareDefault) {
  auto f = parse_ini(
      "[default]\nregion=a\n[profile default]\nregion=b\n[profile  x ]\n[profilex]\n", "c");
  ASSERT_TRUE(f.ok());
  auto p = config_profiles(*f);
  EXPECT_EQ(p.at("default").at("region"), "b");
  EXPECT_EQ(p.count("x"), 1u);
  EXPECT_EQ(p.count("profilex"), 0u);
}

TEST(Ini, MalformedFilesNameFileAndLineButNotContent) {
  const char* bad[] = {"key=value\n", "[a]\njust-a-secret-line\n", "[a\nk=v\n", "[a]\nk=1\nk=2\n",
                       "[a]\n[a]\n",  "[a]\n=novalue-secret\n",    "[]\n"};
  for (const char* text : bad) {
    auto f = parse_ini(text, "/home/u/.aws/credentials");
    ASSERT_FALSE(f.ok()) << text;
    EXPECT_EQ(f.error().code, Errc::invalid_argument);
    EXPECT_NE(f.error().message.find("/home/u/.aws/credentials line "), std::string::npos);
    EXPECT_EQ(f.error().message.find("secret"), std::string::npos) << f.error().message;
  }
}

TEST(Xml, ParsesStsAnswerWithNamespacesEntitiesAndCdata) {
  auto x = parse_xml(
      "<?xml version=\"1.0\"?>\n<!-- c --><AssumeRoleResponse "
      "xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
      "<AssumeRoleResult><Credentials><AccessKeyId>ASIA1</AccessKeyId>"
      "<SecretAccessKey>a&amp;b&lt;&#65;&#x42;</SecretAccessKey><SessionToken><![CDATA[t<o>k]]></"
      "SessionToken>"
      "<Expiration>2026-11-26T02:25:10Z</Expiration></Credentials><x:Other a='1' b=\"2\"/>"
      "</AssumeRoleResult></AssumeRoleResponse>");
  ASSERT_TRUE(x.ok()) << x.error().message;
  const auto* c = x->find({"AssumeRoleResult", "Credentials"});
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->child("SecretAccessKey")->text, "a&b<AB");
  EXPECT_EQ(c->child("SessionToken")->text, "t<o>k");
  EXPECT_NE(x->find({"AssumeRoleResult", "Other"}), nullptr);
}

TEST(Xml, RejectsMalformedAndDangerousDocuments) {
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "<a>";
  for (int i = 0; i < 40; ++i) deep += "</a>";
  const std::string bad[] = {"",
                             "text",
                             "<a>",
                             "<a></b>",
                             "<a>&foo;</a>",
                             "<a>&#0;</a>",
                             "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
                             "<a></a><b/>",
                             "<a b=c/>",
                             deep,
                             "<a>&#x110000;</a>",
                             "<a><![CDATA[x</a>"};
  for (const auto& d : bad) {
    auto x = parse_xml(d);
    EXPECT_FALSE(x.ok()) << d;
  }
  EXPECT_EQ(parse_xml(std::string(kXmlMaxBytes + 1, ' ')).error().code, Errc::too_large);
}

TEST(Sts, ParsesCredentialsAndErrors) {
  auto ok = parse_sts_response(
      200,
      "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult>"
      "<Credentials><AccessKeyId>ASIA</AccessKeyId><SecretAccessKey>s</SecretAccessKey>"
      "<SessionToken>t</SessionToken><Expiration>2026-11-26T02:25:10.359Z</Expiration>"
      "</Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>",
      "AssumeRoleWithWebIdentity");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->access_key_id, "ASIA");
  ASSERT_TRUE(ok->expiration.has_value());
  auto denied = parse_sts_response(403,
                                   "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</"
                                   "Code><Message>not allowed</Message></Error></ErrorResponse>",
                                   "AssumeRole");
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().code, Errc::permission_denied);
  EXPECT_NE(denied.error().message.find("AccessDenied: not allowed"), std::string::npos);
  auto expired = parse_sts_response(
      403, "<ErrorResponse><Error><Code>ExpiredToken</Code></Error></ErrorResponse>", "AssumeRole");
  EXPECT_EQ(expired.error().code, Errc::unauthenticated);
  auto nested = parse_sts_response(
      403,
      "<Response><Errors><Error><Code>SignatureDoesNotMatch</Code></Error></Errors></Response>",
      "AssumeRole");
  EXPECT_EQ(nested.error().code, Errc::unauthenticated);
  EXPECT_NE(nested.error().message.find("SignatureDoesNotMatch"), std::string::npos);
  EXPECT_EQ(parse_sts_response(503, "oops", "AssumeRole").error().code, Errc::unavailable);
  EXPECT_EQ(parse_sts_response(200, "<AssumeRoleResponse/>", "AssumeRole").error().code,
            Errc::protocol);
  EXPECT_EQ(parse_sts_response(200, "not xml", "AssumeRole").error().code, Errc::protocol);
  EXPECT_EQ(parse_sts_response(
                200,
                "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A</AccessKeyId>"
                "</Credentials></AssumeRoleResult></AssumeRoleResponse>",
                "AssumeRole")
                .error()
                .code,
            Errc::protocol);
}

TEST(Url, SplitsAndDerivesHost) {
  auto u = parse_url("HTTPS://User:pw@Example.COM:443/p/a?q=1#f");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->path, "/p/a");
  EXPECT_EQ(u->query, "q=1");
  EXPECT_EQ(host_header(*u), "example.com");
  auto v6 = parse_url("http://[::1]:8080");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(host_header(*v6), "[::1]:8080");
  EXPECT_EQ(v6->path, "");
  for (const char* bad : {"example.com", "ftp://x/", "http://", "http://[::1/", "http://h:x/",
                          "http://h:123456/", "http://h\x01/"})
    EXPECT_FALSE(parse_url(bad).ok()) << bad;
  auto e = parse_url("ftp://user:hunter2@x/");
  EXPECT_EQ(e.error().message.find("hunter2"), std::string::npos);
}

TEST(Sts, EndpointOverridesAndRegions) {
  FakeEnv env;
  EXPECT_EQ(sts_endpoint(env, "").url, "https://sts.amazonaws.com/");
  EXPECT_EQ(sts_endpoint(env, "").region, "us-east-1");
  EXPECT_EQ(sts_endpoint(env, "eu-west-1").url, "https://sts.eu-west-1.amazonaws.com/");
  EXPECT_EQ(sts_endpoint(env, "cn-north-1").url, "https://sts.cn-north-1.amazonaws.com.cn/");
  env.set("AWS_ENDPOINT_URL", "http://127.0.0.1:5000");
  EXPECT_EQ(sts_endpoint(env, "eu-west-1").url, "http://127.0.0.1:5000/");
  EXPECT_EQ(sts_endpoint(env, "eu-west-1").region, "eu-west-1");
  env.set("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:6000/sts/");
  EXPECT_EQ(sts_endpoint(env, "eu-west-1").url, "http://127.0.0.1:6000/sts/");
}

}  // namespace
}  // namespace dm::aws
