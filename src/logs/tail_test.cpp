#include "logs/tail.h"

#include <gtest/gtest.h>

namespace dm::logs {
namespace {

std::string lines_of(int n, int from = 1) {
  std::string s;
  for (int i = from; i < from + n; ++i) s += "line " + std::to_string(i) + "\n";
  return s;
}

TEST(Tail, KeepsLastLinesWithNumbers) {
  Tail t({.max_lines = 3});
  t.feed(lines_of(10));
  t.finish();
  auto l = t.lines();
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(l[0].number, 8u);
  EXPECT_EQ(l[0].text, "line 8");
  EXPECT_EQ(l[2].number, 10u);
  EXPECT_EQ(t.total_lines(), 10u);
  EXPECT_EQ(t.total_bytes(), lines_of(10).size());
  EXPECT_TRUE(t.truncated());
  EXPECT_EQ(t.text(), "\xE2\x80\xA6[7 earlier lines omitted]\nline 8\nline 9\nline 10");
}

TEST(Tail, AnyChunkingGivesTheSameTail) {
  const std::string in = lines_of(50) + "last without newline";
  Tail whole({.max_lines = 5, .max_line_bytes = 8});
  whole.feed(in);
  whole.finish();
  for (std::size_t step : {1u, 2u, 7u, 64u}) {
    Tail t({.max_lines = 5, .max_line_bytes = 8});
    for (std::size_t i = 0; i < in.size(); i += step) t.feed(std::string_view(in).substr(i, step));
    t.finish();
    EXPECT_EQ(t.text(), whole.text()) << step;
    EXPECT_EQ(t.total_lines(), 51u);
  }
  EXPECT_EQ(whole.lines().back().text, "last wit\xE2\x80\xA6[cut 12 bytes]");
  EXPECT_TRUE(whole.lines().back().cut);
}

TEST(Tail, NoTruncationWhenSmall) {
  Tail t;
  t.feed("a\r\nb\n");
  t.finish();
  EXPECT_FALSE(t.truncated());
  EXPECT_EQ(t.text(), "a\nb");
  EXPECT_EQ(t.total_lines(), 2u);
}

TEST(Tail, EmptyInputAndEmptyLines) {
  Tail t;
  t.finish();
  EXPECT_EQ(t.total_lines(), 0u);
  EXPECT_EQ(t.text(), "");
  Tail u;
  u.feed("\n\n");
  u.finish();
  EXPECT_EQ(u.total_lines(), 2u);
  EXPECT_EQ(u.text(), "\n");
}

TEST(Tail, HardMaxClampsMaxLines) {
  Tail t({.max_lines = 100, .hard_max_lines = 4, .max_bytes = 1 << 20});
  t.feed(lines_of(20));
  EXPECT_EQ(t.lines().size(), 4u);
  EXPECT_EQ(t.options().max_lines, 4u);
}

TEST(Tail, ByteCapDropsOldestLinesFirst) {
  Tail t({.max_lines = 100, .max_bytes = 40});
  t.feed(lines_of(20));
  t.finish();
  const std::string s = t.text();
  EXPECT_LE(s.size(), 40u);
  EXPECT_NE(s.find("line 20"), std::string::npos);
  EXPECT_EQ(s.find("line 1\n"), std::string::npos);
  EXPECT_EQ(s.rfind("\xE2\x80\xA6[", 0), 0u) << s;
}

TEST(Tail, HugeSingleLineUsesFlatMemoryAndIsCut) {
  Tail t({.max_lines = 2, .max_bytes = 64, .max_line_bytes = 16});
  const std::string block(1 << 16, 'x');
  for (int i = 0; i < 512; ++i) t.feed(block);  // 32 MiB without a newline
  t.feed("\nshort\n");
  auto l = t.lines();
  ASSERT_EQ(l.size(), 2u);
  EXPECT_TRUE(l[0].cut);
  EXPECT_EQ(l[0].text, std::string(16, 'x') + "\xE2\x80\xA6[cut " +
                           std::to_string((1u << 16) * 512 - 16) + " bytes]");
  EXPECT_EQ(l[1].text, "short");
  EXPECT_LE(t.text().size(), 64u);
}

TEST(Tail, NewestLineLongerThanByteCapIsCutToFit) {
  Tail t({.max_lines = 10, .max_bytes = 60, .max_line_bytes = 1000});
  t.feed("old\n" + std::string(500, 'y') + "\n");
  t.finish();
  const std::string s = t.text();
  EXPECT_LE(s.size(), 60u);
  EXPECT_NE(s.find("yyyyyyyyyy"), std::string::npos) << s;
  EXPECT_NE(s.find("[cut "), std::string::npos);
}

TEST(Tail, Utf8IsNeverSplit) {
  EXPECT_EQ(utf8_prefix("h\xC3\xA9llo", 2), "h");
  EXPECT_EQ(utf8_prefix("h\xC3\xA9llo", 3), "h\xC3\xA9");
  EXPECT_EQ(utf8_prefix("\xE2\x82\xAC\xE2\x82\xAC", 4), "\xE2\x82\xAC");
  Tail t({.max_line_bytes = 2});
  t.feed("\xC3\xA9\xC3\xA9\n");
  EXPECT_EQ(t.lines()[0].text, "\xC3\xA9\xE2\x80\xA6[cut 2 bytes]");
}

TEST(Tail, ZeroMaxLinesKeepsCountsOnly) {
  Tail t({.max_lines = 0});
  t.feed(lines_of(5));
  EXPECT_TRUE(t.lines().empty());
  EXPECT_EQ(t.total_lines(), 5u);
  EXPECT_TRUE(t.truncated());
  EXPECT_EQ(t.text(), "\xE2\x80\xA6[5 earlier lines omitted]");
}

}  // namespace
}  // namespace dm::logs
