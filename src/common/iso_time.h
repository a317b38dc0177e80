// ISO 8601 timestamps: the program's one parser and formatter. Airflow writes
// "2026-11-25T22:00:00.123456+00:00" (and, from users, bare dates); AWS returns RFC 3339 for
// credential expiry ("2026-11-26T02:25:10Z", "…10.359Z", "2026-11-26T04:25:10+02:00").
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"

namespace dm {

// RFC 3339: "YYYY-MM-DD(T|t| )HH:MM:SS[.fraction](Z|z|±HH:MM)"; time and zone are required.
// Fraction digits past the ninth are ignored. The date must exist (no 2026-02-30), hour ≤ 23,
// minute ≤ 59, second ≤ 60 (a leap second counts as the next second's start), offset ≤ 23:59.
// Errors: invalid_argument saying what the text lacks.
Result<Clock::time_point> parse_rfc3339(std::string_view s);

// ISO 8601 as Airflow and users write it: as parse_rfc3339, but the time is optional (a date
// alone is midnight), the zone is optional (none = UTC) and may also be ±HHMM, and a '.' with no
// digits after it is allowed. nullopt for anything else (including "").
std::optional<Clock::time_point> parse_iso8601(std::string_view s);

// "YYYY-MM-DDTHH:MM:SSZ": UTC, whole seconds (the fraction is dropped). This form is what the
// Airflow REST filters accept on v1 and v2, and what the MCP tools return.
std::string format_iso8601(Clock::time_point t);
// `t` in UTC, whole seconds, through strftime's `format` (at most 63 bytes of output): other
// forms, e.g. ISO 8601's basic "%Y%m%dT%H%M%SZ" (SigV4's X-Amz-Date) or a page's
// "%Y-%m-%d %H:%M:%S UTC".
std::string format_utc(Clock::time_point t, const char* format);

// parse_iso8601 → milliseconds since the epoch; nullopt for "" or garbage.
std::optional<int64_t> iso_to_ms(std::string_view iso);
// Milliseconds since the epoch → format_iso8601.
std::string ms_to_iso(int64_t ms);
// An ISO time normalized to format_iso8601's form; "" stays "", an unparseable text is kept as is.
std::string iso_utc(std::string_view iso);

}  // namespace dm
