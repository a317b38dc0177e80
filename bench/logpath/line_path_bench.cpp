// line-path-bench: CPU cost of dagmedic's own log path per MB, without Airflow — the lines an
// Airflow 3 log renders to (as the airflow layer hands them over), through redaction into the tail
// ring:
//   joined:  each line copied + '\n', RedactStream::feed, Tail::feed (the path before issue 12)
//   lines:   RedactStream::feed_line, Tail::push (one pass over views, the path now)
// and the same for DiagnoseStream (feed vs feed_line; the extract_task_errors path); and, for
// scale, decode_ndjson: the airflow layer turning the same log's Airflow 3 NDJSON body into those
// lines (airflow::EventLogDecoder: decode_ndjson_reference is one nlohmann parse per event,
// decode_ndjson_fast the FastEventDecoder single pass it now uses first), which comes before the
// log path.
//   line-path-bench [MB=50] [repeats=3]      prints one JSON line per path (best of the repeats)
// Never run by tests.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "airflow/log_stream.h"
#include "logs/pipeline.h"
#include "logs/redact.h"
#include "logs/tail.h"

using namespace dm::logs;
using dm::airflow::EventLogDecoder;

int main(int argc, char** argv) {
  const std::size_t mb = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 50;
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 3;
  auto red = Redactor::builtin();
  if (!red) return 1;
  // The rendered text of Airflow 3 events (as EventLogDecoder::render_event produces it).
  std::vector<std::string> lines;
  std::size_t bytes = 0;
  for (std::size_t i = 0; bytes < mb * 1000000; ++i) {
    lines.push_back("2026-12-06T10:00:00.123456Z [info] task.stdout: replayed batch " +
                    std::to_string(i) + " ok " + std::string(96, 'x'));
    bytes += lines.back().size() + 1;
  }
  lines.push_back("2026-12-06T10:59:59Z [error] task: Task failed with exception");
  lines.push_back("Traceback (most recent call last):");
  lines.push_back("  File \"/opt/airflow/dags/replay.py\", line 12, in replay_events");
  lines.push_back("ValueError: checksum mismatch in batch 04999 password=hunter2");
  auto time_it = [&](const char* name, auto&& fn) {
    double best = 1e9;
    std::size_t check = 0;
    for (int r = 0; r < repeats; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      check = fn();
      best = std::min(best,
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::printf(
        "{\"path\":\"%s\",\"mb\":%.1f,\"lines\":%zu,\"seconds\":%.4f,\"ms_per_50mb\":%.1f,\"MB_s\":"
        "%.0f,"
        "\"check\":%zu}\n",
        name, bytes / 1e6, lines.size(), best, best * 1000 * 50e6 / bytes, bytes / 1e6 / best,
        check);
  };
  const TailOptions topt{200, 5000, 16384, 2048};
  time_it("tail_joined", [&] {
    RedactStream rs(*red);
    Tail tail(topt);
    std::string buf;
    auto to_tail = [&](std::string_view r) { tail.feed(r); };
    for (const auto& l : lines) {
      buf.assign(l);
      buf.push_back('\n');
      rs.feed(buf, to_tail);
    }
    rs.finish(to_tail);
    tail.finish();
    return static_cast<std::size_t>(tail.total_lines());
  });
  time_it("tail_lines", [&] {
    RedactStream rs(*red);
    Tail tail(topt);
    for (const auto& l : lines) rs.feed_line(l, [&](std::string_view r) { tail.push(r, "info"); });
    return static_cast<std::size_t>(tail.total_lines());
  });
  DiagnoseOptions dopt;
  dopt.redactor = *red;
  auto cat = Categorizer::builtin();  // loaded once, as the server's Deps do
  if (!cat) return 1;
  dopt.categorizer = *cat;
  dopt.tail.max_lines = 200;
  time_it("diagnose_joined", [&] {
    auto ds = DiagnoseStream::create(dopt);
    std::string buf;
    for (const auto& l : lines) {
      buf.assign(l);
      buf.push_back('\n');
      (*ds)->feed(buf);
    }
    return static_cast<std::size_t>((*ds)->finish().error_line);
  });
  time_it("diagnose_lines", [&] {
    auto ds = DiagnoseStream::create(dopt);
    for (const auto& l : lines) (*ds)->feed_line(l, "info");
    return static_cast<std::size_t>((*ds)->finish().error_line);
  });
  // An NDJSON body as Airflow 3 serves it (events as bench/logpath/logpath.py writes), as many
  // bytes as the lines above: ms_per_50mb is then per 50 MB of NDJSON.
  std::string ndjson;
  for (std::size_t i = 0; ndjson.size() < bytes && i < lines.size(); ++i)
    ndjson +=
        "{\"timestamp\":\"2026-12-06T10:00:00.123456Z\",\"level\":\"info\",\"event\":"
        "\"replayed batch " +
        std::to_string(i) + " ok " + std::string(96, 'x') + "\",\"logger\":\"task.stdout\"}\n";
  // Before: the nlohmann decoder for every line (Mode::reference); after: FastEventDecoder first.
  for (auto [name, mode] : {std::pair{"decode_ndjson_reference", EventLogDecoder::Mode::reference},
                            std::pair{"decode_ndjson_fast", EventLogDecoder::Mode::fast}}) {
    time_it(name, [&, mode = mode] {
      std::size_t n = 0;
      EventLogDecoder dec(
          [&](std::string_view, std::string_view) {
            ++n;
            return true;
          },
          mode);
      for (std::size_t i = 0; i < ndjson.size(); i += 65536)
        dec.feed(std::string_view(ndjson).substr(i, 65536));
      dec.finish();
      return n;
    });
  }
  return 0;
}
