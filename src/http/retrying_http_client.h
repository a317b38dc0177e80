// Decorator that retries idempotent reads with exponential backoff + full jitter.
//
// Retried: GET / HEAD / requests marked `idempotent`, when the transport failed with
// Errc::unavailable or Errc::timeout, or the server answered 429, 500, 502, 503 or 504.
// Never retried: any other request (a write may already have happened on the server), and a
// streamed request once its sink has received bytes (a repeat would duplicate them).
// Delay before retry k (k = 1, 2, ...): uniform in [0, min(max_delay, base_delay * 2^(k-1))];
// on 429/503 a Retry-After header (delta-seconds or HTTP-date) replaces it, capped at
// max_retry_after. After max_attempts tries it gives up with Errc::unavailable (or the
// transport's timeout) and a message saying how many attempts were made and what the last was.
// Sleeping and "now" come from the Clock seam; randomness from `rand01`, so tests never sleep.
// Thread-safe if the inner client, the clock and rand01 are.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>

#include "common/clock.h"
#include "http/http_client.h"

namespace dm::http {

struct RetryPolicy {
  int max_attempts = 4;  // total tries including the first; 1 disables retries
  std::chrono::milliseconds base_delay{250};
  std::chrono::milliseconds max_delay{8000};
  std::chrono::milliseconds max_retry_after{60000};
};

// Parses a Retry-After value: delta-seconds ("120") or an IMF-fixdate
// ("Wed, 21 Oct 2015 07:28:00 GMT"), relative to `now`. nullopt if unparseable. Never negative.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           Clock::time_point now);

class RetryingHttpClient final : public HttpClient {
 public:
  // rand01 returns a value in [0, 1); defaults to a thread-local mt19937 when empty.
  RetryingHttpClient(std::shared_ptr<HttpClient> inner, std::shared_ptr<Clock> clock,
                     RetryPolicy policy = {}, std::function<double()> rand01 = {});

  Result<Response> send(const Request& req) override;

 private:
  std::shared_ptr<HttpClient> inner_;
  std::shared_ptr<Clock> clock_;
  RetryPolicy policy_;
  std::function<double()> rand01_;
};

}  // namespace dm::http
