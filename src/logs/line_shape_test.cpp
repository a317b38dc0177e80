// The shape memo (line_shape.h) is exact: skeletons on every code path, digit-substitution
// invariance of the lines the memo stores (the masker's digit_values flag), memo on/off identical
// per line (random lines, corpus lines, bench-like lines), the memory cap, hash collisions.
#include "logs/line_shape.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "dm_test_paths.h"
#include "logs/mask_test_lines.h"
#include "logs/signature_mask.h"
#include "logs/template.h"

namespace dm::logs {
namespace {

using testing::mask_test_pieces;
using testing::random_mask_test_line;

std::string mask(std::string_view in, MaskDigitUse* use = nullptr) {
  std::vector<char> buf(mask_bound(in.size()));
  MaskDigitUse u;
  std::string r(buf.data(), mask_variables_into(in, MaskMode::templates, buf.data(), u));
  if (use) *use = u;
  return r;
}

// Is position p inside one of use's pinned ranges?
bool pinned(const MaskDigitUse& use, std::size_t p) {
  for (int k = 0; k < use.ranges; ++k) {
    if (p >= use.off[k] && p < std::size_t(use.off[k]) + use.len[k]) return true;
  }
  return false;
}

// Lines shaped like bench/templates/gen.py's (Airflow, Spark, Celery), digits and ids random.
std::vector<std::string> bench_like(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  auto num = [&](unsigned hi) { return std::to_string(rng() % hi); };
  auto hex = [&](int k) {
    std::string s;
    for (int q = 0; q < k; ++q) s.push_back("0123456789abcdef"[rng() % 16]);
    return s;
  };
  auto ts = [&] {
    return "2026-" + std::to_string(10 + rng() % 3) + "-" + std::to_string(10 + rng() % 18) +
           ", 0" + num(10) + ":1" + num(10) + ":2" + num(10) + " UTC";
  };
  std::vector<std::string> out;
  for (std::size_t k = 0; k < n; ++k) {
    switch (rng() % 6) {
      case 0:
        out.push_back("[" + ts() + "] {taskinstance.py:" + num(3400) +
                      "} INFO - Starting attempt " + num(4) + " of 3");
        break;
      case 1:
        out.push_back("[" + ts() + "] {logging_mixin.py:" + num(3400) + "} INFO - loaded " +
                      num(10000000) + " rows in " + num(100) + "." + num(100) + " s");
        break;
      case 2:
        out.push_back("26/11/" + num(28) + " 11:50:20 INFO BlockManagerInfo: Added broadcast_" +
                      num(999) + "_piece0 in memory on ip-10-" + num(256) + "-" + num(256) + "-" +
                      num(256) + ".ec2.internal:" + num(60000) + " (size: 72.6 KiB)");
        break;
      case 3:
        out.push_back("2026-03-02T21:21:08.034292+00:00 worker-" + num(16) +
                      " celery.app.trace INFO Task execute_command[" + hex(8) + "-" + hex(4) + "-" +
                      hex(4) + "-" + hex(4) + "-" + hex(12) + "] succeeded in " + num(999) +
                      ".22s: None");
        break;
      case 4:
        out.push_back("[" + ts() + "] {sql.py:" + num(500) + "} ERROR - (1146, \"Table 'x.t" +
                      num(9) + "' doesn't exist\") (42S0" + num(10) + ") int" + num(100));
        break;
      default:
        out.push_back("User Ada Lovelace triggered run " + num(100000) + " on /tmp/tmpab" +
                      num(10) + "cd34/x");
        break;
    }
  }
  return out;
}

std::vector<std::string> corpus_lines() {
  std::vector<std::string> out;
  for (const char* dir : {"tests/logs/extract", "tests/logs/benign", "tests/logs/secrets"}) {
    const std::filesystem::path root = std::filesystem::path(DM_SOURCE_DIR) / dir;
    if (!std::filesystem::exists(root)) continue;
    for (const auto& f : std::filesystem::recursive_directory_iterator(root)) {
      if (!f.is_regular_file()) continue;
      std::ifstream in(f.path(), std::ios::binary);
      std::string line;
      while (std::getline(in, line)) out.push_back(line);
    }
  }
  return out;
}

std::string skeleton_of(std::string_view in, std::uint64_t* h = nullptr) {
  std::vector<char> buf(skeleton_bound(in.size()));
  const std::uint64_t x = line_skeleton(in, buf.data());
  if (h) *h = x;
  return std::string(buf.data(), in.size());
}

TEST(LineShape, SkeletonReplacesDigitsOnlyOnEveryPath) {
  std::mt19937 rng(7);
  for (std::size_t len = 0; len < 300; ++len) {
    std::string in(len, '\0');
    for (char& c : in) c = static_cast<char>(rng() % 256);
    if (len > 3) in[len / 2] = '5';
    std::vector<char> a(skeleton_bound(len), 'x'), b(skeleton_bound(len), 'y');
    const std::uint64_t ha = line_skeleton(in, a.data());
    const std::uint64_t hb = line_skeleton_scalar(in, b.data());
    ASSERT_EQ(std::string_view(a.data(), len), std::string_view(b.data(), len)) << len;
    ASSERT_EQ(ha, hb) << len;  // same hash on the SIMD and the scalar path
    for (std::size_t k = 0; k < len; ++k) {
      const char want = (in[k] >= '0' && in[k] <= '9') ? '0' : in[k];
      ASSERT_EQ(a[k], want) << len << " at " << k;
    }
  }
  EXPECT_EQ(skeleton_of("id 1234, v9 x"), "id 0000, v0 x");
  std::uint64_t h1 = 0, h2 = 0, h3 = 0;
  skeleton_of("took 15 ms", &h1);
  skeleton_of("took 97 ms", &h2);
  skeleton_of("took 157 ms", &h3);
  EXPECT_EQ(h1, h2);
  EXPECT_NE(h1, h3);
}

// The memo's premise: a line masks like every line that differs from it only by digit
// substitutions outside the ranges MaskDigitUse pins (unless it reports values).
TEST(LineShape, DigitSubstitutionsOutsidePinnedRangesNeverChangeTheOutput) {
  std::mt19937 rng(20261126);
  std::vector<std::string> lines;
  for (int n = 0; n < 20000; ++n)
    lines.push_back(random_mask_test_line(rng, n % 50 == 0 ? 200 : 30));
  for (auto& l : corpus_lines()) lines.push_back(std::move(l));
  for (auto& l : bench_like(3000, 5)) lines.push_back(std::move(l));
  std::string long_line;  // over 4096 bytes: the byte engine
  while (long_line.size() < 5000)
    long_line += mask_test_pieces()[rng() % mask_test_pieces().size()];
  lines.push_back(long_line);
  std::size_t checked = 0, with_pins = 0, changed_digits = 0, too_many = 0, uuid_lines = 0,
              changed_hex = 0;
  for (const std::string& line : lines) {
    MaskDigitUse use;
    const std::string want = mask(line, &use);
    if (use.values) {  // more than kMaxRanges copies: never stored, nothing to check
      ++too_many;
      continue;
    }
    with_pins += use.ranges > 0;
    std::uint16_t spans[MaskDigitUse::kMaxRanges];
    const int nspans = uuid_spans(line, spans, MaskDigitUse::kMaxRanges);
    bool uuid_ok = nspans > 0 && nspans == use.uuids;
    for (int k = 0; uuid_ok && k < nspans; ++k) uuid_ok = spans[k] == use.uuid_off[k];
    uuid_lines += uuid_ok;
    bool any_digit = uuid_ok;
    for (char c : line) any_digit |= c >= '0' && c <= '9';
    if (!any_digit) continue;
    ++checked;
    for (int v = 0; v < 4; ++v) {
      std::string other = line;
      for (std::size_t p = 0; p < other.size(); ++p) {
        char& c = other[p];
        if (c >= '0' && c <= '9' && !pinned(use, p) && rng() % 2) {
          c = static_cast<char>('0' + rng() % 10);
          ++changed_digits;
        }
      }
      if (uuid_ok) {  // and any hex digit/letter inside the UUID spans
        for (int k = 0; k < nspans; ++k) {
          for (std::size_t q = 0; q < 36; ++q) {
            if (q == 8 || q == 13 || q == 18 || q == 23 || rng() % 2) continue;
            other[spans[k] + q] = "0123456789abcdefABCDEF"[rng() % 22];
            ++changed_hex;
          }
        }
      }
      MaskDigitUse use2;
      ASSERT_EQ(mask(other, &use2), want) << "line: " << line << "\nvariant: " << other;
      ASSERT_EQ(use2.ranges, use.ranges) << other;  // same control flow
      ASSERT_EQ(use2.uuids, use.uuids) << other;
    }
  }
  EXPECT_GT(checked, 5000u);
  EXPECT_GT(with_pins, 1000u);
  EXPECT_GT(changed_digits, 20000u);
  EXPECT_LT(too_many, lines.size() / 20);
  EXPECT_GT(uuid_lines, 1000u);
  EXPECT_GT(changed_hex, 20000u);
}

// Where digits are copied to the output, and why those ranges must be pinned.
TEST(LineShape, DigitsCopiedToTheOutputArePinned) {
  MaskDigitUse use;
  EXPECT_EQ(mask("cast to int64 failed", &use), "cast to int64 failed");
  ASSERT_EQ(use.ranges, 1);
  EXPECT_EQ(use.off[0], 11);
  EXPECT_EQ(use.len[0], 2);
  EXPECT_NE(mask("cast to int32 failed"), mask("cast to int64 failed"));  // same skeleton
  EXPECT_EQ(mask("error (42S02) table", &use), "error (42S02) table");
  ASSERT_EQ(use.ranges, 1);
  EXPECT_EQ(use.off[0], 7);
  EXPECT_EQ(use.len[0], 5);
  EXPECT_EQ(mask("took 15 ms at 2026-01-01", &use), "took <n> ms at <date>");
  EXPECT_EQ(use.ranges, 0);
  EXPECT_FALSE(use.values);
  std::string many;
  for (int k = 0; k < 9; ++k) many += "v" + std::to_string(k) + " ";
  mask(many, &use);
  EXPECT_TRUE(use.values);  // more copies than ranges: not reusable
  std::vector<char> buf(mask_bound(20));
  mask_variables_into("exit code 137", MaskMode::signature, buf.data(), use);
  EXPECT_TRUE(use.values);  // signature mode reads digit values (protected numbers)
}

void expect_memo_on_off_same(const std::vector<std::string>& lines, std::size_t memo_bytes) {
  TemplateOptions on, off;
  on.shape_memo_bytes = memo_bytes;
  off.shape_memo_bytes = 0;
  MaskedBatch a(on), b(off);
  TemplateMiner ma(on), mb(off);
  for (std::size_t start = 0; start < lines.size(); start += 1000) {
    a.clear();
    b.clear();
    const std::size_t end = std::min(lines.size(), start + 1000);
    for (std::size_t k = start; k < end; ++k) {
      a.add(lines[k]);
      b.add(lines[k]);
    }
    for (std::size_t k = 0; k < a.size(); ++k) {
      ASSERT_EQ(a.masked(k), b.masked(k)) << lines[start + k];
      ASSERT_EQ(a.hash(k), b.hash(k));
      ASSERT_EQ(ma.add(lines[start + k]), mb.add(lines[start + k])) << lines[start + k];
    }
  }
  EXPECT_GT(a.memo().hits(), 0u);
  EXPECT_EQ(b.memo().lookups(), 0u);
  auto ca = ma.clusters(), cb = mb.clusters();
  ASSERT_EQ(ca.size(), cb.size());
  for (std::size_t k = 0; k < ca.size(); ++k) {
    EXPECT_EQ(ca[k].id, cb[k].id);
    EXPECT_EQ(ca[k].count, cb[k].count);
    EXPECT_EQ(ca[k].text, cb[k].text);
  }
}

TEST(LineShape, MemoOnOffIdenticalOnRandomCorpusAndBenchLikeLines) {
  std::mt19937 rng(99);
  std::vector<std::string> random;
  for (int n = 0; n < 20000; ++n) random.push_back(random_mask_test_line(rng, 12));
  expect_memo_on_off_same(random, 32u << 20);
  const auto corpus = corpus_lines();
  ASSERT_GT(corpus.size(), 100u);
  // Twice over, so the second pass hits the memo on every eligible line.
  std::vector<std::string> twice = corpus;
  twice.insert(twice.end(), corpus.begin(), corpus.end());
  expect_memo_on_off_same(twice, 32u << 20);
  expect_memo_on_off_same(bench_like(30000, 11), 32u << 20);
  expect_memo_on_off_same(bench_like(30000, 12), 4096);  // tiny memo: cleared again and again
}

TEST(LineShape, MemoHitsRepeatedShapes) {
  TemplateOptions o;
  MaskedBatch b(o);
  for (int k = 0; k < 100; ++k) b.add("took " + std::to_string(10 + k % 90) + " ms");
  EXPECT_EQ(b.memo().lookups(), 100u);
  EXPECT_EQ(b.memo().hits(), 99u);  // one shape "took 00 ms"
  EXPECT_EQ(b.memo().size(), 1u);
  b.add("cast to int64 in 5 s");  // pinned "64": one entry per value
  b.add("cast to int32 in 7 s");
  b.add("cast to int64 in 9 s");
  EXPECT_EQ(b.memo().size(), 3u);
  EXPECT_EQ(b.memo().hits(), 100u);
  EXPECT_EQ(b.masked(b.size() - 2), "cast to int32 in <n> s");
  EXPECT_EQ(b.masked(b.size() - 1), "cast to int64 in <n> s");
  b.add(std::string_view{});  // empty (null data): stored, then found
  b.add("");
  EXPECT_EQ(b.masked(b.size() - 1), "");
  EXPECT_EQ(b.hash(b.size() - 1), template_hash(""));
  EXPECT_EQ(b.memo().hits(), 101u);
}

TEST(LineShape, UuidSpansAndTheirCanonicalKey) {
  std::uint16_t o[8];
  const std::string u1 = "123e4567-e89b-12d3-a456-426614174000",
                    u2 = "ABCDEF01-abcd-0000-ffff-0123456789ab";
  ASSERT_EQ(uuid_spans("req " + u1 + " done", o, 8), 1);
  EXPECT_EQ(o[0], 4);
  EXPECT_EQ(uuid_spans("[" + u1 + "][" + u2 + "]", o, 8), 2);
  EXPECT_EQ(o[1], 39);
  EXPECT_EQ(uuid_spans(u1, o, 8), 1);                // whole line
  EXPECT_EQ(uuid_spans("t=12:" + u1, o, 8), 0);      // after ':' a time rule may read into it
  EXPECT_EQ(uuid_spans("x" + u1, o, 8), 0);          // not a segment start
  EXPECT_EQ(uuid_spans(u1 + "x", o, 8), 0);          // runs on
  EXPECT_EQ(uuid_spans("a_" + u1, o, 8), 0);         // '_': the tmp rule may scan into it
  EXPECT_EQ(uuid_spans(u1.substr(0, 35), o, 8), 0);  // too short
  EXPECT_EQ(uuid_spans(u1 + " " + u2, o, 1), -1);    // more than max
  // Every hex position (the 16-byte class steps and the last 4 bytes alone): a byte next to the
  // hex ranges, a letter past 'f', a case-folded non-letter or a high byte there is no span.
  for (std::size_t k = 0; k < u2.size(); ++k) {
    if (u2[k] == '-') continue;
    for (char c : {'g', 'G', '/', ':', '@', '`', '[', '{', ' ', '\xc1', '\xe1'}) {
      std::string bad = u2;
      bad[k] = c;
      EXPECT_EQ(uuid_spans("id " + bad, o, 8), 0) << k << " " << c;
    }
  }
  // Two lines that differ only in the UUID and a number share one memo entry.
  TemplateOptions opt;
  MaskedBatch b(opt);
  b.add("task " + u1 + " took 15 ms");
  b.add("task " + u2 + " took 97 ms");
  EXPECT_EQ(b.memo().hits(), 1u);
  EXPECT_EQ(b.masked(1), "task <uuid> took <n> ms");
  b.add("task:" + u2 + " took 97 ms");  // not a span: its own entry, masked all the same
  EXPECT_EQ(b.masked(2), "task:<uuid> took <n> ms");
  EXPECT_EQ(b.memo().size(), 1u);  // the masker fired where the key has no span: not stored
}

TEST(LineShape, MemoPausesWhereShapesDoNotRepeat) {
  TemplateOptions opt;
  MaskedBatch b(opt), plain(TemplateOptions{.shape_memo_bytes = 0});
  auto id = [](int k) {  // letters change with k: a new shape each line
    std::string s;
    for (int q = 0; q < 6; ++q, k /= 16) s.push_back("ghijklmnopqrstuv"[k % 16]);
    return s;
  };
  for (int k = 0; k < 6000; ++k) {
    const std::string line = "session " + id(k) + " took " + std::to_string(k) + " ms";
    b.add(line);
    plain.add(line);
    ASSERT_EQ(b.masked(b.size() - 1), plain.masked(plain.size() - 1));
  }
  EXPECT_EQ(b.memo().lookups(), 4096u);  // then paused: no hits in a whole window
  EXPECT_EQ(b.memo().hits(), 0u);
}

TEST(LineShape, MemoCapClearsAndStaysCorrect) {
  ShapeMemo m(4096);
  std::vector<char> buf(skeleton_bound(64));
  for (int k = 0; k < 1000; ++k) {
    // Every third line a new shape (fills the memo), the others five shapes (hit it).
    const std::string line =
        k % 3 == 0 ? "new shape " + std::string(static_cast<std::size_t>(k / 3 % 26), 'a') +
                         std::string(static_cast<std::size_t>(k / 78), 'b')
                   : "shape " + std::string(static_cast<std::size_t>(k % 5), 'x');
    const std::uint64_t h = line_skeleton(line, buf.data());
    const std::string_view skel(buf.data(), line.size());
    ShapeMemo::Found f;
    if (m.find(skel, h, line, nullptr, 0, f)) {
      ASSERT_EQ(f.masked, "M" + line);
      ASSERT_EQ(f.masked_hash, static_cast<std::uint64_t>(line.size()));
    } else {
      m.insert(skel, h, line, nullptr, 0, MaskDigitUse{}, "M" + line, line.size());
    }
    // Arena + 64 bytes per entry stay under the cap.
    ASSERT_LE(m.size() * 64, 4096u);
  }
  EXPECT_GT(m.clears(), 0u);
  EXPECT_GT(m.hits(), 0u);
  ShapeMemo none(10);  // nothing fits: never stores, never finds
  none.insert("abc", 1, "abc", nullptr, 0, MaskDigitUse{}, "x", 2);
  ShapeMemo::Found f;
  EXPECT_FALSE(none.find("abc", 1, "abc", nullptr, 0, f));
}

TEST(LineShape, EqualHashesNeverConfuseSkeletons) {
  ShapeMemo m;
  const MaskDigitUse none;
  m.insert("skeleton a", 42, "skeleton a", nullptr, 0, none, "A", 1);
  m.insert("skeleton b", 42, "skeleton b", nullptr, 0, none, "B", 2);  // same hash, other key
  ShapeMemo::Found f;
  ASSERT_TRUE(m.find("skeleton a", 42, "skeleton a", nullptr, 0, f));
  EXPECT_EQ(f.masked, "A");
  ASSERT_TRUE(m.find("skeleton b", 42, "skeleton b", nullptr, 0, f));
  EXPECT_EQ(f.masked, "B");
  EXPECT_FALSE(m.find("skeleton c", 42, "skeleton c", nullptr, 0, f));
  EXPECT_FALSE(
      m.find("skeleton a", 43, "skeleton a", nullptr, 0, f));  // another hash: a miss, not a lie
  m.insert("skeleton a", 42, "skeleton a", nullptr, 0, none, "other",
           3);  // existing key never replaced
  ASSERT_TRUE(m.find("skeleton a", 42, "skeleton a", nullptr, 0, f));
  EXPECT_EQ(f.masked, "A");
  for (int k = 0; k < 5000; ++k) {
    const std::string key = "k" + std::to_string(k);
    m.insert(key, k * 7919u, key, nullptr, 0, none, "v", k);  // grows
  }
  ASSERT_TRUE(m.find("skeleton b", 42, "skeleton b", nullptr, 0, f));
  EXPECT_EQ(f.masked, "B");
  ASSERT_TRUE(m.find("k4999", 4999u * 7919u, "k4999", nullptr, 0, f));
  EXPECT_EQ(f.masked_hash, 4999u);
}

TEST(LineShape, PinnedDigitsMustMatch) {
  ShapeMemo m;
  MaskDigitUse use;
  use.add(4, 2);  // the "64" of "int 64 x"
  m.insert("int 00 x", 7, "int 64 x", nullptr, 0, use, "int 64 x", 1);
  ShapeMemo::Found f;
  EXPECT_TRUE(m.find("int 00 x", 7, "int 64 x", nullptr, 0, f));
  EXPECT_FALSE(m.find("int 00 x", 7, "int 32 x", nullptr, 0, f));
  m.insert("int 00 x", 7, "int 32 x", nullptr, 0, use, "int 32 x",
           2);  // a second entry, same skeleton
  ASSERT_TRUE(m.find("int 00 x", 7, "int 32 x", nullptr, 0, f));
  EXPECT_EQ(f.masked, "int 32 x");
  ASSERT_TRUE(m.find("int 00 x", 7, "int 64 x", nullptr, 0, f));
  EXPECT_EQ(f.masked, "int 64 x");
  EXPECT_EQ(m.size(), 2u);
  MaskDigitUse bad;
  bad.values = true;
  m.insert("other", 9, "other", nullptr, 0, bad, "o", 3);  // value-dependent: never stored
  EXPECT_FALSE(m.find("other", 9, "other", nullptr, 0, f));
}

}  // namespace
}  // namespace dm::logs

namespace dm::logs {
namespace {

// line_shape_key (one SIMD pass + '-' bitmap) = line_skeleton, uuid_spans, canonicalise_uuids
// (the separate reference passes), at every length 0-299 and UUIDs at every offset and across
// the 32/64-byte words of the bitmap, with dash-dense noise around them.
TEST(LineShape, FusedKeyEqualsTheSeparatePasses) {
  std::mt19937 rng(11);
  const std::string alphabet = "0123456789abcdefABCDEF-- :_.,xyz";
  const std::string uuids[] = {"123e4567-e89b-12d3-a456-426614174000",
                               "ABCDEF01-abcd-0000-ffff-0123456789ab"};
  int with_spans = 0;
  for (int rep = 0; rep < 6000; ++rep) {
    const std::size_t len = rep % 300;
    std::string in(len, ' ');
    for (char& c : in) c = alphabet[rng() % alphabet.size()];
    const int put = static_cast<int>(rng() % 4);
    for (int k = 0; k < put && len >= 36; ++k) {
      const std::size_t at = rng() % (len - 35);
      in.replace(at, 36, uuids[rng() % 2]);
      if (at > 0 && rng() % 2) in[at - 1] = ' ';
      if (at + 36 < len && rng() % 2) in[at + 36] = ' ';
    }
    for (int max : {8, 1}) {
      std::vector<char> a(skeleton_bound(len)), b(skeleton_bound(len));
      std::vector<std::uint32_t> dash(dash_words(len), 0xdeadbeefu);
      std::uint16_t oa[8], ob[8];
      std::uint64_t ha = 0;
      const int na = line_shape_key(in, a.data(), dash.data(), oa, max, ha);
      std::uint64_t hb = line_skeleton(in, b.data());
      const int nb = uuid_spans(in, ob, max);
      ASSERT_EQ(na, nb) << in;
      if (nb < 0) continue;
      if (nb > 0) {
        hb = canonicalise_uuids(b.data(), len, ob, nb);
        ++with_spans;
      }
      for (int k = 0; k < nb; ++k) ASSERT_EQ(oa[k], ob[k]) << in;
      ASSERT_EQ(std::string_view(a.data(), len), std::string_view(b.data(), len)) << in;
      ASSERT_EQ(ha, hb) << in;
    }
  }
  EXPECT_GT(with_spans, 1000);  // the UUID path was exercised, not only lines without spans
}

}  // namespace
}  // namespace dm::logs

namespace dm::logs {
namespace {

// A memo that fills up in the middle of a batch must not clear (memo hits are views into its
// arena, not copies): the insert is dropped, the clear waits for the batch's clear().
TEST(LineShape, MemoFullMidBatchDefersItsClearAndEarlierSpansStayValid) {
  TemplateOptions on, off;
  on.shape_memo_bytes = 4096;
  off.shape_memo_bytes = 0;
  MaskedBatch a(on), b(off);
  const auto lines = bench_like(3000, 21);
  for (int round = 0; round < 2; ++round) {
    a.clear();
    b.clear();
    const std::uint64_t clears_before = a.memo().clears();
    for (const auto& l : lines) {
      a.add(l);
      b.add(l);
      ASSERT_EQ(a.memo().clears(), clears_before);  // never mid-batch
      ASSERT_LE(a.memo().size() * 64, 4096u);       // and still bounded
    }
    // Every span, the early memo hits included, still reads what the masker gives.
    for (std::size_t k = 0; k < a.size(); ++k) {
      ASSERT_EQ(a.masked(k), b.masked(k)) << lines[k];
      ASSERT_EQ(a.hash(k), b.hash(k));
    }
  }
  EXPECT_GT(a.memo().hits(), 1000u);
  a.clear();  // the deferred clear happens here
  EXPECT_GE(a.memo().clears(), 1u);
  EXPECT_EQ(a.memo().size(), 0u);
}

// Mines lines in batches of `batch` through add_prepared (memo on: routes used) and line by line
// with add() and no memo; both must give the same ids, clusters and evictions.
void expect_routes_exact(const std::vector<std::string>& lines, TemplateOptions o,
                         std::size_t batch, std::size_t min_routed, std::uint64_t* evicted) {
  TemplateOptions plain = o;
  plain.shape_memo_bytes = 0;
  TemplateMiner fast(o), ref(plain);
  MaskedBatch b(o);
  std::size_t routed = 0;
  for (std::size_t start = 0; start < lines.size(); start += batch) {
    b.clear();
    const std::size_t end = std::min(lines.size(), start + batch);
    for (std::size_t k = start; k < end; ++k) b.add(lines[k]);
    for (std::size_t k = 0; k < b.size(); ++k) {
      ASSERT_EQ(fast.add_prepared(b, k), ref.add(lines[start + k])) << start + k;
      if (b.route(k) != nullptr && b.route(k)->epoch != 0) ++routed;
    }
  }
  EXPECT_GE(routed, min_routed);  // the remembered routes were in play
  const auto ca = fast.clusters(), cb = ref.clusters();
  ASSERT_EQ(ca.size(), cb.size());
  for (std::size_t k = 0; k < ca.size(); ++k) {
    EXPECT_EQ(ca[k].id, cb[k].id);
    EXPECT_EQ(ca[k].count, cb[k].count);
    EXPECT_EQ(ca[k].text, cb[k].text);
  }
  EXPECT_EQ(fast.evicted(), ref.evicted());
  *evicted = fast.evicted();
}

// A memo entry remembers where its masked line sits in the miner's LineCache; that must be
// forgotten whenever the cache would forget or move it (clear past cache_bytes, growth), and an
// evicted cluster must be noticed as the cache notices it.
TEST(LineShape, RoutesFollowTheMinersCacheClearsAndEvictions) {
  auto lines = bench_like(20000, 31);
  std::mt19937 rng(5);
  for (int k = 0; k < 2000; ++k)
    lines.insert(lines.begin() + rng() % lines.size(), random_mask_test_line(rng, 6));
  std::uint64_t ev = 0;
  expect_routes_exact(lines, TemplateOptions{}, 777, lines.size() / 2, &ev);
  TemplateOptions small_cache;
  small_cache.cache_bytes = 3000;  // the LineCache clears every few dozen lines
  expect_routes_exact(lines, small_cache, 500, 100, &ev);
  TemplateOptions few;
  few.max_clusters = 3;  // constant eviction: cached routes point at dead clusters
  expect_routes_exact(lines, few, 1000, 100, &ev);
  EXPECT_GT(ev, 100u);
  TemplateOptions both = few;
  both.cache_bytes = 3000;
  both.shape_memo_bytes = 4096;
  expect_routes_exact(lines, both, 300, 100, &ev);
}

// Where the cache and the tree disagree: "a b c d e" was cached to cluster 1, but after
// "a c c d e" made cluster 2 (4 of 5 tokens equal vs 2 of 5) the tree picks 2. Once the cache is
// cleared (cache_bytes 150: at the fourth line), the line must go to 2, as without the memo.
TEST(LineShape, ARouteIsForgottenWhenTheCacheClears) {
  const std::vector<std::string> lines = {"a b c d e", "a b c d e", "a b x y z", "a c c d e",
                                          "a b c d e"};
  for (std::size_t memo : {std::size_t{32} << 20, std::size_t{0}}) {
    TemplateOptions o;
    o.cache_bytes = 150;
    o.shape_memo_bytes = memo;
    TemplateMiner m(o);
    std::vector<std::uint64_t> ids;
    for (const auto& l : lines) ids.push_back(m.add(l));
    EXPECT_EQ(ids, (std::vector<std::uint64_t>{1, 1, 1, 2, 2})) << "memo bytes " << memo;
  }
}

// One prepared batch mined by two miners: a route remembered for one must never be taken by the
// other (cache epochs are unique across miners).
TEST(LineShape, RoutesOfOneMinerAreNotTakenByAnother) {
  const auto lines = bench_like(6000, 41);
  TemplateOptions o, plain;
  plain.shape_memo_bytes = 0;
  TemplateOptions o2 = o;
  o2.max_clusters = 2;
  TemplateOptions p2 = o2;
  p2.shape_memo_bytes = 0;
  TemplateMiner m1(o), m2(o2), r1(plain), r2(p2);
  MaskedBatch b(o);
  for (std::size_t start = 0; start < lines.size(); start += 1000) {
    b.clear();
    for (std::size_t k = start; k < start + 1000; ++k) b.add(lines[k]);
    for (std::size_t k = 0; k < b.size(); ++k) {
      ASSERT_EQ(m1.add_prepared(b, k), r1.add(lines[start + k]));
      ASSERT_EQ(m2.add_prepared(b, k), r2.add(lines[start + k]));
    }
  }
  EXPECT_EQ(m2.evicted(), r2.evicted());
  EXPECT_GT(m2.evicted(), 0u);
}

}  // namespace
}  // namespace dm::logs
