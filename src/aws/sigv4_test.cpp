// Unit tests for sign(): the AWS documentation's own example, errors, and the choices that go
// beyond botocore (query canonicalisation, Host added, no secret in messages).
#include "aws/sigv4.h"

#include <gtest/gtest.h>

namespace dm::aws {
namespace {

const Credentials kCreds{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "",
                         std::nullopt};
// 2015-08-30T12:36:00Z, the date of the AWS SigV4 test suite.
const Clock::time_point kWhen{std::chrono::seconds(1440938160)};

std::string header(const http::Request& r, std::string_view name) {
  for (const auto& [k, v] : r.headers)
    if (http::iequals(k, name)) return v;
  return "<absent>";
}

TEST(SigV4, AwsTestSuiteGetVanilla) {
  // aws-sig-v4-test-suite/get-vanilla: known canonical request and signature.
  http::Request r;
  r.url = "https://example.amazonaws.com/";
  ASSERT_TRUE(sign(r, kCreds, "us-east-1", "service", kWhen).ok());
  EXPECT_EQ(header(r, "X-Amz-Date"), "20150830T123600Z");
  EXPECT_EQ(header(r, "Host"), "example.amazonaws.com");
  EXPECT_EQ(header(r, "Authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, "
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4, AwsTestSuiteGetVanillaQueryOrderKey) {
  http::Request r;
  r.url = "https://example.amazonaws.com/?Param2=value2&Param1=value1";
  ASSERT_TRUE(sign(r, kCreds, "us-east-1", "service", kWhen).ok());
  EXPECT_NE(header(r, "Authorization")
                .find("Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
            std::string::npos)
      << header(r, "Authorization");
}

TEST(SigV4, ResigningReplacesOldHeaders) {
  http::Request r;
  r.url = "https://example.amazonaws.com/";
  Credentials c = kCreds;
  c.session_token = "tok1";
  ASSERT_TRUE(sign(r, c, "us-east-1", "service", kWhen).ok());
  c.session_token = "tok2";
  ASSERT_TRUE(sign(r, c, "us-east-1", "service", kWhen + std::chrono::hours(1)).ok());
  int auth = 0, date = 0, tok = 0, host = 0;
  for (const auto& [k, v] : r.headers) {
    auth += http::iequals(k, "Authorization");
    date += http::iequals(k, "X-Amz-Date");
    tok += http::iequals(k, "X-Amz-Security-Token");
    host += http::iequals(k, "Host");
  }
  EXPECT_EQ(auth, 1);
  EXPECT_EQ(date, 1);
  EXPECT_EQ(tok, 1);
  EXPECT_EQ(host, 1);
  EXPECT_EQ(header(r, "X-Amz-Security-Token"), "tok2");
  EXPECT_EQ(header(r, "X-Amz-Date"), "20150830T133600Z");
}

TEST(SigV4, QueryIsCanonicalisedLikeTheServerDoes) {
  // Lower-case hex and unescaped reserved characters are re-encoded; the signature equals the
  // one for the canonical spelling.
  http::Request a, b;
  a.url = "https://example.amazonaws.com/?k=%2fa%3ab&x=~y";
  b.url = "https://example.amazonaws.com/?k=%2Fa%3Ab&x=~y";
  auto da = signing_detail(a, kCreds, "us-east-1", "service", kWhen);
  auto db = signing_detail(b, kCreds, "us-east-1", "service", kWhen);
  ASSERT_TRUE(da.ok() && db.ok());
  EXPECT_EQ(da->signature, db->signature);
  EXPECT_NE(da->canonical_request.find("\nk=%2Fa%3Ab&x=~y\n"), std::string::npos);
}

TEST(SigV4, S3AddsContentSha256AndKeepsPath) {
  http::Request r;
  r.method = http::Method::put;
  r.url = "https://b.s3.amazonaws.com/a//b/../c";
  r.body = "hello";
  auto d = signing_detail(r, kCreds, "us-east-1", "s3", kWhen);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->canonical_request.starts_with("PUT\n/a//b/../c\n"));
  ASSERT_TRUE(sign(r, kCreds, "us-east-1", "s3", kWhen).ok());
  EXPECT_EQ(header(r, "X-Amz-Content-SHA256"), sha256_hex("hello"));
  http::Request nons3 = r;
  nons3.headers.clear();
  ASSERT_TRUE(sign(nons3, kCreds, "us-east-1", "logs", kWhen).ok());
  EXPECT_EQ(header(nons3, "X-Amz-Content-SHA256"), "<absent>");
}

TEST(SigV4, Sha256OfEmpty) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(SigV4, ErrorsLeaveRequestUnchangedAndHoldNoSecret) {
  http::Request r;
  r.url = "https://example.amazonaws.com/";
  r.headers = {{"X-Test", "1"}};
  Credentials c = kCreds;
  c.session_token = "SECRET-TOKEN";
  struct Case {
    std::string url;
    http::Headers headers;
    Credentials creds;
    std::string region;
  } cases[] = {
      {"ftp://example.com/", {}, c, "us-east-1"},
      {"https:///nohost", {}, c, "us-east-1"},
      {"https://example.com:99999/", {}, c, "us-east-1"},
      {"https://example.com/?a=%zz", {}, c, "us-east-1"},
      {"https://example.com/?a=%4", {}, c, "us-east-1"},
      {"https://example.com/", {{"Bad Name", "v"}}, c, "us-east-1"},
      {"https://example.com/", {{"X-Inject", "a\r\nX-Evil: 1"}}, c, "us-east-1"},
      {"https://example.com/", {}, Credentials{"", "s", "", std::nullopt}, "us-east-1"},
      {"https://example.com/", {}, Credentials{"AKID", "", "", std::nullopt}, "us-east-1"},
      {"https://example.com/", {}, c, ""},
      {"https://example.com/", {}, Credentials{"AKID", "s", "tok\nen", std::nullopt}, "us-east-1"},
  };
  for (const auto& tc : cases) {
    http::Request q;
    q.url = tc.url;
    q.headers = tc.headers;
    auto before = q.headers;
    auto st = sign(q, tc.creds, tc.region, "sts", kWhen);
    ASSERT_FALSE(st.ok()) << tc.url;
    EXPECT_EQ(st.error().code, Errc::invalid_argument);
    EXPECT_EQ(q.headers, before);
    EXPECT_EQ(st.error().message.find("SECRET"), std::string::npos);
    EXPECT_EQ(st.error().message.find(kCreds.secret_access_key), std::string::npos);
    EXPECT_EQ(st.error().message.find("X-Evil"), std::string::npos);
  }
}

TEST(SigV4, DescribeShowsNoSecret) {
  Credentials c{"AKIAABCDEFGHIJKLMNOP", "topsecret", "tokentoken",
                Clock::time_point{std::chrono::seconds(1764120310)}};
  std::string d = describe(c);
  EXPECT_EQ(d.find("topsecret"), std::string::npos);
  EXPECT_EQ(d.find("tokentoken"), std::string::npos);
  EXPECT_NE(d.find("AKIA"), std::string::npos);
  EXPECT_NE(d.find("2025-11-26T01:25:10Z"), std::string::npos);
}

TEST(SigV4, AmzDateTruncatesSubseconds) {
  EXPECT_EQ(amz_date(kWhen + std::chrono::milliseconds(999)), "20150830T123600Z");
}

}  // namespace
}  // namespace dm::aws
