// Server-Sent Events wire format and the event ids of the Streamable HTTP transport.
// Pure functions, thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dm::mcp::http {

// Event id "<stream>_<seq>": unique within a session and naming the stream it belongs to, so a
// GET with Last-Event-ID can find the stream to resume. seq 0 is the priming position.
std::string make_event_id(uint64_t stream, uint64_t seq);

struct EventPosition {
  uint64_t stream = 0;
  uint64_t seq = 0;
};
// Parses an id made by make_event_id; nullopt for anything else.
std::optional<EventPosition> parse_event_id(std::string_view id);

// One SSE event: "id: ..\ndata: ..\n\n". Every line of `data` becomes its own data: field.
std::string format_sse_event(std::string_view id, std::string_view data);

// The priming event: an id, the reconnection delay and an empty data field.
std::string format_sse_priming(std::string_view id, std::chrono::milliseconds retry);

}  // namespace dm::mcp::http
