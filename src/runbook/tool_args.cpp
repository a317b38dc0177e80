#include "runbook/tool_args.h"

#include <cmath>

namespace dm::runbook {
namespace {

// JSON Schema counts a string's length in code points, not bytes: count UTF-8 lead bytes.
std::size_t code_points(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

Text::Text(std::size_t min_len, std::size_t max_len, std::string pattern,
           std::vector<std::string> one_of)
    : min_len_(min_len),
      max_len_(max_len),
      pattern_(std::move(pattern)),
      one_of_(std::move(one_of)) {
  if (!pattern_.empty())
    re_ =
        std::make_shared<const std::regex>(pattern_, std::regex::ECMAScript | std::regex::optimize);
}

json Text::schema() const {
  json p = {{"type", "string"}};
  if (min_len_ > 0) p["minLength"] = min_len_;
  if (max_len_ > 0) p["maxLength"] = max_len_;
  if (!pattern_.empty()) p["pattern"] = pattern_;
  if (!one_of_.empty()) p["enum"] = one_of_;
  return p;
}

std::string Text::check(std::string_view v) const {
  const std::size_t n = code_points(v);
  if (n < min_len_) return "must have at least " + std::to_string(min_len_) + " characters";
  if (max_len_ > 0 && n > max_len_)
    return "must have at most " + std::to_string(max_len_) + " characters";
  if (re_ && !std::regex_search(v.begin(), v.end(), *re_)) return "must match " + pattern_;
  if (!one_of_.empty()) {
    for (const auto& o : one_of_)
      if (o == v) return {};
    std::string all;
    for (const auto& o : one_of_) all += (all.empty() ? "" : ", ") + o;
    return "must be one of: " + all;
  }
  return {};
}

namespace rules {

Text environment() { return Text(1, 128, "^[^\\s\"']+$"); }
Text dag_id() { return Text(1, 250, "^[A-Za-z0-9_.-]+$"); }
Text task_id() { return dag_id(); }
// Airflow run ids look like manual__2026-01-01T00:00:00+00:00; refuse controls, slashes,
// backslashes and leading dots so an id can never become a path or a second argument.
Text run_id() { return Text(1, 250, "^[A-Za-z0-9_:+.@~-][A-Za-z0-9_:+.@~ -]*$"); }
Text signature() { return Text(6, 64, "^[0-9a-f]+$"); }
Text approval_id() { return Text(16, 64, "^[0-9a-f]+$"); }
Text prose(std::size_t min_len, std::size_t max_len) { return Text(min_len, max_len); }
Text one_of(std::vector<std::string> values) { return Text(0, 0, {}, std::move(values)); }

}  // namespace rules

namespace args_detail {

bool is_integer(const json& v) {
  if (v.is_number_integer()) return true;
  if (!v.is_number_float()) return false;
  const double d = v.get<double>();
  return std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9.0e18;
}

Error bad(std::string_view name, std::string_view why) {
  return Error{Errc::invalid_argument, "argument '" + std::string(name) + "' " + std::string(why)};
}

}  // namespace args_detail
}  // namespace dm::runbook
