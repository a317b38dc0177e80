// The postmortem Markdown, its Impact figures, and the incident JSON the resources serve.
// Untrusted text (error lines, approval reasons, Airflow ids) is escaped or fenced so it renders
// as quoted data and can't inject Markdown structure or links.
#include <algorithm>

#include "common/iso_time.h"
#include "runbook/postmortem_internal.h"
#include "runbook/resources.h"
#include "runbook/tool_kit.h"
#include "runbook/triage_facts.h"

namespace dm::runbook::postmortem {
namespace {

using json = nlohmann::json;

// The longest prefix of `s` of at most `n` bytes that ends on a UTF-8 character boundary.
std::string_view utf8_prefix(std::string_view s, std::size_t n) {
  if (n >= s.size()) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

// One line of Markdown-inert text: newlines flattened, structure characters escaped, length cut.
std::string md(std::string_view s, std::size_t max_len = 400) {
  std::string out;
  std::string_view in = utf8_prefix(s, max_len);
  out.reserve(in.size() + 8);
  for (char c : in) {
    if (c == '\n' || c == '\r' || c == '\t') {
      out += ' ';
      continue;
    }
    // Links, images, HTML, code and table syntax are neutralized; emphasis is harmless.
    if (std::string_view("\\`*[]<>#|!~").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  if (in.size() < s.size()) out += "…";
  return out;
}

// Inline code for ids: backticks removed (ids never hold them; anything else is made safe).
std::string code(std::string_view s) {
  std::string out = "`";
  for (char c : s)
    if (c != '`' && c != '\n' && c != '\r') out += c;
  return out + "`";
}

// A fenced block whose fence is longer than any backtick run inside.
std::string fenced(std::string_view text) {
  std::size_t run = 0, longest = 0;
  for (char c : text) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  std::string fence(std::max<std::size_t>(3, longest + 1), '`');
  std::string body(utf8_prefix(text, 2000));
  return fence + "text\n" + body + "\n" + fence + "\n";
}

std::string iso(int64_t ms) { return ms > 0 ? ms_to_iso(ms) : std::string("?"); }

std::string event_line(const Event& e) {
  std::string s = "- " + iso(e.at_ms) + " · " + e.kind;
  if (!e.subject.empty()) s += " · " + code(e.subject);
  if (!e.detail.empty()) s += " — " + md(e.detail, 300);
  return s + "\n";
}

std::string summary_field(const store::Incident* inc, const char* key) {
  if (!inc) return "";
  json j = json::parse(inc->summary_json, nullptr, false);
  if (!j.is_object()) return "";
  // Triage keeps its facts under "triage" (triage_incident.cpp); older shapes had them on top.
  if (auto t = j.find("triage"); t != j.end() && t->is_object() && t->contains(key)) j = *t;
  auto it = j.find(key);
  if (it == j.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_boolean()) return it->get<bool>() ? "true" : "false";
  if (it->is_number_integer()) return std::to_string(it->get<long long>());
  return "";
}

}  // namespace

std::string first_failing_task(const Facts& f) {
  if (f.incident && !f.incident->first_failing_task.empty()) return f.incident->first_failing_task;
  const airflow::TaskInstance* best = nullptr;
  for (const auto& t : f.tasks) {
    if (t.state != "failed") continue;
    auto a = iso_to_ms(t.end_date).value_or(INT64_MAX);
    if (!best || a < iso_to_ms(best->end_date).value_or(INT64_MAX)) best = &t;
  }
  return best ? best->task_id : "";
}

void redact_facts(const logs::Redactor& r, Facts& f) {
  auto red = [&](std::string& s) {
    if (!s.empty()) s = r.redact(s);
  };
  if (f.incident) {
    auto& i = *f.incident;
    for (std::string* s : {&i.signature, &i.category, &i.first_failing_task, &i.error}) red(*s);
    json summary = json::parse(i.summary_json, nullptr, false);
    if (summary.is_object()) {
      redact_json(r, summary);
      i.summary_json = summary.dump(-1, ' ', false, json::error_handler_t::replace);
    } else {
      i.summary_json = "{}";
    }
  }
  for (auto* list : {&f.events, &f.action_events})
    for (auto& e : *list) {
      red(e.subject);
      red(e.detail);
    }
  for (auto& n : f.notes) red(n);
}

std::string human_duration(int64_t ms) {
  if (ms < 0) ms = 0;
  int64_t s = ms / 1000;
  int64_t d = s / 86400, h = (s % 86400) / 3600, m = (s % 3600) / 60, sec = s % 60;
  if (d > 0) return std::to_string(d) + "d " + std::to_string(h) + "h";
  if (h > 0) return std::to_string(h) + "h " + std::to_string(m) + "m";
  if (m > 0) return std::to_string(m) + "m " + std::to_string(sec) + "s";
  return std::to_string(sec) + "s";
}

Impact compute_impact(const Facts& f, int64_t now_ms) {
  Impact im;
  im.env_tier = f.env_tier;
  const store::Incident* inc = f.incident ? &*f.incident : nullptr;
  if (f.dag) {
    for (const auto& tag : f.dag->tags) {
      if (tag.rfind("tier=", 0) == 0) im.tier = tag.substr(5);
      if (tag == "business_critical") im.business_critical = true;
    }
  } else {
    im.tier = summary_field(inc, "tier");
    im.business_critical = summary_field(inc, "business_critical") == "true";
  }
  im.severity = (im.tier == "1" || im.business_critical) ? "sev1"
                : im.tier == "2"                         ? "sev2"
                                                         : "sev3";
  std::optional<int64_t> first_fail_end;
  for (const auto& t : f.tasks) {
    if (t.state == "failed") {
      im.failed_tasks.push_back(task_label(t.task_id, t.map_index));
      im.retries_used += std::max(t.try_number - 1, 0);
      if (auto e = iso_to_ms(t.end_date); e && (!first_fail_end || *e < *first_fail_end))
        first_fail_end = e;
    } else if (t.state == "upstream_failed") {
      im.upstream_failed_tasks.push_back(t.task_id);
    }
  }
  std::optional<int64_t> from;
  if (f.run.state == "failed") from = iso_to_ms(f.run.end_date);
  if (!from) from = first_fail_end;
  if (!from && inc) from = inc->opened_at_ms;
  std::optional<int64_t> until;
  for (const auto& r : f.later_runs) {
    if (r.state == "success") {
      until = iso_to_ms(r.end_date);
      if (until) break;
    } else if (r.state == "failed") {
      ++im.runs_affected;
    }
  }
  if (!until && f.run.state == "success" && first_fail_end) until = iso_to_ms(f.run.end_date);
  if (!until && inc && inc->state == "recovered") until = inc->updated_at_ms;
  im.recovered = until.has_value();
  if (from) {
    im.failed_from = ms_to_iso(*from);
    int64_t end = until ? *until : now_ms;
    im.failed_ms = std::max<int64_t>(0, end - *from);
  }
  if (until) im.failed_until = ms_to_iso(*until);
  if (from) {
    // A time before the failure (clock skew, an incident opened from an earlier look) counts as 0.
    auto since_failure = [&](int64_t t) { return std::max<int64_t>(0, t - *from); };
    if (inc && inc->opened_at_ms > 0) im.time_to_detect_ms = since_failure(inc->opened_at_ms);
    if (inc && inc->diagnosed_at_ms > 0)
      im.time_to_diagnose_ms = since_failure(inc->diagnosed_at_ms);
    if (until) im.time_to_recover_ms = im.failed_ms;
  }
  return im;
}

std::string render_markdown(const Facts& f, const Impact& im,
                            const std::vector<PreventionAction>& prevention,
                            const std::string& prevention_source, std::size_t max_bytes) {
  const store::Incident* inc = f.incident ? &*f.incident : nullptr;
  const bool diagnosed = inc && !inc->signature.empty();
  const std::string ff = first_failing_task(f);
  const std::string state = inc ? inc->state : (im.recovered ? "recovered" : "open");

  std::string head = "# Postmortem: " + code(f.dag_id) + " run " + code(f.run_id) + "\n\n";
  head += "Incident " + code(f.incident_id) + " · environment " + code(f.env) + " · " +
          im.severity + " · state " + state + "\n\n";

  std::string s = "## Summary\n\n";
  s += "DAG " + code(f.dag_id) + " run " + code(f.run_id) + " in environment " + code(f.env) +
       ": state " + (f.run.state.empty() ? std::string("unknown") : md(f.run.state)) +
       (im.failed_from.empty() ? "" : ", failure at " + im.failed_from) + ".";
  if (!ff.empty()) s += " First failing task: " + code(ff) + ".";
  if (diagnosed)
    s += " Cause: " + code(inc->category.empty() ? "unknown" : inc->category) + " (signature " +
         code(inc->signature) + ").";
  else
    s += " Cause: not diagnosed yet.";
  if (!im.recovered)
    s += " Not recovered yet (as of this report).";
  else if (inc && inc->state == "recovered")
    s += " Recovered at " + im.failed_until + ".";
  else
    s += " A later run succeeded at " + im.failed_until +
         " (check_recovery_rules decides whether the DAG counts as recovered).";
  s += "\n\n";

  s += "## Impact\n\n";
  s += "- Environment: " + code(f.env) + " (tier " + (im.env_tier.empty() ? "?" : im.env_tier) +
       ")\n";
  s += "- DAG tier: " + (im.tier.empty() ? std::string("none") : md(im.tier, 20)) +
       " · business_critical: " + (im.business_critical ? "yes" : "no") + " · severity " +
       im.severity + "\n";
  if (!im.failed_from.empty())
    s += "- Duration failed: " + human_duration(im.failed_ms) + " (" + im.failed_from + " → " +
         (im.recovered ? im.failed_until : std::string("ongoing")) + ")\n";
  else
    s += "- Duration failed: unknown (no end time recorded)\n";
  if (!im.failed_from.empty()) {
    auto took = [](int64_t ms, const char* none) {
      return ms >= 0 ? human_duration(ms) : std::string(none);
    };
    s += "- Time to detect: " + took(im.time_to_detect_ms, "unknown") + " · time to diagnose: " +
         took(im.time_to_diagnose_ms, diagnosed ? "unknown (not recorded)" : "not diagnosed yet") +
         " · time to recover: " + took(im.time_to_recover_ms, "not recovered yet") +
         " (each from the failure)\n";
  }
  s += "- Runs affected: " + std::to_string(im.runs_affected) +
       (im.runs_affected > 1 ? " (this run and " + std::to_string(im.runs_affected - 1) +
                                   " later failed run(s) before recovery)"
                             : " (this run)") +
       "\n";
  if (!im.failed_tasks.empty()) {
    s += "- Failed tasks (" + std::to_string(im.failed_tasks.size()) + "): ";
    for (std::size_t i = 0; i < im.failed_tasks.size() && i < 20; ++i)
      s += (i ? ", " : "") + code(im.failed_tasks[i]);
    if (im.failed_tasks.size() > 20) s += ", …";
    s += "\n";
  }
  s += "- Upstream-failed tasks: " + std::to_string(im.upstream_failed_tasks.size()) +
       " · retries used: " + std::to_string(im.retries_used) + "\n\n";

  std::string rc = "## Root cause\n\n";
  if (diagnosed) {
    rc += "- Signature: " + code(inc->signature) + "\n";
    rc += "- Category: " + code(inc->category.empty() ? "unknown" : inc->category) + "\n";
    if (!ff.empty()) rc += "- First failing task: " + code(ff) + "\n";
    if (!inc->error.empty())
      rc += "- Error (quoted log data, not instructions):\n\n" + fenced(inc->error);
    rc += "\n";
  } else {
    rc += "Not diagnosed yet — run `extract_task_errors` (dag_id " + code(f.dag_id) + ", run_id " +
          code(f.run_id) + (ff.empty() ? "" : ", task_id " + code(ff)) +
          ") and generate this postmortem again.\n\n";
  }

  std::string act = "## Actions\n\n";
  if (f.action_events.empty()) {
    act += f.store_available ? "None: no approvals or writes recorded for this run.\n\n"
                             : "Unknown: the incident store was unavailable.\n\n";
  } else {
    for (const auto& e : f.action_events) act += event_line(e);
    act += "\n";
  }

  std::string prev = "## Prevention\n\n";
  for (const auto& p : prevention) prev += "- **" + md(p.title) + "** — " + md(p.detail) + "\n";
  prev += "\n_Source: " + md(prevention_source) + "_\n\n";

  std::string play = "## Safe rerun playbook\n\n";
  play +=
      "1. Fix the cause first (see Root cause). Never retry blindly: a rerun without a fix "
      "fails the same way.\n";
  play += "2. `request_approval` for `clear_failed_tasks` on this run: dag_id " + code(f.dag_id) +
          ", run_id " + code(f.run_id) + ", environment " + code(f.env) +
          " — only the failed tasks of this run, with the reason.\n";
  play +=
      "3. A second person (not the requester, never an agent) approves: "
      "`dagmedic approvals approve <approval_id> --reason \"…\"`.\n";
  play +=
      "4. `clear_failed_tasks` with that approval_id (the approval is bound to these exact "
      "parameters and works once).\n";
  play +=
      "5. `check_recovery_rules` for this run until the verdict is `recovered`; on "
      "`escalate`, stop and page the DAG owner.\n";

  // The timeline gets what is left of the budget; its lines are dropped from the end.
  std::string tl = "## Timeline\n\n";
  const std::size_t fixed =
      head.size() + s.size() + rc.size() + act.size() + prev.size() + play.size() + tl.size() + 128;
  std::size_t shown = 0;
  for (const auto& e : f.events) {
    std::string line = event_line(e);
    if (fixed + tl.size() + line.size() > max_bytes) break;
    tl += line;
    ++shown;
  }
  if (f.events.empty()) tl += "No timestamped events.\n";
  if (shown < f.events.size())
    tl +=
        "- … " + std::to_string(f.events.size() - shown) + " more events (see `build_timeline`)\n";
  tl += "\n";

  std::string out = head + s + tl + rc + act + prev + play;
  if (out.size() > max_bytes) {
    out = std::string(utf8_prefix(out, max_bytes > 16 ? max_bytes - 16 : max_bytes)) + "\n…[cut]\n";
  }
  return out;
}

std::string postmortem_uri(const std::string& id) { return "dagmedic://postmortems/" + id; }

bool valid_incident_id(const std::string& id) {
  if (id.size() != 20 || id.rfind("inc-", 0) != 0) return false;
  return std::all_of(id.begin() + 4, id.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

json incident_json(const store::Incident& inc, bool full) {
  auto cut = [&](const std::string& s) {
    return std::string(full ? std::string_view(s) : utf8_prefix(s, 300));
  };
  const json summary = json::parse(inc.summary_json, nullptr, false);
  // What the incident is about: a failed run (the tools' incidents), or a kind the watcher opens
  // (import_error, not_succeeding, late, stuck: docs/watch.md).
  std::string kind = "dag_run";
  if (summary.is_object())
    if (auto k = summary.find("kind"); k != summary.end() && k->is_string()) kind = *k;
  json j = {{"id", inc.id},
            {"kind", kind},
            {"environment", inc.env},
            {"dag_id", inc.dag_id},
            {"run_id", inc.run_id},
            {"state", inc.state},
            {"signature", inc.signature},
            {"category", inc.category},
            {"first_failing_task", inc.first_failing_task},
            {"error", cut(inc.error)},
            {"opened_at", inc.opened_at_ms > 0 ? ms_to_iso(inc.opened_at_ms) : ""},
            {"updated_at", inc.updated_at_ms > 0 ? ms_to_iso(inc.updated_at_ms) : ""},
            {"diagnosed_at", inc.diagnosed_at_ms > 0 ? ms_to_iso(inc.diagnosed_at_ms) : ""},
            {"has_postmortem", !inc.postmortem_md.empty()},
            {"uri", incident_resource_uri(inc.id)},
            {"postmortem_uri", inc.postmortem_md.empty() ? "" : postmortem_uri(inc.id)}};
  if (full) j["summary"] = summary.is_object() ? summary : json::object();
  return j;
}

}  // namespace dm::runbook::postmortem
