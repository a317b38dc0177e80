// Line splitting for `dagmedic logs templates`, line-aligned blocks of its input, and mining them
// on several threads in input order (mine_in_order).
//
// Line semantics, the same on every path: a line ends at '\n' (not part of it); a line longer
// than max_line keeps its first max_line bytes; then one trailing '\r' is dropped; an empty last
// "line" after a final '\n' is no line, a non-empty unterminated one is.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "logs/redact.h"
#include "logs/template.h"

namespace dm::logs {

// Splits a byte stream into lines without copying complete lines out of the chunk: fn(line) gets
// views valid only during the call. Not thread-safe.
class LineSplitter {
 public:
  explicit LineSplitter(std::size_t max_line) : max_(max_line) {}
  template <class Fn>
  void feed(std::string_view chunk, Fn&& fn) {
    while (!chunk.empty()) {
      const void* nl = std::memchr(chunk.data(), '\n', chunk.size());
      if (!nl) {
        keep(chunk);
        return;
      }
      std::size_t pos = static_cast<std::size_t>(static_cast<const char*>(nl) - chunk.data());
      if (pending_.empty() && !overlong_) {
        emit(chunk.substr(0, pos), fn);
      } else {
        keep(chunk.substr(0, pos));
        emit(pending_, fn);
        pending_.clear();
        overlong_ = false;
      }
      chunk.remove_prefix(pos + 1);
    }
  }
  template <class Fn>
  void finish(Fn&& fn) {
    if (!pending_.empty() || overlong_) emit(pending_, fn);
    pending_.clear();
    overlong_ = false;
  }
  // The line as emitted: cut to max_line bytes, then one trailing '\r' dropped.
  static std::string_view normalise(std::string_view line, std::size_t max_line) {
    if (line.size() > max_line) line = line.substr(0, max_line);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
  }

 private:
  void keep(std::string_view s) {
    std::size_t room = max_ > pending_.size() ? max_ - pending_.size() : 0;
    if (s.size() > room) overlong_ = true;
    pending_.append(s.substr(0, room));
  }
  template <class Fn>
  void emit(std::string_view line, Fn&& fn) {
    fn(normalise(line, max_));
  }
  std::size_t max_;
  std::string pending_;
  bool overlong_ = false;
};

// A run of whole lines of the input, in order, and its place in the input. Every line ends with
// '\n' except perhaps the input's last.
struct LineBlock {
  std::uint64_t seq = 0;       // 0, 1, 2, ... in input order; every seq up to the end is handed out
  bool normalised = false;     // lines already cut and '\r'-stripped (else for_each_line does it)
  const char* text = nullptr;  // the lines: into `store` or memory the source owns
  std::size_t len = 0;
  std::unique_ptr<char[]> store;  // for sources that copy
  std::size_t cap = 0;
  void reserve(std::size_t n);  // store has room for n bytes; keeps store[0, len) if text is there
  void append(std::string_view s) {  // to the text in store
    if (len + s.size() > cap) reserve(len + s.size());
    std::memcpy(store.get() + len, s.data(), s.size());
    len += s.size();
    text = store.get();
  }
  // Calls fn(line) for each line of the block in order, with the line semantics above.
  template <class Fn>
  void for_each_line(std::size_t max_line, Fn&& fn) const {
    const char* p = text;
    const char* end = p + len;
    while (p < end) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
      if (!nl) nl = end;
      std::string_view line(p, nl - p);
      fn(normalised ? line : LineSplitter::normalise(line, max_line));
      p = nl + 1;
    }
  }
};

// Hands out the input's blocks to several threads. next() is thread-safe; it hands out seqs 0, 1,
// 2, ... without gaps (an empty block still has one) and false at the end of the input. If input
// was lost (a read error, a file that shrank), error() says why and blocks with seq >= end_seq()
// must be dropped: they come after the gap. A consumer that takes blocks in seq order sees every
// loss before the blocks it voids (the failing block's next() returned before its turn).
class LineBlockSource {
 public:
  virtual ~LineBlockSource() = default;
  virtual bool next(LineBlock& b) = 0;
  std::string error() const {
    std::lock_guard lk(err_m_);
    return err_;
  }
  std::uint64_t end_seq() const {
    std::lock_guard lk(err_m_);
    return end_seq_;
  }

 protected:
  // Input after block seq is lost (block seq itself keeps what it has).
  void fail(std::uint64_t seq, std::string why) {
    std::lock_guard lk(err_m_);
    if (seq + 1 < end_seq_) {
      end_seq_ = seq + 1;
      err_ = std::move(why);
    }
  }

 private:
  mutable std::mutex err_m_;
  std::string err_;
  std::uint64_t end_seq_ = UINT64_MAX;
};

// Blocks of a regular file read with pread by whichever thread asks, in parallel: block i holds
// the lines that start in [i * block, (i + 1) * block) of the file's first `size` bytes (its size
// when the command started; bytes appended later are not read). Does not own fd. A read error or
// a file that shrinks ends the input early (error() says which).
std::unique_ptr<LineBlockSource> file_line_blocks(int fd, std::uint64_t size, std::size_t block,
                                                  std::size_t max_line);

// Blocks of a stream (stdin, a pipe, or any file when redacting), read one at a time under a lock
// by the thread that asks, through `redactor` if not null, split with LineSplitter (blocks are
// normalised). Does not own f.
std::unique_ptr<LineBlockSource> stream_line_blocks(std::FILE* f,
                                                    std::shared_ptr<const Redactor> redactor,
                                                    std::size_t block, std::size_t max_line);

// Mines every line of src with `threads` threads (this one and threads - 1 more; fewer if no
// thread can be had): each takes the next block, masks its lines into its own MaskedBatch
// (pure per line; its shape memo is its own), waits for the block's turn and mines the lines in
// input order. So the reading, splitting and masking of one block overlap the mining of another,
// and the result is that of mining line by line (TemplateMiner::add is mask + add_prepared).
// on_id(cluster id) is called once per line, in input order, by whichever thread holds the turn
// (never two at once). Returns false if input was lost (src.error() says why; the lines before
// the gap were mined). An exception from a worker (on_id's, bad_alloc) stops the others and is
// rethrown here.
template <class OnId>
bool mine_in_order(LineBlockSource& src, std::size_t threads, const TemplateOptions& to,
                   TemplateMiner& miner, OnId&& on_id) {
  std::mutex m;
  std::condition_variable cv;
  std::uint64_t turn = 0;
  bool failed = false;
  std::exception_ptr error;
  auto work = [&] {
    try {
      LineBlock blk;
      MaskedBatch batch(to);
      while (src.next(blk)) {
        batch.clear();
        blk.for_each_line(to.max_line_bytes, [&](std::string_view line) { batch.add(line); });
        {
          std::unique_lock lk(m);
          cv.wait(lk, [&] { return turn == blk.seq || failed; });
          if (failed) return;
        }
        if (blk.seq < src.end_seq()) {
          for (std::size_t k = 0; k < batch.size(); ++k) on_id(miner.add_prepared(batch, k));
        }
        {
          std::lock_guard lk(m);
          ++turn;
        }
        cv.notify_all();
      }
    } catch (...) {
      std::lock_guard lk(m);
      if (!error) error = std::current_exception();
      failed = true;
      cv.notify_all();
    }
  };
  std::vector<std::thread> pool;
  for (std::size_t w = 1; w < threads; ++w) {
    try {
      pool.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // no more threads to be had: fewer workers, same result
    }
  }
  work();
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
  return src.error().empty();
}

}  // namespace dm::logs
