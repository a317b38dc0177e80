// Pure checks on HTTP request headers for the Streamable HTTP transport: Host/Origin validation
// (DNS-rebinding protection), Accept/Content-Type negotiation and the MCP-Protocol-Version
// header. No I/O; all functions are thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dm::mcp::http {

// True if `host_header` ("name", "name:port", "[v6]", "[v6]:port") is allowed. An empty
// `allowed` list means the loopback names localhost, 127.0.0.1 and [::1] with any port.
// Entries without a port match any port; comparisons ignore ASCII case.
bool host_allowed(std::string_view host_header, const std::vector<std::string>& allowed);

// True if `origin` ("scheme://host[:port]") is allowed. An empty `allowed` list means http or
// https on a loopback host with any port. An entry without a port matches any port of that
// scheme and host. The literal "null" origin is never allowed.
bool origin_allowed(std::string_view origin, const std::vector<std::string>& allowed);

// True if the Accept header lists `media_type` (exact type/subtype, parameters ignored;
// a q=0 entry does not count). Wildcards are not honoured: MCP requires explicit types.
bool accepts(std::string_view accept_header, std::string_view media_type);

// True if the Content-Type is application/json (parameters such as charset allowed).
bool is_json_content_type(std::string_view content_type);

// Legacy revisions this transport serves.
bool is_supported_protocol_version(std::string_view v);

// The revision assumed when a request carries no MCP-Protocol-Version header.
inline constexpr std::string_view kDefaultProtocolVersion = "2025-03-26";

// A serialized JSON-RPC error response with id null (errors the transport answers itself).
std::string jsonrpc_error(int code, std::string_view message);

}  // namespace dm::mcp::http
