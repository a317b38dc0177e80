#include "common/iso_time.h"

#include <gtest/gtest.h>

#include <chrono>

namespace dm {
namespace {

using namespace std::chrono_literals;

int64_t epoch_s(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

TEST(IsoTime, Rfc3339ParsesZonesAndFractions) {  // what AWS returns for credential expiry
  auto a = parse_rfc3339("2026-11-26T02:25:10Z");
  auto b = parse_rfc3339("2026-11-26T04:25:10+02:00");
  auto c = parse_rfc3339("2026-11-26T02:25:10.500Z");
  auto d = parse_rfc3339("2026-11-25t21:25:10.5000000001-05:00");  // > 9 digits: the rest dropped
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && d.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(*c - *a, 500ms);
  EXPECT_EQ(*d - *a, 500ms);
  EXPECT_EQ(epoch_s(*a), 1795659910);
}

TEST(IsoTime, Rfc3339RequiresTimeAndZone) {
  for (const char* bad :
       {"", "2026-11-26", "2026-11-26T02:25:10", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
        "2026-11-26T02:25:10Zjunk", "2026-11-26T02:25:10+2", "2026-11-26T02:25:10+0200",
        "2026-11-26T02:25:10.Z", "2026-11-26T24:00:00Z", "2026-11-26T02:25:10+24:00",
        "26-11-26T02:25:10Z", "2026-11-26T2:25:10Z", " 2026-11-26T02:25:10Z"}) {
    auto t = parse_rfc3339(bad);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.error().code, Errc::invalid_argument);
  }
  EXPECT_NE(parse_rfc3339("2026-11-26T02:25:10").error().message.find("zone"), std::string::npos);
}

TEST(IsoTime, YearsATimePointCannotHoldAreRefusedNotOverflowed) {
  // Found by parsers_fuzz: "0262-07-06" overflowed the nanosecond conversion (UBSan).
  for (const char* bad : {"0262-07-06T00:00:00Z", "1677-01-01T00:00:00Z", "2262-12-31T00:00:00Z",
                          "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z"}) {
    auto t = parse_rfc3339(bad);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_NE(t.error().message.find("year out of range"), std::string::npos) << bad;
  }
  EXPECT_FALSE(parse_iso8601("0262-07-06").has_value());
  EXPECT_TRUE(parse_rfc3339("1678-01-01T00:00:00Z").ok());
  EXPECT_TRUE(parse_rfc3339("2261-12-31T23:59:59Z").ok());
}

TEST(IsoTime, Iso8601AcceptsWhatAirflowAndUsersWrite) {
  auto a = parse_iso8601("2026-06-01T00:00:00+00:00");
  auto b = parse_iso8601("2026-06-01T00:00:00Z");
  auto c = parse_iso8601("2026-06-01T02:00:00.5+02:00");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(*c - *a, 500ms);
  EXPECT_EQ(parse_iso8601("2026-06-01"), a);                // a date alone: midnight UTC
  EXPECT_EQ(parse_iso8601("2026-06-01 00:00:00"), a);       // no zone: UTC
  EXPECT_EQ(parse_iso8601("2026-06-01T05:30:00+0530"), a);  // ±HHMM
  EXPECT_EQ(parse_iso8601("2026-06-01T00:00:00."), a);      // '.' with no digits
  EXPECT_EQ(parse_iso8601("2026-06-01T00:00:00.123456+00:00"), *a + 123456us);
  for (const char* bad : {"", "yesterday", "2026-13-01T00:00:00Z", "2026-06-01T00:00:00Zjunk",
                          "2026-06-01T00:00", "2026-06-01X", "2026-02-30"})
    EXPECT_FALSE(parse_iso8601(bad).has_value()) << bad;
}

TEST(IsoTime, FormatsWholeSecondsUtc) {
  auto a = parse_iso8601("2026-06-01T02:00:00.9+02:00");
  ASSERT_TRUE(a);
  EXPECT_EQ(format_iso8601(*a), "2026-06-01T00:00:00Z");
  EXPECT_EQ(format_utc(*a + 99ms, "%Y%m%dT%H%M%SZ"), "20260601T000000Z");
  auto ms = iso_to_ms("2026-01-02T03:04:05+00:00");
  ASSERT_TRUE(ms.has_value());
  EXPECT_EQ(*ms, 1767323045000);
  EXPECT_EQ(ms_to_iso(*ms), "2026-01-02T03:04:05Z");
  EXPECT_FALSE(iso_to_ms("").has_value());
  EXPECT_FALSE(iso_to_ms("yesterday").has_value());
  EXPECT_EQ(iso_utc("2026-01-02T04:04:05.123+01:00"), "2026-01-02T03:04:05Z");
  EXPECT_EQ(iso_utc(""), "");
  EXPECT_EQ(iso_utc("not a time"), "not a time");
}

}  // namespace
}  // namespace dm
