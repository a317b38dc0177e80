#include "watch/notify.h"

#include <algorithm>

#include "common/iso_time.h"
#include "guard/canonical.h"
#include "logs/tail.h"

namespace dm::watch {
namespace {

using json = nlohmann::json;

// PagerDuty's summary limit.
constexpr std::size_t kSummaryMax = 1024;

// At most `n` bytes, "..." included when cut, never ending inside a UTF-8 sequence.
std::string cut(const std::string& s, std::size_t n) {
  if (s.size() <= n) return s;
  return std::string(logs::utf8_prefix(s, n - 3)) + "...";
}

// The facts with every free text redacted.
IncidentFacts redacted(const IncidentFacts& f, const logs::Redactor& r) {
  IncidentFacts o = f;
  o.first_failing_task = r.redact(f.first_failing_task);
  o.signature = r.redact(f.signature);
  o.category = r.redact(f.category);
  o.error = r.redact(f.error);
  o.run_id = r.redact(f.run_id);
  for (auto& n : o.notes) n = r.redact(n);
  return o;
}

std::string when(const IncidentFacts& f);

std::string title(const IncidentFacts& f) {
  const bool import_error = f.kind == "import_error";
  const bool not_succeeding = f.kind == "not_succeeding";
  const std::string what = import_error ? "DAG file " + f.run_id : f.dag_id;
  if (f.event_action == "resolve")
    return std::string(import_error        ? "Imports again: "
                       : not_succeeding    ? "Succeeding again: "
                       : f.kind == "late"  ? "On time again: "
                       : f.kind == "stuck" ? "No longer stuck: "
                                           : "Recovered: ") +
           what + " in " + f.env + " (" + f.incident_id + ")";
  std::string s = "[" + (f.severity.empty() ? std::string("sev?") : f.severity) + "] " + what;
  if (import_error) return s + " fails to import in " + f.env;
  if (not_succeeding) return s + " keeps failing in " + f.env + ": no success in its last runs";
  if (f.kind == "late") return s + " is late in " + f.env + ": no run since " + when(f);
  if (f.kind == "stuck") return s + " is stuck in " + f.env + " at " + f.first_failing_task;
  s += " failed in " + f.env;
  if (!f.first_failing_task.empty()) s += " at " + f.first_failing_task;
  return s;
}

std::string when(const IncidentFacts& f) {
  return f.failed_at_ms > 0 ? ms_to_iso(f.failed_at_ms) : std::string();
}

// "key: value" lines of what is known.
std::vector<std::pair<std::string, std::string>> facts_list(const IncidentFacts& f) {
  std::vector<std::pair<std::string, std::string>> v = {{"Incident", f.incident_id},
                                                        {"Environment", f.env}};
  if (f.kind == "import_error") {
    v.emplace_back("DAG file", f.run_id);
  } else if (f.kind == "late") {
    v.emplace_back("DAG", f.dag_id);
  } else {
    v.emplace_back("DAG", f.dag_id);
    v.emplace_back("Run", f.run_id);
  }
  if (!f.severity.empty()) v.emplace_back("Severity", f.severity);
  if (!f.first_failing_task.empty())
    v.emplace_back(f.kind == "stuck" ? "Stuck task" : "First failing task", f.first_failing_task);
  if (!f.category.empty()) v.emplace_back("Category", f.category);
  if (!f.signature.empty()) v.emplace_back("Signature", f.signature);
  if (!f.error.empty()) v.emplace_back("Error", f.error);
  if (f.failed_at_ms > 0)
    v.emplace_back(f.kind == "late"    ? "Run expected at"
                   : f.kind == "stuck" ? "Running since"
                                       : "Failed at",
                   when(f));
  return v;
}

// The incident's facts by name: PagerDuty's custom_details and the generic JSON body.
json incident_fields(const IncidentFacts& f) {
  return {{"incident_id", f.incident_id},
          {"kind", f.kind},
          {"environment", f.env},
          {"dag_id", f.dag_id},
          {"run_id", f.run_id},
          {"severity", f.severity},
          {"first_failing_task", f.first_failing_task},
          {"signature", f.signature},
          {"category", f.category},
          {"error", f.error},
          {"notes", f.notes}};
}

json slack(const IncidentFacts& f) {
  std::string text = title(f);
  if (!f.error.empty()) text += ": " + f.error;
  if (!f.incident_url.empty()) text += " <" + f.incident_url + "|" + f.incident_id + ">";
  json fields = json::array();
  for (const auto& [k, v] : facts_list(f))
    fields.push_back({{"type", "mrkdwn"}, {"text", "*" + k + "*\n" + cut(v, 1900)}});
  if (fields.size() > 10) fields.erase(fields.begin() + 10, fields.end());  // Slack's limit
  json blocks = json::array();
  blocks.push_back(
      {{"type", "header"}, {"text", {{"type", "plain_text"}, {"text", cut(title(f), 150)}}}});
  blocks.push_back({{"type", "section"}, {"fields", fields}});
  if (!f.notes.empty()) {
    std::string n;
    for (const auto& s : f.notes) n += "• " + s + "\n";
    blocks.push_back({{"type", "context"},
                      {"elements", json::array({{{"type", "mrkdwn"}, {"text", cut(n, 2900)}}})}});
  }
  json buttons = json::array();
  if (!f.incident_url.empty())
    buttons.push_back({{"type", "button"},
                       {"text", {{"type", "plain_text"}, {"text", "Open incident"}}},
                       {"url", f.incident_url}});
  if (!f.approval_url.empty())
    buttons.push_back({{"type", "button"},
                       {"text", {{"type", "plain_text"}, {"text", "Approval page"}}},
                       {"url", f.approval_url}});
  if (!buttons.empty()) blocks.push_back({{"type", "actions"}, {"elements", buttons}});
  return {{"text", cut(text, 3000)}, {"blocks", blocks}};
}

json pagerduty(const IncidentFacts& f) {
  json links = json::array();
  if (!f.incident_url.empty())
    links.push_back({{"href", f.incident_url}, {"text", "dagmedic incident " + f.incident_id}});
  if (!f.approval_url.empty())
    links.push_back({{"href", f.approval_url}, {"text", "Approval page"}});
  std::string summary = title(f);
  if (!f.error.empty()) summary += ": " + f.error;
  json j = {{"routing_key", ""},
            {"event_action", f.event_action},
            {"dedup_key", f.incident_id},
            {"client", "dagmedic"}};
  if (!f.incident_url.empty()) j["client_url"] = f.incident_url;
  if (f.event_action == "resolve") return j;  // PagerDuty ignores a resolve's payload
  j["payload"] = {{"summary", cut(summary, kSummaryMax)},
                  {"source", "airflow/" + f.env},
                  {"severity", pagerduty_severity(f.severity)},
                  {"component", f.kind == "import_error" ? f.run_id : f.dag_id},
                  {"group", f.env},
                  {"class", f.category.empty() ? std::string("dag_run_failed") : f.category},
                  {"custom_details", incident_fields(f)}};
  if (f.failed_at_ms > 0) j["payload"]["timestamp"] = when(f);
  j["links"] = links;
  return j;
}

json teams(const IncidentFacts& f) {
  json body = json::array();
  body.push_back({{"type", "TextBlock"},
                  {"text", title(f)},
                  {"weight", "Bolder"},
                  {"size", "Medium"},
                  {"wrap", true}});
  json facts = json::array();
  for (const auto& [k, v] : facts_list(f)) facts.push_back({{"title", k}, {"value", v}});
  body.push_back({{"type", "FactSet"}, {"facts", facts}});
  for (const auto& n : f.notes)
    body.push_back({{"type", "TextBlock"}, {"text", n}, {"isSubtle", true}, {"wrap", true}});
  json actions = json::array();
  if (!f.incident_url.empty())
    actions.push_back(
        {{"type", "Action.OpenUrl"}, {"title", "Open incident"}, {"url", f.incident_url}});
  if (!f.approval_url.empty())
    actions.push_back(
        {{"type", "Action.OpenUrl"}, {"title", "Approval page"}, {"url", f.approval_url}});
  json card = {{"type", "AdaptiveCard"},
               {"$schema", "http://adaptivecards.io/schemas/adaptive-card.json"},
               {"version", "1.4"},
               {"body", body}};
  if (!actions.empty()) card["actions"] = actions;
  return {{"type", "message"},
          {"attachments", json::array({{{"contentType", "application/vnd.microsoft.card.adaptive"},
                                        {"contentUrl", nullptr},
                                        {"content", card}}})}};
}

json generic(const IncidentFacts& f) {
  json j = incident_fields(f);
  j["event"] = f.event_action == "resolve" ? "incident.resolved" : "incident.failure";
  j["opened"] = f.opened;
  j["failed_at"] = when(f);
  j["incident_url"] = f.incident_url;
  if (!f.approval_url.empty()) j["approval_url"] = f.approval_url;
  return j;
}

}  // namespace

std::string event_of(const IncidentFacts& f) {
  const int64_t at = f.occurrence_ms != 0 ? f.occurrence_ms : f.failed_at_ms;
  return (f.event_action == "resolve" ? "resolve:" : "trigger:") + std::to_string(at);
}

std::string idempotency_key(const std::string& incident_id, const std::string& event,
                            const std::string& target) {
  std::string k = incident_id;
  k.push_back('\0');
  k += event;
  k.push_back('\0');
  k += target;
  return guard::sha256_hex(k);
}

std::string pagerduty_severity(const std::string& sev) {
  if (sev == "sev1") return "critical";
  if (sev == "sev2") return "error";
  if (sev == "sev3") return "warning";
  return "info";
}

Result<json> build_payload(const std::string& kind, const IncidentFacts& facts,
                           const logs::Redactor& r) {
  const IncidentFacts f = redacted(facts, r);
  if (kind == "slack") return slack(f);
  if (kind == "pagerduty") return pagerduty(f);
  if (kind == "teams") return teams(f);
  if (kind == "json") return generic(f);
  return make_error(Errc::invalid_argument, "unknown notification kind \"" + kind + "\"");
}

std::string json_signature(const std::string& key, const std::string& timestamp,
                           const std::string& body) {
  return "sha256=" + guard::hmac_sha256_hex(key, timestamp + "." + body);
}

Result<http::Request> prepare_request(const config::NotifyTarget& t, const std::string& payload,
                                      const std::string& key, const std::string& secret,
                                      int64_t now_s) {
  http::Request req;
  req.method = http::Method::post;
  req.url = t.url;
  req.timeout = std::chrono::seconds(std::max(1, t.timeout_seconds));
  req.connect_timeout = std::min<std::chrono::milliseconds>(req.timeout, std::chrono::seconds(10));
  req.idempotent = false;  // the outbox retries, never the HTTP layer
  req.headers = {{"Content-Type", "application/json"}, {"Idempotency-Key", key}};
  req.body = payload;
  if (t.kind == "pagerduty") {
    json j = json::parse(payload, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return make_error(Errc::invalid_argument, "stored pagerduty message is not a JSON object");
    j["routing_key"] = secret;
    req.body = j.dump();
  } else if (t.kind == "json") {
    const std::string ts = std::to_string(now_s);
    req.headers.emplace_back("X-Dagmedic-Timestamp", ts);
    req.headers.emplace_back("X-Dagmedic-Signature", json_signature(secret, ts, req.body));
  }
  return req;
}

}  // namespace dm::watch
