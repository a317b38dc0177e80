// dbt error summaries: `Database Error in model stg_orders (models/staging/stg_orders.sql)`
// followed by indented lines that state the cause (`column "order_ts" does not exist`, `LINE 12:
// …`, `compiled code at …`). dbt 1.5+ prefixes the first line of each message with `HH:MM:SS  `
// and may colour it (ANSI codes); under a BashOperator every line also carries Airflow's header.
// The finding names the node and the cause: "model stg_orders: column "order_ts" does not exist".
#include "logs/extract_internal.h"

namespace dm::logs::detail {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

struct Kind {
  std::string_view words, type;
};
constexpr Kind kKinds[] = {{"Database Error", "DbtDatabaseError"},
                           {"Compilation Error", "DbtCompilationError"},
                           {"Runtime Error", "DbtRuntimeError"},
                           {"Parsing Error", "DbtParsingError"},
                           {"Dependency Error", "DbtDependencyError"}};
constexpr std::string_view kNodes[] = {"model",         "test",       "seed",     "snapshot",
                                       "source",        "macro",      "analysis", "unit_test",
                                       "sql operation", "operation",  "exposure", "semantic_model",
                                       "metric",        "saved_query"};

bool is_detail(std::string_view t) {  // lines under the cause that are not the cause
  t = trim(t);
  if (t.empty()) return true;
  if (t.starts_with("LINE ") || starts_with_ci(t, "compiled code at") ||
      starts_with_ci(t, "compiled sql at")) {
    return true;
  }
  for (char ch : t) {
    if (ch != '^' && ch != ' ') return false;
  }
  return true;
}

}  // namespace

std::string_view strip_dbt_prefix(std::string_view t, std::string& buf) {
  if (t.find('\x1b') != std::string_view::npos) {
    buf.clear();
    for (std::size_t i = 0; i < t.size(); ++i) {
      if (t[i] == '\x1b' && i + 1 < t.size() && t[i + 1] == '[') {
        std::size_t k = i + 2;
        while (k < t.size() && !(t[k] >= '@' && t[k] <= '~')) ++k;
        i = k;  // skips the final byte too
        continue;
      }
      buf.push_back(t[i]);
    }
    t = buf;
  }
  if (t.size() >= 9 && is_digit(t[0]) && is_digit(t[1]) && t[2] == ':' && is_digit(t[3]) &&
      is_digit(t[4]) && t[5] == ':' && is_digit(t[6]) && is_digit(t[7]) && t[8] == ' ') {
    t.remove_prefix(9);
    if (!t.empty() && t[0] == ' ') t.remove_prefix(1);
  }
  return t;
}

bool is_dbt_header(std::string_view t, DbtHeader* out) {
  std::string buf;
  std::string_view s = trim(strip_dbt_prefix(t, buf));
  for (const Kind& k : kKinds) {
    if (!s.starts_with(k.words)) continue;
    std::string_view rest = s.substr(k.words.size());
    std::string node;
    if (!rest.empty()) {  // bare "Compilation Error" (dbt < 1.5 parse errors) has no node
      if (!rest.starts_with(" in ")) return false;
      rest.remove_prefix(4);
      for (std::string_view n : kNodes) {
        if (rest.starts_with(n) && rest.size() > n.size() + 1 && rest[n.size()] == ' ') {
          std::string_view name = rest.substr(n.size() + 1);
          name = name.substr(0, name.find(' '));
          if (name.empty()) return false;
          node = std::string(n) + " " + std::string(name);
          break;
        }
      }
      if (node.empty()) return false;
    }
    if (out != nullptr) {
      out->type = std::string(k.type);
      out->node = std::move(node);
      out->text = std::string(s);
    }
    return true;
  }
  return false;
}

void find_dbt(Ctx& c) {
  const auto& L = c.lines;
  const std::size_t n = L.size();
  std::string buf;
  for (std::size_t i = 0; i < n; ++i) {
    if (c.consumed[i]) continue;
    // Cheap test first: every header has " Error" in it.
    if (L[i].text.find(" Error") == std::string::npos) continue;
    DbtHeader h;
    if (!is_dbt_header(L[i].text, &h)) continue;
    ExtractedError e;
    e.kind = h.type == "DbtDatabaseError" ? ErrorKind::sql_error : ErrorKind::python_exception;
    e.exception_type = h.type;
    c.consumed[i] = true;
    add_line(e, L[i]);
    std::string cause;
    std::uint64_t cause_line = 0;
    bool join = false;
    std::size_t k = i + 1;
    for (; k < n && k <= i + 10 && !c.consumed[k]; ++k) {
      std::string_view s = strip_dbt_prefix(L[k].text, buf);
      if (trim(s).empty() || (s[0] != ' ' && s[0] != '\t') || is_dbt_header(s)) break;
      c.consumed[k] = true;
      add_line(e, L[k]);
      if (is_detail(s)) continue;
      if (cause.empty()) {
        cause = trim(s);
        cause_line = L[k].number;
        join = cause.back() == ':';
      } else if (join) {
        cause += " ";
        cause += trim(s);
        join = false;
      }
    }
    std::string what = h.node.empty() ? cause : cause.empty() ? h.node : h.node + ": " + cause;
    e.message = cap_utf8(what.empty() ? h.text : what);
    e.root_cause_line = cap_utf8(cause.empty() ? h.text : h.text + ": " + cause);
    e.root_cause_line_number = cause_line != 0 ? cause_line : L[i].number;
    e.strength = kSpecific;
    c.out.push_back(std::move(e));
    i = k - 1;
  }
}

}  // namespace dm::logs::detail
