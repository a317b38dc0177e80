// line-path-bench: CPU cost of dagmedic's own log path per MB, without Airflow — the lines an
// Airflow 3 log renders to (as the airflow layer hands them over), through redaction into the tail
// ring:
//   joined:  each line copied + '\n', RedactStream::feed, Tail::feed (the path before issue 12)
//   lines:   RedactStream::feed_line, Tail::push (one pass over views, the path now)
// and the same for DiagnoseStream (feed vs feed_line; the extract_task_errors path); for scale,
// decode_ndjson: the airflow layer turning the same log's Airflow 3 NDJSON body into those lines
// (airflow::EventLogDecoder: decode_ndjson_reference is one nlohmann parse per event,
// decode_ndjson_fast the FastEventDecoder single pass it uses first); and the full path a
// task_log / extract_task_errors call runs for one log, per 50 MB of NDJSON:
//   full_task_log: NDJSON body in 16 KiB chunks (as curl hands them over) → EventLogDecoder →
//     counting_sink (with the byte cap) → a LogSink as stream_log's, which hands lines on in
//     line runs (logs/line_run.h) → RedactStream::feed_line → Tail::push, the same chain of
//     calls as task_log;
//   full_extract: the same into DiagnoseStream::feed_line, then finish() (extract_task_errors);
//   full_*_no_runs: the same without line runs (one redaction scan per line, as before them).
//   line-path-bench [MB=50] [repeats=3] [path]   one JSON line per path (best of the repeats),
//                                                 only `path` when given (e.g. for perf record)
// Times are the process's CPU time (CLOCK_PROCESS_CPUTIME_ID), which other work on a shared
// machine inflates less than wall time; "wall_seconds" is the same run's wall time.
// Never run by tests.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "airflow/log_stream.h"
#include "logs/line_run.h"
#include "logs/pipeline.h"
#include "logs/redact.h"
#include "logs/tail.h"

using namespace dm::logs;
using dm::airflow::EventLogDecoder;
using AfLine = dm::airflow::LogLine;
using dm::airflow::LogSink;
using dm::airflow::LogStats;

int main(int argc, char** argv) {
  const std::size_t mb = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 50;
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 3;
  const std::string only = argc > 3 ? argv[3] : "";
  auto red = Redactor::builtin();
  if (!red) return 1;
  std::atomic<bool> cancelled{false};  // as a call's cancellation flag
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
  auto cpu_now = [] {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  };
  // `per` is the byte count the figures are per (the rendered lines, or the NDJSON body).
  auto time_per = [&](const char* name, std::size_t per, auto&& fn) {
    if (!only.empty() && only != name) return;
    double best = 1e9, best_wall = 1e9;
    std::size_t check = 0;
    for (int r = 0; r < repeats; ++r) {
      auto w0 = std::chrono::steady_clock::now();
      double c0 = cpu_now();
      check = fn();
      best = std::min(best, cpu_now() - c0);
      best_wall = std::min(
          best_wall, std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count());
    }
    std::printf(
        "{\"path\":\"%s\",\"mb\":%.1f,\"lines\":%zu,\"seconds\":%.4f,\"wall_seconds\":%.4f,"
        "\"ms_per_50mb\":%.1f,\"MB_s\":%.0f,\"check\":%zu}\n",
        name, per / 1e6, lines.size(), best, best_wall, best * 1000 * 50e6 / per, per / 1e6 / best,
        check);
    std::fflush(stdout);
  };
  auto time_it = [&](const char* name, auto&& fn) { time_per(name, bytes, fn); };
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
  ndjson +=  // the end of a failed try, as bench/logpath/logpath.py writes it
      R"({"timestamp":"2026-12-06T10:59:59.000000Z","level":"error","event":"Task failed with )"
      R"(exception","logger":"task","error_detail":[{"exc_type":"ValueError","exc_value":)"
      R"("checksum mismatch in batch 04999 password=hunter2","frames":[{"filename":)"
      R"("/opt/airflow/dags/replay.py","lineno":12,"name":"replay_events"}]}]})"
      "\n";
  // Before: the nlohmann decoder for every line (Mode::reference); after: FastEventDecoder first.
  for (auto [name, mode] : {std::pair{"decode_ndjson_reference", EventLogDecoder::Mode::reference},
                            std::pair{"decode_ndjson_fast", EventLogDecoder::Mode::fast}}) {
    time_per(name, ndjson.size(), [&, mode = mode] {
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
  // The full path of one call, per 50 MB of NDJSON: the body in 16 KiB chunks through the decoder
  // and the same sinks a REST read and stream_log put in front of the tool's own consumer.
  // `in_runs` false: lines go straight on, one redaction scan each (stream_log before line runs).
  auto full = [&](const std::function<void(const AfLine&)>& line, bool in_runs = true) {
    LogStats st;
    // stream_log's sink: its cancellation check, lines handed on in runs (logs/line_run.h).
    LineRunBatcher runs([&](std::string_view text, std::string_view level) {
      line(AfLine{text, level});
    });
    LogSink sink = [&](const AfLine& l) {
      if (cancelled.load(std::memory_order_relaxed)) return false;
      if (in_runs)
        runs.push(l.text, l.level);
      else
        line(l);
      return true;
    };
    EventLogDecoder dec(dm::airflow::counting_sink(sink, st, 4ull << 30));
    for (std::size_t i = 0; i < ndjson.size(); i += 16384)
      if (!dec.feed(std::string_view(ndjson).substr(i, 16384))) break;
    dec.finish();
    runs.flush();
    return st.lines;
  };
  for (bool in_runs : {false, true}) {
    time_per(in_runs ? "full_task_log" : "full_task_log_no_runs", ndjson.size(), [&] {
      RedactStream rs(*red);
      Tail tail(topt);
      full(
          [&](const AfLine& l) {
            rs.feed_line(l.text, [&](std::string_view r) { tail.push(r, l.level); });
          },
          in_runs);
      return static_cast<std::size_t>(tail.total_lines());
    });
    time_per(in_runs ? "full_extract" : "full_extract_no_runs", ndjson.size(), [&] {
      auto ds = DiagnoseStream::create(dopt);
      full([&](const AfLine& l) { (*ds)->feed_line(l.text, l.level); }, in_runs);
      return static_cast<std::size_t>((*ds)->finish().tail.total_lines);
    });
  }
  return 0;
}
