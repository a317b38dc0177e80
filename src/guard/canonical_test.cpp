#include "guard/canonical.h"

#include <gtest/gtest.h>

#include <cmath>

#include "guard/approval.h"

namespace dm::guard {
namespace {

TEST(Canonical, SortedKeysNoWhitespaceUtf8) {
  auto j = nlohmann::json::parse(R"({ "b": [1, {"z": 1, "a": "é"}], "a": null, "é": true })");
  auto c = canonical_json(j);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, R"({"a":null,"b":[1,{"a":"é","z":1}],"é":true})");
}

TEST(Canonical, RejectsInvalidUtf8AndNonFinite) {
  nlohmann::json bad = std::string("\xff\xfe");
  auto c = canonical_json(bad);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, Errc::invalid_argument);
  nlohmann::json nan = {{"x", std::nan("")}};
  EXPECT_FALSE(canonical_json(nan).ok());
}

TEST(Canonical, KnownDigests) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // RFC 4231 test case 2.
  EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "ab"));
  auto r = random_hex(16);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 32u);
  EXPECT_NE(*r, random_hex(16).value());
}

TEST(ParamsDocument, ExactCanonicalForm) {
  ActionParams p;
  p.dag_id = "etl";
  p.conf = {{"b", 2}, {"a", "x"}};
  p.run_id = "manual__1";
  p.task_ids = {"t2", "t1", "t2"};
  auto d = params_document("clear_failed_tasks", p, "prod");
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(*d, R"({"action":"clear_failed_tasks","conf":{"a":"x","b":2},"dag_id":"etl",)"
                R"("environment":"prod","run_id":"manual__1","task_ids":["t1","t2"]})");
  EXPECT_EQ(params_hash("clear_failed_tasks", p, "prod").value(), sha256_hex(*d));
}

TEST(ParamsDocument, MalformedInputIsRefused) {
  ActionParams p;
  p.dag_id = "etl";
  EXPECT_FALSE(params_document("", p, "dev").ok());
  EXPECT_FALSE(params_document("trigger_dag", p, "").ok());
  ActionParams no_dag;
  EXPECT_FALSE(params_document("trigger_dag", no_dag, "dev").ok());
  ActionParams bad_conf = p;
  bad_conf.conf = nlohmann::json::array({1});
  EXPECT_FALSE(params_document("trigger_dag", bad_conf, "dev").ok());
  ActionParams spaced = p;
  spaced.dag_id = "etl daily";
  EXPECT_FALSE(params_document("trigger_dag", spaced, "dev").ok());
  ActionParams ctl = p;
  ctl.task_ids = {"a\nb"};
  EXPECT_FALSE(params_document("trigger_dag", ctl, "dev").ok());
  ActionParams bad_utf8 = p;
  bad_utf8.conf = {{"k", std::string("\xc3\x28")}};
  EXPECT_FALSE(params_document("trigger_dag", bad_utf8, "dev").ok());
}

TEST(Principals, Normalization) {
  EXPECT_EQ(normalize_principal("  Alice@Example.COM ").value(), "alice@example.com");
  EXPECT_FALSE(normalize_principal("   ").ok());
  EXPECT_FALSE(normalize_principal("a\x01"
                                   "b")
                   .ok());
  EXPECT_FALSE(normalize_principal(std::string(300, 'a')).ok());
  for (const char* ok : {"uid:1000", "ops-bot_2", "auth0|5f1e", "a.b+c~d@x.io"})
    EXPECT_TRUE(normalize_principal(ok).ok()) << ok;
}

// Look-alikes of another principal or of the reserved prefix are refused, not compared as text:
// Cyrillic а (U+0430), full-width ａ (U+FF41), a zero-width space, a space inside.
TEST(Principals, LookAlikesAreRefused) {
  for (const char* bad : {"\xd0\xb0gent:claude", "\xef\xbd\x81lice", "al\xe2\x80\x8bice", "al ice",
                          "alice\xc2\xa0", "bob/../alice", "zo\xc3\xab"}) {
    auto r = normalize_principal(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message.find("outside [A-Za-z0-9._@+:|~-]"), std::string::npos);
  }
}

TEST(RunId, DeterministicFromApprovalId) {
  store::ApprovalRecord a;
  a.id = "0123abcd";
  EXPECT_EQ(run_id_for(a), "dagmedic__0123abcd");
  EXPECT_EQ(run_id_for(a), run_id_for(a));
}

}  // namespace
}  // namespace dm::guard
