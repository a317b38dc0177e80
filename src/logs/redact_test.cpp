#include "logs/redact.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <random>
#include <thread>

#include "dm_test_paths.h"
#include "logs/precompiled_db.h"
#include "logs/redact_engine.h"
#include "logs/redact_rules.h"
#include "logs/rules_embed.h"
#include "logs/test_rules.h"

namespace dm::logs {
namespace {

std::string stream_redact(std::shared_ptr<const Redactor> r, std::string_view text,
                          const std::vector<std::size_t>& cuts) {
  std::string out;
  RedactStream s(std::move(r));
  auto sink = [&](std::string_view v) { out.append(v); };
  std::size_t prev = 0;
  for (std::size_t c : cuts) {
    s.feed(text.substr(prev, c - prev), sink);
    prev = c;
  }
  s.feed(text.substr(prev), sink);
  s.finish(sink);
  return out;
}

TEST(RulesEmbed, RedactionYamlIsEmbedded) {
  auto t = embedded_rules("redaction.yaml");
  ASSERT_TRUE(t.has_value());
  EXPECT_NE(t->find("aws-access-key-id"), std::string_view::npos);
  EXPECT_FALSE(embedded_rules("no-such-file.yaml").has_value());
  auto files = embedded_rule_files();
  EXPECT_NE(std::find(files.begin(), files.end(), "redaction.yaml"), files.end());
  // The embedded copy is byte-identical to the source file.
  std::ifstream in(std::string(DM_SOURCE_DIR) + "/rules/redaction.yaml", std::ios::binary);
  std::string src((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(*t, src);
}

TEST(Redactor, BuiltinHasAtLeastSixtyRules) {
  auto r = testing::builtin_redactor();
  EXPECT_GE(r->rule_count(), 60u);
  EXPECT_GE(r->rule_types().size(), 30u);
}

TEST(Redactor, AwsKeyIdAndSecretGroupKeepsTheName) {
  auto r = testing::builtin_redactor();
  EXPECT_EQ(r->redact("id=AKIAIOSFODNN7EXAMPLE\n"), "id=[REDACTED:aws-access-key-id]\n");
  EXPECT_EQ(r->redact("password=hunter2 user=bob"), "password=[REDACTED:password] user=bob");
  EXPECT_EQ(r->redact("postgres://bob:pw123@db:5432/x"),
            "postgres://bob:[REDACTED:uri-password]@db:5432/x");
}

TEST(Redactor, AirflowMaskingAndPlaceholdersAreLeftAlone) {
  auto r = testing::builtin_redactor();
  for (std::string s : {"password=***", "{\"password\": \"***\"}", "token: None",
                        "password=${DB_PASSWORD}", "api_key: <your-key>", "Bearer ***"}) {
    EXPECT_EQ(r->redact(s), s) << s;
  }
}

TEST(Redactor, PemBlockKeepsLineCount) {
  auto r = testing::builtin_redactor();
  const std::string in =
      "x\n-----BEGIN RSA PRIVATE KEY-----\nAAAA\nBBBB\n\n-----END RSA PRIVATE KEY-----\ny\n";
  EXPECT_EQ(r->redact(in),
            "x\n-----BEGIN RSA PRIVATE KEY-----\n[REDACTED:private-key]\n[REDACTED:private-key]\n"
            "[REDACTED:private-key]\n-----END RSA PRIVATE KEY-----\ny\n");
}

TEST(Redactor, UnterminatedPemStopsAfterBlockMaxLines) {
  auto r = Redactor::from_yaml(R"(
rules:
  - id: pem
    type: private-key
    pattern: '-----BEGIN PRIVATE KEY-----'
    block_end: '-----END PRIVATE KEY-----'
    block_max_lines: 2
    keywords: [begin]
)");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)->redact("-----BEGIN PRIVATE KEY-----\na\nb\nc\n"),
            "-----BEGIN PRIVATE KEY-----\n[REDACTED:private-key]\n[REDACTED:private-key]\nc\n");
  // Inline (escaped newlines, one line): only the part between the markers goes.
  EXPECT_EQ((*r)->redact("k=-----BEGIN PRIVATE KEY-----\\nAB\\n-----END PRIVATE KEY----- ok"),
            "k=-----BEGIN PRIVATE KEY-----[REDACTED:private-key]-----END PRIVATE KEY----- ok");
}

TEST(Redactor, OverlappingSpansMergeAndFirstRuleNamesThem) {
  auto r = Redactor::from_yaml(R"(
rules:
  - id: a
    pattern: 'abc'
  - id: b
    pattern: 'bcdef'
  - id: c
    pattern: 'abcd'
)");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)->redact("xabcdefy abc"), "x[REDACTED:a]y [REDACTED:a]");
}

TEST(Redactor, KeywordsGateRules) {
  auto r = Redactor::from_yaml(R"(
rules:
  - id: v
    pattern: 'v=(\d+)'
    secret_group: 1
    keywords: [SeCrEt]
)");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)->redact("v=1\nsecret v=2\n"), "v=1\nsecret v=[REDACTED:v]\n");
}

TEST(Redactor, EntropyAndAllow) {
  auto r = Redactor::from_yaml(R"(
allow: ['keep.*']
rules:
  - id: e
    pattern: 'k=(\S+)'
    secret_group: 1
    min_entropy: 3.0
    allow: ['aaaa.*']
)");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)->redact("k=aaaaaaaaaaaaaaaaaaaa k=Zx9Qp2Lm7Rt4Wv8Ny3Bc k=keepZx9Qp2Lm7Rt4Wv8"),
            "k=aaaaaaaaaaaaaaaaaaaa k=[REDACTED:e] k=keepZx9Qp2Lm7Rt4Wv8");
}

TEST(Redactor, BadRulesAreClearErrors) {
  struct Case {
    const char* yaml;
    const char* needle;
  } cases[] = {
      {"rules: [{id: x, pattern: '(unclosed'}]", "bad pattern"},
      {"rules: [{id: x, pattern: 'a*'}]", "empty string"},
      {"rules: [{id: x, pattern: 'a(b)', secret_group: 2}]", "secret_group"},
      {"rules: [{id: x, pattern: 'a', colour: red}]", "unknown field"},
      {"rules: [{id: x, pattern: 'a'}, {id: x, pattern: 'b'}]", "duplicate"},
      {"rules: [{id: X!, pattern: 'a'}]", "id"},
      {"rules: [{id: x}]", "pattern"},
      {"rules: [{id: x, pattern: 'a', flags: [weird]}]", "unknown flag"},
      {"rules: {", "redaction rules"},
      {"- a\n- b\n", "mapping"},
      {"rules: [{id: x, pattern: '(?=a)b'}]", "bad pattern"},
  };
  for (const auto& c : cases) {
    auto r = Redactor::from_yaml(c.yaml);
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_EQ(r.error().code, Errc::invalid_argument) << c.yaml;
    EXPECT_NE(r.error().message.find(c.needle), std::string::npos)
        << c.yaml << " -> " << r.error().message;
  }
}

// A pattern RE2 takes and vectorscan does not ((?U), ungreedy): the set is compiled again with
// each pattern checked alone; the rule is then gated by its keywords, or refused without any.
TEST(Redactor, APatternVectorscanRefusesFallsBackToKeywords) {
  auto r = Redactor::from_yaml(
      "rules:\n"
      "  - {id: acme, pattern: '(?U)\\b(acme_[0-9a-f]{8,})', secret_group: 1, keywords: [acme_]}\n"
      "  - {id: plain, pattern: 'zed_([0-9]{4})', secret_group: 1}\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)->redact("k acme_0123abcd and zed_1234 and acme_xyz\n"),
            "k [REDACTED:acme] and zed_[REDACTED:plain] and acme_xyz\n");
  auto bad = Redactor::from_yaml("rules: [{id: acme, pattern: '(?U)acme_[0-9a-f]{8,}'}]");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("vectorscan rejects the pattern"), std::string::npos)
      << bad.error().message;
}

TEST(Redactor, BuiltinPlusFilesExtendsAndReportsMissingFiles) {
  const std::string path = std::string(DM_BINARY_DIR) + "/redact_test_extra.yaml";
  {
    std::ofstream o(path);
    o << "rules:\n  - id: acme-internal\n    pattern: '\\b(ACME-[0-9]{6})\\b'\n"
         "    secret_group: 1\n    keywords: [acme-]\n";
  }
  auto r = Redactor::builtin_plus_files({path});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)->rule_count(), testing::builtin_redactor()->rule_count() + 1);
  EXPECT_EQ((*r)->redact("id ACME-123456 and AKIAIOSFODNN7EXAMPLE"),
            "id [REDACTED:acme-internal] and [REDACTED:aws-access-key-id]");
  auto missing = Redactor::builtin_plus_files({"/nonexistent/rules.yaml"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::not_found);
  {
    std::ofstream o(path);
    o << "rules:\n  - id: jwt\n    pattern: 'x'\n";
  }
  auto dup = Redactor::builtin_plus_files({path});
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.error().message.find("already defined"), std::string::npos);
}

TEST(Redactor, LineStructureIsKept) {
  auto r = testing::builtin_redactor();
  const std::string in = "a\r\npassword=x\r\n\n\ntoken=abcdefgh12345678";
  const std::string out = r->redact(in);
  EXPECT_EQ(std::count(in.begin(), in.end(), '\n'), std::count(out.begin(), out.end(), '\n'));
  EXPECT_EQ(out, "a\r\npassword=[REDACTED:password]\r\n\n\ntoken=[REDACTED:token]");
}

TEST(Redactor, EmptyRuleSetCopiesInput) {
  auto r = Redactor::from_yaml("rules: []\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->redact("password=x\n"), "password=x\n");
  EXPECT_EQ((*r)->redact(""), "");
}

// A secret in a line longer than the 1 MiB segment cap: the line is cut at a space, so a secret
// separated by spaces is still caught, and no byte is lost or added.
TEST(Redactor, OverlongLinesAreRedactedSafely) {
  auto r = testing::builtin_redactor();
  std::string in;
  while (in.size() < 3 * kMaxLineBytes) in += "lorem ipsum AKIAIOSFODNN7EXAMPLE dolor ";
  in += "\nend password=x\n";
  const std::string out = r->redact(in);
  EXPECT_EQ(out.find("AKIAIOSFODNN7EXAMPLE"), std::string::npos);
  EXPECT_NE(out.find("end password=[REDACTED:password]\n"), std::string::npos);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2);
  // Without any whitespace the cut falls at exactly kMaxLineBytes; every byte is scanned.
  std::string blob(2 * kMaxLineBytes + 17, '.');
  blob.replace(kMaxLineBytes - 40, 20, "AKIAIOSFODNN7EXAMPLE");
  const std::string out2 = r->redact(blob);
  EXPECT_EQ(out2.find("AKIAIOSFODNN7EXAMPLE"), std::string::npos);
  EXPECT_EQ(out2.size(), blob.size() - 20 + std::string("[REDACTED:aws-access-key-id]").size());
}

// A long random run after a secret-like name: vectorscan reports an end offset for every byte of
// it; hits are kept once per (pattern, line), and the result is still exact.
TEST(Redactor, LongRunsOfCandidateBytes) {
  auto r = testing::builtin_redactor();
  std::string run;
  std::mt19937 rng(3);
  const char* al = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  while (run.size() < 600000) run += al[rng() % 62];
  const std::string in = "x signing_key = " + run + "\nnext line\n";
  const std::string out = r->redact(in);
  EXPECT_EQ(out.find(run.substr(0, 40)), std::string::npos);
  EXPECT_NE(out.find("\nnext line\n"), std::string::npos);
}

TEST(RedactStream, EverySplitPointOfASmallLogEqualsWhole) {
  auto r = testing::builtin_redactor();
  const std::string in =
      "[x] INFO - export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
      "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
      "{\"password\": \"s3cr3t\"} Bearer abcDEF123456789 ghp_abcdefghijklmnopqrstuvwxyz0123456789";
  const std::string whole = r->redact(in);
  for (const char* s : {"wJalrXUtnFEMI", "MIIEvQ", "s3cr3t", "abcDEF123456789", "ghp_abc"})
    ASSERT_EQ(whole.find(s), std::string::npos) << s;
  for (std::size_t i = 0; i <= in.size(); ++i) {
    ASSERT_EQ(stream_redact(r, in, {i}), whole) << "split at " << i;
  }
  // Two split points, a sample.
  for (std::size_t i = 0; i <= in.size(); i += 7)
    for (std::size_t j = i; j <= in.size(); j += 13)
      ASSERT_EQ(stream_redact(r, in, {i, j}), whole) << i << "," << j;
}

TEST(RedactStream, RandomChunkingEqualsWholeIncludingOverlongLines) {
  auto r = testing::builtin_redactor();
  std::mt19937_64 rng(42);
  std::string in;
  const char* pieces[] = {"password=hunter2 ",
                          "AKIAIOSFODNN7EXAMPLE",
                          "\n",
                          "x ",
                          "Bearer tok3nV4lu3xyz ",
                          "-----BEGIN RSA PRIVATE KEY-----\n",
                          "QUJDRA==\n",
                          "-----END RSA PRIVATE KEY-----\n",
                          "s3://b/k ",
                          "\"token\": \"abc123XYZ\""};
  while (in.size() < 3 * kMaxLineBytes) in += pieces[rng() % std::size(pieces)];
  // An over-long line in the middle.
  in.insert(in.size() / 2, std::string(kMaxLineBytes + 5000, 'z') + " password=zz ");
  const std::string whole = r->redact(in);
  EXPECT_EQ(whole.find("hunter2"), std::string::npos);
  for (int round = 0; round < 6; ++round) {
    std::vector<std::size_t> cuts;
    std::size_t pos = 0;
    const std::size_t maxchunk = round < 3 ? 300 : 2 * kMaxLineBytes;
    while (true) {
      pos += 1 + rng() % maxchunk;
      if (pos >= in.size()) break;
      cuts.push_back(pos);
    }
    ASSERT_EQ(stream_redact(r, in, cuts), whole) << "round " << round;
  }
}

TEST(RedactStream, FinishResetsForReuse) {
  auto r = testing::builtin_redactor();
  RedactStream s(r);
  std::string out;
  auto sink = [&](std::string_view v) { out.append(v); };
  s.feed("-----BEGIN PRIVATE KEY-----\nAAAA", sink);
  s.finish(sink);
  s.feed("plain\n", sink);
  s.finish(sink);
  EXPECT_EQ(out, "-----BEGIN PRIVATE KEY-----\n[REDACTED:private-key]plain\n");
}

TEST(Redactor, ConcurrentRedactIsSafe) {
  auto r = testing::builtin_redactor();
  std::string in;
  for (int i = 0; i < 2000; ++i)
    in += "line " + std::to_string(i) + " password=pw" + std::to_string(i) + "\n";
  const std::string expect = r->redact(in);
  std::vector<std::thread> ts;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (int k = 0; k < 5; ++k)
        if (r->redact(in) != expect) ++bad;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST(RedactRules, ShannonEntropy) {
  EXPECT_DOUBLE_EQ(shannon_entropy(""), 0.0);
  EXPECT_DOUBLE_EQ(shannon_entropy("aaaa"), 0.0);
  EXPECT_DOUBLE_EQ(shannon_entropy("abab"), 1.0);
  EXPECT_NEAR(shannon_entropy("0123456789abcdef"), 4.0, 1e-9);
}

}  // namespace
}  // namespace dm::logs

namespace dm::logs {
namespace {

// A database compiled ahead of time (precompiled_db.h) is used for exactly its
// plan, gives the output a compile gives, and bytes vectorscan refuses fall back to a compile.
TEST(RedactPrecompiled, UsedForItsPlanOnlyAndBadBytesFallBack) {
  const char* yaml =
      "rules:\n"
      "  - {id: acme, pattern: '\\b(acme_[0-9a-f]{8,})', secret_group: 1, keywords: [acme_]}\n"
      "  - {id: zed, pattern: 'zed_([0-9]{4})', secret_group: 1}\n";
  auto set = parse_redaction_rules(yaml, "t");
  ASSERT_TRUE(set.ok());
  auto pre = RedactEngine::precompile(*set);
  ASSERT_TRUE(pre.ok()) << pre.error().message;
  static const std::string plan = pre->first, db = pre->second;  // must outlive the process
  auto plain = RedactEngine::compile(*set);
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE((*plain)->precompiled());

  register_precompiled_db(plan, db);
  auto fast = RedactEngine::compile(*set);
  ASSERT_TRUE(fast.ok());
  EXPECT_TRUE((*fast)->precompiled());
  const std::string in = "k acme_0123abcd and zed_1234 and acme_xyz\n";
  const std::string want = "k [REDACTED:acme] and zed_[REDACTED:zed] and acme_xyz\n";
  EXPECT_EQ(Redactor(*fast).redact(in), want);
  EXPECT_EQ(Redactor(*plain).redact(in), want);

  // Another rule set (one more rule) has another plan: compiled.
  auto other =
      parse_redaction_rules(std::string(yaml) + "  - {id: q, pattern: 'qq_([0-9]{4})'}\n", "t2");
  ASSERT_TRUE(other.ok());
  auto o = RedactEngine::compile(*other);
  ASSERT_TRUE(o.ok());
  EXPECT_FALSE((*o)->precompiled());

  // Bytes vectorscan refuses (truncated) for a plan: compiled, same output.
  auto third = parse_redaction_rules(
      "rules:\n  - {id: w, pattern: 'ww_([0-9]{4})', "
      "secret_group: 1}\n",
      "t3");
  ASSERT_TRUE(third.ok());
  auto p3 = RedactEngine::precompile(*third);
  ASSERT_TRUE(p3.ok());
  static const std::string plan3 = p3->first, bad3 = p3->second.substr(0, p3->second.size() / 2);
  register_precompiled_db(plan3, bad3);
  auto t = RedactEngine::compile(*third);
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE((*t)->precompiled());
  EXPECT_EQ(Redactor(*t).redact("a ww_1234\n"), "a ww_[REDACTED:w]\n");
}

}  // namespace
}  // namespace dm::logs
