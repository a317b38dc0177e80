// Scripted HttpClient for unit tests (any layer): answers from a queue of canned responses and
// faults, or from a handler function when the queue is empty; records every request it saw.
// Streaming is emulated like CurlHttpClient: a 2xx body is handed to Request::on_body in chunks
// of `chunk_size` bytes, and a sink returning false yields Errc::cancelled.
// Thread-safe (one mutex); handlers run outside the lock.
#pragma once

#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "http/http_client.h"

namespace dm::http {

class FakeHttpClient final : public HttpClient {
 public:
  using Handler = std::function<Result<Response>(const Request&)>;

  // Canned answers.
  static Result<Response> ok(int status, std::string body, Headers headers = {});
  static Result<Response> json(int status, std::string body);
  static Result<Response> refused();    // Errc::unavailable, like curl's "couldn't connect"
  static Result<Response> timed_out();  // Errc::timeout
  static Result<Response> garbage();    // 200 with a body that is not JSON
  static Result<Response> too_many(std::string retry_after);  // 429 + Retry-After

  void push(Result<Response> r);
  void set_handler(Handler h);
  void set_chunk_size(std::size_t n) { chunk_size_ = n; }

  // Copies of the requests seen so far (on_body dropped).
  std::vector<Request> requests() const;
  std::size_t request_count() const;
  std::size_t pending() const;

  Result<Response> send(const Request& req) override;

 private:
  mutable std::mutex mu_;
  std::deque<Result<Response>> queue_;
  Handler handler_;
  std::vector<Request> seen_;
  std::size_t chunk_size_ = 7;  // small on purpose: exercises split lines/JSON in consumers
};

}  // namespace dm::http
