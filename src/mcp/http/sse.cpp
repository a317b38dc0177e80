#include "mcp/http/sse.h"

#include <charconv>

namespace dm::mcp::http {

std::string make_event_id(uint64_t stream, uint64_t seq) {
  return std::to_string(stream) + "_" + std::to_string(seq);
}

std::optional<EventPosition> parse_event_id(std::string_view id) {
  auto sep = id.find('_');
  if (sep == std::string_view::npos || sep == 0 || sep + 1 >= id.size()) return std::nullopt;
  EventPosition p;
  auto parse = [](std::string_view s, uint64_t& out) {
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && ptr == s.data() + s.size();
  };
  if (!parse(id.substr(0, sep), p.stream) || !parse(id.substr(sep + 1), p.seq)) return std::nullopt;
  return p;
}

std::string format_sse_event(std::string_view id, std::string_view data) {
  std::string out;
  out.reserve(data.size() + id.size() + 24);
  out += "event: message\nid: ";
  out += id;
  out += '\n';
  // A bare CR or LF inside data would end the field early: split into several data: lines.
  std::size_t start = 0;
  while (true) {
    auto nl = data.find_first_of("\r\n", start);
    out += "data: ";
    out += data.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    out += '\n';
    if (nl == std::string_view::npos) break;
    start = nl + 1;
    if (data[nl] == '\r' && start < data.size() && data[start] == '\n') ++start;
  }
  out += '\n';
  return out;
}

std::string format_sse_priming(std::string_view id, std::chrono::milliseconds retry) {
  std::string out = "id: ";
  out += id;
  out += "\nretry: ";
  out += std::to_string(retry.count());
  out += "\ndata: \n\n";
  return out;
}

}  // namespace dm::mcp::http
