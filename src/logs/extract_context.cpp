// Context for findings: the lines that name what ran (the bash command, the Spark submit
// command, the SQL statement, the HTTP URL — also wget's own request line — the sensor's poke
// target), taken as the last such line before each finding, and after a shell exit the wrapper
// exception that reports it, and for an exception a PySpark driver reported through Py4J the
// driver's Py4JJavaError line and the Java exception under it. A sensor or timeout error raised
// while poking for data names the poke target in its message.
#include "logs/extract_internal.h"

namespace dm::logs::detail {
namespace {

enum Ctxt : int { kCommand, kSql, kUrl, kPoke, kKinds };

struct Hit {
  std::size_t index;  // into the normalized lines
  int kind;
};

int context_kind(const NormLine& l) {
  std::string_view t = trim(l.text);
  if (t.size() < 8) return -1;
  switch (t[0]) {
    case 'R':
      if (t.starts_with("Running command:")) return kCommand;
      if (t.starts_with("Running statement:") || t.starts_with("Running query:")) return kSql;
      return -1;
    case 'S':
      if (t.starts_with("Spark-Submit cmd:")) return kCommand;
      if (t.starts_with("Sending '") && t.find(" to url: ") != std::string_view::npos) return kUrl;
      return -1;
    case 'E':
      if (t.starts_with("Executing: ") || t.starts_with("Executing SQL:")) return kSql;
      return -1;
    case 'P':
      if (t.starts_with("Poking for ") || t.starts_with("Poking: ")) return kPoke;
      return -1;
    case 'W':
      if (t.starts_with("Waiting for ") &&
          (t.find("://") != std::string_view::npos || t.find('/') != std::string_view::npos)) {
        return kPoke;
      }
      return -1;
    case '+':  // bash xtrace (set -x) in the command's output
      if (t[1] == ' ' && contains_ci(l.source, "subprocess")) return kCommand;
      return -1;
    case '-':  // wget's request line: `--2026-01-01 00:00:00--  https://host/path`
      if (t.starts_with("--") && t.find("--  ") != std::string_view::npos &&
          t.find("://") != std::string_view::npos) {
        return kUrl;
      }
      return -1;
    case 'f':
    case 'h':  // wget --no-verbose names the URL alone on the line before its error: `https://h/p:`
      if ((t.starts_with("http://") || t.starts_with("https://") || t.starts_with("ftp://")) &&
          t.back() == ':' && t.find(' ') == std::string_view::npos) {
        return kUrl;
      }
      return -1;
    default:
      return -1;
  }
}

// What a poke line waits for: its first URI, else its last word with a path in it ("Poking for
// key : s3://b/k/_SUCCESS" -> "s3://b/k/_SUCCESS"), else the text after the poke phrase.
std::string poke_target(std::string_view t) {
  t = trim(t);
  std::string_view best;
  std::size_t p = 0;
  while (p < t.size()) {
    std::size_t e = t.find(' ', p);
    if (e == std::string_view::npos) e = t.size();
    std::string_view w = t.substr(p, e - p);
    if (w.find("://") != std::string_view::npos) {
      best = w;  // a URI wins over any other path-like word ("(attempt 12/60)")
      break;
    }
    if (w.find('/') != std::string_view::npos) best = w;
    p = e + 1;
  }
  while (!best.empty() && (best.back() == ',' || best.back() == '.' || best.back() == '\'' ||
                           best.back() == '"' || best.back() == ')')) {
    best.remove_suffix(1);
  }
  while (!best.empty() && (best.front() == '\'' || best.front() == '"' || best.front() == '(')) {
    best.remove_prefix(1);
  }
  if (best.empty()) {
    // No path: what the phrase is followed by ("Poking for tasks ['load'] in dag up on …",
    // "Poking: SELECT …", "Poking for table db.t, partition ds='…'"), up to a " ... ".
    for (std::string_view phrase : {"Poking for ", "Poking: ", "Waiting for "}) {
      if (!t.starts_with(phrase)) continue;
      best = t.substr(phrase.size());
      best = trim(best.substr(0, best.find(" ... ")));
      break;
    }
  }
  return cap_utf8(best, 160);
}

// The command of `Running command: ['/usr/bin/bash', '-c', 'cmd']` (Python's repr quotes the
// command with " when it holds a '), of `Spark-Submit cmd: …`, or of an xtrace line `+ cmd`.
std::string command_of(std::string_view t) {
  t = trim(t);
  for (std::string_view pre : {"Running command:", "Spark-Submit cmd:"}) {
    if (t.starts_with(pre)) {
      t = trim(t.substr(pre.size()));
      break;
    }
  }
  for (std::string_view key : {"'-c', ", "\"-c\", "}) {
    std::size_t p = t.find(key);
    if (p == std::string_view::npos || p + key.size() >= t.size()) continue;
    std::string_view rest = t.substr(p + key.size());
    const char q = rest[0];
    if (q != '\'' && q != '"') continue;
    rest.remove_prefix(1);
    if (std::size_t end = rest.rfind(q); end != std::string_view::npos) rest = rest.substr(0, end);
    return cap_utf8(trim(rest), 256);
  }
  if (t.starts_with("+ ")) t.remove_prefix(2);
  return cap_utf8(t, 256);
}

bool waits_on_data(const ExtractedError& e) {
  std::string st = short_type(e.exception_type);
  return st == "AirflowSensorTimeout" || st == "AirflowTaskTimeout" || st == "TimeoutError" ||
         st == "TaskDeferralTimeout" || st == "AirflowSensorTimeoutException" ||
         contains_ci(e.message, "Sensor has timed out");
}

bool has_line(const ExtractedError& e, std::uint64_t number, std::string_view text) {
  for (const RelevantLine& r : e.lines) {
    if (r.number == number && r.text == text) return true;
  }
  return false;
}

// A PySpark job's failure: the executor's exception is reported again and again after the
// driver's `Py4JJavaError: An error occurred while calling …` and the Java exception Py4J prints
// under it (`: org.apache.spark.SparkException: Job aborted due to stage failure: …`); the cause
// is taken from the last report, far below. Those two lines say where it happened (a Spark job,
// which call, which stage): shown with the cause when the nearest wrapper before it is Py4J's.
void add_py4j_report(const std::vector<NormLine>& L, const std::vector<ExtractedError>& findings,
                     ExtractedError& e) {
  const ExtractedError* wrapper = nullptr;
  for (const ExtractedError& w : findings) {
    if (w.strength != kWrapper || w.root_cause_line_number >= e.first_line ||
        e.first_line - w.root_cause_line_number > 400) {
      continue;
    }
    if (wrapper == nullptr || w.root_cause_line_number > wrapper->root_cause_line_number) {
      wrapper = &w;
    }
  }
  if (wrapper == nullptr || short_type(wrapper->exception_type) != "Py4JJavaError") return;
  for (std::size_t i = 0; i < L.size(); ++i) {
    if (L[i].number != wrapper->root_cause_line_number ||
        L[i].text.find("Py4JJavaError") == std::string::npos) {
      continue;
    }
    for (std::size_t k = i; k < L.size() && k <= i + 1; ++k) {
      if (k > i && !ltrim(L[k].text).starts_with(": ")) break;  // Py4J's `: java.Type: msg`
      std::string text = cap_utf8(L[k].display);
      if (!has_line(e, L[k].number, text)) e.lines.push_back(RelevantLine{L[k].number, text});
    }
    return;
  }
}

}  // namespace

void add_context(const std::vector<NormLine>& L, std::vector<ExtractedError>& findings) {
  std::vector<Hit> hits;
  for (std::size_t i = 0; i < L.size(); ++i) {
    if (int k = context_kind(L[i]); k >= 0) hits.push_back(Hit{i, k});
  }
  for (std::size_t f = 0; f < findings.size(); ++f) {
    ExtractedError& e = findings[f];
    const std::uint64_t start = e.first_line != 0 ? e.first_line : e.root_cause_line_number;
    const NormLine* last[kKinds] = {};
    for (const Hit& h : hits) {
      if (L[h.index].number >= start) break;
      last[h.kind] = &L[h.index];
    }
    for (const NormLine* l : last) {
      if (l == nullptr) continue;
      std::string text = cap_utf8(l->display, 512);
      if (!has_line(e, l->number, text)) e.lines.push_back(RelevantLine{l->number, text});
    }
    if (last[kPoke] != nullptr && waits_on_data(e)) {
      if (std::string target = poke_target(last[kPoke]->text); !target.empty()) {
        e.message = cap_utf8(e.message + " (waiting for: " + target + ")");
      }
    }
    if (e.kind == ErrorKind::shell_exit && e.message.starts_with("exit code ") &&
        last[kCommand] != nullptr) {
      // Nothing printed before the exit: the command names the failure.
      if (std::string cmd = command_of(last[kCommand]->text); !cmd.empty()) {
        e.message = cap_utf8(cmd + " (" + e.message + ")");
      }
    }
    if ((e.kind == ErrorKind::python_exception || e.kind == ErrorKind::jvm_exception) &&
        e.strength > kWrapper) {
      add_py4j_report(L, findings, e);
    }
    if (e.kind == ErrorKind::shell_exit || e.kind == ErrorKind::oom_kill ||
        e.kind == ErrorKind::pod_failure) {
      // The wrapper exception that reports it ("Bash command failed …", "Pod … returned a
      // failure."): the nearest one within 40 lines.
      const ExtractedError* wrapper = nullptr;
      std::uint64_t best = 41;
      for (std::size_t g = 0; g < findings.size(); ++g) {
        const ExtractedError& w = findings[g];
        if (g == f || w.strength != kWrapper) continue;
        std::uint64_t a = w.root_cause_line_number, b = e.root_cause_line_number;
        std::uint64_t dist = a > b ? a - b : b - a;
        if (dist < best) {
          best = dist;
          wrapper = &w;
        }
      }
      if (wrapper != nullptr) {
        for (const RelevantLine& r : wrapper->lines) {
          if (r.number == wrapper->root_cause_line_number &&
              (wrapper->message.empty() || r.text.find(wrapper->message) != std::string::npos)) {
            if (!has_line(e, r.number, r.text)) e.lines.push_back(r);
            break;
          }
        }
      }
    }
  }
}

}  // namespace dm::logs::detail
