#include "auth/jose.h"

#include <gtest/gtest.h>

#include "auth/testing/token_maker.h"

namespace dm::auth {
namespace {

using testing::make_key;
using testing::segment;
using testing::sign;
using testing::TestKey;
using json = nlohmann::json;

using testing::ec;
using testing::ed;
using testing::rsa;

const json kClaims = {{"iss", "https://idp.test"}, {"sub", "alice"}};

Status verify_with(const TestKey& verifier, const std::string& token) {
  auto jws = parse_compact(token, 8192);
  if (!jws) return jws.error();
  auto key = parse_jwk(verifier.jwk);
  if (!key) return key.error();
  return verify_signature(*jws, *key);
}

TEST(Jose, AlgorithmsAcceptedAreTheThreeAsymmetricOnes) {
  EXPECT_EQ(parse_alg("RS256"), Alg::rs256);
  EXPECT_EQ(parse_alg("ES256"), Alg::es256);
  EXPECT_EQ(parse_alg("EdDSA"), Alg::eddsa);
  for (const char* no : {"none", "HS256", "HS384", "HS512", "RS384", "PS256", "rs256", ""})
    EXPECT_FALSE(parse_alg(no)) << no;
}

TEST(Jose, EachAlgorithmVerifiesItsOwnSignature) {
  for (const TestKey* k : {&rsa(), &ec(), &ed()}) {
    ASSERT_TRUE(k->pkey) << alg_name(k->alg);
    auto token = sign(*k, kClaims);
    auto s = verify_with(*k, token);
    EXPECT_TRUE(s.ok()) << alg_name(k->alg) << ": " << (s.ok() ? "" : s.error().message);
  }
}

TEST(Jose, AChangedPayloadOrAnotherKeysSignatureFails) {
  for (Alg a : {Alg::rs256, Alg::es256, Alg::eddsa}) {
    const TestKey& k = a == Alg::rs256 ? rsa() : a == Alg::es256 ? ec() : ed();
    auto token = sign(k, kClaims);
    // Payload swapped for another one, signature kept.
    auto d1 = token.find('.');
    auto d2 = token.find('.', d1 + 1);
    std::string forged = token.substr(0, d1 + 1) +
                         segment({{"iss", "https://idp.test"}, {"sub", "mallory"}}) +
                         token.substr(d2);
    auto s = verify_with(k, forged);
    ASSERT_FALSE(s.ok()) << alg_name(a);
    EXPECT_EQ(s.error().message, "bad signature");
    // Same kid, another key pair.
    TestKey other = make_key(a, k.kid);
    auto s2 = verify_with(k, sign(other, kClaims));
    ASSERT_FALSE(s2.ok()) << alg_name(a);
    EXPECT_EQ(s2.error().message, "bad signature");
  }
}

TEST(Jose, Es256SignatureMustBe64Bytes) {
  std::string input = segment({{"alg", "ES256"}, {"kid", "e1"}}) + "." + segment(kClaims);
  std::string sig = testing::raw_signature(ec(), input);
  ASSERT_EQ(sig.size(), 64u);
  auto s = verify_with(ec(), input + "." + base64url_encode(sig + "x"));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("64 bytes"), std::string::npos);
}

TEST(Jose, KeyOfAnotherTypeNeverVerifies) {
  // An RS256 token checked against the EC key (same kid) is refused before any crypto.
  auto jws = parse_compact(sign(rsa(), kClaims), 8192);
  ASSERT_TRUE(jws.ok());
  auto key = parse_jwk(ec().jwk);
  ASSERT_TRUE(key.ok());
  EXPECT_FALSE(key_fits(*key, Alg::rs256));
  auto s = verify_signature(*jws, *key);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("does not fit"), std::string::npos);
}

TEST(Jose, NoneAndSymmetricAlgorithmsAreRefusedAtParse) {
  struct Case {
    json header;
    const char* want;
  } cases[] = {
      {{{"alg", "none"}}, "alg \"none\" is never accepted"},
      {{{"alg", "NoNe"}}, "alg \"none\" is never accepted"},
      {{{"alg", "HS256"}, {"kid", "r1"}}, "symmetric algorithm \"HS256\" is never accepted"},
      {{{"alg", "HS512"}}, "symmetric algorithm \"HS512\" is never accepted"},
      {{{"alg", "RS512"}}, "algorithm \"RS512\" is not accepted"},
      {{{"typ", "JWT"}}, "JWT header has no \"alg\""},
      {{{"alg", "RS256"}, {"crit", {"exp"}}, {"exp", 1}}, "JWT header \"crit\" is not supported"},
      {{{"alg", "RS256"}, {"kid", 7}}, "JWT header \"kid\" is not a string"},
  };
  for (const auto& c : cases) {
    std::string token = segment(c.header) + "." + segment(kClaims) + "." + base64url_encode("sig");
    auto r = parse_compact(token, 8192);
    ASSERT_FALSE(r.ok()) << c.header.dump();
    EXPECT_EQ(r.error().message, c.want);
  }
  // alg none with an empty signature segment, the classic form.
  auto r = parse_compact(segment({{"alg", "none"}}) + "." + segment(kClaims) + ".", 8192);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "alg \"none\" is never accepted");
}

TEST(Jose, MalformedTokensAreRefusedWithAReason) {
  const std::string h = segment({{"alg", "RS256"}});
  const std::string p = segment(kClaims);
  struct Case {
    std::string token;
    const char* want;
  } cases[] = {
      {"", "empty token"},
      {"abc", "not a JWT (three dot-separated segments expected)"},
      {h + "." + p, "not a JWT (three dot-separated segments expected)"},
      {h + "." + p + ".c2ln.c2ln", "not a JWT (three dot-separated segments expected)"},
      {h + "=." + p + ".c2ln", "not a JWT (segments must be unpadded base64url)"},
      {h + "." + p + ".c2l+", "not a JWT (segments must be unpadded base64url)"},
      {"." + p + ".c2ln", "not a JWT (segments must be unpadded base64url)"},
      {base64url_encode("[1]") + "." + p + ".c2ln", "JWT header is not a base64url JSON object"},
      {base64url_encode("{bad") + "." + p + ".c2ln", "JWT header is not a base64url JSON object"},
      {h + "." + base64url_encode("\"str\"") + ".c2ln",
       "JWT payload is not a base64url JSON object"},
      {h + "." + p + ".", "JWT has no signature"},
  };
  for (const auto& c : cases) {
    auto r = parse_compact(c.token, 8192);
    ASSERT_FALSE(r.ok()) << c.token;
    EXPECT_EQ(r.error().message, c.want) << c.token;
  }
  auto big = parse_compact(h + "." + p + "." + std::string(9000, 'A'), 8192);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().message, "token longer than 8192 bytes");
}

TEST(Jose, JwkRefusesPrivateMaterialEncryptionKeysAndWeakKeys) {
  json priv = rsa().jwk;
  priv["d"] = "AQAB";
  EXPECT_FALSE(parse_jwk(priv).ok());
  json enc = rsa().jwk;
  enc["use"] = "enc";
  EXPECT_FALSE(parse_jwk(enc).ok());
  json ops = rsa().jwk;
  ops["key_ops"] = {"encrypt"};
  EXPECT_FALSE(parse_jwk(ops).ok());
  json sym = {{"kty", "oct"}, {"k", "c2VjcmV0"}};
  EXPECT_FALSE(parse_jwk(sym).ok());
  TestKey small = make_key(Alg::rs256, "small", 1024);
  auto r = parse_jwk(small.jwk);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("2048"), std::string::npos);
  json wrong_alg = ec().jwk;
  wrong_alg["alg"] = "RS256";
  EXPECT_FALSE(parse_jwk(wrong_alg).ok());
  json p384 = ec().jwk;
  p384["crv"] = "P-384";
  EXPECT_FALSE(parse_jwk(p384).ok());
  json short_x = ed().jwk;
  short_x["x"] = base64url_encode(std::string(31, 'a'));
  EXPECT_FALSE(parse_jwk(short_x).ok());
}

TEST(Jose, JwkRefusesAnEcPointOffTheCurve) {
  json off = ec().jwk;
  std::string y = *base64url_decode(off["y"].get<std::string>());
  y[31] = static_cast<char>(y[31] ^ 1);
  off["y"] = base64url_encode(y);
  auto r = parse_jwk(off);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not a valid EC public key"), std::string::npos);
}

TEST(Jose, JwkSetSkipsWhatItCannotUse) {
  json enc = rsa().jwk;
  enc["use"] = "enc";
  enc["kid"] = "enc1";
  json set = {{"keys", {enc, ec().jwk, {{"kty", "oct"}, {"k", "eA"}}}}};
  auto r = parse_jwks(set.dump());
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->keys.size(), 1u);
  EXPECT_EQ(r->keys[0].kid, "e1");
  EXPECT_EQ(r->skipped.size(), 2u);
  EXPECT_FALSE(parse_jwks(json({{"keys", {enc}}}).dump()).ok());
  EXPECT_FALSE(parse_jwks("[]").ok());
  EXPECT_FALSE(parse_jwks("not json").ok());
}

}  // namespace
}  // namespace dm::auth
