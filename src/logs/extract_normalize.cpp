// Normalization: strips record headers (Airflow 2, log4j, Airflow 3 events rendered as text) and
// unwraps Airflow 3 JSON events, including their structured tracebacks, so that every extractor
// sees plain message lines.
#include <nlohmann/json.hpp>

#include "logs/extract_internal.h"

namespace dm::logs::detail {
namespace {

using nlohmann::json;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

Level parse_level(std::string_view w) {
  auto eq = [&](std::string_view p) { return w.size() == p.size() && starts_with_ci(w, p); };
  if (eq("debug")) return Level::debug;
  if (eq("info")) return Level::info;
  if (eq("warning") || eq("warn")) return Level::warning;
  if (eq("error") || eq("exception")) return Level::error;
  if (eq("critical") || eq("fatal")) return Level::critical;
  return Level::none;
}

// `[ts] {file.py:123} LEVEL - msg` or `[ts] LEVEL - msg`.
bool parse_airflow2(std::string_view s, NormLine& n) {
  if (s.empty() || s[0] != '[') return false;
  std::size_t close = s.find(']');
  if (close == std::string_view::npos || close > 64 || close < 8 || !is_digit(s[1])) return false;
  std::size_t p = close + 1;
  while (p < s.size() && s[p] == ' ') ++p;
  std::string_view src;
  if (p < s.size() && s[p] == '{') {
    std::size_t e = s.find('}', p);
    if (e == std::string_view::npos || e - p > 128) return false;
    src = s.substr(p + 1, e - p - 1);
    if (auto colon = src.find(':'); colon != std::string_view::npos) src = src.substr(0, colon);
    p = e + 1;
    while (p < s.size() && s[p] == ' ') ++p;
  }
  std::size_t w = p;
  while (w < s.size() && s[w] != ' ') ++w;
  Level lv = parse_level(s.substr(p, w - p));
  if (lv == Level::none) return false;
  std::string_view rest = s.substr(w);
  if (rest.starts_with(" - ")) {
    rest.remove_prefix(3);
  } else if (rest.starts_with(" -")) {
    rest.remove_prefix(2);
  } else {
    return false;
  }
  n.text.assign(rest);
  n.source.assign(src);
  n.level = lv;
  n.record_start = true;
  return true;
}

// A logger or component name (no space, shorter than `max`) before ": " at the start of `rest`
// becomes n.source and leaves `rest`.
bool take_source(std::string_view& rest, std::size_t max, NormLine& n) {
  std::size_t colon = rest.find(": ");
  if (colon == std::string_view::npos || colon >= max ||
      rest.substr(0, colon).find(' ') != std::string_view::npos) {
    return false;
  }
  n.source.assign(rest.substr(0, colon));
  rest.remove_prefix(colon + 2);
  return true;
}

// log4j (Spark): `26/01/01 00:00:00 ERROR SparkContext: msg`.
bool parse_log4j(std::string_view s, NormLine& n) {
  if (s.size() < 20) return false;
  const char* f = "dd/dd/dd dd:dd:dd ";
  for (std::size_t i = 0; i < 18; ++i) {
    if (f[i] == 'd' ? !is_digit(s[i]) : s[i] != f[i]) return false;
  }
  std::size_t w = s.find(' ', 18);
  if (w == std::string_view::npos) return false;
  Level lv = parse_level(s.substr(18, w - 18));
  if (lv == Level::none) return false;
  std::string_view rest = s.substr(w + 1);
  take_source(rest, 96, n);
  n.text.assign(rest);
  n.level = lv;
  n.record_start = true;
  return true;
}

// An Airflow 3 event as its REST log is rendered to text (dagmedic's client, Airflow's UI):
// `2026-01-01T00:00:00.123456Z [info] logger.name: event key=value …`, the event's context keys
// (dag_id, task_id, run_id, map_index, try_number, ti_id, filename, lineno, …) appended to its
// first line. Header and those keys go, so that a command's output reads as it was printed.
bool parse_rendered_event(std::string_view s, NormLine& n) {
  if (s.size() < 24 || !is_digit(s[0]) || !is_digit(s[3]) || s[4] != '-' || s[7] != '-' ||
      s[10] != 'T' || s[13] != ':' || s[16] != ':') {
    return false;
  }
  std::size_t p = s.find(' ', 19);
  if (p == std::string_view::npos || p > 40 || p + 1 >= s.size() || s[p + 1] != '[') return false;
  std::size_t close = s.find("] ", p + 1);
  if (close == std::string_view::npos || close - p > 12) return false;
  Level lv = parse_level(s.substr(p + 2, close - p - 2));
  if (lv == Level::none) return false;
  std::string_view rest = s.substr(close + 2);
  if (!take_source(rest, 200, n) && rest.ends_with(':') &&
      rest.find(' ') == std::string_view::npos) {
    n.source.assign(rest.substr(0, rest.size() - 1));  // a logger with an empty event
    rest = {};
  }
  static constexpr std::string_view kContextKeys[] = {
      "dag_id",           "task_id",        "run_id",
      "map_index",        "try_number",     "ti_id",
      "filename",         "lineno",         "chan",
      "bundle_name",      "bundle_version", "dag_file",
      "hostname",         "logger_name",    "bundle_prepare_ms",
      "dag_file_parse_ms"};
  for (bool cut = true; cut;) {
    cut = false;
    std::size_t sp = rest.rfind(' ');
    if (sp == std::string_view::npos) break;
    std::string_view kv = rest.substr(sp + 1);
    std::size_t eq = kv.find('=');
    if (eq == std::string_view::npos) break;
    for (std::string_view k : kContextKeys) {
      if (kv.substr(0, eq) == k) {
        rest = rest.substr(0, sp);
        cut = true;
        break;
      }
    }
  }
  n.text.assign(rest);
  n.level = lv;
  n.record_start = true;
  return true;
}

// KubernetesPodOperator logs the container's output as `[base] line` (the container's name):
// without the prefix its tracebacks read like any other.
void strip_container_prefix(NormLine& n) {
  if (n.text.size() < 4 || n.text[0] != '[' || n.source.find("pod_manager") == std::string::npos)
    return;
  std::size_t close = n.text.find("] ");
  if (close == std::string::npos || close > 64) return;
  for (std::size_t k = 1; k < close; ++k) {
    char ch = n.text[k];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.')) return;
  }
  n.text.erase(0, close + 2);
}

std::string scalar_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

void push_split(std::vector<NormLine>& out, const NormLine& proto, std::string_view text,
                bool first_is_record) {
  bool first = true;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t nl = text.find('\n', start);
    std::string_view piece =
        text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    if (!piece.empty() && piece.back() == '\r') piece.remove_suffix(1);
    NormLine n = proto;
    n.text.assign(piece);
    n.display = n.text;
    n.record_start = first && first_is_record;
    out.push_back(std::move(n));
    first = false;
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
}

// structlog dict traceback (outermost first) → Python-style traceback lines (root cause first).
void synthesize_traceback(std::vector<NormLine>& out, const NormLine& proto, const json& detail) {
  if (!detail.is_array()) return;
  std::string buf;
  for (std::size_t k = detail.size(); k-- > 0;) {
    const json& st = detail[k];
    if (!st.is_object()) continue;
    if (k + 1 < detail.size()) {
      const json& cause = detail[k + 1];
      bool is_cause = cause.is_object() && cause.value("is_cause", false);
      buf += is_cause ? "\nThe above exception was the direct cause of the following exception:\n"
                      : "\nDuring handling of the above exception, another exception occurred:\n";
    }
    buf += "Traceback (most recent call last):\n";
    if (auto fr = st.find("frames"); fr != st.end() && fr->is_array()) {
      for (const json& f : *fr) {
        if (!f.is_object()) continue;
        std::string file = f.contains("filename") ? scalar_text(f["filename"]) : "?";
        std::string line = f.contains("lineno") ? scalar_text(f["lineno"]) : "0";
        std::string name = f.contains("name") ? scalar_text(f["name"]) : "?";
        buf += "  File \"" + file + "\", line " + line + ", in " + name + "\n";
      }
    }
    std::string type = st.contains("exc_type") ? scalar_text(st["exc_type"]) : "Exception";
    std::string value = st.contains("exc_value") ? scalar_text(st["exc_value"]) : "";
    buf += value.empty() ? type : type + ": " + value;
    buf += "\n";
  }
  if (!buf.empty() && buf.back() == '\n') buf.pop_back();
  push_split(out, proto, buf, false);
}

bool parse_json_event(std::string_view s, std::uint64_t number, std::vector<NormLine>& out) {
  if (s.empty() || s.front() != '{') return false;
  try {
    json j = json::parse(s.begin(), s.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) return false;
    auto ev = j.find("event");
    if (ev == j.end()) return false;
    NormLine proto;
    proto.number = number;
    proto.json = true;
    if (auto lv = j.find("level"); lv != j.end() && lv->is_string()) {
      proto.level = parse_level(lv->get<std::string>());
    }
    if (auto lg = j.find("logger"); lg != j.end() && lg->is_string()) {
      proto.source = lg->get<std::string>();
    }
    std::string text = scalar_text(*ev);
    for (const char* k :
         {"exit_code", "return_code", "returncode", "signal", "signal_sent", "error", "reason"}) {
      if (auto it = j.find(k);
          it != j.end() && !it->is_null() && !it->is_object() && !it->is_array()) {
        text += std::string(" ") + k + "=" + scalar_text(*it);
      }
    }
    std::size_t first = out.size();
    push_split(out, proto, text, true);
    if (first < out.size()) strip_container_prefix(out[first]);
    if (auto ed = j.find("error_detail"); ed != j.end()) synthesize_traceback(out, proto, *ed);
    if (auto ex = j.find("exception"); ex != j.end() && ex->is_string()) {
      push_split(out, proto, ex->get<std::string>(), false);
    }
    return true;
  } catch (...) {  // nlohmann type errors on odd shapes: treat the line as plain text
    return false;
  }
}

}  // namespace

std::vector<NormLine> normalize(const std::vector<LogLine>& lines) {
  std::vector<NormLine> out;
  out.reserve(lines.size());
  for (const LogLine& l : lines) {
    std::string_view s = l.text;
    if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
    if (parse_json_event(s, l.number, out)) continue;
    NormLine n;
    n.number = l.number;
    if (!parse_airflow2(s, n) && !parse_log4j(s, n) && !parse_rendered_event(s, n)) {
      n.text.assign(s);
    }
    strip_container_prefix(n);
    n.display.assign(s);
    out.push_back(std::move(n));
  }
  return out;
}

}  // namespace dm::logs::detail
