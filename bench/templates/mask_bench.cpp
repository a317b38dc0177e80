// Masking pass alone (never run by tests): times mask_variables_into (bitmap engine) and
// mask_variables_scalar_into (byte engine) over every line of FILE and checks they agree; then
// MaskedBatch (mask + hash per line, as the miner does) with the shape memo off and on: time, memo
// hit rate, and that both give the same masked lines and hashes.
//   cmake --build $DM_BUILD --target templates-mask-bench
//   $DM_BUILD/bench/templates-mask-bench ~/.cache/dagmedic/bench-templates/bench.log
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "logs/signature_mask.h"
#include "logs/template.h"

namespace {
double cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: mask_bench FILE\n");
    return 2;
  }
  std::ifstream f(argv[1], std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string text = ss.str();
  std::vector<std::string_view> lines;
  for (std::size_t i = 0; i < text.size();) {
    std::size_t j = text.find('\n', i);
    if (j == std::string::npos) j = text.size();
    lines.emplace_back(text.data() + i, j - i);
    i = j + 1;
  }
  std::vector<char> a(dm::logs::mask_bound(8192)), b(a.size());
  std::size_t diffs = 0, sum = 0;
  for (auto mode : {dm::logs::MaskMode::templates, dm::logs::MaskMode::signature}) {
    for (auto l : lines) {
      std::size_t x = dm::logs::mask_variables_into(l, mode, a.data());
      std::size_t y = dm::logs::mask_variables_scalar_into(l, mode, b.data());
      if (x != y || std::string_view(a.data(), x) != std::string_view(b.data(), y)) {
        if (diffs++ < 5) {
          std::printf("DIFF\n in  %.*s\n new %.*s\n old %.*s\n", static_cast<int>(l.size()),
                      l.data(), static_cast<int>(x), a.data(), static_cast<int>(y), b.data());
        }
      }
    }
  }
  for (int rep = 0; rep < 3; ++rep) {
    double t0 = cpu_now();
    for (auto l : lines)
      sum += dm::logs::mask_variables_into(l, dm::logs::MaskMode::templates, a.data());
    double t1 = cpu_now();
    for (auto l : lines) {
      sum += dm::logs::mask_variables_scalar_into(l, dm::logs::MaskMode::templates, b.data());
    }
    double t2 = cpu_now();
    std::printf(
        "%zu lines %.1f MB: bitmap %.3f s (%.2f ns/byte)  byte %.3f s (%.2f ns/byte)  %.2fx\n",
        lines.size(), static_cast<double>(text.size()) / 1e6, t1 - t0,
        (t1 - t0) * 1e9 / static_cast<double>(text.size()), t2 - t1,
        (t2 - t1) * 1e9 / static_cast<double>(text.size()), (t2 - t1) / (t1 - t0));
  }
  // MaskedBatch, memo off / on, batches of 16384 lines (the memo lives across batches).
  auto batch_pass = [&](std::size_t memo_bytes, std::vector<std::uint64_t>* hashes,
                        dm::logs::MaskedBatch& b) {
    double t0 = cpu_now();
    for (std::size_t k = 0; k < lines.size(); k += 16384) {
      b.clear();
      const std::size_t e = std::min(lines.size(), k + 16384);
      for (std::size_t q = k; q < e; ++q) b.add(lines[q]);
      for (std::size_t q = 0; q < b.size(); ++q) {
        sum += b.masked(q).size();
        if (hashes) hashes->push_back(b.hash(q));
      }
    }
    (void)memo_bytes;
    return cpu_now() - t0;
  };
  std::vector<std::uint64_t> h_off, h_on;
  for (int rep = 0; rep < 3; ++rep) {
    dm::logs::TemplateOptions off, on;
    off.shape_memo_bytes = 0;
    dm::logs::MaskedBatch boff(off), bon(on);
    h_off.clear();
    h_on.clear();
    const double toff = batch_pass(0, rep == 0 ? &h_off : nullptr, boff);
    const double ton = batch_pass(on.shape_memo_bytes, rep == 0 ? &h_on : nullptr, bon);
    const auto& m = bon.memo();
    std::printf(
        "MaskedBatch (mask + hash): memo off %.3f s  memo on %.3f s  %.2fx  hit rate %.4f "
        "(%llu / %llu, %zu shapes, %llu clears)\n",
        toff, ton, toff / ton,
        static_cast<double>(m.hits()) / static_cast<double>(m.lookups() ? m.lookups() : 1),
        static_cast<unsigned long long>(m.hits()), static_cast<unsigned long long>(m.lookups()),
        m.size(), static_cast<unsigned long long>(m.clears()));
    if (rep == 0 && h_off != h_on) {
      std::printf("memo on/off hashes DIFFER\n");
      ++diffs;
    }
  }
  std::printf("differences: %zu (checksum %zu)\n", diffs, sum);
  return diffs == 0 ? 0 : 1;
}
