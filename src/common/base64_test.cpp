#include "common/base64.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace dm {
namespace {

TEST(Base64, RoundTripsAndRejectsGarbage) {
  for (const std::string& s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba",
                                                       "foobar", std::string("\0\xff\x10", 3)}) {
    auto d = base64_decode(base64_encode(s));
    ASSERT_TRUE(d);
    EXPECT_EQ(*d, s);
  }
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("admin:admin"), "YWRtaW46YWRtaW4=");  // HTTP Basic auth
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_FALSE(base64_decode("abc"));
  EXPECT_FALSE(base64_decode("ab!d"));
  EXPECT_FALSE(base64_decode("a=bc"));
  EXPECT_FALSE(base64_decode("Zm8=Zm8="));
}

TEST(Base64, LenientIgnoresWhitespaceAndMissingPadding) {
  EXPECT_EQ(base64_decode_lenient("aGVsbG8gd29ybGQ="), "hello world");
  EXPECT_EQ(base64_decode_lenient("aGVsbG8g\nd29y bGQ"), "hello world");
  EXPECT_EQ(base64_decode_lenient("Zm8"), "fo");
  EXPECT_EQ(base64_decode_lenient(""), "");
  EXPECT_FALSE(base64_decode_lenient("a$=="));
  EXPECT_FALSE(base64_decode_lenient("aGVs=bG8="));
  EXPECT_FALSE(base64_decode_lenient("Zm9vY"));  // 5 symbols: no padding makes it whole
}

TEST(Base64, UrlSafeHasNoPaddingAndRoundTrips) {
  for (const std::string& s :
       std::vector<std::string>{"", "f", "fo", "foo", "foob", "\xfb\xff\xbf"}) {
    auto d = base64url_decode(base64url_encode(s));
    ASSERT_TRUE(d);
    EXPECT_EQ(*d, s);
  }
  EXPECT_EQ(base64url_encode("\xfb\xff\xbf"), "-_-_");  // standard: "+/+/"
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_decode("Zm8="), "fo");  // a final padding is allowed
  EXPECT_EQ(base64url_decode(R"(eyJleHAiOjE5MDAwMDAwMDB9)"), R"({"exp":1900000000})");  // JWT
  EXPECT_FALSE(base64url_decode("+/+/"));  // the standard alphabet's two characters
  EXPECT_FALSE(base64url_decode("Zm9vY"));
  EXPECT_FALSE(base64url_decode("Zm 8"));
  // Non-canonical: "Zm9" carries the bits of "fo" plus a set unused bit; so do "Zg"'s neighbours.
  EXPECT_FALSE(base64url_decode("Zm9"));
  EXPECT_FALSE(base64url_decode("Zm9="));
  EXPECT_FALSE(base64url_decode("Zh"));
  EXPECT_EQ(base64url_decode("Zg"), "f");
}

}  // namespace
}  // namespace dm
