// The bitmap masker (mask_variables_into, SSE2 on x86-64) against the byte-at-a-time reference
// (mask_variables_scalar_into): byte-identical output on random lines built from the pieces the
// rules look at, on every corpus log line, and at the bitmap's word and size edges.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "dm_test_paths.h"
#include "logs/mask_test_lines.h"
#include "logs/signature_mask.h"

namespace dm::logs {
namespace {

using testing::mask_test_pieces;
using testing::random_mask_test_line;

// Both engines into exact-size buffers (ASan sees any write past mask_bound).
void expect_same(std::string_view in, MaskMode mode) {
  std::vector<char> a(mask_bound(in.size())), b(mask_bound(in.size()));
  std::string_view x(a.data(), mask_variables_into(in, mode, a.data()));
  std::string_view y(b.data(), mask_variables_scalar_into(in, mode, b.data()));
  ASSERT_EQ(x, y) << "mode " << static_cast<int>(mode) << " input: " << in;
}

TEST(MaskSimd, RandomLinesMatchTheByteEngine) {
  std::mt19937 rng(20261126);
  for (int n = 0; n < 20000; ++n) {
    std::string line = random_mask_test_line(rng, n % 20 == 0 ? 200 : 30);
    for (MaskMode mode : {MaskMode::templates, MaskMode::signature}) {
      expect_same(line, mode);
      if (HasFatalFailure()) return;
    }
  }
}

// Every 64-byte word edge and the 4096-byte limit (longer input takes the byte engine): a rule
// piece placed so that it straddles the edge at every offset.
TEST(MaskSimd, WordAndSizeEdges) {
  for (const std::string& piece : mask_test_pieces()) {
    for (std::size_t edge : {64u, 128u, 4096u}) {
      // At 4096 (a slow 4 KiB line per call) a few placements; at the word edges all of them.
      const std::size_t step = edge == 4096 ? piece.size() / 2 + 1 : 1;
      for (std::size_t back = 0; back <= piece.size() + 20 && back < edge; back += step) {
        std::string line(edge - back, 'a');
        for (std::size_t k = 7; k < line.size(); k += 9) line[k] = ' ';  // letters-only words
        line += piece;
        line += " tail 1";
        for (MaskMode mode : {MaskMode::templates, MaskMode::signature}) {
          expect_same(line, mode);
          if (HasFatalFailure()) return;
          expect_same(std::string_view(line).substr(0, edge), mode);
          if (HasFatalFailure()) return;
        }
      }
    }
  }
  for (std::size_t len : {4095u, 4096u, 4097u, 9000u}) {
    std::string line;
    std::mt19937 rng(static_cast<unsigned>(len));
    while (line.size() < len) line += mask_test_pieces()[rng() % mask_test_pieces().size()];
    line.resize(len);
    expect_same(line, MaskMode::templates);
    expect_same(line, MaskMode::signature);
  }
}

TEST(MaskSimd, CorpusLinesMatchTheByteEngine) {
  std::size_t lines = 0;
  for (const char* dir : {"tests/logs/extract", "tests/logs/benign", "tests/logs/secrets"}) {
    std::filesystem::path root = std::filesystem::path(DM_SOURCE_DIR) / dir;
    if (!std::filesystem::exists(root)) continue;
    for (const auto& f : std::filesystem::recursive_directory_iterator(root)) {
      if (!f.is_regular_file()) continue;
      std::ifstream in(f.path(), std::ios::binary);
      std::string line;
      while (std::getline(in, line)) {
        ++lines;
        expect_same(line, MaskMode::templates);
        expect_same(line, MaskMode::signature);
        if (HasFatalFailure()) return;
      }
    }
  }
  EXPECT_GT(lines, 100u);
}

}  // namespace
}  // namespace dm::logs
