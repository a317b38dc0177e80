// Template mining: grouping, stability thanks to pre-masking, bounded clusters.
#include "logs/template.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace dm::logs {
namespace {

TEST(Template, GroupsLinesOfOneShape) {
  TemplateMiner m;
  auto a =
      m.add("[2026-01-14, 03:00:02 UTC] {taskinstance.py:2867} INFO - Starting attempt 1 of 3");
  auto b =
      m.add("[2026-01-15, 04:10:12 UTC] {taskinstance.py:2867} INFO - Starting attempt 2 of 3");
  auto c = m.add("[2026-01-14, 03:00:05 UTC] {logging_mixin.py:190} INFO - loaded 18234 rows");
  auto d = m.add("[2026-01-14, 03:00:06 UTC] {logging_mixin.py:190} INFO - loaded 9 rows");
  EXPECT_EQ(a, b);
  EXPECT_EQ(c, d);
  EXPECT_NE(a, c);
  EXPECT_EQ(m.template_of(a),
            "[<date>, <time> UTC] {taskinstance.py:<n>} INFO - Starting attempt <n> of <n>");
  EXPECT_EQ(m.template_of(c), "[<date>, <time> UTC] {logging_mixin.py:<n>} INFO - loaded <n> rows");
  EXPECT_EQ(m.lines(), 4u);
}

TEST(Template, DrainGeneralizesDifferingWords) {
  TemplateMiner m;
  auto a = m.add("user alice logged in from web");
  auto b = m.add("user bob logged in from web");
  auto c = m.add("user carol logged in from mobile");
  EXPECT_EQ(a, b);
  EXPECT_EQ(b, c);
  EXPECT_EQ(m.template_of(a), "user <*> logged in from <*>");
  // A different token count never joins.
  auto d = m.add("user dave logged out");
  EXPECT_NE(d, a);
}

TEST(Template, BelowSimilarityThresholdStartsANewCluster) {
  TemplateOptions o;
  o.similarity = 0.9;
  TemplateMiner m(o);
  auto a = m.add("alpha beta gamma delta epsilon");
  auto b = m.add("alpha beta zeta eta theta");
  EXPECT_NE(a, b);
}

TEST(Template, PremaskingKeepsTemplatesStableAcrossValues) {
  // Without pre-masking, the first differing id would be a literal in the template until a
  // second value shows up; with it, the first line already yields the final template.
  TemplateMiner m;
  auto id = m.add("request 123e4567-e89b-12d3-a456-426614174000 done in 35 ms");
  EXPECT_EQ(m.template_of(id), "request <uuid> done in <n> ms");
  TemplateOptions raw;
  raw.premask = false;
  TemplateMiner r(raw);
  auto rid = r.add("request 123e4567-e89b-12d3-a456-426614174000 done in 35 ms");
  EXPECT_EQ(r.template_of(rid), "request 123e4567-e89b-12d3-a456-426614174000 done in 35 ms");
}

TEST(Template, CountsAndOrderMostFrequentFirst) {
  TemplateMiner m;
  for (int k = 0; k < 5; ++k) m.add("heartbeat ok " + std::to_string(k));
  for (int k = 0; k < 2; ++k) m.add("disk usage at " + std::to_string(k) + "% of volume");
  m.add("");
  auto cl = m.clusters();
  ASSERT_EQ(cl.size(), 3u);
  EXPECT_EQ(cl[0].count, 5u);
  EXPECT_EQ(cl[0].text, "heartbeat ok <n>");
  EXPECT_EQ(cl[1].count, 2u);
  EXPECT_EQ(cl[2].count, 1u);
  EXPECT_EQ(cl[2].text, "");
}

TEST(Template, ClusterCapEvictsLeastRecentlyUsed) {
  TemplateOptions o;
  o.max_clusters = 3;
  TemplateMiner m(o);
  auto keep = m.add("keep me here");
  std::set<std::uint64_t> ids;
  const char* words[] = {"apple", "banana", "cherry", "damson", "elder", "fig", "grape"};
  for (const char* w : words) {
    ids.insert(m.add(std::string(w) + " only one"));  // different first token → new cluster
    m.add("keep me here");                            // keeps "keep" recently used
  }
  EXPECT_LE(m.clusters().size(), 3u);
  EXPECT_GT(m.evicted(), 0u);
  EXPECT_EQ(m.add("keep me here"), keep);
  EXPECT_EQ(ids.size(), 7u);  // ids are never reused
}

TEST(Template, LongLinesAreCut) {
  TemplateOptions o;
  o.max_line_bytes = 64;
  TemplateMiner m(o);
  auto a = m.add("prefix " + std::string(10000, 'a'));
  auto b = m.add("prefix " + std::string(20000, 'a'));
  EXPECT_EQ(a, b);
  EXPECT_LE(m.template_of(a).size(), 64u);
}

TEST(Template, GroundTruthGroupingOnMixedLog) {
  // Six generators interleaved; each must map to exactly one cluster.
  TemplateMiner m;
  std::map<int, std::set<std::uint64_t>> by_truth;
  for (int k = 0; k < 600; ++k) {
    int t = k % 6;
    std::string n = std::to_string(k * 7919 % 10007);
    std::string line;
    switch (t) {
      case 0:
        line = "INFO - Starting attempt " + n + " of 3";
        break;
      case 1:
        line = "INFO - reading s3://raw/orders/dt=2026-01-" + std::to_string(10 + k % 20) +
               "/part-" + n + ".parquet";
        break;
      case 2:
        line = "WARNING - slow query " + n + " ms on host ip-10-0-" + n + "-4";
        break;
      case 3:
        line = "ERROR - task x failed with exit code " + n;
        break;
      case 4:
        line = "DEBUG - cache hit key=user:" + n + " ttl=30s";
        break;
      default:
        line = "INFO - Done. Returned value was: None";
        break;
    }
    by_truth[t].insert(m.add(line));
  }
  std::set<std::uint64_t> all;
  for (auto& [t, ids] : by_truth) {
    EXPECT_EQ(ids.size(), 1u) << "truth " << t;
    all.insert(ids.begin(), ids.end());
  }
  EXPECT_EQ(all.size(), 6u);
}

// Lines from six shapes plus random words and numbers (a fixed seed).
std::vector<std::string> mixed_lines(std::size_t n) {
  std::mt19937 rng(7);
  const char* words[] = {"alpha", "beta", "gamma", "delta", "x1", "tmp_abcdefg", "a/b", "--"};
  std::vector<std::string> out;
  for (std::size_t k = 0; k < n; ++k) {
    std::string v = std::to_string(rng() % 100000);
    switch (rng() % 6) {
      case 0:
        out.push_back("[2026-01-14, 03:00:" + std::to_string(10 + rng() % 50) +
                      " UTC] {taskinstance.py:2867} INFO - Starting attempt " + v + " of 3");
        break;
      case 1:
        out.push_back("reading s3://raw/orders/dt=2026-01-1" + std::to_string(rng() % 10) +
                      "/part-" + v + ".parquet");
        break;
      case 2:
        out.push_back("run scheduled__2026-01-01T00:00:" + v + "+00:00 id " +
                      "123e4567-e89b-12d3-a456-42661417400" + std::to_string(rng() % 10));
        break;
      case 3: {
        std::string l = "user";
        for (unsigned w = 0; w < 2 + rng() % 4; ++w) l += std::string(" ") + words[rng() % 8];
        out.push_back(l);
        break;
      }
      case 4:
        out.push_back("ERROR - task " + std::string(words[rng() % 8]) + " failed with exit code " +
                      v);
        break;
      default:
        out.push_back("");
        break;
    }
  }
  return out;
}

TEST(Template, PreparedBatchesOnThreadsGiveTheSameResultAsLineByLine) {
  auto lines = mixed_lines(20000);
  TemplateMiner one;
  std::vector<std::uint64_t> want;
  for (const auto& l : lines) want.push_back(one.add(l));

  // As `logs templates --threads 2` does: blocks cut in two shares masked on two threads, then
  // mined in order; block sizes chosen so that shares and blocks fall mid-shape.
  TemplateMiner m;
  TemplateOptions o;
  MaskedBatch b0(o), b1(o);
  std::vector<std::uint64_t> got;
  for (std::size_t start = 0; start < lines.size(); start += 777) {
    std::size_t end = std::min(lines.size(), start + 777), mid = start + (end - start) / 2;
    std::thread t([&] {
      b1.clear();
      for (std::size_t k = mid; k < end; ++k) b1.add(lines[k]);
    });
    b0.clear();
    for (std::size_t k = start; k < mid; ++k) b0.add(lines[k]);
    t.join();
    for (std::size_t k = 0; k < b0.size(); ++k) got.push_back(m.add_prepared(b0, k));
    for (std::size_t k = 0; k < b1.size(); ++k) got.push_back(m.add_prepared(b1, k));
  }
  EXPECT_EQ(got, want);
  auto a = one.clusters(), c = m.clusters();
  ASSERT_EQ(a.size(), c.size());
  for (std::size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a[k].id, c[k].id);
    EXPECT_EQ(a[k].count, c[k].count);
    EXPECT_EQ(a[k].text, c[k].text);
  }
  EXPECT_GE(a.size(), 5u);
}

TEST(Template, BatchCutsAndMasksLikeAdd) {
  TemplateOptions o;
  o.max_line_bytes = 16;
  MaskedBatch b(o);
  b.add("id 1234 and some more words");
  b.add("");
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b.masked(0), "id <n> and some");  // cut at 16 bytes, then masked
  EXPECT_EQ(b.masked(1), "");
  EXPECT_EQ(b.hash(0), template_hash("id <n> and some"));
  o.premask = false;
  MaskedBatch raw(o);
  raw.add("id 1234 and some more words");
  EXPECT_EQ(raw.masked(0), "id 1234 and some");
  b.clear();
  EXPECT_EQ(b.size(), 0u);
}

TEST(Template, HashSpreadsDistinctLines) {
  std::set<std::uint64_t> seen;
  std::set<std::uint64_t> low_bits;
  for (int k = 0; k < 20000; ++k) {
    std::string s = "line " + std::to_string(k) + (k % 3 ? " tail words here" : "");
    seen.insert(template_hash(s));
    low_bits.insert(template_hash(s) & 0xffff);
  }
  EXPECT_EQ(seen.size(), 20000u);      // no collision among these
  EXPECT_GT(low_bits.size(), 14000u);  // the table index bits are spread (~15.6k expected)
  EXPECT_EQ(template_hash("abc"), template_hash(std::string("abc")));
  EXPECT_NE(template_hash(std::string("a\0", 2)), template_hash("a"));
}

TEST(Template, CacheOnlySpeedsUp) {
  // A cache too small to hold anything (cleared before every insert) and the default one give
  // the same clusters: the cache skips the tree for repeats, it does not decide.
  auto lines = mixed_lines(5000);
  TemplateOptions tiny;
  tiny.cache_bytes = 1;
  TemplateMiner a, b(tiny);
  for (const auto& l : lines) ASSERT_EQ(a.add(l), b.add(l)) << l;
  EXPECT_EQ(a.clusters().size(), b.clusters().size());
}

// Raw lines keep their record header (date, time, host, level, component): it is found per
// line and left out of routing and similarity, so header fields neither glue different events
// together nor split one event apart.
TEST(Template, RecordHeaderDoesNotGlueEvents) {
  TemplateMiner m;
  auto a =
      m.add("Dec 10 06:55:46 LabSZ sshd[24200]: Connection closed by 173.234.31.186 [preauth]");
  auto b = m.add("Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186");
  auto c =
      m.add("Dec 11 07:02:47 LabSZ sshd[24203]: Connection closed by 212.47.254.145 [preauth]");
  EXPECT_NE(a, b);
  EXPECT_EQ(a, c);
}

TEST(Template, RecordHeaderDoesNotSplitEvents) {
  TemplateMiner m;
  // Level, thread and logger differ; the message is one event.
  auto a = m.add(
      "2015-10-18 18:01:51,775 INFO [Socket Reader #1 for port 62260] "
      "org.apache.hadoop.ipc.Server: "
      "Starting Socket Reader #1 for port 62260");
  auto b = m.add(
      "2015-10-18 18:01:53,510 WARN [main] org.apache.hadoop.ipc.Client: Starting Socket Reader #1 "
      "for port 62270 now");
  auto c = m.add(
      "2015-10-18 18:01:53,510 WARN [main] org.apache.hadoop.ipc.Client: Stopping all "
      "readers of port 62270 now");
  EXPECT_NE(b, c);
  (void)a;
  // Syslog: host and program differ, the message is one event.
  auto d = m.add("Jun 14 15:16:02 combo sshd(pam_unix)[19937]: check pass; user unknown");
  auto e = m.add("Jun 15 12:12:34 node7 login(pam_unix)[23397]: check pass; user unknown");
  EXPECT_EQ(d, e);
}

TEST(Template, RecordHeaderOffKeepsOldRouting) {
  TemplateOptions o;
  o.record_header = false;
  TemplateMiner m(o);
  auto a =
      m.add("Dec 10 06:55:46 LabSZ sshd[24200]: Connection closed by 173.234.31.186 [preauth]");
  auto b = m.add("Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186");
  EXPECT_EQ(a, b);  // the header's 6 equal tokens out of 10 reach the 0.4 similarity
}

}  // namespace
}  // namespace dm::logs
