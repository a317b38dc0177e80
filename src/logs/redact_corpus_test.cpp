// The planted-secrets corpus (tests/logs/secrets/*.log + *.secrets.tsv) and the benign corpus
// (tests/logs/benign/*.log). See tests/logs/secrets/make_corpus.py.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <set>
#include <sstream>

#include "dm_test_paths.h"
#include "logs/redact.h"
#include "logs/test_corpus.h"

namespace dm::logs {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Planted {
  std::string type, secret;
};

std::vector<Planted> planted(const fs::path& tsv) {
  std::vector<Planted> v;
  std::ifstream in(tsv);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto tab = line.find('\t');
    if (tab == std::string::npos) continue;
    v.push_back({line.substr(0, tab), line.substr(tab + 1)});
  }
  return v;
}

std::string stream(const std::shared_ptr<const Redactor>& r, std::string_view in,
                   std::mt19937_64& rng, std::size_t maxchunk) {
  std::string out;
  RedactStream s(r);
  auto sink = [&](std::string_view v) { out.append(v); };
  std::size_t pos = 0;
  while (pos < in.size()) {
    const std::size_t n = 1 + rng() % maxchunk;
    s.feed(in.substr(pos, n), sink);
    pos += n;
  }
  s.finish(sink);
  return out;
}

TEST(SecretsCorpus, NoPlantedSecretSurvivesAndMarkersAreTyped) {
  auto r = Redactor::builtin();
  ASSERT_TRUE(r.ok());
  const auto files = logs_in("tests/logs/secrets");
  ASSERT_GE(files.size(), 5u);
  std::set<std::string> types_seen;
  std::size_t total = 0;
  std::mt19937_64 rng(7);
  for (const auto& f : files) {
    const auto secrets = planted(fs::path(f).replace_extension(".secrets.tsv"));
    ASSERT_FALSE(secrets.empty()) << f;
    const std::string in = slurp(f);
    const std::string out = (*r)->redact(in);
    EXPECT_EQ(std::count(in.begin(), in.end(), '\n'), std::count(out.begin(), out.end(), '\n'))
        << f;
    for (const auto& p : secrets) {
      ++total;
      ASSERT_NE(in.find(p.secret), std::string::npos) << f << ": not planted: " << p.secret;
      EXPECT_EQ(out.find(p.secret), std::string::npos)
          << f << ": secret survived (" << p.type << "): " << p.secret;
      EXPECT_NE(out.find("[REDACTED:" + p.type + "]"), std::string::npos)
          << f << ": no marker of type " << p.type;
      types_seen.insert(p.type);
    }
    // Streaming in random chunks gives the same bytes.
    for (std::size_t maxchunk : {1, 3, 17, 256, 4096})
      EXPECT_EQ(stream(*r, in, rng, maxchunk), out) << f << " chunks<=" << maxchunk;
    // Idempotent: redacting again changes nothing.
    EXPECT_EQ((*r)->redact(out), out) << f;
  }
  EXPECT_GE(total, 100u);
  EXPECT_GE(types_seen.size(), 35u);
}

// Every split point of the smaller corpus files.
TEST(SecretsCorpus, EverySplitPoint) {
  auto r = Redactor::builtin();
  ASSERT_TRUE(r.ok());
  for (const char* name : {"airflow3_events.log", "pem_keys.log"}) {
    const std::string in = slurp(std::string(DM_SOURCE_DIR) + "/tests/logs/secrets/" + name);
    const std::string whole = (*r)->redact(in);
    for (std::size_t i = 0; i <= in.size(); ++i) {
      std::string out;
      RedactStream s(*r);
      auto sink = [&](std::string_view v) { out.append(v); };
      s.feed(std::string_view(in).substr(0, i), sink);
      s.feed(std::string_view(in).substr(i), sink);
      s.finish(sink);
      ASSERT_EQ(out, whole) << name << " split at " << i;
    }
  }
}

// Over-redaction on realistic benign logs (hashes, UUIDs, S3 paths, SQL, tracebacks, prose that
// mentions tokens/keys/passwords). Bound: at most 0.1% of lines and of bytes touched.
TEST(BenignCorpus, OverRedactionStaysUnderBound) {
  auto r = Redactor::builtin();
  ASSERT_TRUE(r.ok());
  std::size_t lines = 0, changed = 0, bytes = 0, bytes_wrong = 0;
  for (const auto& f : logs_in("tests/logs/benign")) {
    const std::string in = slurp(f);
    const std::string out = (*r)->redact(in);
    std::istringstream a(in), b(out);
    std::string la, lb;
    while (std::getline(a, la)) {
      ASSERT_TRUE(static_cast<bool>(std::getline(b, lb)));
      ++lines;
      bytes += la.size() + 1;
      if (la != lb) {
        ++changed;
        bytes_wrong += la.size() > lb.size() ? la.size() - lb.size() : lb.size() - la.size();
        std::cout << "over-redacted: " << la << "\n  -> " << lb << "\n";  // bounded below
      }
    }
  }
  ASSERT_GE(lines, 1000u);
  RecordProperty("benign_lines", static_cast<int>(lines));
  RecordProperty("benign_lines_changed", static_cast<int>(changed));
  EXPECT_LE(changed * 1000, lines) << changed << " of " << lines << " lines changed";
  EXPECT_LE(bytes_wrong * 1000, bytes);
}

}  // namespace
}  // namespace dm::logs
