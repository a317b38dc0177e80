// FastEventDecoder against the nlohmann reference decoder: hand-written edge cases, a seeded
// random generator of NDJSON lines, chunked bodies, and a check that the common Airflow 3 shape
// really takes the fast path.
#include "airflow/log_stream.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <utility>
#include <vector>

namespace dm::airflow {
namespace {

struct Decoded {
  std::vector<std::pair<std::string, std::string>> lines;  // (text, level)
  bool ok = true;
  std::string error;  // message, when decoding failed
  std::size_t events = 0;
  std::size_t fast_events = 0;

  bool operator==(const Decoded& o) const {
    return lines == o.lines && ok == o.ok && error == o.error && events == o.events;
  }
};

std::string show(const Decoded& r) {
  std::string s = "ok=" + std::to_string(r.ok) + " events=" + std::to_string(r.events) +
                  " error=" + r.error + "\n";
  for (const auto& [t, l] : r.lines) s += "  [" + l + "] " + t + "\n";
  return s;
}

// Feeds `body` in chunks of `chunk` bytes (0: all at once); the sink stops after `stop_after`
// lines when non-zero.
Decoded decode(std::string_view body, EventLogDecoder::Mode mode, std::size_t chunk = 0,
               std::size_t stop_after = 0) {
  Decoded r;
  EventLogDecoder d(
      [&](std::string_view t, std::string_view l) {
        r.lines.emplace_back(std::string(t), std::string(l));
        return stop_after == 0 || r.lines.size() < stop_after;
      },
      mode);
  bool go = true;
  if (chunk == 0) {
    go = d.feed(body);
  } else {
    for (std::size_t i = 0; go && i < body.size(); i += chunk) go = d.feed(body.substr(i, chunk));
  }
  if (go) go = d.finish();
  r.ok = go;
  if (d.error()) r.error = d.error()->message;
  r.events = d.events();
  r.fast_events = d.fast_events();
  return r;
}

void expect_same(std::string_view body, std::size_t chunk = 0, std::size_t stop_after = 0) {
  Decoded ref = decode(body, EventLogDecoder::Mode::reference, chunk, stop_after);
  Decoded fast = decode(body, EventLogDecoder::Mode::fast, chunk, stop_after);
  EXPECT_TRUE(ref == fast) << "input: " << body << "\nreference:\n"
                           << show(ref) << "fast:\n"
                           << show(fast);
}

// Lines the fast path must render itself (and identically).
const std::vector<std::string> kFastLines = {
    R"({"timestamp":"2026-12-06T10:00:00.123456Z","level":"info","event":"hello","logger":"task.stdout"})",
    R"({"event":"hello","level":"info","timestamp":"2026-12-06T10:00:00Z","logger":"x"})",
    R"({"timestamp":"t","level":"info","event":"a","logger":"l","chan":"stdout"})",
    R"(  { "event" : "spaced" ,	"level":"warning" }   )",
    R"({})",
    R"({"event":""})",
    R"({"event":null,"level":null,"timestamp":null,"logger":null})",
    R"({"event":true,"level":false,"timestamp":true})",
    R"({"event":"x","zeta":"1","alpha":"2","Beta":null,"_u":true})",
    R"({"event":"x","":"empty key"})",
    R"({"event":"line1\nline2\r\nline3\r","level":"error"})",
    R"({"event":"tab\there \"quoted\" back\\slash \/ \b\f"})",
    R"({"event":"nul \u0000 inside","level":"info"})",
    R"({"event":"\u00e9\u20AC\ud83d\ude00 \uD83D\uDE00"})",
    "{\"event\":\"raw utf8 \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xed\x9f\xbf \xf4\x8f\xbf\xbf\"}",
    R"({"\u006cevel":"escaped key","event":"e"})",
    R"({"event":"boom","error_detail":"Traceback:\n  File x\nValueError: bad","exception":null})",
    R"({"event":"boom","exception":"Traceback (most recent call last):\nKeyError: 'a'"})",
    R"({"event":"x","chan":null,"level":"debug"})",
    R"({"event":"a long event )" + std::string(5000, 'y') + R"("})",
};

// Lines the fast path must leave to the reference decoder (which renders or rejects them).
const std::vector<std::string> kDeclinedLines = {
    R"({"event":"x","lineno":42})",
    R"({"event":"x","ratio":1.50})",
    R"({"event":"x","big":1e400})",
    R"({"event":"x","neg":-0})",
    R"({"event":"x","ctx":{"a":1,"b":[1,2,{"c":null}]}})",
    R"({"event":"x","chan":{"nested":true}})",
    R"({"event":"x","list":[]})",
    R"({"event":"boom","error_detail":[{"exc_type":"ValueError","exc_value":"bad","frames":[{"filename":"/a.py","lineno":3,"name":"f"}]}]})",
    R"({"event":"boom","exception":[{"exc_type":"KeyError","exc_value":"'k'","is_cause":false,"frames":[]},{"exc_type":"RuntimeError","exc_value":"x","is_cause":true,"frames":[{"filename":"b.py","lineno":"7","name":"g"}]}]})",
    R"({"event":"boom","error_detail":{"not":"a list"}})",
    R"({"event":"boom","error_detail":["plain",1]})",
    R"({"event":"a","event":"b"})",
    R"({"event":"a","x":"1","x":"2"})",
    R"({"content":"plain text\nsecond"})",
    R"({"content":[{"event":"in page"}],"continuation_token":"tok"})",
    R"({"content":5,"event":"x"})",
    R"("just a json string")",
    R"(42)",
    R"(["an","array"])",
    R"(null)",
    "\xef\xbb\xbf{\"event\":\"after a BOM\"}",
    // Invalid: the reference decoder reports the error.
    R"({"event":"lone high \ud800"})",
    R"({"event":"lone high then text \ud800x"})",
    R"({"event":"high then high \ud800\ud800"})",
    R"({"event":"lone low \udc00"})",
    R"({"event":"bad hex \u12G4"})",
    R"({"event":"short \u12"})",
    R"({"event":"bad escape \x"})",
    "{\"event\":\"raw control \x01 char\"}",
    "{\"event\":\"raw tab \t char\"}",
    "{\"event\":\"invalid utf8 \xff\"}",
    "{\"event\":\"overlong \xc0\x80\"}",
    "{\"event\":\"encoded surrogate \xed\xa0\x80\"}",
    "{\"event\":\"truncated \xe2\x82\"}",
    "{\"event\":\"above max \xf4\x90\x80\x80\"}",
    R"({"event":"trailing comma",})",
    R"({"event":"missing brace")",
    R"({"event":"x"} trailing)",
    R"({"event":"x"}{"event":"y"})",
    R"({"event" "no colon"})",
    R"({event:"unquoted"})",
    R"({"event":tru})",
    R"({"event":nulls})",
    R"({"event":"unterminated)",
    R"({"timestamp":"2026-12-06T10:00:00Z","level":"info","ev)",
    R"(plain text line from Airflow 2)",
    R"([2026-12-06 10:00:00] {taskinstance.py:1} INFO - text)",
};

TEST(FastEventDecoder, RendersTheCommonShapesItself) {
  for (const auto& l : kFastLines) {
    FastEventDecoder f;
    std::vector<std::string> out;
    auto r = f.decode(l, [&](std::string_view t, std::string_view) {
      out.emplace_back(t);
      return true;
    });
    EXPECT_EQ(r, FastEventDecoder::Outcome::rendered) << l;
    expect_same(l + "\n");
    Decoded fast = decode(l + "\n", EventLogDecoder::Mode::fast);
    EXPECT_EQ(fast.fast_events, 1u) << l;
  }
}

TEST(FastEventDecoder, RendersTheAirflow3LineExactly) {
  FastEventDecoder f;
  std::vector<std::pair<std::string, std::string>> out;
  auto r = f.decode(
      R"({"timestamp":"2026-12-06T10:00:00.123456Z","level":"info","event":"replayed \"b\"\u00e9 ok","logger":"task.stdout","chan":"stdout","try":"1"})",
      [&](std::string_view t, std::string_view l) {
        out.emplace_back(t, l);
        return true;
      });
  ASSERT_EQ(r, FastEventDecoder::Outcome::rendered);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].first,
            "2026-12-06T10:00:00.123456Z [info] task.stdout: replayed \"b\"\xc3\xa9 ok try=1");
  EXPECT_EQ(out[0].second, "info");
}

TEST(FastEventDecoder, DeclinesWhatItIsNotSureAbout) {
  for (const auto& l : kDeclinedLines) {
    FastEventDecoder f;
    bool called = false;
    auto r = f.decode(l, [&](std::string_view, std::string_view) {
      called = true;
      return true;
    });
    EXPECT_EQ(r, FastEventDecoder::Outcome::declined) << l;
    EXPECT_FALSE(called) << l;
    expect_same(l + "\n");
  }
}

TEST(FastEventDecoder, StopsWhenTheSinkStops) {
  std::string body = R"({"event":"a\nb\nc","exception":"x\ny"})"
                     "\n"
                     R"({"event":"d"})"
                     "\n";
  for (std::size_t stop = 1; stop <= 6; ++stop) expect_same(body, 0, stop);
}

TEST(FastEventDecoder, NdjsonBodiesSplitAcrossChunksMatchTheReference) {
  std::string body;
  for (const auto& l : kFastLines) body += l + "\r\n";
  for (const auto& l : kDeclinedLines) {  // those the reference accepts (an error ends a body)
    if (decode(l + "\n", EventLogDecoder::Mode::reference).ok) body += l + "\n";
  }
  body += "\n   \n";
  body += R"({"event":"last line without newline"})";
  Decoded ref = decode(body, EventLogDecoder::Mode::reference);
  EXPECT_TRUE(ref.ok) << ref.error;
  for (std::size_t chunk : {1u, 2u, 3u, 7u, 64u, 4096u}) expect_same(body, chunk);
  // An invalid line in the middle ends both with the same error after the same lines.
  expect_same(body + "\n{\"event\":\"bad \\ud800\"}\n{\"event\":\"never\"}\n", 5);
}

// --- seeded random NDJSON lines -----------------------------------------------------------------

class Gen {
 public:
  explicit Gen(std::uint32_t seed) : rng_(seed) {}

  std::string line() {
    std::string s;
    ws(s);
    s += '{';
    int n = pick(8);
    for (int i = 0; i < n; ++i) {
      if (i) s += ',';
      ws(s);
      s += key();
      ws(s);
      s += ':';
      ws(s);
      s += value(0);
      ws(s);
    }
    s += '}';
    ws(s);
    // Damage some lines: truncate, or flip a byte.
    int d = pick(20);
    if (d == 0 && !s.empty()) s.resize(pick(static_cast<int>(s.size())));
    if (d == 1 && !s.empty()) s[pick(static_cast<int>(s.size()))] = static_cast<char>(pick(256));
    return s;
  }

 private:
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }

  void ws(std::string& s) {
    static const char* kWs[] = {"", "", "", "", " ", "\t", "  ", " \r "};
    s += kWs[pick(8)];
  }

  std::string key() {
    static const char* kKeys[] = {R"("timestamp")",
                                  R"("level")",
                                  R"("logger")",
                                  R"("event")",
                                  R"("chan")",
                                  R"("error_detail")",
                                  R"("exception")",
                                  R"("try_number")",
                                  R"("map_index")",
                                  R"("a")",
                                  R"("B")",
                                  R"("")",
                                  R"("\u006cevel")",
                                  R"("ev\u0065nt")",
                                  R"("k\u00e9y")",
                                  R"("content")",
                                  R"("continuation_token")",
                                  R"("z z")"};
    return kKeys[pick(sizeof(kKeys) / sizeof(kKeys[0]))];
  }

  std::string str() {
    static const char* kPieces[] = {"a",
                                    "hello world",
                                    "\\n",
                                    "\\r\\n",
                                    "\\\"",
                                    "\\\\",
                                    "\\/",
                                    "\\b",
                                    "\\f",
                                    "\\t",
                                    "\\u0000",
                                    "\\u0041",
                                    "\\u00e9",
                                    "\\u20ac",
                                    "\\uD83D\\uDE00",
                                    "\\ud83d\\ude00",
                                    "\\ud800",
                                    "\\udc00",
                                    "\\ud800\\u0041",
                                    "\\uZZZZ",
                                    "\\x",
                                    "\xc3\xa9",
                                    "\xe2\x82\xac",
                                    "\xf0\x9f\x98\x80",
                                    "\xff",
                                    "\xc0\x80",
                                    "\xed\xa0\x80",
                                    "\x01",
                                    "\t",
                                    "2026-12-06T10:00:00Z",
                                    "info",
                                    "ERROR",
                                    "task.stdout",
                                    " ",
                                    "=",
                                    "{\\\"j\\\":1}"};
    std::string s = "\"";
    int n = pick(6);
    for (int i = 0; i < n; ++i) s += kPieces[pick(sizeof(kPieces) / sizeof(kPieces[0]))];
    if (pick(50) == 0) s += std::string(static_cast<std::size_t>(pick(300)), 'q');
    return s + "\"";
  }

  std::string value(int depth) {
    int k = pick(depth > 2 ? 8 : 12);
    switch (k) {
      case 0:
      case 1:
      case 2:
      case 3:
        return str();
      case 4:
        return "null";
      case 5:
        return pick(2) ? "true" : "false";
      case 6: {
        static const char* kNums[] = {"0",
                                      "-1",
                                      "42",
                                      "1.5",
                                      "1e3",
                                      "-0",
                                      "1E400",
                                      "01",
                                      "1.",
                                      "18446744073709551616",
                                      "-9223372036854775809"};
        return kNums[pick(sizeof(kNums) / sizeof(kNums[0]))];
      }
      case 7:
        return str();
      case 8:
      case 9: {  // traceback-shaped exception list
        std::string s = "[";
        int n = pick(3);
        for (int i = 0; i < n; ++i) {
          if (i) s += ",";
          s += R"({"exc_type":)" + str() + R"(,"exc_value":)" + value(depth + 1) +
               R"(,"is_cause":)" + (pick(2) ? "true" : "false") + R"(,"frames":[)";
          int f = pick(3);
          for (int j = 0; j < f; ++j) {
            if (j) s += ",";
            s += R"({"filename":)" + str() + R"(,"lineno":)" + value(depth + 2) + R"(,"name":)" +
                 str() + "}";
          }
          s += "]}";
        }
        return s + "]";
      }
      case 10: {
        std::string s = "{";
        int n = pick(3);
        for (int i = 0; i < n; ++i) {
          if (i) s += ",";
          s += key() + ":" + value(depth + 1);
        }
        return s + "}";
      }
      default: {
        std::string s = "[";
        int n = pick(3);
        for (int i = 0; i < n; ++i) {
          if (i) s += ",";
          s += value(depth + 1);
        }
        return s + "]";
      }
    }
  }

  std::mt19937 rng_;
};

TEST(FastEventDecoder, RandomLinesMatchTheReference) {
  Gen g(20261207);
  std::size_t fast = 0;
  const int kLines = 20000;
  for (int i = 0; i < kLines; ++i) {
    std::string l = g.line();
    Decoded ref = decode(l + "\n", EventLogDecoder::Mode::reference);
    Decoded f = decode(l + "\n", EventLogDecoder::Mode::fast);
    ASSERT_TRUE(ref == f) << "line " << i << ": " << l << "\nreference:\n"
                          << show(ref) << "fast:\n"
                          << show(f);
    fast += f.fast_events;
  }
  // The generator mixes in enough unsupported values that many lines decline, but the fast path
  // must take a real share of them.
  EXPECT_GT(fast, static_cast<std::size_t>(kLines / 10));
}

TEST(FastEventDecoder, RandomBodiesInRandomChunksMatchTheReference) {
  Gen g(7);
  std::mt19937 rng(11);
  for (int b = 0; b < 200; ++b) {
    std::string body;
    for (int i = 0; i < 30; ++i) body += g.line() + (i % 3 ? "\n" : "\r\n");
    std::size_t chunk = std::uniform_int_distribution<std::size_t>(1, 300)(rng);
    expect_same(body, chunk);
  }
}

}  // namespace
}  // namespace dm::airflow
