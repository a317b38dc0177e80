#include "mcp/request_state.h"

#include <gtest/gtest.h>

#include "common/base64.h"

namespace dm::mcp {
namespace {

using json = nlohmann::json;

const std::string kKey(32, 'k');

struct Fixture {
  std::shared_ptr<ManualClock> clock =
      std::make_shared<ManualClock>(Clock::time_point(std::chrono::hours(500000)));
  std::shared_ptr<const RequestStateSealer> sealer;
  explicit Fixture(RequestStateOptions o = {}, std::string key = kKey) {
    auto s = RequestStateSealer::create(std::move(key), o, clock);
    EXPECT_TRUE(s.ok());
    sealer = *s;
  }
};

const json kClaims = {{"tool", "trigger_dag"},
                      {"params", canonical_sha256({{"dag_id", "etl"}})},
                      {"principal", "alice"}};

TEST(RequestState, RoundTripGivesThePayloadBack) {
  Fixture f;
  auto s = f.sealer->seal(kClaims, {{"approval", "a-17"}, {"round", 2}});
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto p = f.sealer->open(*s, kClaims);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ((*p)["approval"], "a-17");
  EXPECT_EQ((*p)["round"], 2);
}

TEST(RequestState, TwoSealsOfTheSamePayloadDiffer) {
  Fixture f;
  EXPECT_NE(*f.sealer->seal(kClaims, 1), *f.sealer->seal(kClaims, 1));
}

TEST(RequestState, TamperedStateIsRefused) {
  Fixture f;
  const std::string s = *f.sealer->seal(kClaims, {{"approved", false}});
  // Flip one character of the body, of the tag, and append bytes: each is refused.
  std::string body_flip = s;
  body_flip[3] = body_flip[3] == 'A' ? 'B' : 'A';
  std::string tag_flip = s;
  tag_flip.back() = tag_flip.back() == 'A' ? 'B' : 'A';
  for (const std::string& bad : {body_flip, tag_flip, s + "-TAMPERED", s.substr(0, s.size() - 4),
                                 std::string("no-dot-at-all")}) {
    auto r = f.sealer->open(bad, kClaims);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, Errc::invalid_argument);
  }
  // A payload rewritten by the client (re-encoded body, old tag) is refused too.
  const auto dot = s.find('.');
  auto body = json::parse(*base64url_decode(s.substr(0, dot)));
  body["p"]["approved"] = true;
  const std::string forged = base64url_encode(body.dump()) + s.substr(dot);
  auto r = f.sealer->open(forged, kClaims);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("integrity"), std::string::npos);
}

TEST(RequestState, ExpiredStateIsRefused) {
  Fixture f({.ttl = std::chrono::seconds(60)});
  const std::string s = *f.sealer->seal(kClaims, 1);
  f.clock->advance(std::chrono::seconds(59));
  EXPECT_TRUE(f.sealer->open(s, kClaims).ok());
  f.clock->advance(std::chrono::seconds(2));
  auto r = f.sealer->open(s, kClaims);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::failed_precondition);
  EXPECT_NE(r.error().message.find("expired"), std::string::npos);
}

TEST(RequestState, StateFromAnotherKeyIsRefused) {
  Fixture mine;
  Fixture other({}, std::string(32, 'o'));
  const std::string s = *other.sealer->seal(kClaims, 1);
  auto r = mine.sealer->open(s, kClaims);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("integrity"), std::string::npos);
  // Replicas sharing a key continue each other's states.
  Fixture twin;
  EXPECT_TRUE(twin.sealer->open(*mine.sealer->seal(kClaims, 1), kClaims).ok());
}

TEST(RequestState, OversizedStateIsRefusedBeforeDecoding) {
  Fixture f({.max_bytes = 300});
  auto big = f.sealer->seal(kClaims, std::string(400, 'x'));
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code, Errc::too_large);
  auto r = f.sealer->open(std::string(301, 'A'), kClaims);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::too_large);
}

TEST(RequestState, CrossToolParamsOrPrincipalStateIsRefused) {
  Fixture f;
  const std::string s = *f.sealer->seal(kClaims, 1);
  for (const char* field : {"tool", "params", "principal"}) {
    json other = kClaims;
    other[field] = "something else";
    auto r = f.sealer->open(s, other);
    ASSERT_FALSE(r.ok()) << field;
    EXPECT_NE(r.error().message.find("another request"), std::string::npos) << field;
  }
}

TEST(RequestState, ShortKeyIsRefused) {
  EXPECT_FALSE(RequestStateSealer::create(std::string(31, 'k')).ok());
  EXPECT_TRUE(RequestStateSealer::create_random().ok());
}

TEST(RequestState, CanonicalHashIgnoresKeyOrder) {
  EXPECT_EQ(canonical_sha256(json::parse(R"({"a":1,"b":[1,2]})")),
            canonical_sha256(json::parse(R"({"b":[1,2],"a":1})")));
  EXPECT_NE(canonical_sha256(json::parse(R"({"a":1})")),
            canonical_sha256(json::parse(R"({"a":2})")));
  EXPECT_EQ(canonical_sha256(json::object()).size(), 64u);
}

}  // namespace
}  // namespace dm::mcp
