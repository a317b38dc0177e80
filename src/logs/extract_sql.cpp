// SQL engine errors printed outside a Python/JVM trace: Postgres (`ERROR:  …`, `psql:f.sql:3:
// ERROR:`), MySQL client (`ERROR 1146 (42S02) at line 1: …`), Snowflake (`002003 (42S02): …`),
// BigQuery (`… Final error was: {…}`).
#include "logs/extract_internal.h"

namespace dm::logs::detail {
namespace {

bool digits(std::string_view s, std::size_t n) {
  if (s.size() < n) return false;
  for (std::size_t i = 0; i < n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}
bool sqlstate(std::string_view s) {  // "(42S02)"
  if (s.size() < 7 || s[0] != '(' || s[6] != ')') return false;
  for (std::size_t i = 1; i < 6; ++i) {
    char c = s[i];
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'))) return false;
  }
  return true;
}

struct Hit {
  std::string type, message;
  bool join_next = false;  // message ends with ':' and continues on the next line
};

bool match(std::string_view t, Hit& h) {
  t = trim(t);
  // MySQL client: ERROR 1146 (42S02) at line 1: Table 'db.t' doesn't exist
  if (t.starts_with("ERROR ") && digits(t.substr(6), 4) && t.size() > 11 && t[10] == ' ' &&
      sqlstate(t.substr(11))) {
    std::size_t colon = t.find(": ", 18);
    h.type = "MySQLError";
    h.message = std::string(t.substr(6, 4)) + " " + std::string(t.substr(11, 7)) + ": " +
                std::string(colon == std::string_view::npos ? "" : t.substr(colon + 2));
    return true;
  }
  // Snowflake: 002003 (42S02): SQL compilation error:
  if (digits(t, 6) && t.size() > 15 && t[6] == ' ' && sqlstate(t.substr(7)) && t[14] == ':') {
    h.type = "SnowflakeError";
    h.message = std::string(t);
    h.join_next = t.back() == ':';
    return true;
  }
  // Postgres server messages, as psql prints them.
  for (std::string_view key : {"ERROR:  ", "FATAL:  ", "ERROR: "}) {
    std::size_t p = t.find(key);
    if (p == std::string_view::npos) continue;
    if (p != 0 && !(p >= 2 && t.substr(p - 2, 2) == ": ")) continue;  // "psql:x.sql:3: ERROR:"
    h.type = key.starts_with("FATAL") ? "PostgresFatal" : "PostgresError";
    h.message = std::string(trim(t.substr(p + key.size())));
    return !h.message.empty();
  }
  // BigQuery job failure as logged by the Google provider.
  if (std::size_t p = t.find("Final error was: "); p != std::string_view::npos) {
    h.type = "BigQueryError";
    h.message = std::string(trim(t.substr(p + 17)));
    return true;
  }
  return false;
}

bool is_pg_detail(std::string_view t) {
  t = trim(t);
  for (std::string_view p : {"DETAIL:", "HINT:", "LINE ", "CONTEXT:", "QUERY:", "^"}) {
    if (t.starts_with(p)) return true;
  }
  return false;
}

}  // namespace

void find_sql(Ctx& c) {
  const auto& L = c.lines;
  for (std::size_t i = 0; i < L.size(); ++i) {
    if (c.consumed[i]) continue;
    Hit h;
    if (!match(L[i].text, h)) continue;
    ExtractedError e;
    e.kind = ErrorKind::sql_error;
    e.exception_type = h.type;
    c.consumed[i] = true;
    add_line(e, L[i]);
    std::size_t k = i + 1;
    if (h.join_next && k < L.size() && !c.consumed[k] && !trim(L[k].text).empty()) {
      h.message += " ";
      h.message += trim(L[k].text);
      c.consumed[k] = true;
      add_line(e, L[k]);
      ++k;
    }
    while (k < L.size() && !c.consumed[k] && is_pg_detail(L[k].text) && k < i + 8) {
      c.consumed[k] = true;
      add_line(e, L[k]);
      ++k;
    }
    e.message = cap_utf8(h.message);
    e.root_cause_line = cap_utf8(trim(L[i].text));
    e.root_cause_line_number = L[i].number;
    e.strength = kSpecific;
    i = k - 1;
    c.out.push_back(std::move(e));
  }
}

}  // namespace dm::logs::detail
