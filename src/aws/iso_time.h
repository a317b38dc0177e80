// ISO 8601 / RFC 3339 timestamps as AWS returns them for credential expiry
// ("2026-11-26T02:25:10Z", "2026-11-26T02:25:10.359Z", "2026-11-26T04:25:10+02:00").
#pragma once

#include <string_view>

#include "common/clock.h"
#include "common/result.h"

namespace dm::aws {

// Errc::protocol for anything else (missing zone, out-of-range fields).
Result<Clock::time_point> parse_iso8601(std::string_view s);

}  // namespace dm::aws
