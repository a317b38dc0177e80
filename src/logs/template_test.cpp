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
            "[<date>, <time> UTC] {taskinstance.py:<n>} <level> - Starting attempt <n> of <n>");
  EXPECT_EQ(m.template_of(c),
            "[<date>, <time> UTC] {logging_mixin.py:<n>} <level> - loaded <n> rows");
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
  EXPECT_EQ(m.template_of(id), "request <uuid> done in <dur>");
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

// An IPv4 address looks like a masked timestamp ("<n>.<n>.<n>.<n>:<n>") but is a place: a message
// may begin with one (Proxifier) and must then not be taken for a header, which would split the
// event from the same message beginning with a host name.
TEST(Template, AnAddressBeginningAMessageIsNoHeader) {
  TemplateMiner m;
  auto a = m.add("203.205.151.204:80 close, 357 bytes sent, 484 bytes received");
  auto b = m.add("proxy.example.org:5070 close, 403 bytes sent, 426 bytes received");
  EXPECT_EQ(a, b);
}

// A leading count is part of the message, not a header: a header of one bare number would leave
// "floating point alignment exceptions" to meet "floating point instr. enabled.....1".
TEST(Template, ALeadingCountIsNoHeader) {
  TemplateMiner m;
  EXPECT_NE(m.add("15 floating point alignment exceptions"),
            m.add("floating point instr. enabled.....1"));
  // An epoch before more header tokens still is one.
  EXPECT_EQ(m.add("1131566461 2005.11.09 node-1 kernel: link up on eth0"),
            m.add("1131566462 2005.11.09 node-7 kernel: link up on eth0"));
}

// Drain's 0.4 similarity lets a two-word message lose half of its words ("startAnimation begin"
// and "startAnimation end" -> "startAnimation <*>"). A message is not generalised down to fewer
// than two words; values are not words: a key's value, a quoted token, a dotted or path name.
TEST(Template, FewWordMessagesKeepTheirWords) {
  TemplateMiner m;
  EXPECT_NE(m.add("startAnimation begin"), m.add("startAnimation end"));
  EXPECT_NE(m.add("HBM brightnessIn =38"), m.add("HBM brightnessOut =38"));
  EXPECT_EQ(m.add("KeyError: 'amount'"), m.add("KeyError: 'order_id'"));
  EXPECT_EQ(m.add("Started nginx.service"), m.add("Started postgres.service"));
  EXPECT_EQ(m.add("Reading /var/lib/a"), m.add("Reading /srv/b"));
  EXPECT_EQ(m.add("release tag=ViewLock"), m.add("release tag=RILJ"));
  EXPECT_EQ(m.add("updateDimmed overlap:true"), m.add("updateDimmed overlap:false"));
  // Longer messages one word apart still meet: Drain's threshold decides.
  EXPECT_EQ(m.add("user alice logged in from the console"),
            m.add("user bob logged in from the console"));
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

// One field, one token (TemplateOptions::field_tokens): each shape a value of one field can take
// masks to one token. Checked on the template: with field_tokens off the two lines of each
// pair still meet, but the field then shows as "<*>" (two shapes), which these tests refuse.
std::string template_after(std::initializer_list<const char*> lines, bool field_tokens = true) {
  TemplateOptions o;
  o.field_tokens = field_tokens;
  TemplateMiner m(o);
  std::uint64_t id = 0, first = 0;
  for (const char* l : lines) {
    id = m.add(l);
    if (first == 0) first = id;
    if (id != first) return "<split>";
  }
  return std::string(m.template_of(id));
}

TEST(TemplateFields, SignedNumbersAreOneField) {
  EXPECT_EQ(template_after({"offset set to 12 for reader a", "offset set to -1 for reader a"}),
            "offset set to <n> for reader a");
  EXPECT_EQ(
      template_after({"offset set to 12 for reader a", "offset set to -1 for reader a"}, false),
      "offset set to <*> for reader a");
}

TEST(TemplateFields, HexCountersAreOneField) {
  // The masker gives "<n>", "<n>d" and "<id>" for 1234, 12d and 1f3c.
  EXPECT_EQ(template_after({"seq 1234 acked by peer", "seq 12d acked by peer",
                            "seq 1f3c acked by peer", "seq 0x1f acked by peer"}),
            "seq <n> acked by peer");
}

TEST(TemplateFields, DurationsAndDecimalsAreOneField) {
  EXPECT_EQ(template_after({"query done in 12ms rows 5", "query done in 1.5s rows 5",
                            "query done in 3m20s rows 5", "query done in 2 rows 5"}),
            "query done in <n> rows <n>");
  EXPECT_EQ(template_after({"query done in 12ms rows 5", "query done in 1.5s rows 5"}, false),
            "query done in <*> rows <n>");
}

TEST(TemplateFields, CompactDateTimesAreOneField) {
  EXPECT_EQ(template_after({"job started at 20171223-22:15:29:606 ok",
                            "job started at 20171224-0:0:12:73 ok",
                            "job started at 2017-12-24T00:00:12 ok"}),
            "job started at <ts> ok");
}

TEST(TemplateFields, HostPortIsOneField) {
  EXPECT_EQ(template_after({"open through proxy proxy.example.org:5070 HTTPS",
                            "open through proxy www.example.com:443 HTTPS",
                            "open through proxy 10.0.0.1:80 HTTPS"}),
            "open through proxy <host>:<n> HTTPS");
  // A key before a port is no host: "port:<n>" keeps its word.
  EXPECT_EQ(template_after({"listening on port:8080 now"}), "listening on port:<n> now");
  EXPECT_EQ(template_after({"open through proxy proxy.example.org:5070 HTTPS",
                            "open through proxy www.example.com:443 HTTPS"},
                           false),
            "open through proxy <*> HTTPS");
}

// A measured value is one field: its unit changes with the magnitude, and some loggers add a
// restatement only past some size ("(18.4 KB)" after 1 KB); neither splits the event.
TEST(TemplateFields, MeasuredValuesAreOneField) {
  EXPECT_EQ(template_after({"conn close, 0 bytes sent, 426 bytes received, lifetime 00:01",
                            "conn close, 451 bytes sent, 18846 bytes (18.4 KB) received, "
                            "lifetime <1 sec",
                            "conn close, 1190 bytes (1.16 KB) sent, 1671 bytes (1.63 KB) "
                            "received, lifetime 00:02"}),
            "conn close, <size> sent, <size> received, lifetime <*>");
  EXPECT_EQ(template_after({"stored block in memory (estimated size 5.2 KB, free 413.9 MB)",
                            "stored block in memory (estimated size 384.0 B, free 2.1 GB)"}),
            "stored block in memory (estimated size <size>, free <size>)");
  EXPECT_EQ(
      template_after({"took 12 ms to spawn the instance", "took 3 sec to spawn the instance"}),
      "took <dur> to spawn the instance");
  // A word after a number that is no unit stays a word.
  EXPECT_EQ(template_after({"copied 12 files to the bucket", "copied 3 files to the bucket"}),
            "copied <n> files to the bucket");
  EXPECT_EQ(template_after({"copied 12 files to the bucket", "copied 3 rows to the bucket"}),
            "copied <n> <*> to the bucket");
}

// A list of values (hosts, nodes, blocks) is one field whatever its length: three items or more
// of one shape. Keys are words, not items; two or three words with numbers stay themselves.
TEST(TemplateFields, ListsOfValuesAreOneField) {
  EXPECT_EQ(template_after({"failed to resolve data source name an270 an271 an272 an273",
                            "failed to resolve data source name bn14 bn15 bn16 bn17 bn18 bn19",
                            "failed to resolve data source name bn99 dadmin2 dadmin3 dadmin4"}),
            "failed to resolve data source name <list>");
  EXPECT_EQ(template_after({"ask 10.0.0.1:50010 to replicate to 10.0.0.2:50010 10.0.0.3:50010 "
                            "10.0.0.4:50010",
                            "ask 10.0.0.1:50010 to replicate to 10.0.0.5:50010, 10.0.0.6:50010, "
                            "10.0.0.7:50010, 10.0.0.8:50010"}),
            "ask <host>:<n> to replicate to <list>");
  EXPECT_EQ(template_after({"flags a=1 b=2 c=3 set"}), "flags a=<n> b=<n> c=<n> set");
  EXPECT_EQ(template_after({"sizes uid:1 gid:2 pid:3 set"}), "sizes uid:<n> gid:<n> pid:<n> set");
  EXPECT_EQ(template_after({"moved from node1 to node2 now"}), "moved from node1 to node2 now");
}

TEST(TemplateFields, QuotedValueIsOneToken) {
  // tag="View Lock" and tag="X" are one field: same token count, one cluster.
  EXPECT_EQ(template_after({"acquire lock=1, tag=\"View Lock\", uid=10037",
                            "acquire lock=2, tag=\"RILJ\", uid=1001"}),
            "acquire lock=<n>, <*> uid=<n>");
  EXPECT_EQ(template_after({"acquire lock=1, tag=\"View Lock\", uid=10037",
                            "acquire lock=2, tag=\"RILJ\", uid=1001"},
                           false),
            "<split>");
  // A quoted string that is not a key's value (a request line) is split as usual, so the verb
  // stays a word of its own.
  EXPECT_EQ(template_after({"10.0.0.1 \"GET /a HTTP/1.1\" status: 200",
                            "10.0.0.1 \"POST /a HTTP/1.1\" status: 200"}),
            "<split>");
}

TEST(TemplateFields, LevelIsAFieldOfTheHeader) {
  TemplateMiner m;
  auto a = m.add("2015-10-18 18:01:51,775 INFO [main] org.a.B: Stopping reader 5");
  auto b = m.add("2015-10-18 18:01:52,775 WARN [main] org.a.B: Stopping reader 7");
  EXPECT_EQ(a, b);
  EXPECT_EQ(m.template_of(a), "<ts> <level> [main] org.a.B: Stopping reader <n>");
}

// Weighting: a token holding a placeholder weighs masked_weight in the similarity, a word 1.
TEST(TemplateWeights, SharedFieldsCountLessThanWords) {
  // 2 words of 7 and both fields equal: Drain's count (weight 1) gives 4/9 = 0.44 >= 0.4 and
  // joins two different events; with fields at 0.5 it is 3/8 = 0.375: two clusters.
  const char* l1 = "job 15 at 7 opened read write all files";
  const char* l2 = "job 16 at 8 closed sent buffers to peers";
  TemplateOptions drain;
  drain.masked_weight = 1.0;
  TemplateMiner a(drain), b;
  EXPECT_LT(TemplateOptions{}.masked_weight, 1.0);
  EXPECT_EQ(a.add(l1), a.add(l2));
  EXPECT_NE(b.add(l1), b.add(l2));
  // Lines of one event still meet: the words agree, the fields differ.
  EXPECT_EQ(b.add("job 17 at 9 opened read write all files"), b.add(l1));
}

// Routing skips fields: lines whose first token is a field are routed by their first words.
TEST(TemplateRoutes, FirstWordsRouteNotFields) {
  // After the record header the message starts with a field (the client's address); routed by
  // that token, GET and POST requests share a leaf and join (6 of 10 tokens equal).
  const char* get =
      "2017-05-16 00:00:00.008 25746 INFO nova.api [req-1 - -] 10.0.0.1 \"GET "
      "/v2/x/servers HTTP/1.1\" status: 200 len: 1893 time: 0.24";
  const char* post =
      "2017-05-16 00:00:04.008 25746 INFO nova.api [req-2 - -] 10.0.0.1 \"POST "
      "/v2/y/events HTTP/1.1\" status: 200 len: 380 time: 0.09";
  const char* get2 =
      "2017-05-16 00:00:05.008 25746 INFO nova.api [req-3 - -] 10.0.0.9 \"GET "
      "/v2/z/servers HTTP/1.1\" status: 200 len: 12 time: 0.1";
  TemplateMiner m;
  auto a = m.add(get), b = m.add(post), c = m.add(get2);
  EXPECT_NE(a, b);
  EXPECT_EQ(a, c);
  TemplateOptions off;
  off.field_tokens = false;
  TemplateMiner d(off);
  EXPECT_EQ(d.add(get), d.add(post));
  // "key=value" routes by its key: tag="A" and tag="B" share a leaf.
  TemplateMiner e;
  EXPECT_EQ(e.add("tag=\"A\", lock=1, uid=10037 released"),
            e.add("tag=\"B\", lock=2, uid=1001 released"));
}

// Header columns given in words, then masked fields, then the message.
TEST(Template, RecordHeaderEndsAfterFieldsThatFollowWordColumns) {
  TemplateMiner m;
  auto a = m.add("2568643 node-70 action start 1074119817 1 clusterAddMember  (command 1902)");
  auto b = m.add("2575909 node-162 action start 1074178193 1 boot  (command 1911)");
  auto c = m.add("2576195 node-181 action start 1074178628 1 boot  (command 1910)");
  EXPECT_NE(a, b);
  EXPECT_EQ(b, c);
}

}  // namespace
}  // namespace dm::logs
