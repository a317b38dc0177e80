#include "mcp/stdio_transport.h"

#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include "mcp/json_rpc.h"

namespace dm::mcp {

namespace {

bool write_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

struct StdioTransport::Impl {
  std::shared_ptr<SessionFactory> factory;
  StdioOptions opts;
  int wake[2] = {-1, -1};
  std::atomic<bool> stop{false};

  // Output queue drained by the writer thread.
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> out;
  bool writer_done = false;   // no more messages will be queued
  bool write_failed = false;  // EPIPE or another write error

  // Requests in flight (by id text), to drain them at EOF.
  std::set<std::string> inflight;
  std::set<std::string> completed_early;  // answered before receive() returned

  std::shared_ptr<Session> session;

  void on_message(OutboundMessage m) {
    std::lock_guard<std::mutex> lk(mu);
    if (m.completes_request && m.related_request) {
      const std::string key = rpc::dump(*m.related_request);
      if (inflight.erase(key) == 0) completed_early.insert(key);
      cv.notify_all();
    }
    if (m.json.empty() || writer_done) return;
    out.push_back(std::move(m.json));
    cv.notify_all();
  }

  void writer_loop() {
    std::unique_lock<std::mutex> lk(mu);
    for (;;) {
      cv.wait(lk, [&] { return !out.empty() || writer_done; });
      if (out.empty()) return;
      std::string line = std::move(out.front());
      out.pop_front();
      line.push_back('\n');
      lk.unlock();
      const bool ok = write_all(opts.out_fd, line);
      lk.lock();
      if (!ok) {
        write_failed = true;
        out.clear();
        cv.notify_all();
        wake_reader();
      }
    }
  }

  void wake_reader() {
    if (wake[1] >= 0) {
      const char b = 1;
      [[maybe_unused]] ssize_t n = ::write(wake[1], &b, 1);
    }
  }

  void feed(const std::string& line) {
    const InboundInfo info = session->receive(line);
    std::lock_guard<std::mutex> lk(mu);
    if (info.id) {
      const std::string key = rpc::dump(*info.id);
      if (info.kind == InboundKind::request) {
        if (completed_early.erase(key) == 0) inflight.insert(key);
      } else {
        completed_early.erase(key);
      }
    }
  }

  void reject_oversize() {
    const std::string err = rpc::error_response(
        nullptr, rpc::kInvalidRequest,
        "Invalid Request: line exceeds " + std::to_string(opts.max_line_bytes) + " bytes");
    std::lock_guard<std::mutex> lk(mu);
    out.push_back(err);
    cv.notify_all();
  }
};

StdioTransport::StdioTransport(std::shared_ptr<SessionFactory> factory, StdioOptions opts)
    : impl_(std::make_unique<Impl>()) {
  impl_->factory = std::move(factory);
  impl_->opts = opts;
  if (::pipe(impl_->wake) != 0) impl_->wake[0] = impl_->wake[1] = -1;
}

StdioTransport::~StdioTransport() {
  stop();
  for (int fd : impl_->wake) {
    if (fd >= 0) ::close(fd);
  }
}

void StdioTransport::stop() {
  impl_->stop = true;
  impl_->wake_reader();
}

Status StdioTransport::run() {
  Impl& im = *impl_;
  im.session = im.factory->open_session([&im](OutboundMessage m) { im.on_message(std::move(m)); });
  std::thread writer([&im] { im.writer_loop(); });

  Status status;
  std::string buf;
  bool discarding = false;  // inside an oversize line: drop bytes until the next newline
  char chunk[65536];
  bool eof = false;
  while (!eof && !im.stop) {
    pollfd fds[2] = {{im.opts.in_fd, POLLIN, 0}, {im.wake[0], POLLIN, 0}};
    const int nf = im.wake[0] >= 0 ? 2 : 1;
    const int pr = ::poll(fds, nf, -1);
    if (pr < 0) {
      if (errno == EINTR) continue;
      status = make_error(Errc::unavailable, std::string("poll: ") + std::strerror(errno));
      break;
    }
    if (nf == 2 && (fds[1].revents & POLLIN)) break;  // stop() or write failure
    if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    const ssize_t n = ::read(im.opts.in_fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      status = make_error(Errc::unavailable, std::string("read: ") + std::strerror(errno));
      break;
    }
    if (n == 0) {
      eof = true;
    } else {
      buf.append(chunk, static_cast<std::size_t>(n));
    }
    // Hand over every complete line; an unterminated last line counts at EOF.
    std::size_t start = 0;
    for (;;) {
      const std::size_t nl = buf.find('\n', start);
      if (nl == std::string::npos) break;
      std::string line = buf.substr(start, nl - start);
      start = nl + 1;
      if (discarding) {
        discarding = false;
        continue;
      }
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      if (line.size() > im.opts.max_line_bytes) {
        im.reject_oversize();
        continue;
      }
      im.feed(line);
    }
    buf.erase(0, start);
    if (!discarding && buf.size() > im.opts.max_line_bytes) {
      im.reject_oversize();
      discarding = true;
    }
    if (discarding) buf.clear();
    if (eof && !discarding && buf.find_first_not_of(" \t\r") != std::string::npos) {
      im.feed(buf);
      buf.clear();
    }
    {
      std::lock_guard<std::mutex> lk(im.mu);
      if (im.write_failed) break;
    }
  }

  // Drain requests already received (EOF only), then end the session and flush.
  if (eof) {
    std::unique_lock<std::mutex> lk(im.mu);
    im.cv.wait_for(lk, im.opts.drain_timeout,
                   [&] { return im.inflight.empty() || im.write_failed || im.stop; });
  }
  im.session->close();
  {
    std::lock_guard<std::mutex> lk(im.mu);
    im.writer_done = true;
    im.cv.notify_all();
  }
  writer.join();
  im.session.reset();
  {
    std::lock_guard<std::mutex> lk(im.mu);
    if (im.write_failed && status.ok()) {
      status = make_error(Errc::unavailable, "stdout closed or not writable");
    }
  }
  return status;
}

}  // namespace dm::mcp
