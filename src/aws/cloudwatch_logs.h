// CloudWatch Logs reads (GetLogEvents, FilterLogEvents) over the HttpClient seam, SigV4 service
// "logs", JSON 1.1 protocol: POST {endpoint}/ with X-Amz-Target Logs_20140328.{Action}.
// Throttling (ThrottlingException, 429) is retried with exponential backoff on the injected
// Clock; other AWS errors map through aws_error() (AccessDenied names logs:{Action}).
// Thread-safe if the HttpClient and the credentials provider are.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "aws/credentials.h"
#include "common/clock.h"
#include "common/result.h"
#include "http/http_client.h"

namespace dm::aws {

struct CloudWatchLogsOptions {
  std::string region{};
  std::string endpoint{};  // no trailing slash; empty = https://logs.{region}.amazonaws.com
  std::chrono::milliseconds timeout{30000};
  std::chrono::milliseconds connect_timeout{10000};
  int max_attempts = 5;  // per call, throttled answers included
  std::chrono::milliseconds base_delay{200};
  std::chrono::milliseconds max_delay{5000};
  int max_pages = 10000;  // guard against a token chain that never ends
};

struct LogEvent {
  std::int64_t timestamp = 0;  // ms since epoch
  std::string message{};
  std::string log_stream{};  // FilterLogEvents only
};

struct GetLogEventsRequest {
  std::string group{}, stream{};
  std::string next_token{};  // empty = first page
  bool start_from_head = true;
  int limit = 0;  // 0 = AWS default (up to 10 000 events / 1 MB)
};
struct GetLogEventsPage {
  std::vector<LogEvent> events{};
  std::string next_forward_token{}, next_backward_token{};
};

struct FilterLogEventsRequest {
  std::string group{};
  std::vector<std::string> streams{};  // empty = any stream
  std::string stream_prefix{};         // ignored by moto; honoured by AWS
  std::string pattern{};               // CloudWatch filter pattern; empty = everything
  std::optional<std::int64_t> start_ms{}, end_ms{};
  std::string next_token{};
  int limit = 0;
};
struct FilterLogEventsPage {
  std::vector<LogEvent> events{};
  std::string next_token{};
};

// Receives events in order; false stops the read (the call then returns OK).
using EventSink = std::function<bool(const LogEvent&)>;

class CloudWatchLogsClient {
 public:
  CloudWatchLogsClient(CloudWatchLogsOptions o, std::shared_ptr<http::HttpClient> http,
                       std::shared_ptr<CredentialsProvider> creds, std::shared_ptr<Clock> clock);

  Result<GetLogEventsPage> get_log_events(const GetLogEventsRequest& r);
  Result<FilterLogEventsPage> filter_log_events(const FilterLogEventsRequest& r);

  // The whole stream oldest first, page by page (memory: one page). Pages may be empty while a
  // token remains; the end is the forward token coming back unchanged. `pages` counts calls.
  Status read_stream(const std::string& group, const std::string& stream, const EventSink& sink,
                     std::size_t* pages = nullptr);
  // The newest `max_events` events of a stream, oldest first: startFromHead=false, then paging
  // back with nextBackwardToken until enough events or the token repeats. Memory ≤ max_events.
  Result<std::vector<LogEvent>> tail(const std::string& group, const std::string& stream,
                                     std::size_t max_events);
  // The stream from its end backwards, page by page: GetLogEvents startFromHead=false, then
  // nextBackwardToken. `page` receives each page's events (oldest first within the page; the
  // vector may be moved from), newest page first, and returns false to stop. Empty pages are
  // skipped (AWS may send them while a token remains). Memory: one page. `pages` (optional)
  // counts calls. `limit` (0 = AWS default) is sent as the page size.
  // Returns true when the stream's first event was reached (the backward token came back
  // unchanged or empty), false when `page` stopped the read first. Errors as get_log_events.
  using PageSink = std::function<bool(std::vector<LogEvent>& events)>;
  Result<bool> read_backward(const std::string& group, const std::string& stream,
                             const PageSink& page, std::size_t* pages = nullptr, int limit = 0);
  // Every event matching `r` (a window and/or pattern), paging to the end; `r.next_token` is
  // the starting point.
  Status filter(FilterLogEventsRequest r, const EventSink& sink);

 private:
  Result<nlohmann::json> call(const char* action, const nlohmann::json& body,
                              const std::string& what);
  CloudWatchLogsOptions o_;
  std::shared_ptr<http::HttpClient> http_;
  std::shared_ptr<CredentialsProvider> creds_;
  std::shared_ptr<Clock> clock_;
};

}  // namespace dm::aws
