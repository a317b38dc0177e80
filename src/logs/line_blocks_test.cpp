// Line blocks against LineSplitter, the reference: random inputs (empty lines, '\r', lines longer
// than max_line and than a block, no final '\n'), every small block size, file (pread) and stream
// sources, one and several threads taking blocks; and the failure paths: a file that shrank, a
// descriptor that cannot be read, lines after lost input dropped.
#include "logs/line_blocks.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace dm::logs {
namespace {

std::vector<std::string> reference(const std::string& text, std::size_t max_line) {
  std::vector<std::string> out;
  LineSplitter s(max_line);
  auto on = [&](std::string_view l) { out.emplace_back(l); };
  // Fed in uneven chunks, as reads would deliver it.
  for (std::size_t i = 0; i < text.size(); i += 7) s.feed(std::string_view(text).substr(i, 7), on);
  s.finish(on);
  return out;
}

// Lines of every block, blocks taken by `threads` threads and put back in seq order. Fails the
// test if a seq is missing or repeated.
std::vector<std::string> via_blocks(LineBlockSource& src, std::size_t max_line, int threads) {
  std::vector<std::vector<std::string>> by_seq;
  std::mutex m;
  auto work = [&] {
    LineBlock b;
    while (src.next(b)) {
      std::vector<std::string> lines;
      b.for_each_line(max_line, [&](std::string_view l) { lines.emplace_back(l); });
      std::lock_guard lk(m);
      if (by_seq.size() <= b.seq) by_seq.resize(b.seq + 1);
      by_seq[b.seq] = std::move(lines);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  std::vector<std::string> out;
  const std::uint64_t end = src.end_seq();
  for (std::size_t k = 0; k < by_seq.size() && k < end; ++k) {
    out.insert(out.end(), by_seq[k].begin(), by_seq[k].end());
  }
  return out;
}

std::string random_log(std::mt19937& rng, std::size_t lines) {
  std::string s;
  std::uniform_int_distribution<int> kind(0, 9), len(0, 40), ch(32, 126);
  for (std::size_t i = 0; i < lines; ++i) {
    int k = kind(rng);
    std::size_t n = k == 0 ? 0 : k == 1 ? 90 + static_cast<std::size_t>(len(rng)) * 3 : len(rng);
    for (std::size_t j = 0; j < n; ++j) s.push_back(static_cast<char>(ch(rng)));
    if (k == 2) s.push_back('\r');
    if (k == 3) s += "\r\r";
    s.push_back('\n');
  }
  return s;
}

class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    char tmpl[] = "/tmp/dm-line-blocks-XXXXXX";
    fd_ = ::mkstemp(tmpl);
    path_ = tmpl;
    EXPECT_EQ(::write(fd_, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }
  ~TempFile() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

TEST(LineBlocks, FileBlocksGiveTheSplittersLinesForEveryBlockSize) {
  std::mt19937 rng(7);
  for (int round = 0; round < 6; ++round) {
    std::string text = random_log(rng, 60);
    if (round % 2) text.append("last line without newline\r");
    if (round == 4) text.clear();
    if (round == 5) text = std::string(500, 'x');  // one line, longer than max_line and blocks
    TempFile f(text);
    for (std::size_t max_line : {std::size_t{16}, std::size_t{100}, std::size_t{4096}}) {
      const auto want = reference(text, max_line);
      for (std::size_t block = 1; block <= 70; block += (block < 12 ? 1 : 13)) {
        for (int threads : {1, 3}) {
          auto src = file_line_blocks(f.fd(), text.size(), block, max_line);
          EXPECT_EQ(via_blocks(*src, max_line, threads), want)
              << "round " << round << " max_line " << max_line << " block " << block;
          EXPECT_EQ(src->error(), "");
        }
      }
    }
  }
}

TEST(LineBlocks, StreamBlocksGiveTheSplittersLines) {
  std::mt19937 rng(11);
  std::string text = random_log(rng, 3000) + "tail\r";
  TempFile f(text);
  for (std::size_t block : {std::size_t{1}, std::size_t{333}, std::size_t{1} << 20}) {
    std::FILE* in = std::fopen(f.path().c_str(), "rb");
    ASSERT_NE(in, nullptr);
    auto src = stream_line_blocks(in, nullptr, block, 50);
    EXPECT_EQ(via_blocks(*src, 50, 2), reference(text, 50)) << block;
    EXPECT_EQ(src->error(), "");
    std::fclose(in);
  }
}

TEST(LineBlocks, StreamBlocksRedactBeforeSplitting) {
  const std::string secret = "AKIAIOSFODNN7EXAMPLE";
  TempFile f("key=" + secret + "\nplain line\n");
  std::FILE* in = std::fopen(f.path().c_str(), "rb");
  ASSERT_NE(in, nullptr);
  auto red = Redactor::builtin();
  ASSERT_TRUE(red);
  auto src = stream_line_blocks(in, red.value(), 1 << 20, 4096);
  auto lines = via_blocks(*src, 4096, 1);
  std::fclose(in);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].find(secret), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("[REDACTED:"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[1], "plain line");
}

TEST(LineBlocks, AFileThatShrankEndsTheInputAtTheGap) {
  std::string text;
  for (int i = 0; i < 100; ++i) text += "line " + std::to_string(i) + "\n";
  TempFile f(text);
  auto want = reference(text, 16);
  // Told it is 10 bytes longer than it is: the last block finds the gap, after its lines (a
  // block reads at most max_line bytes past its end to finish its last line).
  auto src = file_line_blocks(f.fd(), text.size() + 10, 64, 16);
  EXPECT_EQ(via_blocks(*src, 16, 2), want);
  EXPECT_EQ(src->error(), "the file shrank while it was read");
  // Told it is twice as long: a short read anywhere voids every later block; what is kept is a
  // prefix of the lines, in order.
  for (int threads : {1, 2}) {
    src = file_line_blocks(f.fd(), 2 * text.size(), 64, 16);
    auto got = via_blocks(*src, 16, threads);
    EXPECT_EQ(src->error(), "the file shrank while it was read");
    ASSERT_LE(got.size(), want.size());
    EXPECT_TRUE(std::equal(got.begin(), got.end(), want.begin()));
  }
}

TEST(LineBlocks, AReadErrorIsReportedAndNothingAfterItIsKept) {
  TempFile f("one\ntwo\n");
  int wfd = ::open(f.path().c_str(), O_WRONLY);  // pread on it fails with EBADF
  ASSERT_GE(wfd, 0);
  auto src = file_line_blocks(wfd, 8, 4, 4096);
  auto got = via_blocks(*src, 4096, 1);
  ::close(wfd);
  EXPECT_TRUE(got.empty());
  EXPECT_NE(src->error(), "");
  EXPECT_EQ(src->end_seq(), 1u);
}

// Log lines with repeating shapes and fresh values (digits, UUIDs, hex): the shape memo hits and
// misses, clusters merge and (with a small cap) are evicted.
std::string shaped_log(std::mt19937& rng, std::size_t lines) {
  static const char* kShapes[] = {
      "[2026-01-%02d 10:%02d:%02d] INFO - loaded %d rows from s3://raw/dt=2026-01-%02d/p.parquet",
      "task %s try %d of 3 on host ip-10-0-%d-%d",
      "request %08x-%04x-%04x-%04x-%012x done in %d ms",
      "KeyError: col_%d",
      "worker %d: heartbeat %d",
  };
  std::string s;
  char buf[256];
  for (std::size_t i = 0; i < lines; ++i) {
    const int k = static_cast<int>(rng() % 5);
    const unsigned a = rng() % 28 + 1, b = rng() % 60, c = rng() % 60, d = rng() % 100000;
    switch (k) {
      case 0:
        std::snprintf(buf, sizeof buf, kShapes[0], a, b, c, d, a);
        break;
      case 1:
        std::snprintf(buf, sizeof buf, kShapes[1], (rng() % 2) ? "load" : "sync", b % 3 + 1, a, c);
        break;
      case 2:
        std::snprintf(buf, sizeof buf, kShapes[2], d, a, b, c, d, a);
        break;
      case 3:
        std::snprintf(buf, sizeof buf, kShapes[3], a % 7);
        break;
      default:
        std::snprintf(buf, sizeof buf, kShapes[4], a, d);
        break;
    }
    s += buf;
    s += (i % 97 == 0) ? "\r\n" : "\n";
  }
  return s;
}

struct Mined {
  std::vector<std::uint64_t> ids;
  std::vector<std::string> templates;  // of each line, when it was mined
  bool operator==(const Mined&) const = default;
};

Mined mine_line_by_line(const std::string& text, const TemplateOptions& to) {
  TemplateMiner miner(to);
  Mined r;
  for (const auto& line : reference(text, to.max_line_bytes)) {
    r.ids.push_back(miner.add(line));
    r.templates.emplace_back(miner.template_of(r.ids.back()));
  }
  return r;
}

TEST(MineInOrder, SameClustersAsLineByLineForAnyThreadCountAndSource) {
  std::mt19937 rng(3);
  const std::string text = shaped_log(rng, 20000);
  TempFile f(text);
  for (std::size_t max_clusters : {std::size_t{5000}, std::size_t{3}}) {
    TemplateOptions to;
    to.max_clusters = max_clusters;
    to.shape_memo_bytes = 64u << 10;  // small: the memos clear now and then
    const Mined want = mine_line_by_line(text, to);
    for (std::size_t threads : {1, 2, 4}) {
      for (bool stream : {false, true}) {
        TemplateMiner miner(to);
        Mined got;
        std::FILE* in = stream ? std::fopen(f.path().c_str(), "rb") : nullptr;
        auto src = stream ? stream_line_blocks(in, nullptr, 4096, to.max_line_bytes)
                          : file_line_blocks(f.fd(), text.size(), 4096, to.max_line_bytes);
        const bool ok = mine_in_order(*src, threads, to, miner, [&](std::uint64_t id) {
          got.ids.push_back(id);
          got.templates.emplace_back(miner.template_of(id));
        });
        if (in) std::fclose(in);
        EXPECT_TRUE(ok);
        EXPECT_TRUE(got == want) << "threads " << threads << " stream " << stream
                                 << " max_clusters " << max_clusters;
        EXPECT_EQ(miner.lines(), want.ids.size());
      }
    }
  }
}

TEST(MineInOrder, AThrowingCallbackStopsEveryThreadAndIsRethrown) {
  std::mt19937 rng(5);
  const std::string text = shaped_log(rng, 5000);
  TempFile f(text);
  TemplateOptions to;
  TemplateMiner miner(to);
  auto src = file_line_blocks(f.fd(), text.size(), 1024, to.max_line_bytes);
  std::size_t calls = 0;
  EXPECT_THROW(mine_in_order(*src, 3, to, miner,
                             [&](std::uint64_t) {
                               if (++calls == 1234) throw std::runtime_error("disk full");
                             }),
               std::runtime_error);
  EXPECT_EQ(calls, 1234u);  // no line was mined after the throw
}

// Blocks of a file, except that block `bad` is lost (empty, with an error), as a read error there
// would leave it; the blocks after it still have their lines.
class LosingSource final : public LineBlockSource {
 public:
  LosingSource(std::unique_ptr<LineBlockSource> inner, std::uint64_t bad)
      : inner_(std::move(inner)), bad_(bad) {}
  bool next(LineBlock& b) override {
    if (!inner_->next(b)) return false;
    if (b.seq == bad_) {
      b.len = 0;
      fail(b.seq, "read error");
    }
    return true;
  }

 private:
  std::unique_ptr<LineBlockSource> inner_;
  std::uint64_t bad_;
};

TEST(MineInOrder, LinesAfterLostInputAreNotMined) {
  std::string text;
  for (int i = 0; i < 400; ++i) text += "job " + std::to_string(1000 + i) + " done\n";  // 14 bytes
  TempFile f(text);
  TemplateOptions to;
  for (std::size_t threads : {1, 2, 3}) {
    TemplateMiner miner(to);
    // 140-byte blocks: 10 lines each; block 7 is lost, so lines 0-69 are mined and nothing else.
    LosingSource src(file_line_blocks(f.fd(), text.size(), 140, to.max_line_bytes), 7);
    std::vector<std::uint64_t> ids;
    EXPECT_FALSE(
        mine_in_order(src, threads, to, miner, [&](std::uint64_t id) { ids.push_back(id); }));
    EXPECT_EQ(src.error(), "read error");
    EXPECT_EQ(ids.size(), 70u) << threads;
    EXPECT_EQ(miner.lines(), 70u);
  }
}

}  // namespace
}  // namespace dm::logs
