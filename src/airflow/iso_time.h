// ISO-8601 timestamps as Airflow writes them ("2026-11-25T22:00:00.123456+00:00", "...Z").
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"

namespace dm::airflow {

// Parses date-time with optional fraction and a Z / ±HH:MM / ±HHMM offset (none = UTC).
std::optional<Clock::time_point> parse_iso8601(std::string_view s);
// "YYYY-MM-DDTHH:MM:SSZ" (UTC, whole seconds; what the REST filters accept on v1 and v2).
std::string format_iso8601(Clock::time_point t);

}  // namespace dm::airflow
