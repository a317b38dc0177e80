// Template mining: grouping, stability thanks to pre-masking, bounded clusters.
#include "logs/template.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

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

}  // namespace
}  // namespace dm::logs
