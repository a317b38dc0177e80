#include "web/approval_web_page.h"

#include <ctime>
#include <nlohmann/json.hpp>

#include "http/http_client.h"

namespace dm::web::page {
namespace {

constexpr const char* kStyle =
    "body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111}"
    "table{border-collapse:collapse}th,td{text-align:left;vertical-align:top;padding:.3rem .8rem;"
    "border-bottom:1px solid #ddd}th{white-space:nowrap}pre{background:#f4f4f4;padding:.6rem;"
    "overflow:auto;margin:0}code{word-break:break-all}.ok{background:#e6f6e6;padding:.6rem}"
    ".error{background:#fde8e8;padding:.6rem}.warn{color:#a40}label{display:block;margin-top:.6rem}"
    "input[type=text],input[type=password],textarea{width:30rem;max-width:100%}"
    "button{margin:.8rem .8rem 0 0;padding:.4rem 1rem}";

std::string head(std::string_view title) {
  return "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width\"><meta name=\"referrer\" "
         "content=\"same-origin\"><title>" +
         html_escape(title) + "</title><style>" + kStyle + "</style></head><body>\n";
}

std::string row(std::string_view name, std::string_view html_value, std::string_view id = "") {
  std::string r = "<tr><th>" + html_escape(name) + "</th><td";
  if (!id.empty()) r += " id=\"" + html_escape(id) + "\"";
  return r + ">" + std::string(html_value) + "</td></tr>\n";
}

std::string code(std::string_view s) { return "<code>" + html_escape(s) + "</code>"; }

}  // namespace

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string format_time_ms(int64_t ms) {
  if (ms <= 0) return "-";
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  if (!gmtime_r(&t, &tm)) return "-";
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string render_approval(const store::ApprovalRecord& a, int64_t now_ms, const std::string& csrf,
                            const Notice& notice, const SignIn* signin) {
  // params_json is the canonical document the hash was computed over; show its parts. It was
  // written by the guard, but treat it as untrusted text all the same.
  nlohmann::json doc = nlohmann::json::parse(a.params_json, nullptr, false);
  if (!doc.is_object()) doc = nlohmann::json::object();
  auto field = [&](const char* k) -> std::string {
    auto it = doc.find(k);
    return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string conf = "{}";
  if (auto it = doc.find("conf"); it != doc.end()) {
    try {
      conf = it->dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
    } catch (const nlohmann::json::exception&) {
      conf = "(conf could not be shown)";
    }
  }
  std::string tasks;
  if (auto it = doc.find("task_ids"); it != doc.end() && it->is_array())
    for (const auto& t : *it)
      if (t.is_string()) tasks += (tasks.empty() ? "" : ", ") + t.get<std::string>();

  const bool expired = a.expires_at_ms <= now_ms;
  std::string state = store::approval_state_name(a.state);
  if (expired && a.state == store::ApprovalState::pending) state += " (expired)";
  int approvals = 0;
  for (const auto& d : a.decisions) approvals += d.approve ? 1 : 0;

  std::string h = head("Approval " + a.id);
  h += "<h1>Approve or deny a dagmedic write</h1>\n";
  if (notice.kind != Notice::Kind::none)
    h += std::string("<p id=\"notice\" class=\"") +
         (notice.kind == Notice::Kind::ok ? "ok" : "error") + "\">" + html_escape(notice.text) +
         "</p>\n";
  h += "<p>This runs exactly the action below, once, after enough people other than the "
       "requester approve it. Check every parameter.</p>\n<table>\n";
  h += row("Action", code(a.action), "action");
  h += row("Environment", code(a.env) + " (tier " + html_escape(a.tier) + ")", "environment");
  h += row("DAG", code(field("dag_id")), "dag_id");
  if (a.action == "trigger_dag" || !doc.value("conf", nlohmann::json::object()).empty())
    h += row("Conf", "<pre id=\"conf-json\">" + html_escape(conf) + "</pre>", "conf");
  if (!field("run_id").empty()) h += row("Run", code(field("run_id")), "run_id");
  if (!tasks.empty()) h += row("Tasks", code(tasks), "task_ids");
  h += row("Parameters hash (SHA-256)", code(a.params_hash), "params_hash");
  h +=
      row("Requested by",
          code(a.requester) + (a.requester_is_agent ? " <span class=\"warn\">(agent)</span>" : "") +
              (a.requester_for.empty() ? "" : " acting for " + code(a.requester_for)),
          "requester");
  h += row("Reason", html_escape(a.reason), "reason");
  h += row("Requested at", html_escape(format_time_ms(a.created_at_ms)), "created_at");
  h += row("Expires at",
           html_escape(format_time_ms(a.expires_at_ms)) +
               (expired ? " <span class=\"warn\">(expired)</span>" : ""),
           "expires_at");
  h += row("State", "<strong>" + html_escape(state) + "</strong>", "state");
  h += row("Approvals",
           std::to_string(approvals) + " of " + std::to_string(a.required_approvals) + " required",
           "approvals");
  std::string decisions;
  for (const auto& d : a.decisions)
    decisions += "<li>" + html_escape(d.approve ? "approved" : "denied") + " by " +
                 code(d.principal) + " at " + html_escape(format_time_ms(d.at_ms)) + ": " +
                 html_escape(d.reason) + "</li>";
  h += row("Decisions", decisions.empty() ? "none yet" : "<ul>" + decisions + "</ul>", "decisions");
  h += "</table>\n";
  const bool open_for_decisions =
      a.state == store::ApprovalState::pending && a.expires_at_ms > now_ms;
  if (signin && open_for_decisions && !signin->signed_in) {
    h += "<p id=\"signin\">To approve or deny, <a id=\"signin-link\" href=\"" +
         html_escape(signin->login_href) +
         "\">sign in through your identity provider</a>. (Approver tokens are not accepted "
         "on this server.)</p>\n";
  } else if (signin && !csrf.empty()) {
    h += "<p id=\"signed-in\">Signed in as " + code(signin->who) + "</p>\n";
    h += "<form method=\"post\" action=\"/approvals/" + html_escape(http::url_encode(a.id)) +
         "\" autocomplete=\"off\">\n"
         "<input type=\"hidden\" name=\"csrf\" value=\"" +
         html_escape(csrf) +
         "\">\n"
         "<label>Reason <textarea name=\"reason\" id=\"decision-reason\" required "
         "maxlength=\"2000\" rows=\"3\"></textarea></label>\n"
         "<button type=\"submit\" name=\"decision\" value=\"approve\" id=\"approve\">Approve "
         "exactly this</button>"
         "<button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\">Deny</button>\n"
         "</form>\n";
  } else if (!csrf.empty()) {
    h += "<form method=\"post\" action=\"/approvals/" + html_escape(http::url_encode(a.id)) +
         "\" autocomplete=\"off\">\n"
         "<input type=\"hidden\" name=\"csrf\" value=\"" +
         html_escape(csrf) +
         "\">\n"
         "<label>Your approver id <input type=\"text\" name=\"approver\" id=\"approver\" "
         "required maxlength=\"256\"></label>\n"
         "<label>Your approver token <input type=\"password\" name=\"token\" id=\"token\" "
         "required maxlength=\"1024\"></label>\n"
         "<label>Reason <textarea name=\"reason\" id=\"decision-reason\" required "
         "maxlength=\"2000\" rows=\"3\"></textarea></label>\n"
         "<button type=\"submit\" name=\"decision\" value=\"approve\" id=\"approve\">Approve "
         "exactly this</button>"
         "<button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\">Deny</button>\n"
         "</form>\n";
  } else {
    h += "<p id=\"closed\">No decision can be made on this approval any more.</p>\n";
  }
  h += "</body></html>\n";
  return h;
}

std::string render_index(const std::vector<store::ApprovalRecord>& pending, int64_t now_ms) {
  std::string h = head("dagmedic approvals");
  h += "<h1>Pending approvals</h1>\n";
  int shown = 0;
  std::string items;
  for (const auto& a : pending) {
    if (a.expires_at_ms <= now_ms) continue;
    ++shown;
    items += "<li><a href=\"/approvals/" + html_escape(http::url_encode(a.id)) + "\">" +
             code(a.action) + " in " + code(a.env) + "</a> requested by " + code(a.requester) +
             ", expires " + html_escape(format_time_ms(a.expires_at_ms)) + "</li>\n";
  }
  h += shown ? "<ul>\n" + items + "</ul>\n" : "<p>None.</p>\n";
  h += "</body></html>\n";
  return h;
}

std::string render_signed_in(std::string_view who, std::string_view path) {
  std::string h =
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta http-equiv=\"refresh\" content=\"0;url=" +
      html_escape(path) + "\"><title>Signed in</title><style>" + kStyle + "</style></head><body>\n";
  h += "<h1>Signed in</h1>\n<p id=\"notice\" class=\"ok\">Signed in as " + code(who) +
       ". <a id=\"continue\" href=\"" + html_escape(path) +
       "\">Continue to the approval</a>.</p>\n</body></html>\n";
  return h;
}

std::string render_message(std::string_view title, std::string_view message) {
  return head(title) + "<h1>" + html_escape(title) + "</h1>\n<p id=\"notice\" class=\"error\">" +
         html_escape(message) + "</p>\n</body></html>\n";
}

}  // namespace dm::web::page
