// redact-bench FILE [--out OUT] [--chunk BYTES] [--repeat N] [--rules EXTRA.yaml]
// Reads FILE into memory, then redacts it with the builtin rules, single-threaded:
//   whole:  Redactor::redact(all bytes)
//   stream: RedactStream fed in --chunk sized pieces (default 64 KiB)
// prints MB/s for each (best of --repeat runs, default 3) and checks stream == whole.
// Writes the redacted text to --out if given. Exit 1 if stream and whole differ.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "logs/redact.h"

int main(int argc, char** argv) {
  std::string file, out_path;
  std::size_t chunk = 64 * 1024;
  int repeat = 3;
  std::vector<std::string> extra;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--out" && i + 1 < argc)
      out_path = argv[++i];
    else if (a == "--chunk" && i + 1 < argc)
      chunk = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--repeat" && i + 1 < argc)
      repeat = std::atoi(argv[++i]);
    else if (a == "--rules" && i + 1 < argc)
      extra.push_back(argv[++i]);
    else if (file.empty())
      file = a;
    else {
      std::cerr << "usage: redact-bench FILE [--out OUT] [--chunk N] [--repeat N] [--rules Y]\n";
      return 2;
    }
  }
  if (file.empty() || chunk == 0 || repeat < 1) {
    std::cerr << "usage: redact-bench FILE [--out OUT] [--chunk N] [--repeat N] [--rules Y]\n";
    return 2;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::cerr << "cannot read " << file << "\n";
    return 2;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string data = ss.str();
  auto r =
      extra.empty() ? dm::logs::Redactor::builtin() : dm::logs::Redactor::builtin_plus_files(extra);
  if (!r) {
    std::cerr << r.error().message << "\n";
    return 2;
  }
  const auto& red = *r;
  const double mb = static_cast<double>(data.size()) / 1e6;
  using clk = std::chrono::steady_clock;
  // CPU time of this thread: the machine may be shared, and the target is per core.
  auto cpu_now = [] {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
  };
  double best_whole = 1e30, best_stream = 1e30, cpu_whole = 1e30, cpu_stream = 1e30;
  std::string whole, stream;
  for (int k = 0; k < repeat; ++k) {
    auto t0 = clk::now();
    double c0 = cpu_now();
    whole = red->redact(data);
    auto t1 = clk::now();
    cpu_whole = std::min(cpu_whole, cpu_now() - c0);
    best_whole = std::min(best_whole, std::chrono::duration<double>(t1 - t0).count());
    stream.clear();
    stream.reserve(data.size() + 1024);
    dm::logs::RedactStream s(red);
    auto sink = [&](std::string_view v) { stream.append(v); };
    t0 = clk::now();
    c0 = cpu_now();
    for (std::size_t off = 0; off < data.size(); off += chunk)
      s.feed(std::string_view(data).substr(off, chunk), sink);
    s.finish(sink);
    t1 = clk::now();
    cpu_stream = std::min(cpu_stream, cpu_now() - c0);
    best_stream = std::min(best_stream, std::chrono::duration<double>(t1 - t0).count());
  }
  std::size_t markers = 0;
  for (std::size_t p = whole.find("[REDACTED:"); p != std::string::npos;
       p = whole.find("[REDACTED:", p + 1))
    ++markers;
  std::printf(
      "{\"bytes\": %zu, \"rules\": %zu, \"markers\": %zu, \"whole_cpu_mb_s\": %.1f, "
      "\"stream_cpu_mb_s\": %.1f, \"whole_wall_mb_s\": %.1f, \"stream_wall_mb_s\": %.1f, "
      "\"chunk\": %zu, \"stream_equals_whole\": %s}\n",
      data.size(), red->rule_count(), markers, mb / cpu_whole, mb / cpu_stream, mb / best_whole,
      mb / best_stream, chunk, whole == stream ? "true" : "false");
  if (!out_path.empty()) {
    std::ofstream o(out_path, std::ios::binary);
    o << whole;
  }
  return whole == stream ? 0 : 1;
}
