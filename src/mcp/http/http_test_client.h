// Test-only helpers: a blocking HTTP/1.1 client for the transport's tests, with an incremental
// SSE reader. Every read has a receive timeout so a broken server fails a test instead of
// hanging it. Header-only so it stays out of dm_mcp.
#pragma once

#include <sys/socket.h>
#include <sys/time.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

// Beast 1.74's parser trips gcc 12's -Wmaybe-uninitialized under -fsanitize (a false positive
// on boost::optional inside basic_parser); silence it for these headers only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#pragma GCC diagnostic pop

namespace dm::mcp::http::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  bool ok = false;  // a complete response was read
  std::string error;
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct SseEventIn {
  std::string id;
  std::string data;
  std::optional<long> retry;
};

inline std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// One connection to the server. Not thread-safe.
class Client {
 public:
  explicit Client(uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(10))
      : sock_(ioc_) {
    boost::system::error_code ec;
    sock_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
    connected_ = !ec;
    if (connected_) {
      timeval tv{};
      tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
      tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
      ::setsockopt(sock_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
  }
  bool connected() const { return connected_; }

  // Sends a request. Default headers: Host 127.0.0.1:port unless given.
  bool send(const std::string& method, const std::string& target, const Headers& headers,
            const std::string& body = {}) {
    std::string req = method + " " + target + " HTTP/1.1\r\n";
    bool has_host = false;
    for (const auto& [k, v] : headers) {
      if (lower(k) == "host") has_host = true;
      req += k + ": " + v + "\r\n";
    }
    if (!has_host)
      req += "Host: 127.0.0.1:" + std::to_string(sock_.remote_endpoint().port()) + "\r\n";
    if (method == "POST" || !body.empty())
      req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    boost::system::error_code ec;
    net::write(sock_, net::buffer(req), ec);
    return !ec;
  }

  // Reads one whole response (for SSE: until the stream ends).
  Reply read_reply() {
    Reply r;
    bhttp::response_parser<bhttp::string_body> p;
    p.body_limit(64u << 20);
    p.eager(true);
    boost::system::error_code ec;
    bhttp::read(sock_, buf_, p, ec);
    fill(r, p.get());
    r.ok = !ec;
    if (ec) r.error = ec.message();
    return r;
  }

  Reply request(const std::string& method, const std::string& target, const Headers& headers,
                const std::string& body = {}) {
    if (!send(method, target, headers, body)) return Reply{};
    return read_reply();
  }

  // Incremental SSE: read the header first, then events one at a time.
  Reply read_header() {
    Reply r;
    sse_.emplace();
    consumed_ = 0;
    sse_->body_limit(64u << 20);
    boost::system::error_code ec;
    bhttp::read_header(sock_, buf_, *sse_, ec);
    fill(r, sse_->get());
    r.ok = !ec;
    if (ec) r.error = ec.message();
    return r;
  }

  // Next SSE event; nullopt at end of stream, on error or timeout.
  std::optional<SseEventIn> next_event() {
    while (true) {
      if (auto ev = take_event()) return ev;
      if (!sse_ || sse_->is_done()) return std::nullopt;
      boost::system::error_code ec;
      bhttp::read_some(sock_, buf_, *sse_, ec);
      if (ec && ec != bhttp::error::need_buffer) return take_event();
    }
  }

  // True once the SSE response has ended cleanly (final chunk read).
  bool stream_done() {
    if (!sse_) return false;
    while (!sse_->is_done()) {
      boost::system::error_code ec;
      bhttp::read_some(sock_, buf_, *sse_, ec);
      if (ec && ec != bhttp::error::need_buffer) return false;
    }
    return true;
  }

  // True if the server closed the connection (EOF) within the receive timeout.
  bool closed_by_peer() {
    char c;
    boost::system::error_code ec;
    sock_.read_some(net::buffer(&c, 1), ec);
    return ec == net::error::eof || ec == net::error::connection_reset;
  }

  void close() {
    boost::system::error_code ec;
    sock_.shutdown(tcp::socket::shutdown_both, ec);
    sock_.close(ec);
  }

 private:
  template <class Msg>
  static void fill(Reply& r, const Msg& m) {
    r.status = static_cast<int>(m.result_int());
    for (const auto& f : m) r.headers[lower(std::string(f.name_string()))] = std::string(f.value());
    r.body = m.body();
  }

  std::optional<SseEventIn> take_event() {
    if (!sse_) return std::nullopt;
    std::string& body = sse_->get().body();
    auto end = body.find("\n\n", consumed_);
    if (end == std::string::npos) return std::nullopt;
    std::string block = body.substr(consumed_, end - consumed_);
    consumed_ = end + 2;
    SseEventIn ev;
    bool first_data = true;
    std::size_t pos = 0;
    while (pos <= block.size()) {
      auto nl = block.find('\n', pos);
      std::string line = block.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      pos = nl == std::string::npos ? block.size() + 1 : nl + 1;
      auto colon = line.find(':');
      std::string field = line.substr(0, colon);
      std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
      if (!value.empty() && value[0] == ' ') value.erase(0, 1);
      if (field == "id") ev.id = value;
      if (field == "retry") ev.retry = std::stol(value);
      if (field == "data") {
        if (!first_data) ev.data += "\n";
        ev.data += value;
        first_data = false;
      }
    }
    return ev;
  }

  net::io_context ioc_;
  tcp::socket sock_;
  bool connected_ = false;
  beast::flat_buffer buf_;
  std::optional<bhttp::response_parser<bhttp::string_body>> sse_;
  std::size_t consumed_ = 0;
};

}  // namespace dm::mcp::http::testing
