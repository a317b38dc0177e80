// Outbound HTTP seam: the one door to the network for every layer above (airflow, aws).
// Production uses CurlHttpClient (curl_http_client.h), usually wrapped in RetryingHttpClient
// (retrying_http_client.h); unit tests inject FakeHttpClient (fake_http_client.h).
//
// Contract of HttpClient::send():
//  - Any HTTP status (2xx..5xx) is a *successful* transport result: the caller maps statuses.
//  - Transport failures are errors: Errc::unavailable (refused, DNS, reset, TLS failure),
//    Errc::timeout (connect or total timeout), Errc::protocol (malformed HTTP), Errc::cancelled
//    (the body sink asked to stop), Errc::invalid_argument (bad URL / request).
//  - Error messages never contain request headers or bodies (they may hold credentials).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/base64.h"
#include "common/result.h"

namespace dm::http {

enum class Method { get, head, post, put, patch, del };

const char* method_name(Method m) noexcept;

using Headers = std::vector<std::pair<std::string, std::string>>;

// Receives the response body chunk by chunk, only for 2xx responses. Returning false stops the
// transfer: send() then fails with Errc::cancelled (callers that stop on purpose — a tail, a
// cap — treat that as success). Called on the thread that called send().
using BodySink = std::function<bool(std::string_view chunk)>;

struct Request {
  Method method = Method::get;
  std::string url;
  Headers headers;
  std::string body;
  std::chrono::milliseconds timeout{30000};          // whole transfer
  std::chrono::milliseconds connect_timeout{10000};  // TCP + TLS handshake
  // Marks a non-GET/HEAD request as safe to repeat (RetryingHttpClient only retries GET, HEAD or
  // requests marked idempotent). Writes must leave it false.
  bool idempotent = false;
  // When set, a 2xx body is streamed to the sink and Response::body stays empty; non-2xx bodies
  // are still collected into Response::body (capped at kErrorBodyCap) so errors can be explained.
  BodySink on_body;
};

inline constexpr std::size_t kErrorBodyCap = 64 * 1024;

struct Response {
  int status = 0;
  Headers headers;  // in arrival order; names as sent by the server
  std::string body;

  // First header with this name (case-insensitive), or "" if absent.
  std::string header(std::string_view name) const;
};

// Thread-safety: implementations must allow concurrent send() calls from several threads.
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual Result<Response> send(const Request& req) = 0;
};

// Helpers shared by the layers above.
bool iequals(std::string_view a, std::string_view b) noexcept;
// Percent-encodes everything except RFC 3986 unreserved characters (for path segments and
// query values: "manual__2026-01-01T00:00:00+00:00" ->
// "manual__2026-01-01T00%3A00%3A00%2B00%3A00").
// `also_keep` lists further bytes to leave as they are (e.g. "/" for a whole path, as Python's
// urllib.parse.quote(s, safe=...) does). Hex digits are upper-case.
std::string url_encode(std::string_view s, std::string_view also_keep = {});
using dm::base64_encode;  // (common/base64.h) for Basic auth
// Returns the URL with any "user:password@" userinfo removed, for messages.
std::string redact_url(std::string_view url);

}  // namespace dm::http
