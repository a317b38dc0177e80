// The line-level entries (RedactStream::feed_line, Tail::push, DiagnoseStream::feed_line): a line
// a source already delivered goes through once, as a view — never joined with '\n' and split again
// — so '\r' and embedded '\n' stay in that one line, line numbers match the source's lines, and
// the level travels with the line.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "logs/pipeline.h"
#include "logs/redact.h"
#include "logs/tail.h"
#include "logs/test_rules.h"

namespace dm::logs {
namespace {

// Every call of feed_line's `out`, copied.
std::vector<std::string> redact_lines(RedactStream& s, const std::vector<std::string>& in) {
  std::vector<std::string> out;
  for (const auto& l : in) {
    std::size_t calls = 0;
    s.feed_line(l, [&](std::string_view v) {
      ++calls;
      out.emplace_back(v);
    });
    EXPECT_EQ(calls, 1u) << "feed_line calls out exactly once per line: " << l;
  }
  return out;
}

TEST(RedactFeedLine, OneOutputPerLineWithCarriageReturnsAndNewlinesKept) {
  RedactStream s(testing::builtin_redactor());
  auto out = redact_lines(s, {"progress 10%\rprogress 20%\r", "password=hunter2 user=bob",
                              "event head\ncontinued password=hunter2\r\nend", "", "x\r"});
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0], "progress 10%\rprogress 20%\r");
  EXPECT_EQ(out[1], "password=[REDACTED:password] user=bob");
  // An embedded newline stays inside the one line; the part after it is still redacted.
  EXPECT_EQ(out[2], "event head\ncontinued password=[REDACTED:password]\r\nend");
  EXPECT_EQ(out[3], "");
  EXPECT_EQ(out[4], "x\r");
}

TEST(RedactFeedLine, ALineWithoutAHitIsPassedThroughWithoutACopy) {
  RedactStream s(testing::builtin_redactor());
  const std::string line = "INFO - row batch 42 processed in 12 ms";
  const char* seen = nullptr;
  s.feed_line(line, [&](std::string_view v) { seen = v.data(); });
  EXPECT_EQ(seen, line.data());
}

TEST(RedactFeedLine, PemBlockStateCarriesAcrossLinesAsWithFeed) {
  auto r = testing::builtin_redactor();
  const std::vector<std::string> in = {"x", "-----BEGIN RSA PRIVATE KEY-----", "AAAA", "BBBB",
                                       "",  "-----END RSA PRIVATE KEY-----",   "y"};
  std::string joined;
  for (const auto& l : in) joined += l + "\n";
  RedactStream s(r);
  auto out = redact_lines(s, in);
  std::string rejoined;
  for (const auto& l : out) rejoined += l + "\n";
  EXPECT_EQ(rejoined, r->redact(joined));  // same as the byte path for lines without '\r'/'\n'
  EXPECT_EQ(out[4], "[REDACTED:private-key]");
}

TEST(TailPush, WholeLinesKeepCarriageReturnsNewlinesAndLevels) {
  Tail t({.max_lines = 3, .max_line_bytes = 64});
  t.push("one", "info");
  t.push("two\rstill two", "warning");
  t.push("three\nstill three", "error");
  t.push("four\r", "");
  auto l = t.lines();
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(t.total_lines(), 4u);
  EXPECT_EQ(t.total_bytes(), 4u + 14u + 18u + 6u);
  EXPECT_EQ(l[0].number, 2u);
  EXPECT_EQ(l[0].text, "two\rstill two");
  EXPECT_EQ(l[0].level, "warning");
  EXPECT_EQ(l[1].text, "three\nstill three");
  EXPECT_EQ(l[1].level, "error");
  EXPECT_EQ(l[2].number, 4u);
  EXPECT_EQ(l[2].text, "four\r");
  EXPECT_EQ(l[2].level, "");
}

TEST(TailPush, LongLinesAndLevelsAreCutAndTheRingIsBounded) {
  Tail t({.max_lines = 2, .max_line_bytes = 8});
  for (int i = 0; i < 10000; ++i) t.push(std::string(100, 'a'), std::string(100, 'L'));
  auto l = t.lines();
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[1].number, 10000u);
  EXPECT_EQ(l[1].text, "aaaaaaaa\xE2\x80\xA6[cut 92 bytes]");
  EXPECT_TRUE(l[1].cut);
  EXPECT_EQ(l[1].level.size(), 32u);
  EXPECT_TRUE(t.truncated());
}

TEST(TailPush, EndsAPendingPartialLineFromFeedFirst) {
  Tail t;
  t.feed("a\npartial");
  t.push("whole");
  auto l = t.lines();
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(l[1].text, "partial");
  EXPECT_EQ(l[2].text, "whole");
  EXPECT_EQ(l[2].number, 3u);
}

TEST(DiagnoseFeedLine, LinesAreNumberedAsTheSourceDeliveredThem) {
  const std::vector<std::pair<std::string, std::string>> lines = {
      {"2026-01-01T00:00:00Z [info] task: starting\rprogress", "info"},
      {"2026-01-01T00:00:01Z [info] task: a printed block\nwith two lines", "info"},
      {"2026-01-01T00:00:02Z [error] task: Task failed with exception", "error"},
      {"Traceback (most recent call last):", "error"},
      {"  File \"/opt/airflow/dags/sales.py\", line 52, in transform", "error"},
      {"KeyError: 'customer_id' password=hunter2", "error"},
  };
  auto s = DiagnoseStream::create(testing::builtin_diagnose_options());
  ASSERT_TRUE(s.ok());
  for (const auto& [t, lv] : lines) (*s)->feed_line(t, lv);
  Diagnosis d = (*s)->finish();
  EXPECT_EQ(d.tail.total_lines, lines.size());  // 6 lines in, 6 lines counted: no re-split
  ASSERT_TRUE(d.found);
  EXPECT_EQ(d.exception_type, "KeyError");
  EXPECT_EQ(d.error_line, 6u);
  EXPECT_EQ(d.error.find("hunter2"), std::string::npos) << d.error;
}

}  // namespace
}  // namespace dm::logs
