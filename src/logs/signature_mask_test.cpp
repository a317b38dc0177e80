// The raw masker (mask_variables_into) that signatures and template mining share: shapes, the
// buffer bound it promises, and the appending wrapper.
#include "logs/signature_mask.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "logs/mask_test_lines.h"

namespace dm::logs {
namespace {

std::string mask(std::string_view in, MaskMode mode = MaskMode::templates) {
  std::vector<char> buf(mask_bound(in.size()));
  return std::string(buf.data(), mask_variables_into(in, mode, buf.data()));
}

TEST(Mask, Shapes) {
  EXPECT_EQ(mask("[2026-01-14, 03:00:02 UTC] {taskinstance.py:2867} INFO - attempt 1 of 3"),
            "[<date>, <time> UTC] {taskinstance.py:<n>} INFO - attempt <n> of <n>");
  EXPECT_EQ(mask("at 2026-01-01T00:00:00.123+00:00 run manual__2026-01-01T00:00:00+00:00 ok"),
            "at <ts> run <run_id> ok");
  EXPECT_EQ(mask("rerun__x1/a scheduled__2026 backfill__b dataset_triggered__c asset_triggered__d"),
            "<run_id>/a <run_id> <run_id> <run_id> <run_id>");
  EXPECT_EQ(mask("manual_ sched rerun_ a"), "manual_ sched rerun_ a");  // near-misses stay
  EXPECT_EQ(mask("req 123e4567-e89b-12d3-a456-426614174000 in /tmp/tmpab12cd34/x"),
            "req <uuid> in /tmp/<tmp>/x");
  EXPECT_EQ(mask("/var/folders/ab/cd/T done tmpa1b2c3d4"), "/var/folders/<tmp> done <tmp>");
  EXPECT_EQ(mask("int64 v2 ec2 512MB 30s 1 abc123def 9f8e7d6c5b (42S02)"),
            "int64 v2 ec2 <n>MB <n>s <n> <id> <id> (42S02)");
  EXPECT_EQ(mask("12:30 12:30:45,5 2026/01/02"), "<n>:<n> <time> <date>");
  EXPECT_EQ(mask(""), "");
  EXPECT_EQ(mask("1"), "<n>");
}

TEST(Mask, ProcessIdsAreNeverCauseNumbers) {
  // A PID in 400-599 looked like an HTTP status and stayed: one timeout, two signatures.
  const auto sig = [](std::string_view s) { return mask(s, MaskMode::signature); };
  EXPECT_EQ(sig("AirflowTaskTimeout: Timeout, PID: 581"), "AirflowTaskTimeout: Timeout, PID: <n>");
  EXPECT_EQ(sig("AirflowTaskTimeout: Timeout, PID: 581"),
            sig("AirflowTaskTimeout: Timeout, PID: 626"));
  EXPECT_EQ(sig("killed pid=404, tid 500"), "killed pid=<n>, tid <n>");
  // Cause numbers still stay.
  EXPECT_EQ(sig("HTTP 503 from api, status 404"), "HTTP 503 from api, status 404");
  // "pid" inside a word is not a label: the reason phrase keeps the status.
  EXPECT_EQ(sig("rapid=503 Service Unavailable"), "rapid=503 Service Unavailable");
}

// A 4xx/5xx number is a status only when the words around it say so; otherwise it is a count that
// changes from run to run, and keeping it would give one failure several signatures.
TEST(Mask, A3DigitNumberIsAStatusOnlyWhenTheWordsSaySo) {
  const auto sig = [](std::string_view s) { return mask(s, MaskMode::signature); };
  EXPECT_EQ(sig("read 512 rows before the error"), sig("read 498 rows before the error"));
  EXPECT_EQ(sig("retried after 450 ms"), "retried after <n> ms");
  for (const char* kept :
       {"404 Client Error: Not Found for url", "server returned 429", "response: 502",
        "got 403 Forbidden", "status_code=500", "HTTP Error 400: Bad Request"})
    EXPECT_EQ(sig(kept), kept) << kept;
  EXPECT_EQ(sig("HTTP/1.1 503 Service Unavailable"), "HTTP/<n>.<n> 503 Service Unavailable");
  EXPECT_EQ(sig("HTTP/2 429"), "HTTP/<n> 429");
  EXPECT_NE(sig("403 Client Error: Forbidden"), sig("404 Client Error: Forbidden"));
}

TEST(Mask, WorstCaseGrowthFitsTheBound) {
  std::string in;
  for (int k = 0; k < 500; ++k) in += "1 ";
  std::string out = mask(in);
  EXPECT_LE(out.size(), mask_bound(in.size()));
  EXPECT_EQ(out.substr(0, 8), "<n> <n> ");
}

// Random lines built from the pieces the rules look at, plus random bytes: in both modes the raw
// form stays within mask_bound (ASan catches an overrun of the exact-size buffer), and the
// appending wrapper adds exactly the raw form after what the string already held.
TEST(Mask, RandomLinesStayInBoundAndWrapperAppends) {
  std::mt19937 rng(12345);
  std::string expect;
  for (int n = 0; n < 20000; ++n) {
    const std::string line = testing::random_mask_test_line(rng, 24);
    for (MaskMode mode : {MaskMode::templates, MaskMode::signature}) {
      std::string raw = mask(line, mode);
      ASSERT_LE(raw.size(), mask_bound(line.size())) << "input: " << line;
      expect = "prefix|";
      mask_variables(line, mode, expect);
      ASSERT_EQ(expect, "prefix|" + raw) << "input: " << line;
    }
  }
}

}  // namespace
}  // namespace dm::logs
