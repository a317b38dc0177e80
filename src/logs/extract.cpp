// Orchestrates the extractors over normalized lines and ranks their findings.
#include "logs/extract.h"

#include <algorithm>

#include "logs/extract_internal.h"

namespace dm::logs {

const char* error_kind_name(ErrorKind k) noexcept {
  switch (k) {
    case ErrorKind::python_exception:
      return "python_exception";
    case ErrorKind::jvm_exception:
      return "jvm_exception";
    case ErrorKind::sql_error:
      return "sql_error";
    case ErrorKind::shell_exit:
      return "shell_exit";
    case ErrorKind::oom_kill:
      return "oom_kill";
    case ErrorKind::pod_failure:
      return "pod_failure";
    case ErrorKind::airflow_marker:
      return "airflow_marker";
    case ErrorKind::error_line:
      return "error_line";
  }
  return "unknown";
}

std::string cap_utf8(std::string_view s, std::size_t max) {
  if (s.size() <= max) return std::string(s);
  static constexpr std::string_view kEll = "\xE2\x80\xA6";  // "…"
  std::size_t cut = max > kEll.size() ? max - kEll.size() : 0;
  // Step back over UTF-8 continuation bytes so the cut lands on a character boundary.
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  std::string r(s.substr(0, cut));
  if (max >= kEll.size()) r += kEll;
  return r;
}

namespace detail {

std::string_view ltrim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}
std::string_view trim(std::string_view s) {
  s = ltrim(s);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

static char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool starts_with_ci(std::string_view s, std::string_view p) {
  if (s.size() < p.size()) return false;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (lower(s[i]) != lower(p[i])) return false;
  }
  return true;
}

bool contains_ci(std::string_view s, std::string_view p) {
  if (p.empty()) return true;
  for (std::size_t i = 0; i + p.size() <= s.size(); ++i) {
    if (starts_with_ci(s.substr(i), p)) return true;
  }
  return false;
}

static bool ident_start(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
static bool ident_char(char c) {
  return ident_start(c) || (c >= '0' && c <= '9') || c == '.' || c == '$';
}

bool split_exception(std::string_view s, std::string& type, std::string& message) {
  s = trim(s);
  if (s.empty() || !ident_start(s[0])) return false;
  std::size_t i = 0;
  while (i < s.size() && ident_char(s[i])) ++i;
  std::string_view t = s.substr(0, i);
  if (t.size() < 2 || t.back() == '.' || t.size() > 200) return false;
  if (i == s.size()) {
    type.assign(t);
    message.clear();
    return true;
  }
  if (s[i] != ':') return false;
  type.assign(t);
  message.assign(trim(s.substr(i + 1)));
  return true;
}

std::string short_type(std::string_view type) {
  std::size_t p = type.find_last_of(".$");
  return std::string(p == std::string_view::npos ? type : type.substr(p + 1));
}

void add_line(ExtractedError& e, const NormLine& l) {
  e.lines.push_back(RelevantLine{l.number, cap_utf8(l.display)});
  if (e.first_line == 0 || l.number < e.first_line) e.first_line = l.number;
  if (l.number > e.last_line) e.last_line = l.number;
}

void finish_lines(ExtractedError& e, std::size_t cap) {
  std::stable_sort(
      e.lines.begin(), e.lines.end(),
      [](const RelevantLine& a, const RelevantLine& b) { return a.number < b.number; });
  e.lines.erase(std::unique(e.lines.begin(), e.lines.end(),
                            [](const RelevantLine& a, const RelevantLine& b) {
                              return a.number == b.number && a.text == b.text;
                            }),
                e.lines.end());
  if (e.lines.size() <= cap) return;
  // Keep the head (what started it) and the tail (where it ended, usually the root cause).
  std::size_t head = std::min<std::size_t>(5, cap / 4);
  std::vector<RelevantLine> kept(e.lines.begin(), e.lines.begin() + static_cast<long>(head));
  kept.insert(kept.end(), e.lines.end() - static_cast<long>(cap - head), e.lines.end());
  // Never drop the root-cause line.
  bool has_root = std::any_of(kept.begin(), kept.end(), [&](const RelevantLine& r) {
    return r.number == e.root_cause_line_number;
  });
  if (!has_root && e.root_cause_line_number != 0) {
    auto it = std::find_if(e.lines.begin(), e.lines.end(), [&](const RelevantLine& r) {
      return r.number == e.root_cause_line_number;
    });
    if (it != e.lines.end() && !kept.empty()) {
      kept[head] = *it;
      std::stable_sort(kept.begin(), kept.end(), [](const RelevantLine& a, const RelevantLine& b) {
        return a.number < b.number;
      });
    }
  }
  e.lines = std::move(kept);
}

bool is_wrapper_exception(std::string_view type, std::string_view message) {
  std::string st = short_type(type);
  if (st == "Py4JJavaError" || st == "CalledProcessError" || st == "AirflowBashCommandError" ||
      st == "PodLaunchFailedException" || st == "PodLaunchTimeoutException") {
    return true;
  }
  if (st == "AirflowException" || st == "AirflowFailException" || st == "RuntimeError" ||
      st == "Exception") {
    for (std::string_view p :
         {"Bash command failed", "non-zero exit", "Cannot execute:", "spark-submit",
          "returned non-zero", "Process returned", "exit code", "exited with", "returned a failure",
          "Pod Launching failed", "Pod took"}) {
      if (contains_ci(message, p)) return true;
    }
  }
  return false;
}

bool unwrap_dbapi(std::string& type, std::string& message) {
  std::string_view m = message;
  if (m.size() < 4 || m[0] != '(') return false;
  std::size_t close = m.find(')');
  if (close == std::string_view::npos || close < 3 || close > 200 || close + 1 >= m.size() ||
      m[close + 1] != ' ') {
    return false;
  }
  std::string inner_type, rest;
  if (!split_exception(m.substr(1, close - 1), inner_type, rest) || !rest.empty()) return false;
  std::string st = short_type(inner_type);
  // A driver's class: dotted (psycopg2.errors.X, pymysql.err.X) or named like an error.
  if (inner_type.find('.') == std::string::npos && !st.ends_with("Error") &&
      !st.ends_with("Exception")) {
    return false;
  }
  std::string msg(trim(m.substr(close + 2)));
  if (msg.empty()) return false;
  type = std::move(inner_type);
  message = std::move(msg);
  return true;
}

bool announces_continuation(std::string_view message) {
  message = trim(message);
  return !message.empty() && message.back() == ':';
}

}  // namespace detail

Extraction extract_errors(const std::vector<LogLine>& lines, const ExtractOptions& opt) {
  using namespace detail;
  std::vector<NormLine> norm = normalize(lines);
  Ctx c{norm, std::vector<bool>(norm.size(), false), opt, {}};
  // Order matters: structured traces claim their lines first so that the SQL/exit/marker passes
  // don't report the same line twice.
  find_python(c);
  find_jvm(c);
  find_dbt(c);  // before the SQL pass: a dbt cause line may look like an engine error
  find_sql(c);
  find_k8s(c);  // before the exit pass: it claims the pod dump's OOMKilled line
  find_exits(c);
  find_markers(c);

  Extraction r;
  r.errors = std::move(c.out);
  std::stable_sort(r.errors.begin(), r.errors.end(),
                   [](const ExtractedError& a, const ExtractedError& b) {
                     return a.root_cause_line_number < b.root_cause_line_number;
                   });
  auto strongest = [&r] {
    int best = -1;
    for (std::size_t i = 0; i < r.errors.size(); ++i) {
      if (best < 0 || r.errors[i].strength >= r.errors[static_cast<std::size_t>(best)].strength) {
        best = static_cast<int>(i);
      }
    }
    return best;
  };
  if (const std::size_t cap = std::max<std::size_t>(opt.max_findings, 1); r.errors.size() > cap) {
    // Keep the latest ones, and the strongest wherever it is (a pod dump's OOMKilled line can
    // share its event's line number with dozens of lesser findings).
    const std::size_t drop = r.errors.size() - cap;
    const auto best = static_cast<std::size_t>(strongest());
    if (best < drop) r.errors[drop] = std::move(r.errors[best]);
    r.errors.erase(r.errors.begin(), r.errors.begin() + static_cast<long>(drop));
  }
  add_context(norm, r.errors);
  for (auto& e : r.errors) finish_lines(e, std::max<std::size_t>(opt.max_relevant_lines, 1));
  r.primary = strongest();
  return r;
}

Extraction extract_errors(std::string_view text, const ExtractOptions& opt,
                          std::uint64_t first_line) {
  std::vector<LogLine> lines;
  std::uint64_t n = first_line;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    std::string_view piece =
        text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    lines.push_back(LogLine{n++, std::string(piece)});
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return extract_errors(lines, opt);
}

}  // namespace dm::logs
