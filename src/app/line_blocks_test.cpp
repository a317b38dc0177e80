// Line blocks against LineSplitter, the reference: random inputs (empty lines, '\r', lines longer
// than max_line and than a block, no final '\n'), every small block size, file (pread) and stream
// sources, one and several threads taking blocks; and the failure paths: a file that shrank, a
// descriptor that cannot be read, lines after lost input dropped.
#include "app/line_blocks.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace dm::app {
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
  auto red = logs::Redactor::builtin();
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

}  // namespace
}  // namespace dm::app
