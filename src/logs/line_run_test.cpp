// Line runs (line_run.h): LineRunScope / LineRunBatcher, and RedactStream::feed_line inside a run
// against the per-line path — the same output for every line, on the planted-secret corpus and on
// seeded random logs (secrets, PEM blocks, '\r', embedded '\n', empty and over-long lines), with
// rule sets where a line's hits depend on its neighbours.
#include "logs/line_run.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "logs/pipeline.h"
#include "logs/redact.h"
#include "logs/test_corpus.h"
#include "logs/test_rules.h"

namespace dm::logs {
namespace {

namespace fs = std::filesystem;
using Lines = std::vector<std::pair<std::string, std::string>>;  // (text, level)

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream in(s);
  std::string l;
  while (std::getline(in, l)) v.push_back(l);
  return v;
}

// feed_line's output for each line, without a run.
std::vector<std::string> per_line(const std::shared_ptr<const Redactor>& r, const Lines& in) {
  RedactStream s(r);
  std::vector<std::string> out;
  for (const auto& [t, lv] : in) s.feed_line(t, [&](std::string_view v) { out.emplace_back(v); });
  EXPECT_EQ(s.lines_scanned_alone(), in.size());
  return out;
}

// The same lines through a LineRunBatcher of `run_bytes` into feed_line; `alone` receives how
// many took the per-line path. Levels must arrive with their lines.
std::vector<std::string> in_runs(const std::shared_ptr<const Redactor>& r, const Lines& in,
                                 std::size_t run_bytes, std::uint64_t* alone = nullptr) {
  RedactStream s(r);
  std::vector<std::string> out;
  std::size_t i = 0;
  LineRunBatcher b(
      [&](std::string_view t, std::string_view lv) {
        EXPECT_LT(i, in.size());
        if (i < in.size()) {
          EXPECT_EQ(t, in[i].first);
          EXPECT_EQ(lv, in[i].second);
        }
        ++i;
        s.feed_line(t, [&](std::string_view v) { out.emplace_back(v); });
      },
      run_bytes);
  for (const auto& [t, lv] : in) b.push(t, lv);
  b.flush();
  EXPECT_EQ(i, in.size());
  if (alone != nullptr) *alone = s.lines_scanned_alone();
  return out;
}

void expect_same(const std::shared_ptr<const Redactor>& r, const Lines& in,
                 const std::string& what) {
  const auto want = per_line(r, in);
  for (std::size_t run_bytes : {64u, 1024u, 16384u, 1u << 20}) {
    const auto got = in_runs(r, in, run_bytes);
    ASSERT_EQ(got.size(), want.size()) << what;
    for (std::size_t i = 0; i < want.size(); ++i)
      ASSERT_EQ(got[i], want[i]) << what << ", run of " << run_bytes << " bytes, line " << i << ": "
                                 << in[i].first;
  }
}

TEST(LineRunScope, NestsAndRestoresAndGivesEachScopeItsOwnId) {
  EXPECT_TRUE(LineRunScope::current().text.empty());
  const std::string a = "one\ntwo\n", b = "three\n";
  std::uint64_t id_a = 0;
  {
    LineRunScope sa(a);
    EXPECT_EQ(LineRunScope::current().text.data(), a.data());
    id_a = LineRunScope::current().id;
    {
      LineRunScope sb(b);
      EXPECT_EQ(LineRunScope::current().text, b);
      EXPECT_NE(LineRunScope::current().id, id_a);
    }
    EXPECT_EQ(LineRunScope::current().id, id_a);
  }
  EXPECT_TRUE(LineRunScope::current().text.empty());
  LineRunScope again(a);  // the same buffer again: a new run
  EXPECT_NE(LineRunScope::current().id, id_a);
}

TEST(LineRunBatcher, HandsLinesOnInOrderInsideARunAndLongOnesOutside) {
  std::vector<std::string> seen;
  std::vector<bool> in_run;
  LineRunBatcher b(
      [&](std::string_view t, std::string_view lv) {
        seen.push_back(std::string(lv) + "|" + std::string(t));
        const LineRun run = LineRunScope::current();
        const bool inside = !run.text.empty() && t.data() >= run.text.data() &&
                            t.data() + t.size() < run.text.data() + run.text.size() &&
                            t.data()[t.size()] == '\n';
        in_run.push_back(inside);
      },
      32);
  b.push("a", "info");
  b.push("", "info");
  b.push("b\rc\nd", "error");
  b.push(std::string(40, 'L'), "");  // longer than the run: on its own, after the others
  b.push("e", "");
  EXPECT_EQ(seen.size(), 4u);  // "e" waits for flush()
  b.flush();
  EXPECT_EQ(seen, (std::vector<std::string>{"info|a", "info|", "error|b\rc\nd",
                                            "|" + std::string(40, 'L'), "|e"}));
  EXPECT_EQ(in_run, (std::vector<bool>{true, true, true, false, true}));
  b.flush();  // nothing left
  EXPECT_EQ(seen.size(), 5u);
}

TEST(RedactInRuns, CorpusLinesGiveTheSameOutputAndNoPlantedSecretSurvives) {
  auto r = testing::builtin_redactor();
  std::size_t files = 0;
  for (const auto& f : logs_in("tests/logs/secrets")) {
    Lines in;
    for (auto& l : split_lines(slurp(f))) in.emplace_back(std::move(l), "info");
    expect_same(r, in, f.string());
    std::uint64_t alone = 0;
    std::string joined;
    for (const auto& l : in_runs(r, in, LineRunBatcher::kDefaultRunBytes, &alone))
      joined += l + "\n";
    std::ifstream tsv(fs::path(f).replace_extension(".secrets.tsv"));
    std::string row;
    while (std::getline(tsv, row)) {
      if (row.empty() || row[0] == '#' || row.find('\t') == std::string::npos) continue;
      const std::string secret = row.substr(row.find('\t') + 1);
      EXPECT_EQ(joined.find(secret), std::string::npos) << f << ": survived " << secret;
    }
    EXPECT_LE(alone, in.size());
    ++files;
  }
  EXPECT_GE(files, 5u);
}

TEST(RedactInRuns, LinesWithoutACandidateSkipTheirOwnScan) {
  auto r = testing::builtin_redactor();
  Lines in;
  for (int i = 0; i < 1000; ++i)
    in.emplace_back(
        "2026-12-06T10:00:00Z [info] task.stdout: replayed batch " + std::to_string(i) + " ok",
        "info");
  in[500].first += " password=hunter2";
  std::uint64_t alone = 0;
  auto out = in_runs(r, in, LineRunBatcher::kDefaultRunBytes, &alone);
  EXPECT_EQ(out[500], in[500].first.substr(0, in[500].first.size() - 7) + "[REDACTED:password]");
  EXPECT_LE(alone, 5u);  // the line with the secret (and nothing else of note) alone
  EXPECT_GE(alone, 1u);
}

// Seeded random logs: corpus and benign lines, shuffled, with PEM blocks kept in order, '\r',
// embedded '\n', empty lines, lines longer than a run and longer than the 1 MiB segment cap.
class Gen {
 public:
  explicit Gen(std::uint32_t seed) : rng_(seed) {
    for (const auto& f : logs_in("tests/logs/secrets")) add(f);
    for (const auto& f : logs_in("tests/logs/benign")) add(f);
  }
  Lines log(std::size_t n) {
    Lines out;
    static const char* kLevels[] = {"info", "error", "", "warning"};
    while (out.size() < n) {
      std::string t;
      int k = pick(40);
      if (k == 0) {  // a PEM block in order
        std::size_t at = pem_start_ + static_cast<std::size_t>(pick(3));
        for (std::size_t i = 0; i < 6 && at + i < pool_.size(); ++i)
          out.emplace_back(pool_[at + i], "info");
        continue;
      }
      t = pool_[static_cast<std::size_t>(pick(static_cast<int>(pool_.size())))];
      if (k == 1) t += "\r";
      if (k == 2) t += "\n" + pool_[static_cast<std::size_t>(pick(static_cast<int>(pool_.size())))];
      if (k == 3) t.clear();
      if (k == 4)
        t = std::string(static_cast<std::size_t>(pick(40000)), 'q') + " password=abc " + t;
      if (k == 5 && pick(50) == 0) t = std::string((1u << 20) + 100, 'z') + " token=abcdefgh1234";
      if (k == 6) t = "secret";  // the next line may continue a cross-line match
      if (k == 7) t = "-----BEGIN RSA PRIVATE KEY-----";  // an unterminated block
      out.emplace_back(std::move(t), kLevels[pick(4)]);
    }
    return out;
  }

 private:
  void add(const fs::path& f) {
    auto lines = split_lines(slurp(f));
    for (std::size_t i = 0; i < lines.size(); ++i)
      if (lines[i].find("-----BEGIN") != std::string::npos && pem_start_ == 0)
        pem_start_ = pool_.size() + i;
    pool_.insert(pool_.end(), lines.begin(), lines.end());
  }
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  std::mt19937 rng_;
  std::vector<std::string> pool_;
  std::size_t pem_start_ = 0;
};

TEST(RedactInRuns, SeededRandomLogsGiveTheSameOutputAsThePerLinePath) {
  auto r = testing::builtin_redactor();
  Gen g(20261207);
  for (int round = 0; round < 12; ++round) {
    const Lines in = g.log(600);
    expect_same(r, in, "round " + std::to_string(round));
  }
}

TEST(RedactInRuns, RulesWhoseHitsDependOnNeighbouringLinesStillGiveTheSameOutput) {
  // \A / \z anchor to the scanned data: a run is not used at all with such a rule set. A pattern
  // that can run over a newline ("secret\s+") hits across lines in a run: the line it ends in
  // takes the per-line path.
  for (const char* yaml : {R"(version: 1
rules:
  - id: start-anchored
    type: token
    pattern: '\Atoken=(\w+)'
    secret_group: 1
)",
                           R"(version: 1
rules:
  - id: spans-lines
    type: token
    pattern: 'secret\s+(\w+)'
    secret_group: 1
  - id: end-anchored
    type: token
    pattern: 'key=(\w+)\z'
    secret_group: 1
)",
                           R"(version: 1
rules:
  - id: spans-lines
    type: token
    pattern: 'secret\s+(\w+)'
    secret_group: 1
)"}) {
    auto r = Redactor::from_yaml(yaml);
    ASSERT_TRUE(r.ok()) << r.error().message;
    const Lines in = {
        {"token=abc", ""},    {"x token=abc", ""}, {"secret", ""},           {"sauce", ""},
        {"secret  word", ""}, {"key=abc", ""},     {"key=abc and more", ""}, {"", ""},
        {"token=zzz", ""}};
    expect_same(*r, in, yaml);
    std::uint64_t alone = 0;
    in_runs(*r, in, 4096, &alone);
    if (std::string(yaml).find("\\A") != std::string::npos ||
        std::string(yaml).find("\\z") != std::string::npos)
      EXPECT_EQ(alone, in.size()) << "a run must not be used with start/end anchors";
    else
      EXPECT_LT(alone, in.size());
  }
}

TEST(RedactInRuns, ViewsThatAreNotWholeRunLinesTakeThePerLinePath) {
  auto r = testing::builtin_redactor();
  const std::string run = "abc password=hunter2 def\nplain line\n";
  RedactStream s(r);
  LineRunScope scope(run);
  std::vector<std::string> out;
  auto keep = [&](std::string_view v) { out.emplace_back(v); };
  s.feed_line(std::string_view(run).substr(4, 16), keep);   // inside a line: not newline-bounded
  s.feed_line(std::string_view(run).substr(25, 10), keep);  // a whole line
  s.feed_line("outside password=hunter2", keep);            // not in the run
  EXPECT_EQ(out, (std::vector<std::string>{"password=[REDACTED:password]", "plain line",
                                           "outside password=[REDACTED:password]"}));
  EXPECT_EQ(s.lines_scanned_alone(), 2u);
}

TEST(DiagnoseInRuns, SameDiagnosisWithAndWithoutRuns) {
  Gen g(99);
  Lines in = g.log(3000);
  in.emplace_back("2026-01-01T00:00:02Z [error] task: Task failed with exception", "error");
  in.emplace_back("Traceback (most recent call last):", "error");
  in.emplace_back("  File \"/opt/airflow/dags/sales.py\", line 52, in transform", "error");
  in.emplace_back("KeyError: 'customer_id' password=hunter2", "error");
  auto direct = DiagnoseStream::create(testing::builtin_diagnose_options());
  auto batched = DiagnoseStream::create(testing::builtin_diagnose_options());
  ASSERT_TRUE(direct.ok() && batched.ok());
  for (const auto& [t, lv] : in) (*direct)->feed_line(t, lv);
  LineRunBatcher b([&](std::string_view t, std::string_view lv) { (*batched)->feed_line(t, lv); });
  for (const auto& [t, lv] : in) b.push(t, lv);
  b.flush();
  const auto want = to_json((*direct)->finish()).dump();
  EXPECT_EQ(to_json((*batched)->finish()).dump(), want);
  EXPECT_NE(want.find("KeyError"), std::string::npos);
}

}  // namespace
}  // namespace dm::logs
