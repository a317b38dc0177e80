#include "http/fake_http_client.h"

#include <algorithm>
#include <optional>

namespace dm::http {

Result<Response> FakeHttpClient::ok(int status, std::string body, Headers headers) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

Result<Response> FakeHttpClient::json(int status, std::string body) {
  return ok(status, std::move(body), {{"Content-Type", "application/json"}});
}

Result<Response> FakeHttpClient::refused() {
  return make_error(Errc::unavailable, "connection refused by fake (Couldn't connect to server)");
}

Result<Response> FakeHttpClient::timed_out() {
  return make_error(Errc::timeout, "no answer in time from fake (Operation timed out)");
}

Result<Response> FakeHttpClient::garbage() {
  return ok(200, "<html><body>502 Bad Gateway</body>", {{"Content-Type", "text/html"}});
}

Result<Response> FakeHttpClient::too_many(std::string retry_after) {
  return ok(429, R"({"detail":"slow down"})", {{"Retry-After", std::move(retry_after)}});
}

void FakeHttpClient::push(Result<Response> r) {
  std::lock_guard lk(mu_);
  queue_.push_back(std::move(r));
}

void FakeHttpClient::set_handler(Handler h) {
  std::lock_guard lk(mu_);
  handler_ = std::move(h);
}

std::vector<Request> FakeHttpClient::requests() const {
  std::lock_guard lk(mu_);
  return seen_;
}

std::size_t FakeHttpClient::request_count() const {
  std::lock_guard lk(mu_);
  return seen_.size();
}

std::size_t FakeHttpClient::pending() const {
  std::lock_guard lk(mu_);
  return queue_.size();
}

Result<Response> FakeHttpClient::send(const Request& req) {
  Handler handler;
  std::optional<Result<Response>> next;
  {
    std::lock_guard lk(mu_);
    Request copy = req;
    copy.on_body = nullptr;
    seen_.push_back(std::move(copy));
    if (!queue_.empty()) {
      next.emplace(std::move(queue_.front()));
      queue_.pop_front();
    } else {
      handler = handler_;
    }
  }
  Result<Response> r =
      next      ? std::move(*next)
      : handler ? handler(req)
                : Result<Response>(make_error(
                      Errc::internal, "FakeHttpClient: no scripted response for " +
                                          std::string(method_name(req.method)) + " " + req.url));
  if (!r.ok() || !req.on_body) return r;
  if (r->status >= 200 && r->status < 300) {
    std::string body = std::move(r->body);
    r->body.clear();
    std::size_t step = std::max<std::size_t>(chunk_size_, 1);
    for (std::size_t i = 0; i < body.size(); i += step) {
      if (!req.on_body(std::string_view(body).substr(i, step)))
        return make_error(Errc::cancelled, "body sink stopped the transfer");
    }
  }
  return r;
}

}  // namespace dm::http
