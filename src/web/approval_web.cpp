// The approval page's HTTP server (Boost.Beast, one request per connection) and the small public
// helpers of approval_web.h. Request handling itself is in approval_web_handler.cpp.
#include "web/approval_web.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>

#include "guard/canonical.h"
#include "http/http_client.h"
#include "web/approval_web_handler.h"

namespace dm::web {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::string approval_page_url(std::string_view base, std::string_view id) {
  std::string b(base);
  while (!b.empty() && b.back() == '/') b.pop_back();
  return b + "/approvals/" + http::url_encode(id);
}

std::string WebResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (http::iequals(k, name)) return v;
  return "";
}

namespace {

constexpr std::size_t kBodyLimit = 32 * 1024;
constexpr std::size_t kHeaderLimit = 16 * 1024;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket s, std::shared_ptr<const page::Handler> h)
      : stream_(std::move(s)), handler_(std::move(h)) {}

  void run() {
    parser_.emplace();
    parser_->body_limit(kBodyLimit);
    parser_->header_limit(kHeaderLimit);
    stream_.expires_after(std::chrono::seconds(15));
    bhttp::async_read(stream_, buf_, *parser_,
                      beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

 private:
  void on_read(beast::error_code ec, std::size_t) {
    WebResponse wr;
    unsigned version = 11;
    if (ec == bhttp::error::body_limit) {
      wr.status = 413;
      wr.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
      wr.body = "request too large\n";
    } else if (ec) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      return;
    } else {
      const auto& req = parser_->get();
      version = req.version();
      WebRequest r;
      r.method = std::string(req.method_string());
      r.target = std::string(req.target());
      for (const auto& f : req) {
        std::string name(f.name_string());
        for (auto& c : name)
          if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        r.headers.emplace(std::move(name), std::string(f.value()));  // first one wins
      }
      r.body = req.body();
      beast::error_code pec;
      auto peer = stream_.socket().remote_endpoint(pec);
      if (!pec) r.remote_address = peer.address().to_string();
      wr = handler_->handle(r);
    }
    res_.version(version);
    res_.result(static_cast<unsigned>(wr.status));
    for (const auto& [k, v] : wr.headers) res_.insert(k, v);
    res_.body() = std::move(wr.body);
    res_.keep_alive(false);
    res_.prepare_payload();
    bhttp::async_write(stream_, res_,
                       beast::bind_front_handler(&Session::on_write, shared_from_this()));
  }

  void on_write(beast::error_code, std::size_t) {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buf_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::response<bhttp::string_body> res_;
  std::shared_ptr<const page::Handler> handler_;
};

}  // namespace

class ApprovalWeb::Impl {
 public:
  Impl(std::shared_ptr<guard::Approvals> approvals, ApprovalWebOptions opts)
      : approvals_(std::move(approvals)), opts_(std::move(opts)) {}

  std::shared_ptr<const page::Handler> handler() {
    std::lock_guard<std::mutex> lk(mu_);
    if (!handler_) {
      auto key = guard::random_hex(32);
      if (!key) return nullptr;
      handler_ = std::make_shared<page::Handler>(approvals_, opts_, *key);
    }
    return handler_;
  }

  Result<uint16_t> start() {
    std::lock_guard<std::mutex> lk(run_mu_);
    if (started_) return make_error(Errc::failed_precondition, "the approval page already started");
    beast::error_code ec;
    auto addr = net::ip::make_address(opts_.bind_address, ec);
    if (ec)
      return make_error(Errc::invalid_argument,
                        "bad bind address \"" + opts_.bind_address + "\": " + ec.message());
    tcp::endpoint ep(addr, opts_.port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      beast::error_code ignored;
      acceptor_.close(ignored);
      return make_error(Errc::unavailable, "approval page: cannot listen on " + opts_.bind_address +
                                               ":" + std::to_string(opts_.port) + ": " +
                                               ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    if (!opts_.oidc && opts_.oidc_factory) {
      auto o = opts_.oidc_factory(base_url());
      if (!o) {
        beast::error_code ignored;
        acceptor_.close(ignored);
        port_ = 0;
        return o.error();
      }
      std::lock_guard<std::mutex> hk(mu_);
      opts_.oidc = std::move(*o);
    }
    auto h = handler();
    if (!h) {
      beast::error_code ignored;
      acceptor_.close(ignored);
      port_ = 0;
      return make_error(Errc::unavailable, "no random bytes for the form key");
    }
    started_ = true;
    accept();
    for (int i = 0; i < std::max(1, opts_.io_threads); ++i)
      threads_.emplace_back([this] { io_.run(); });
    return port_;
  }

  std::string base_url() const {
    if (!port_) return "";
    std::string host = opts_.bind_address.find(':') != std::string::npos
                           ? "[" + opts_.bind_address + "]"
                           : opts_.bind_address;
    if (host == "0.0.0.0" || host == "[::]") host = "127.0.0.1";
    return "http://" + host + ":" + std::to_string(port_);
  }

  void wait_for_shutdown_signal() {
    net::io_context sig_io;
    net::signal_set sigs(sig_io, SIGINT, SIGTERM);
    sigs.async_wait([](const beast::error_code&, int) {});
    {
      std::lock_guard<std::mutex> lk(run_mu_);
      if (!started_ || stopped_) return;
      waiter_ = &sig_io;
    }
    sig_io.run();
    {
      std::lock_guard<std::mutex> lk(run_mu_);
      waiter_ = nullptr;
    }
    stop();
  }

  void stop() {
    std::lock_guard<std::mutex> lk(run_mu_);
    if (waiter_) waiter_->stop();
    if (!started_ || stopped_) return;
    stopped_ = true;
    net::post(io_, [this] {
      beast::error_code ignored;
      acceptor_.close(ignored);
    });
    io_.stop();
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }

 private:
  void accept() {
    acceptor_.async_accept(net::make_strand(io_), [this](beast::error_code ec, tcp::socket s) {
      if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
      if (!ec) {
        if (auto h = handler()) std::make_shared<Session>(std::move(s), h)->run();
      }
      accept();
    });
  }

  std::shared_ptr<guard::Approvals> approvals_;
  ApprovalWebOptions opts_;
  std::mutex mu_;
  std::shared_ptr<const page::Handler> handler_;
  std::mutex run_mu_;
  bool started_ = false, stopped_ = false;
  net::io_context* waiter_ = nullptr;
  net::io_context io_;
  tcp::acceptor acceptor_{io_};
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
};

ApprovalWeb::ApprovalWeb(std::shared_ptr<guard::Approvals> approvals, ApprovalWebOptions opts)
    : impl_(std::make_unique<Impl>(std::move(approvals), std::move(opts))) {}
ApprovalWeb::~ApprovalWeb() { impl_->stop(); }

WebResponse ApprovalWeb::handle(const WebRequest& req) {
  auto h = impl_->handler();
  if (!h) {
    WebResponse r;
    r.status = 503;
    r.body = "no random bytes for the form key\n";
    return r;
  }
  return h->handle(req);
}
Result<uint16_t> ApprovalWeb::start() { return impl_->start(); }
std::string ApprovalWeb::base_url() const { return impl_->base_url(); }
void ApprovalWeb::wait_for_shutdown_signal() { impl_->wait_for_shutdown_signal(); }
void ApprovalWeb::stop() { impl_->stop(); }

Result<std::unique_ptr<ApprovalWeb>> start_approval_web(std::shared_ptr<guard::Approvals> approvals,
                                                        const std::string& approvers_file,
                                                        const std::string& bind, int port,
                                                        std::shared_ptr<guard::AuditLog> audit) {
  if (!approvals) return make_error(Errc::failed_precondition, "approval page: no approvals store");
  if (!audit) return make_error(Errc::failed_precondition, "approval page: no audit log");
  if (port < 0 || port > 65535)
    return make_error(Errc::invalid_argument, "approval page: port must be between 0 and 65535");
  if (approvers_file.empty())
    return make_error(
        Errc::invalid_argument,
        "the approval page needs approvers: put an `approvers:` mapping in the config "
        "file or pass --approvers FILE");
  auto approvers = load_approvers(approvers_file);
  if (!approvers) return approvers.error();
  if (approvers->empty())
    std::fprintf(stderr,
                 "dagmedic: warning: no approvers in %s (add an `approvers:` mapping); every "
                 "decision on the approval page will be refused\n",
                 approvers_file.c_str());
  ApprovalWebOptions opts;
  opts.bind_address = bind;
  opts.port = static_cast<uint16_t>(port);
  opts.approvers = std::move(*approvers);
  opts.audit = std::move(audit);
  auto web = std::make_unique<ApprovalWeb>(std::move(approvals), std::move(opts));
  auto bound = web->start();
  if (!bound) return bound.error();
  std::fprintf(stderr, "dagmedic: approval page %s/approvals/\n", web->base_url().c_str());
  return web;
}

Result<std::unique_ptr<ApprovalWeb>> start_approval_web(std::shared_ptr<guard::Approvals> approvals,
                                                        ApprovalWebOptions opts) {
  if (!approvals) return make_error(Errc::failed_precondition, "approval page: no approvals store");
  if (!opts.audit) return make_error(Errc::failed_precondition, "approval page: no audit log");
  if (!opts.oidc && !opts.oidc_factory)
    return make_error(Errc::invalid_argument, "approval page: no sign-in configured");
  auto web = std::make_unique<ApprovalWeb>(std::move(approvals), std::move(opts));
  auto bound = web->start();
  if (!bound) return bound.error();
  std::fprintf(stderr,
               "dagmedic: approval page %s/approvals/ (approvers sign in through the "
               "identity provider)\n",
               web->base_url().c_str());
  return web;
}

int run_approval_web(std::shared_ptr<guard::Approvals> approvals, const std::string& approvers_file,
                     const std::string& bind, int port, std::shared_ptr<guard::AuditLog> audit) {
  auto web = start_approval_web(std::move(approvals), approvers_file, bind, port, std::move(audit));
  if (!web) {
    std::fprintf(stderr, "dagmedic approvals web: %s\n", web.error().message.c_str());
    return 1;
  }
  (*web)->wait_for_shutdown_signal();
  return 0;
}

}  // namespace dm::web
