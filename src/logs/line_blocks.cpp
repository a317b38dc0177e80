#include "logs/line_blocks.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <vector>

namespace dm::logs {

void LineBlock::reserve(std::size_t n) {
  if (n <= cap) return;
  std::size_t c = std::max(n, cap + cap / 2);
  auto d = std::make_unique<char[]>(c);  // not zeroed: only [0, len) is ever read
  if (len && text == store.get()) std::memcpy(d.get(), store.get(), len);
  store = std::move(d);
  cap = c;
}

namespace {

class FileBlocks final : public LineBlockSource {
 public:
  FileBlocks(int fd, std::uint64_t size, std::size_t block, std::size_t max_line)
      : fd_(fd), size_(size), block_(std::max<std::size_t>(block, 1)), max_(max_line) {}

  bool next(LineBlock& b) override {
    const std::uint64_t i = next_.fetch_add(1, std::memory_order_relaxed);
    const std::uint64_t start = i * block_;
    if (start >= size_) return false;
    b.seq = i;
    b.normalised = false;
    b.len = 0;
    if (i >= end_seq()) return true;  // past lost input: dropped anyway
    const std::uint64_t end = std::min<std::uint64_t>(size_, start + block_);
    // One byte before the block says whether a line starts at `start`.
    const std::uint64_t from = start == 0 ? 0 : start - 1;
    b.reserve(end - from + max_ + 1);
    std::size_t got = 0;
    if (!read_at(b.store.get(), end - from, from, got, i)) return true;
    if (got < end - from) fail(i, "the file shrank while it was read");
    std::size_t first = 0;
    if (start > 0) {
      const char* nl = static_cast<const char*>(std::memchr(b.store.get(), '\n', got));
      if (!nl) return true;  // no line starts here: the line from an earlier block covers it
      first = static_cast<std::size_t>(nl - b.store.get()) + 1;
    }
    // Lines [first, got) start in the block; the last may run past `end`. store has room for
    // max_ + 1 more bytes after them.
    b.text = b.store.get() + first;
    b.len = got - first;
    finish_last_line(b, from + got, got == end - from);
    return true;
  }

 private:
  // pread until n bytes or the end of the file; false (input lost after block seq) on an error.
  bool read_at(char* dst, std::size_t n, std::uint64_t off, std::size_t& got, std::uint64_t seq) {
    got = 0;
    while (got < n) {
      ssize_t r = ::pread(fd_, dst + got, n - got, static_cast<off_t>(off + got));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        fail(seq, std::strerror(errno));
        return false;
      }
      if (r == 0) break;
      got += static_cast<std::size_t>(r);
    }
    return true;
  }

  // b holds whole lines and maybe an unterminated last line that continues at file offset `at`
  // (if `more`): reads on to its '\n' (or the end of the input), keeping at most max_ of its
  // bytes (normalise cuts the rest anyway), and ends it with '\n'.
  void finish_last_line(LineBlock& b, std::uint64_t at, bool more) {
    char* text = const_cast<char*>(b.text);  // in b.store
    if (b.len == 0 || text[b.len - 1] == '\n') return;
    const char* last_nl = static_cast<const char*>(memrchr(text, '\n', b.len));
    const std::size_t line_start = last_nl ? static_cast<std::size_t>(last_nl - text) + 1 : 0;
    std::size_t have = b.len - line_start;
    while (more && at < size_ && have < max_) {
      std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(max_ - have, size_ - at));
      std::size_t got = 0;
      if (!read_at(text + b.len, want, at, got, b.seq)) break;
      if (got < want) fail(b.seq, "the file shrank while it was read");
      at += got;
      const char* nl = static_cast<const char*>(std::memchr(text + b.len, '\n', got));
      std::size_t take = nl ? static_cast<std::size_t>(nl - (text + b.len)) : got;
      b.len += take;
      have += take;
      if (nl || got < want) break;
    }
    text[b.len++] = '\n';
  }

  int fd_;
  std::uint64_t size_;
  std::size_t block_, max_;
  std::atomic<std::uint64_t> next_{0};
};

class StreamBlocks final : public LineBlockSource {
 public:
  StreamBlocks(std::FILE* f, std::shared_ptr<const Redactor> r, std::size_t block,
               std::size_t max_line)
      : f_(f), block_(std::max<std::size_t>(block, 1)), split_(max_line), buf_(kRead) {
    if (r) rs_ = std::make_unique<RedactStream>(std::move(r));
  }

  bool next(LineBlock& b) override {
    std::lock_guard lk(m_);
    if (done_) return false;
    b.seq = seq_++;
    b.normalised = true;
    b.len = 0;
    auto on_line = [&](std::string_view line) {
      b.append(line);
      b.append("\n");
    };
    auto to_lines = [&](std::string_view s) { split_.feed(s, on_line); };
    while (b.len < block_) {
      std::size_t n = std::fread(buf_.data(), 1, buf_.size(), f_);
      if (n > 0) {
        if (rs_) {
          rs_->feed(std::string_view(buf_.data(), n), to_lines);
        } else {
          to_lines(std::string_view(buf_.data(), n));
        }
      }
      if (n < buf_.size()) {
        if (std::ferror(f_)) fail(b.seq, std::strerror(errno));
        if (rs_) rs_->finish(to_lines);
        split_.finish(on_line);
        done_ = true;
        break;
      }
    }
    return true;
  }

 private:
  static constexpr std::size_t kRead = 1u << 20;
  std::mutex m_;
  std::FILE* f_;
  std::size_t block_;
  LineSplitter split_;
  std::unique_ptr<RedactStream> rs_;
  std::vector<char> buf_;
  std::uint64_t seq_ = 0;
  bool done_ = false;
};

}  // namespace

std::unique_ptr<LineBlockSource> file_line_blocks(int fd, std::uint64_t size, std::size_t block,
                                                  std::size_t max_line) {
  return std::make_unique<FileBlocks>(fd, size, block, max_line);
}

std::unique_ptr<LineBlockSource> stream_line_blocks(std::FILE* f,
                                                    std::shared_ptr<const Redactor> redactor,
                                                    std::size_t block, std::size_t max_line) {
  return std::make_unique<StreamBlocks>(f, std::move(redactor), block, max_line);
}

}  // namespace dm::logs
