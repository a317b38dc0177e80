#include "auth/token_verifier.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>

#include "auth/identity.h"
#include "auth/testing/token_maker.h"
#include "http/fake_http_client.h"

namespace dm::auth {
namespace {

using http::FakeHttpClient;
using testing::make_key;
using testing::sign;
using testing::TestKey;
using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kIssuer = "https://idp.test/realms/team";
constexpr const char* kAudience = "https://dagmedic.test/mcp";
constexpr const char* kJwks = "https://idp.test/realms/team/protocol/openid-connect/certs";
constexpr const char* kIntrospect = "https://idp.test/realms/team/token/introspect";
const auto kStart = Clock::time_point(std::chrono::seconds(1'800'000'000));

using testing::ec;
using testing::ed;
using testing::rsa;

int64_t secs(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// An identity provider behind FakeHttpClient: metadata at the OIDC appended path (the RFC 8414
// forms answer 404, as Keycloak's do not all), a JWK set, an introspection endpoint.
struct Idp {
  json jwks = testing::jwks_of({&rsa(), &ec(), &ed()});
  bool jwks_down = false;
  bool introspection_active = true;
  int introspection_status = 200;
  std::string metadata_issuer = kIssuer;
  json pkce_methods = json::array({"plain", "S256"});
  std::map<std::string, int> hits;
  std::vector<http::Request> introspections;
  std::mutex mu;

  void install(FakeHttpClient& http) {
    http.set_handler([this](const http::Request& r) -> Result<http::Response> {
      std::lock_guard lk(mu);
      ++hits[r.url];
      if (r.url == std::string(kIssuer) + "/.well-known/openid-configuration")
        return FakeHttpClient::json(
            200, json({{"issuer", metadata_issuer},
                       {"jwks_uri", kJwks},
                       {"introspection_endpoint", kIntrospect},
                       {"authorization_endpoint", std::string(kIssuer) + "/auth"},
                       {"token_endpoint", std::string(kIssuer) + "/token"},
                       {"code_challenge_methods_supported", pkce_methods}})
                     .dump());
      if (r.url == kJwks) {
        if (jwks_down) return FakeHttpClient::refused();
        return FakeHttpClient::json(200, jwks.dump());
      }
      if (r.url == kIntrospect) {
        introspections.push_back(r);
        return FakeHttpClient::json(introspection_status,
                                    json({{"active", introspection_active}}).dump());
      }
      return FakeHttpClient::json(404, "{}");
    });
  }
};

class Verifier : public ::testing::Test {
 protected:
  void SetUp() override { idp.install(*http); }

  TokenVerifier& make(VerifierOptions o = {}) {
    if (o.issuer.empty()) o.issuer = kIssuer;
    if (o.audience.empty()) o.audience = kAudience;
    EXPECT_TRUE(TokenVerifier::check_options(o).ok());
    v = std::make_unique<TokenVerifier>(o, http, clock);
    return *v;
  }

  json claims(json extra = json::object()) const {
    const auto now = secs(clock->now());
    json c = {{"iss", kIssuer},
              {"aud", kAudience},
              {"sub", "u-1"},
              {"azp", "agent"},
              {"exp", now + 300},
              {"iat", now},
              {"preferred_username", "alice"},
              {"scope", "dagmedic:read"}};
    for (auto& [k, val] : extra.items()) {
      if (val.is_null())
        c.erase(k);
      else
        c[k] = val;
    }
    return c;
  }

  // The message of a refusal (the test fails if the token was accepted).
  std::string refusal(const std::string& token, Errc want = Errc::unauthenticated) {
    auto r = v->verify(token);
    if (r.ok()) {
      ADD_FAILURE() << "token accepted";
      return {};
    }
    EXPECT_EQ(r.error().code, want) << r.error().message;
    return r.error().message;
  }

  std::shared_ptr<FakeHttpClient> http = std::make_shared<FakeHttpClient>();
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>(kStart);
  Idp idp;
  std::unique_ptr<TokenVerifier> v;
};

TEST_F(Verifier, AcceptsTokensOfEachAllowedAlgorithm) {
  make();
  for (const TestKey* k : {&rsa(), &ec(), &ed()}) {
    auto r = v->verify(sign(*k, claims()));
    ASSERT_TRUE(r.ok()) << alg_name(k->alg) << ": " << r.error().message;
    EXPECT_EQ(r->claims["preferred_username"], "alice");
  }
  // One discovery walk (3 metadata URLs) and one JWK set fetch for all three.
  EXPECT_EQ(v->key_fetches(), 4u);
}

TEST_F(Verifier, DiscoveryTriesRfc8414ThenOidcPathInsertedThenAppended) {
  EXPECT_EQ(metadata_urls(kIssuer),
            (std::vector<std::string>{
                "https://idp.test/.well-known/oauth-authorization-server/realms/team",
                "https://idp.test/.well-known/openid-configuration/realms/team",
                "https://idp.test/realms/team/.well-known/openid-configuration"}));
  EXPECT_EQ(metadata_urls("https://idp.test"),
            (std::vector<std::string>{"https://idp.test/.well-known/oauth-authorization-server",
                                      "https://idp.test/.well-known/openid-configuration"}));
  make();
  ASSERT_TRUE(v->verify(sign(rsa(), claims())).ok());
  auto seen = http->requests();
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].url, metadata_urls(kIssuer)[0]);
  EXPECT_EQ(seen[1].url, metadata_urls(kIssuer)[1]);
  EXPECT_EQ(seen[2].url, metadata_urls(kIssuer)[2]);
  EXPECT_EQ(seen[3].url, kJwks);
}

TEST_F(Verifier, ConfiguredJwksUriSkipsDiscovery) {
  make({.jwks_uri = kJwks});
  ASSERT_TRUE(v->verify(sign(ec(), claims())).ok());
  EXPECT_EQ(http->request_count(), 1u);
}

TEST_F(Verifier, MetadataOfAnotherIssuerIsNotTrusted) {
  idp.metadata_issuer = "https://evil.test/realms/team";
  make();
  auto m = refusal(sign(rsa(), claims()), Errc::unavailable);
  EXPECT_NE(m.find("names another issuer"), std::string::npos) << m;
}

TEST_F(Verifier, ExpiredAndNotYetValidTokensAreRefusedOutsideTheLeeway) {
  make({.jwks_uri = kJwks, .leeway = 30s});
  const auto now = secs(clock->now());
  EXPECT_EQ(refusal(sign(rsa(), claims({{"exp", now - 31}}))), "the token has expired");
  EXPECT_TRUE(v->verify(sign(rsa(), claims({{"exp", now - 29}}))).ok());
  EXPECT_EQ(refusal(sign(rsa(), claims({{"nbf", now + 31}}))), "the token is not valid yet (nbf)");
  EXPECT_TRUE(v->verify(sign(rsa(), claims({{"nbf", now + 29}}))).ok());
  EXPECT_EQ(refusal(sign(rsa(), claims({{"iat", now + 31}}))),
            "the token was issued in the future (iat)");
  EXPECT_EQ(refusal(sign(rsa(), claims({{"exp", nullptr}}))), "the token has no expiry (exp)");
  EXPECT_EQ(refusal(sign(rsa(), claims({{"exp", "soon"}}))), "the token has no expiry (exp)");
  EXPECT_EQ(refusal(sign(rsa(), claims({{"nbf", "now"}}))), "nbf is not a number");
  // The same token, accepted now, is refused once the clock passes exp + leeway.
  auto token = sign(rsa(), claims());
  EXPECT_TRUE(v->verify(token).ok());
  clock->advance(300s + 31s);
  EXPECT_EQ(refusal(token), "the token has expired");
}

TEST_F(Verifier, WrongIssuerOrAudienceIsRefused) {
  make({.jwks_uri = kJwks});
  EXPECT_EQ(refusal(sign(rsa(), claims({{"iss", "https://idp.test/realms/other"}}))),
            "wrong issuer (iss)");
  EXPECT_EQ(refusal(sign(rsa(), claims({{"iss", nullptr}}))), "wrong issuer (iss)");
  const char* other = "the token is not meant for this server (aud)";
  EXPECT_EQ(refusal(sign(rsa(), claims({{"aud", "https://other.example/api"}}))), other);
  EXPECT_EQ(refusal(sign(rsa(), claims({{"aud", "https://dagmedic.test/mcp/"}}))), other);
  EXPECT_EQ(refusal(sign(rsa(), claims({{"aud", {"https://other.example/api", "account"}}}))),
            other);
  EXPECT_EQ(refusal(sign(rsa(), claims({{"aud", nullptr}}))), other);
  EXPECT_TRUE(v->verify(sign(rsa(), claims({{"aud", {"account", kAudience}}}))).ok());
}

TEST_F(Verifier, AlgNoneHs256AndDisallowedAlgorithmsNeverReachAKey) {
  make({.jwks_uri = kJwks, .algorithms = {Alg::rs256}});
  const json c = claims();
  std::string none =
      testing::segment({{"alg", "none"}, {"typ", "JWT"}}) + "." + testing::segment(c) + ".";
  EXPECT_EQ(refusal(none), "alg \"none\" is never accepted");
  // HS256 keyed with the issuer's public key, in the two forms a confused verifier might use.
  for (const std::string& secret : {rsa().jwk.dump(), rsa().jwk["n"].get<std::string>()}) {
    auto forged = testing::sign_hs256(secret, c, {{"alg", "HS256"}, {"kid", "r1"}});
    EXPECT_EQ(refusal(forged), "symmetric algorithm \"HS256\" is never accepted");
  }
  EXPECT_EQ(refusal(sign(ec(), c)), "algorithm ES256 is not allowed here");
  EXPECT_EQ(http->request_count(), 0u);  // nothing was fetched for any of them
}

TEST_F(Verifier, BadSignatureIsRefused) {
  make({.jwks_uri = kJwks});
  TestKey impostor = make_key(Alg::rs256, "r1");  // same kid, another key
  EXPECT_EQ(refusal(sign(impostor, claims())), "bad signature");
  // A valid token with one claim changed after signing.
  auto token = sign(rsa(), claims());
  auto d1 = token.find('.');
  auto d2 = token.find('.', d1 + 1);
  auto forged = token.substr(0, d1 + 1) +
                testing::segment(claims({{"preferred_username", "admin"}})) + token.substr(d2);
  EXPECT_EQ(refusal(forged), "bad signature");
  // The kid of an EC key on an RS256 token: the key does not fit the algorithm.
  auto mixed = sign(rsa(), claims(), {{"alg", "RS256"}, {"kid", "e1"}});
  EXPECT_EQ(refusal(mixed), "the key does not fit algorithm RS256");
}

TEST_F(Verifier, UnknownKidRefetchesOnceThenTheFloodStaysBounded) {
  make({.jwks_uri = kJwks, .min_refetch_interval = 30s});
  ASSERT_TRUE(v->verify(sign(rsa(), claims())).ok());
  ASSERT_EQ(v->key_fetches(), 1u);
  clock->advance(31s);
  // The first unknown kid may refetch (key rotation); the next thousand within the interval may
  // not, and each is refused as unknown.
  for (int i = 0; i < 1000; ++i) {
    TestKey k = i == 0 ? make_key(Alg::eddsa, "rot-0") : ed();
    auto token = sign(k, claims(), {{"alg", "EdDSA"}, {"kid", "unknown-" + std::to_string(i)}});
    auto m = refusal(token);
    ASSERT_EQ(m, "unknown signing key id \"unknown-" + std::to_string(i) + "\"");
  }
  EXPECT_EQ(v->key_fetches(), 2u);
  // Known kids are still served from the cache meanwhile.
  EXPECT_TRUE(v->verify(sign(ec(), claims())).ok());
  EXPECT_EQ(v->key_fetches(), 2u);
  // After the interval, one more fetch is allowed.
  clock->advance(30s);
  refusal(sign(ed(), claims(), {{"alg", "EdDSA"}, {"kid", "again"}}));
  refusal(sign(ed(), claims(), {{"alg", "EdDSA"}, {"kid", "again2"}}));
  EXPECT_EQ(v->key_fetches(), 3u);
}

TEST_F(Verifier, ConcurrentUnknownKidsMakeAtMostOneFetch) {
  make({.jwks_uri = kJwks, .min_refetch_interval = 30s});
  ASSERT_TRUE(v->verify(sign(rsa(), claims())).ok());
  clock->advance(31s);
  std::vector<std::string> tokens;
  for (int i = 0; i < 64; ++i)
    tokens.push_back(sign(ed(), claims(), {{"alg", "EdDSA"}, {"kid", "x" + std::to_string(i)}}));
  std::atomic<int> refused{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 8; ++t)
    ts.emplace_back([&, t] {
      for (int i = t; i < 64; i += 8)
        if (!v->verify(tokens[static_cast<std::size_t>(i)]).ok()) ++refused;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(refused.load(), 64);
  EXPECT_EQ(v->key_fetches(), 2u);
}

TEST_F(Verifier, RotatedKeyIsFoundByTheRefetch) {
  make({.jwks_uri = kJwks, .min_refetch_interval = 30s});
  ASSERT_TRUE(v->verify(sign(rsa(), claims())).ok());
  TestKey next = make_key(Alg::rs256, "r2");
  {
    std::lock_guard lk(idp.mu);
    idp.jwks = testing::jwks_of({&next});
  }
  clock->advance(31s);
  auto r = v->verify(sign(next, claims()));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(v->key_fetches(), 2u);
}

TEST_F(Verifier, KeysUnreachableMeansUnavailableAndTheRetryIsRateLimited) {
  idp.jwks_down = true;
  make({.jwks_uri = kJwks, .min_refetch_interval = 30s});
  auto m = refusal(sign(rsa(), claims()), Errc::unavailable);
  EXPECT_NE(m.find("signing keys are unavailable"), std::string::npos) << m;
  for (int i = 0; i < 100; ++i) refusal(sign(rsa(), claims()), Errc::unavailable);
  EXPECT_EQ(v->key_fetches(), 1u);
  idp.jwks_down = false;
  clock->advance(30s);
  EXPECT_TRUE(v->verify(sign(rsa(), claims())).ok());
  EXPECT_EQ(v->key_fetches(), 2u);
}

TEST_F(Verifier, StaleKeysAreRefreshedAndKeptWhileTheRefreshFails) {
  make({.jwks_uri = kJwks, .jwks_max_age = 600s, .min_refetch_interval = 30s});
  ASSERT_TRUE(v->verify(sign(rsa(), claims())).ok());
  clock->advance(601s);
  idp.jwks_down = true;
  auto r = v->verify(sign(rsa(), claims()));
  EXPECT_TRUE(r.ok()) << r.error().message;  // the stale set still verifies
  EXPECT_EQ(v->key_fetches(), 2u);           // but a refresh was tried
  idp.jwks_down = false;
  clock->advance(31s);
  ASSERT_TRUE(v->verify(sign(rsa(), claims())).ok());
  EXPECT_EQ(v->key_fetches(), 3u);
  ASSERT_TRUE(v->verify(sign(rsa(), claims())).ok());
  EXPECT_EQ(v->key_fetches(), 3u);  // fresh again: no fetch
}

TEST_F(Verifier, TokenWithoutKidNeedsExactlyOneFittingKey) {
  make({.jwks_uri = kJwks});
  auto r = v->verify(sign(ec(), claims(), {{"alg", "ES256"}}));
  EXPECT_TRUE(r.ok()) << r.error().message;
  TestKey ec2 = make_key(Alg::es256, "e2");
  idp.jwks = testing::jwks_of({&rsa(), &ec(), &ec2});
  make({.jwks_uri = kJwks});
  EXPECT_EQ(refusal(sign(ec(), claims(), {{"alg", "ES256"}})),
            "token names no key id and the issuer has several keys");
}

TEST_F(Verifier, OversizedTokenIsRefusedWithoutAnyFetch) {
  make({.jwks_uri = kJwks, .max_token_bytes = 512});
  auto m = refusal(sign(rsa(), claims({{"pad", std::string(600, 'x')}})));
  EXPECT_EQ(m, "token longer than 512 bytes");
  EXPECT_EQ(http->request_count(), 0u);
}

TEST_F(Verifier, IntrospectionRefusesRevokedTokensAndFailsClosed) {
  make({.jwks_uri = kJwks,
        .introspection = IntrospectionOptions{"", "dagmedic-server", "s3cret:/"}});
  auto token = sign(rsa(), claims());
  auto r = v->verify(token);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(idp.introspections.size(), 1u);
  const auto& req = idp.introspections[0];
  EXPECT_EQ(req.method, http::Method::post);
  EXPECT_EQ(req.url, kIntrospect);                    // found through discovery
  EXPECT_EQ(req.url.find(token), std::string::npos);  // the token travels in the body only
  EXPECT_EQ(req.body, "token=" + token + "&token_type_hint=access_token");
  std::string auth;
  for (const auto& [k, val] : req.headers)
    if (k == "Authorization") auth = val;
  EXPECT_EQ(auth, "Basic " + base64_encode("dagmedic-server:s3cret%3A%2F"));

  idp.introspection_active = false;
  EXPECT_EQ(refusal(token),
            "the token is no longer active at the issuer (revoked, or its session ended)");
  idp.introspection_status = 500;
  auto m = refusal(token, Errc::unavailable);
  EXPECT_NE(m.find("HTTP 500"), std::string::npos);
  // A token that fails locally is never sent to the issuer.
  const auto before = idp.introspections.size();
  refusal(sign(rsa(), claims({{"aud", "https://other.example"}})));
  EXPECT_EQ(idp.introspections.size(), before);
}

TEST_F(Verifier, OptionsAreChecked) {
  auto bad = [](VerifierOptions o) { return !TokenVerifier::check_options(o).ok(); };
  VerifierOptions ok{.issuer = kIssuer, .audience = kAudience};
  EXPECT_FALSE(bad(ok));
  auto o = ok;
  o.issuer = "http://idp.example/realms/x";  // plain http off loopback
  EXPECT_TRUE(bad(o));
  o.issuer = "http://127.0.0.1:8080/realms/x";
  EXPECT_FALSE(bad(o));
  o = ok;
  o.audience = "";
  EXPECT_TRUE(bad(o));
  o = ok;
  o.jwks_uri = "ftp://idp.test/keys";
  EXPECT_TRUE(bad(o));
  o = ok;
  o.algorithms.clear();
  EXPECT_TRUE(bad(o));
  o = ok;
  o.introspection = IntrospectionOptions{"", "id", ""};
  EXPECT_TRUE(bad(o));
  o = ok;
  o.issuer = "https://user:pw@idp.test";
  EXPECT_TRUE(bad(o));
}

TEST(Identity, PrincipalScopesClientAndEnvironmentsComeFromClaims) {
  IdentityRules rules;
  rules.environments = {{"dev", {"env:dev"}}, {"prod", {"env:prod", "sre"}}};
  VerifiedToken t;
  t.claims = {{"iss", kIssuer},
              {"sub", "u-1"},
              {"azp", "agent"},
              {"client_id", "ignored"},
              {"preferred_username", "alice"},
              {"scope", "dagmedic:read  openid dagmedic:operate"},
              {"groups", {"env:dev", "sre", "other"}}};
  auto id = identity_of(t, rules);
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(id->principal, "alice");
  EXPECT_EQ(id->subject, "u-1");
  EXPECT_EQ(id->client_id, "agent");
  EXPECT_EQ(id->scopes, (std::vector<std::string>{"dagmedic:operate", "dagmedic:read", "openid"}));
  EXPECT_TRUE(has_scope(id->scopes, "dagmedic:read"));
  EXPECT_FALSE(has_scope(id->scopes, "dagmedic:approve"));
  EXPECT_EQ(id->environments, (std::vector<std::string>{"dev", "prod"}));

  t.claims.erase("azp");
  t.claims.erase("scope");
  t.claims["scp"] = {"dagmedic:read"};
  t.claims["groups"] = "env:prod";
  id = identity_of(t, rules);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->client_id, "ignored");
  EXPECT_EQ(id->scopes, (std::vector<std::string>{"dagmedic:read"}));
  EXPECT_EQ(id->environments, (std::vector<std::string>{"prod"}));

  rules.principal_claim = "email";
  auto none = identity_of(t, rules);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, Errc::unauthenticated);
  t.claims["email"] = "";
  EXPECT_FALSE(identity_of(t, rules).ok());
  rules.principal_claim = "sub";
  t.claims["scope"] = 5;
  EXPECT_FALSE(identity_of(t, rules).ok());
  t.claims.erase("scope");
  t.claims["groups"] = 5;
  EXPECT_FALSE(identity_of(t, rules).ok());
}

TEST_F(Verifier, IdTokensAreCheckedAgainstTheClientIdAsAudience) {
  make();
  const std::string id_token = sign(rsa(), claims({{"aud", "dagmedic-approval-page"}}));
  auto r = v->verify_id_token(id_token, "dagmedic-approval-page");
  ASSERT_TRUE(r.ok()) << r.error().message;
  // Not an access token for this server, and not an ID token for another client.
  EXPECT_EQ(refusal(id_token), "the token is not meant for this server (aud)");
  auto other = v->verify_id_token(id_token, "another-client");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().message, "the token is not meant for this server (aud)");
  // Signature, issuer and expiry are checked as for access tokens.
  auto expired = v->verify_id_token(
      sign(rsa(), claims({{"aud", "dagmedic-approval-page"}, {"exp", secs(kStart) - 3600}})),
      "dagmedic-approval-page");
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().message, "the token has expired");
  EXPECT_FALSE(v->verify_id_token(id_token, "").ok());
}

TEST_F(Verifier, EndpointsComeFromDiscoveryAndNeedS256) {
  make();
  auto e = v->endpoints();
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(e->authorization_endpoint, std::string(kIssuer) + "/auth");
  EXPECT_EQ(e->token_endpoint, std::string(kIssuer) + "/token");
  const auto fetches = v->key_fetches();
  ASSERT_TRUE(v->endpoints().ok());
  EXPECT_EQ(v->key_fetches(), fetches) << "kept once known";

  idp.pkce_methods = json::array({"plain"});
  make();
  auto no_s256 = v->endpoints();
  ASSERT_FALSE(no_s256.ok());
  EXPECT_EQ(no_s256.error().code, Errc::unavailable);
  EXPECT_NE(no_s256.error().message.find("S256"), std::string::npos);
  // Asked again at once: no new fetch (the budget), the same reason.
  const auto before = v->key_fetches();
  EXPECT_NE(v->endpoints().error().message.find("S256"), std::string::npos);
  EXPECT_EQ(v->key_fetches(), before);
  idp.pkce_methods = json::array({"S256"});
  clock->advance(31s);
  EXPECT_TRUE(v->endpoints().ok());
}

}  // namespace
}  // namespace dm::auth
