#include "runbook/tool_kit.h"

#include <algorithm>

namespace dm::runbook {

Args<RunIn> run_args(std::string run_description) {
  Args<RunIn> a;
  a.text("dag_id", &RunIn::dag_id, rules::dag_id(), "DAG id", Need::required)
      .text("run_id", &RunIn::run_id, rules::run_id(), std::move(run_description), Need::required);
  return a;
}

Requester requester_of(const Deps& deps, const mcp::ToolContext& ctx) {
  Requester r;
  r.caller = ctx.caller();
  if (r.caller) {
    r.agent = Deps::agent_for(r.caller->client_id);
    r.agent.acting_for = r.caller->principal;
    r.audit = r.agent.id + " for " + r.caller->principal;
    return r;
  }
  std::string client;
  if (const json& ci = ctx.client_info(); ci.is_object())
    if (auto it = ci.find("name"); it != ci.end() && it->is_string()) client = *it;
  r.agent = Deps::agent_for(client);
  r.audit = deps.audit_principal(client);
  return r;
}

Result<Target> resolve_target(const Deps& deps, const WithEnvironment& args) {
  return deps.clients->get(args.environment);
}

std::size_t output_cap(const Deps& deps, std::size_t tool_default) {
  auto cfg = static_cast<std::size_t>(std::max<long long>(1024, deps.config.caps.output_bytes_max));
  return std::min(tool_default, cfg);
}

void redact_json(const logs::Redactor& redactor, json& v) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    std::string r = redactor.redact(s);
    if (r != s) v = std::move(r);
  } else if (v.is_array() || v.is_object()) {
    for (auto& e : v) redact_json(redactor, e);
  }
}

namespace {

// The array under `v` (itself included) holding the most serialized bytes, with at least one
// element.
json* largest_array(json& v, std::size_t& best_bytes) {
  json* best = nullptr;
  if (v.is_array() && !v.empty()) {
    std::size_t n = v.dump().size();
    if (n > best_bytes) {
      best_bytes = n;
      best = &v;
    }
  }
  if (v.is_array() || v.is_object()) {
    for (auto& e : v) {
      if (json* b = largest_array(e, best_bytes)) best = b;
    }
  }
  return best;
}

json* longest_string(json& v, std::size_t& best_len) {
  json* best = nullptr;
  if (v.is_string()) {
    std::size_t n = v.get_ref<const std::string&>().size();
    if (n > best_len) {
      best_len = n;
      best = &v;
    }
  } else if (v.is_array() || v.is_object()) {
    for (auto& e : v) {
      if (json* b = longest_string(e, best_len)) best = b;
    }
  }
  return best;
}

// Cuts at a UTF-8 boundary at or before `n`.
std::string cut_utf8(const std::string& s, std::size_t n) {
  if (n >= s.size()) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

}  // namespace

mcp::ToolResult needs_input(const Deps& deps, mcp::InputRequired ir) {
  for (auto& [key, request] : ir.requests) redact_json(*deps.redactor, request);
  return mcp::ToolResult::needs_input(std::move(ir));
}

mcp::ToolResult finish(const Deps& deps, std::string text, json structured, std::size_t cap) {
  text = deps.redactor->redact(text);
  if (!structured.is_object()) structured = json{{"value", std::move(structured)}};
  redact_json(*deps.redactor, structured);
  const std::string note = "\n(Output cut to the " + std::to_string(cap) + "-byte cap.)";
  auto total = [&] { return text.size() + structured.dump().size(); };
  bool cut = false;
  // Drop array elements, biggest array first, from its end.
  for (int guard = 0; guard < 10000 && total() + note.size() + 20 > cap; ++guard) {
    std::size_t bytes = 0;
    json* arr = largest_array(structured, bytes);
    if (arr == nullptr) break;
    std::size_t excess = total() + note.size() + 20 - cap;
    std::size_t freed = 0;
    while (!arr->empty() && freed < excess) {
      freed += arr->back().dump().size() + 1;
      arr->erase(arr->size() - 1);
    }
    cut = true;
  }
  // Then shorten the longest strings.
  for (int guard = 0; guard < 1000 && total() + note.size() + 20 > cap; ++guard) {
    std::size_t len = 0;
    json* s = longest_string(structured, len);
    std::size_t excess = total() + note.size() + 20 - cap;
    if (s == nullptr || len <= 16) break;
    std::size_t keep = len > excess + 16 ? len - excess - 16 : len / 2;
    *s = cut_utf8(s->get<std::string>(), keep) + "…[cut]";
    cut = true;
  }
  if (total() + note.size() + 20 > cap && text.size() > 64) {
    std::size_t over = total() + note.size() + 20 - cap;
    text = cut_utf8(text, text.size() > over + 16 ? text.size() - over - 16 : text.size() / 2) +
           "…[cut]";
    cut = true;
  }
  if (cut) {
    structured["truncated"] = true;
    text += note;
  }
  mcp::ToolResult r = mcp::ToolResult::text(std::move(text));
  r.structured_content.emplace(std::move(structured));
  return r;
}

int64_t to_ms(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

Clock::time_point from_ms(int64_t ms) {
  return Clock::time_point(
      std::chrono::duration_cast<Clock::time_point::duration>(std::chrono::milliseconds(ms)));
}

}  // namespace dm::runbook
