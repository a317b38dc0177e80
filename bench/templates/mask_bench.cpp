// Masking pass alone (never run by tests): times mask_variables_into (bitmap engine) and
// mask_variables_scalar_into (byte engine) over every line of FILE and checks they agree.
//   cmake --build $DM_BUILD --target templates-mask-bench
//   $DM_BUILD/bench/templates-mask-bench ~/.cache/dagmedic/bench-templates/bench.log
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "logs/signature_mask.h"

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
  std::printf("differences: %zu (checksum %zu)\n", diffs, sum);
  return diffs == 0 ? 0 : 1;
}
