#include "web/approval_web_handler.h"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cctype>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>

#include "guard/canonical.h"
#include "http/http_client.h"
#include "web/approval_web_page.h"

namespace dm::web::page {
namespace {

constexpr std::size_t kMaxFormBytes = 16 * 1024;
constexpr const char* kCookie = "dm_csrf";
constexpr const char* kLoginCookie = "dm_oidc";       // pre-login: binds the state to the browser
constexpr const char* kSessionCookie = "dm_session";  // a signed-in approver (auth: on)

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  return true;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

int status_for(Errc c) {
  switch (c) {
    case Errc::invalid_argument:
      return 400;
    case Errc::unauthenticated:
      return 401;
    case Errc::permission_denied:
      return 403;
    case Errc::not_found:
      return 404;
    case Errc::conflict:
    case Errc::failed_precondition:
      return 409;
    case Errc::too_large:
      return 413;
    case Errc::unavailable:
    case Errc::timeout:
      return 503;
    default:
      return 500;
  }
}

WebResponse html(int status, std::string body) {
  WebResponse r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "text/html; charset=utf-8");
  r.body = std::move(body);
  return r;
}

// The decision API's answers: {"error": code, "message": text} (or the outcome), as JSON.
WebResponse api_json(int status, const nlohmann::json& body) {
  WebResponse r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = body.dump() + "\n";
  return r;
}
WebResponse api_error(int status, std::string_view code, std::string_view text) {
  return api_json(status, {{"error", code}, {"message", text}});
}

const char* api_code_for(Errc c) {
  switch (c) {
    case Errc::invalid_argument:
      return "bad_request";
    case Errc::unauthenticated:
      return "invalid_token";
    case Errc::permission_denied:
      return "forbidden";
    case Errc::not_found:
      return "not_found";
    case Errc::conflict:
    case Errc::failed_precondition:
      return "conflict";
    case Errc::unavailable:
    case Errc::timeout:
      return "unavailable";
    default:
      return "internal";
  }
}

WebResponse message(int status, std::string_view title, std::string_view text) {
  return html(status, render_message(title, text));
}

// The value of cookie `name` in a Cookie header, or "".
std::string cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    auto semi = header.find(';');
    std::string_view part = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    auto eq = part.find('=');
    if (eq != std::string_view::npos && part.substr(0, eq) == name)
      return std::string(part.substr(eq + 1));
  }
  return "";
}

// Host header without the port ("[::1]:80" -> "[::1]").
std::string_view host_name(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  auto colon = host.rfind(':');
  return colon == std::string_view::npos ? host : host.substr(0, colon);
}

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%') {
      if (i + 2 >= s.size())
        return make_error(Errc::invalid_argument, "malformed form field (bad % escape)");
      int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
      if (hi < 0 || lo < 0)
        return make_error(Errc::invalid_argument, "malformed form field (bad % escape)");
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

std::string audit_text(std::string_view s, std::size_t max_bytes) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80           ? 1
                      : (c >> 5) == 0x6  ? 2
                      : (c >> 4) == 0xE  ? 3
                      : (c >> 3) == 0x1E ? 4
                                         : 0;
    bool valid = len > 0 && i + len <= s.size();
    for (std::size_t k = 1; valid && k < len; ++k)
      valid = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    // Overlong forms, surrogates and > U+10FFFF would make the canonical JSON refuse the entry.
    if (valid && len == 2) valid = c >= 0xC2;
    if (valid && len == 3) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      valid = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);
    }
    if (valid && len == 4) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      valid = c <= 0xF4 && !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90);
    }
    std::string_view piece = valid ? s.substr(i, len) : std::string_view("?");
    if (valid && len == 1 && (c < 0x20 || c == 0x7F)) piece = "?";
    if (!valid) len = 1;
    if (out.size() + piece.size() > max_bytes) {
      out += "\xE2\x80\xA6";  // …
      break;
    }
    out += piece;
    i += len;
  }
  return out;
}

std::string address_key(std::string_view address) {
  if (address.empty()) return "addr:unknown";
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(std::string(address), ec);
  if (ec) return "addr:" + audit_text(address, 64);
  if (a.is_v6()) {
    auto v6 = a.to_v6();
    if (v6.is_v4_mapped())
      return "addr:" + boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_string();
    auto bytes = v6.to_bytes();
    for (std::size_t i = 8; i < bytes.size(); ++i) bytes[i] = 0;
    if (v6.is_loopback()) return "addr:::1";
    return "addr:" + boost::asio::ip::address_v6(bytes).to_string() + "/64";
  }
  return "addr:" + a.to_string();
}

Result<std::map<std::string, std::string, std::less<>>> parse_form(std::string_view body) {
  std::map<std::string, std::string, std::less<>> out;
  while (!body.empty()) {
    auto amp = body.find('&');
    std::string_view pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    auto k = url_decode(pair.substr(0, eq));
    if (!k) return k.error();
    auto v = url_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!v) return v.error();
    if (!out.emplace(std::move(*k), std::move(*v)).second)
      return make_error(Errc::invalid_argument, "a form field was sent twice");
  }
  return out;
}

Handler::Handler(std::shared_ptr<guard::Approvals> approvals, ApprovalWebOptions opts,
                 std::string csrf_key)
    : approvals_(std::move(approvals)),
      opts_(std::move(opts)),
      csrf_key_(std::move(csrf_key)),
      limiter_(std::make_unique<LoginLimiter>(opts_.login_limits)) {
  if (!opts_.clock) opts_.clock = system_clock();
}

Status Handler::audit_auth_failed(const std::string& id, const std::string& principal,
                                  const std::string& address, std::string_view reason,
                                  std::string_view decision, std::string_view detail) const {
  std::fprintf(stderr, "dagmedic approvals web: refused a decision on %s from %s: %.*s\n",
               id.c_str(), address.empty() ? "?" : address.c_str(), static_cast<int>(reason.size()),
               reason.data());
  if (!opts_.audit)
    return make_error(Errc::unavailable, "the approval page was started without an audit log");
  guard::AuditEvent e;
  e.principal = audit_text(principal);
  e.tool = "approval_page.auth_failed";
  e.decision = "refused";
  e.approval_id = id;
  e.upstream_status = std::string(reason);
  e.upstream_summary = "source " +
                       (address.empty() ? std::string("unknown") : audit_text(address)) +
                       "; claimed approver \"" + e.principal + "\"; attempted " +
                       std::string(decision) + (detail.empty() ? "" : "; ") + std::string(detail);
  auto r = opts_.audit->append(e);
  if (!r) {
    std::fprintf(stderr, "dagmedic approvals web: cannot audit a failed login: %s\n",
                 r.error().message.c_str());
    return r.error();
  }
  return {};
}

int64_t Handler::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             opts_.clock->now().time_since_epoch())
      .count();
}

std::string Handler::csrf_for(const std::string& id, const std::string& nonce) const {
  return guard::hmac_sha256_hex(csrf_key_, "dagmedic-approval-form-v1\n" + id + "\n" + nonce);
}

bool Handler::host_allowed(std::string_view host) const {
  std::string h = lower(host);
  std::string name = std::string(host_name(h));
  if (name == "localhost" || name == "127.0.0.1" || name == "[::1]") return true;
  for (const auto& a : opts_.allowed_hosts) {
    std::string al = lower(a);
    if (al == h || (al.find(':') == std::string::npos && al == name)) return true;
  }
  return false;
}

WebResponse Handler::handle(const WebRequest& req) const {
  WebResponse r = [&]() -> WebResponse {
    auto host_it = req.headers.find("host");
    if (host_it == req.headers.end() || !host_allowed(host_it->second))
      return message(403, "Forbidden", "This host name is not served here.");
    std::string_view target = req.target;
    target = target.substr(0, target.find_first_of("?#"));
    if (target == "/" || target == "/approvals" || target == "/approvals/") {
      if (req.method != "GET" && req.method != "HEAD")
        return message(405, "Method not allowed", "Use GET.");
      return index();
    }
    if (opts_.oidc && target == "/oidc/login") {
      if (req.method != "GET") return message(405, "Method not allowed", "Use GET.");
      return oidc_login(req);
    }
    if (opts_.oidc && target == "/oidc/callback") {
      if (req.method != "GET") return message(405, "Method not allowed", "Use GET.");
      return oidc_callback(req);
    }
    if (target == "/healthz") {
      WebResponse ok;
      ok.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
      ok.body = "ok\n";
      return ok;
    }
    constexpr std::string_view api = "/api/approvals/";
    constexpr std::string_view api_suffix = "/decision";
    if (target.substr(0, api.size()) == api) {
      if (target.size() < api.size() + api_suffix.size() ||
          target.substr(target.size() - api_suffix.size()) != api_suffix)
        return api_error(404, "not_found", "There is nothing here.");
      std::string id(target.substr(api.size(), target.size() - api.size() - api_suffix.size()));
      if (!valid_id(id))
        return api_error(400, "bad_request", "Approval ids are letters, digits, '-' and '_'.");
      if (req.method != "POST") {
        WebResponse m = api_error(405, "method_not_allowed", "Use POST.");
        m.headers.emplace_back("Allow", "POST");
        return m;
      }
      return post_api_decision(id, req);
    }
    constexpr std::string_view prefix = "/approvals/";
    if (target.substr(0, prefix.size()) != prefix)
      return message(404, "Not found", "There is nothing here.");
    std::string id(target.substr(prefix.size()));
    if (!valid_id(id))
      return message(400, "Bad approval id", "Approval ids are letters, digits, '-' and '_'.");
    if (req.method == "GET" || req.method == "HEAD") return get_approval(id, req);
    if (req.method == "POST") return post_approval(id, req);
    WebResponse m = message(405, "Method not allowed", "Use GET or POST.");
    m.headers.emplace_back("Allow", "GET, HEAD, POST");
    return m;
  }();
  // No scripts, no framing, nothing cached or leaked through the Referer to another site.
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                         "frame-ancestors 'none'; base-uri 'none'");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  // same-origin, not no-referrer: under no-referrer Chromium sends `Origin: null` on the page's own
  // form POST, which the Origin check above must refuse (a null origin can be a sandboxed
  // attacker).
  r.headers.emplace_back("Referrer-Policy", "same-origin");
  r.headers.emplace_back("Cache-Control", "no-store");
  if (req.method == "HEAD") r.body.clear();
  return r;
}

WebResponse Handler::index() const {
  auto list = approvals_->list(store::ApprovalState::pending, 100);
  if (!list)
    return message(status_for(list.error().code), "Approvals unavailable", list.error().message);
  return html(200, render_index(*list, now_ms()));
}

namespace {

// The approval page (with a fresh CSRF nonce and form while a decision is still possible).
WebResponse approval_page(const store::ApprovalRecord& a, int64_t now, int status,
                          const Notice& notice,
                          const std::function<std::string(const std::string&)>& csrf,
                          const SignIn* signin, const std::string& cookie_attrs) {
  std::string token, nonce;
  if (a.state == store::ApprovalState::pending && a.expires_at_ms > now) {
    auto n = guard::random_hex(16);
    if (n.ok()) {
      nonce = *n;
      token = csrf(nonce);
    }
  }
  WebResponse r = html(status, render_approval(a, now, token, notice, signin));
  if (!nonce.empty())
    r.headers.emplace_back("Set-Cookie", std::string(kCookie) + "=" + nonce + "; Path=/approvals/" +
                                             a.id + "; HttpOnly; SameSite=Strict" + cookie_attrs);
  return r;
}

}  // namespace

std::string Handler::cookie_attributes() const { return opts_.secure_cookies ? "; Secure" : ""; }

namespace {

std::string who_of(const ApproverSession& s) {
  return s.principal + " (subject " + s.subject + " at " + s.issuer + ")";
}

}  // namespace

std::optional<SignIn> Handler::sign_in_for(const std::string& id, const WebRequest& req) const {
  if (!opts_.oidc) return std::nullopt;
  SignIn si;
  si.login_href = "/oidc/login?return=" + http::url_encode("/approvals/" + id, "/");
  auto ck = req.headers.find("cookie");
  auto s =
      opts_.oidc->session(ck == req.headers.end() ? "" : cookie_value(ck->second, kSessionCookie));
  if (s && s->approval_id == id) {
    si.signed_in = true;
    si.who = who_of(*s);
  }
  return si;
}

WebResponse Handler::get_approval(const std::string& id, const WebRequest& req) const {
  auto a = approvals_->get(id);
  if (!a) {
    if (a.error().code == Errc::not_found)
      return message(404, "Unknown approval", "There is no approval with id " + id + ".");
    return message(status_for(a.error().code), "Approval unavailable", a.error().message);
  }
  auto si = sign_in_for(id, req);
  return approval_page(
      *a, now_ms(), 200, {}, [&](const std::string& nonce) { return csrf_for(id, nonce); },
      si ? &*si : nullptr, cookie_attributes());
}

WebResponse Handler::oidc_login(const WebRequest& req) const {
  const auto q = req.target.find('?');
  auto query = parse_form(q == std::string::npos ? std::string_view()
                                                 : std::string_view(req.target).substr(q + 1));
  std::string ret;
  if (query)
    if (auto it = query->find("return"); it != query->end()) ret = it->second;
  if (!query || !approval_id_of_return_path(ret))
    return message(400, "Bad sign-in request",
                   "Sign-in returns only to an approval of this page (/approvals/<id>); start from "
                   "the approval's page.");
  auto b = opts_.oidc->begin(ret);
  if (!b) return message(status_for(b.error().code), "Cannot sign in", b.error().message);
  WebResponse r;
  r.status = 302;
  r.headers.emplace_back("Location", b->authorize_url);
  r.headers.emplace_back("Set-Cookie", std::string(kLoginCookie) + "=" + b->binding +
                                           "; Path=/oidc/callback; Max-Age=" +
                                           std::to_string(opts_.oidc->options().login_ttl.count()) +
                                           "; HttpOnly; SameSite=Lax" + cookie_attributes());
  return r;
}

WebResponse Handler::oidc_callback(const WebRequest& req) const {
  const auto q = req.target.find('?');
  auto query = parse_form(q == std::string::npos ? std::string_view()
                                                 : std::string_view(req.target).substr(q + 1));
  if (!query) return message(400, "Bad sign-in answer", query.error().message);
  auto field = [&](const char* k) -> std::string {
    auto it = query->find(k);
    return it == query->end() ? std::string() : it->second;
  };
  auto ck = req.headers.find("cookie");
  const std::string binding = ck == req.headers.end() ? "" : cookie_value(ck->second, kLoginCookie);
  const std::string clear_login = std::string(kLoginCookie) +
                                  "=; Path=/oidc/callback; Max-Age=0; HttpOnly; SameSite=Lax" +
                                  cookie_attributes();
  auto refused = [&](int status, const std::string& why) {
    std::fprintf(stderr, "dagmedic approvals web: sign-in refused from %s: %s\n",
                 req.remote_address.empty() ? "?" : req.remote_address.c_str(), why.c_str());
    if (opts_.audit) {
      guard::AuditEvent e;
      e.tool = "approval_page.sign_in";
      e.decision = "refused";
      e.upstream_status = "sign_in_refused";
      e.upstream_summary =
          "source " +
          (req.remote_address.empty() ? std::string("unknown") : audit_text(req.remote_address)) +
          "; " + audit_text(why, 300);
      if (!opts_.audit->append(e))
        return message(503, "Sign-in refused", why + " (and the refusal could not be audited)");
    }
    // The pre-login cookie stays: a forged callback must not cancel this browser's real sign-in
    // (it expires with the state anyway).
    return message(status, "Sign-in refused", why);
  };
  if (!field("error").empty()) {
    opts_.oidc->drop_state(field("state"), binding);
    return refused(401, "The identity provider did not sign you in (" +
                            audit_text(field("error"), 64) +
                            "). Start again from the approval page.");
  }
  auto c = opts_.oidc->complete(field("state"), field("code"), binding);
  if (!c) return refused(c.error().code == Errc::unavailable ? 503 : 401, c.error().message);
  WebResponse r = html(200, render_signed_in(who_of(c->session), c->return_path));
  r.headers.emplace_back("Set-Cookie", clear_login);
  r.headers.emplace_back(
      "Set-Cookie", std::string(kSessionCookie) + "=" + c->session_id + "; Path=" + c->return_path +
                        "; Max-Age=" + std::to_string(opts_.oidc->options().session_ttl.count()) +
                        "; HttpOnly; SameSite=Strict" + cookie_attributes());
  return r;
}

WebResponse Handler::post_approval(const std::string& id, const WebRequest& req) const {
  // Cross-site requests: a browser always sends Origin on a form POST; it must be this site.
  if (auto o = req.headers.find("origin"); o != req.headers.end()) {
    const std::string host = lower(req.headers.at("host"));
    const std::string origin = lower(o->second);
    if (origin != "http://" + host && origin != "https://" + host)
      return message(403, "Refused", "The form was not sent from this page (cross-site request).");
  }
  auto ct = req.headers.find("content-type");
  if (ct == req.headers.end() ||
      lower(ct->second).rfind("application/x-www-form-urlencoded", 0) != 0)
    return message(415, "Unsupported form", "Send the form as application/x-www-form-urlencoded.");
  if (req.body.size() > kMaxFormBytes) return message(413, "Too large", "The form is too large.");
  auto form = parse_form(req.body);
  if (!form) return message(400, "Bad form", form.error().message);
  auto field = [&](const char* k) -> std::string {
    auto it = form->find(k);
    return it == form->end() ? std::string() : it->second;
  };

  auto ck = req.headers.find("cookie");
  std::string nonce = ck == req.headers.end() ? "" : cookie_value(ck->second, kCookie);
  const std::string sent = field("csrf");
  if (nonce.empty() || sent.empty() || !guard::constant_time_equal(csrf_for(id, nonce), sent))
    return message(403, "Form expired",
                   "The form was not loaded from this approval's page in this browser (or the "
                   "server restarted). Reload the page and decide again.");

  auto show = [&](int status, Notice n) -> WebResponse {
    auto a = approvals_->get(id);
    if (!a) return message(status, n.kind == Notice::Kind::ok ? "Done" : "Refused", n.text);
    auto si = sign_in_for(id, req);
    return approval_page(
        *a, now_ms(), status, n, [&](const std::string& nn) { return csrf_for(id, nn); },
        si ? &*si : nullptr, cookie_attributes());
  };
  auto refuse = [&](int status, std::string text) {
    return show(status, {Notice::Kind::error, std::move(text)});
  };
  if (opts_.oidc) return post_oidc_decision(id, req, *form, show);

  const std::string decision = field("decision");
  if (decision != "approve" && decision != "deny") return refuse(400, "Choose Approve or Deny.");
  auto principal = guard::normalize_principal(field("approver"));
  if (!principal) return refuse(400, "Approver id: " + principal.error().message);
  const std::string token = field("token");
  if (token.empty() || token.size() > 1024) return refuse(401, "Enter your approver token.");
  if (field("reason").find_first_not_of(" \t\r\n") == std::string::npos)
    return refuse(400, "A reason is required.");

  // Rate limit (login_limiter.h): a locked key is refused before the token is even looked at, so
  // the right token does not help during a lockout.
  const std::vector<std::string> keys = {address_key(req.remote_address),
                                         "principal:" + *principal};
  const auto now = opts_.clock->now();
  auto locked = [&](const LoginVerdict& v, std::string text) {
    const auto minutes = (v.retry_after.count() + 59) / 60;
    text += " Too many failed logins for this approver or from this address: try again in " +
            std::to_string(minutes) + (minutes == 1 ? " minute." : " minutes.");
    WebResponse w = refuse(429, std::move(text));
    w.headers.emplace_back("Retry-After", std::to_string(v.retry_after.count()));
    return w;
  };
  const std::string unaudited =
      " This failed attempt could not be written to the audit log, so the page refuses every "
      "failed login until it can (the server log says why).";
  if (auto v = limiter_->check(keys, now); v.locked) {
    if (!audit_auth_failed(id, *principal, req.remote_address, "locked_out", decision,
                           "locked out for " + std::to_string(v.retry_after.count()) + " s more"))
      return refuse(503, "Refused: locked out." + unaudited);
    return locked(v, "Refused; nothing was recorded.");
  }

  // Same work whether or not the principal is known, so timing does not tell which was wrong.
  auto it = opts_.approvers.find(*principal);
  const std::string expected = it == opts_.approvers.end() ? std::string(64, '0') : it->second;
  const bool token_ok = guard::constant_time_equal(guard::sha256_hex(token), expected);
  if (it == opts_.approvers.end() || !token_ok) {
    const char* reason = it == opts_.approvers.end() ? "unknown_approver" : "wrong_token";
    auto v = limiter_->record_failure(keys, now);
    const std::string detail =
        v.locked ? "now locked out for " + std::to_string(v.retry_after.count()) + " s" : "";
    const std::string text = "Unknown approver or wrong token. Nothing was recorded.";
    if (!audit_auth_failed(id, *principal, req.remote_address, reason, decision, detail))
      return refuse(503, text + unaudited);
    if (v.locked) return locked(v, text);
    return refuse(401, text);
  }
  limiter_->record_success(keys[1]);

  guard::Principal who{*principal, principal->rfind("agent:", 0) == 0};
  auto r = decision == "approve" ? approvals_->approve(id, who, field("reason"))
                                 : approvals_->deny(id, who, field("reason"));
  if (!r) return refuse(status_for(r.error().code), "Refused: " + r.error().message);
  int approvals = 0;
  for (const auto& d : r->decisions) approvals += d.approve ? 1 : 0;
  std::string text = decision == "approve"
                         ? "Approved by " + *principal + " (" + std::to_string(approvals) + " of " +
                               std::to_string(r->required_approvals) + "); state is now " +
                               store::approval_state_name(r->state) + "."
                         : "Denied by " + *principal + "; this approval can no longer be used.";
  return show(200, {Notice::Kind::ok, std::move(text)});
}

WebResponse Handler::post_oidc_decision(const std::string& id, const WebRequest& req,
                                        const std::map<std::string, std::string, std::less<>>& form,
                                        const std::function<WebResponse(int, Notice)>& show) const {
  auto refuse = [&](int status, std::string text) {
    return show(status, {Notice::Kind::error, std::move(text)});
  };
  auto field = [&](const char* k) -> std::string {
    auto it = form.find(k);
    return it == form.end() ? std::string() : it->second;
  };
  const std::string decision = field("decision");
  const std::string unaudited =
      " The refusal could not be written to the audit log, so the page refuses until it can.";
  auto refused = [&](int status, const std::string& principal, std::string_view reason,
                     std::string text) {
    if (!audit_auth_failed(id, principal, req.remote_address, reason, decision, ""))
      return refuse(503, text + unaudited);
    return refuse(status, std::move(text));
  };
  if (form.count("token") || form.count("approver"))
    return refused(400, field("approver"), "token_login_disabled",
                   "Approver tokens are not accepted on this server: auth: is configured, so "
                   "approvers sign in through the identity provider (the Sign in link on this "
                   "page). Nothing was recorded.");
  if (decision != "approve" && decision != "deny") return refuse(400, "Choose Approve or Deny.");
  if (field("reason").find_first_not_of(" \t\r\n") == std::string::npos)
    return refuse(400, "A reason is required.");
  auto ck = req.headers.find("cookie");
  const std::string sid = ck == req.headers.end() ? "" : cookie_value(ck->second, kSessionCookie);
  auto s = opts_.oidc->session(sid);
  if (!s)
    return refused(401, "", "not_signed_in",
                   "Sign in through your identity provider first (or your sign-in expired). "
                   "Nothing was recorded.");
  if (s->approval_id != id)
    return refused(403, s->principal, "session_for_another_approval",
                   "This sign-in was made for approval " + s->approval_id +
                       ", not this one: sign in again from this approval's page. Nothing was "
                       "recorded.");
  const auto a = approvals_->get(id);
  if (!a) return refuse(status_for(a.error().code), "Refused: " + a.error().message);
  const std::string& scope = opts_.oidc->options().approve_scope;
  if (!std::binary_search(s->scopes.begin(), s->scopes.end(), scope))
    return refused(403, s->principal, "missing_scope",
                   s->principal + " may not decide on approvals: the sign-in lacks the " + scope +
                       " scope (an approver role at the identity provider). Nothing was recorded.");
  if (!std::binary_search(s->environments.begin(), s->environments.end(), a->env)) {
    std::string granted;
    for (const auto& e : s->environments) granted += (granted.empty() ? "" : ", ") + e;
    return refused(403, s->principal, "environment",
                   s->principal + " may not decide in environment " + a->env +
                       " (the sign-in grants: " + (granted.empty() ? "none" : granted) +
                       "). Nothing was recorded.");
  }
  guard::Principal who{s->principal, false, "", s->issuer, s->subject};
  auto r = decision == "approve" ? approvals_->approve(id, who, field("reason"))
                                 : approvals_->deny(id, who, field("reason"));
  if (!r) return refuse(status_for(r.error().code), "Refused: " + r.error().message);
  opts_.oidc->end_session(sid);  // one decision per sign-in
  int approvals = 0;
  for (const auto& d : r->decisions) approvals += d.approve ? 1 : 0;
  std::string text = decision == "approve"
                         ? "Approved by " + s->principal + " (" + std::to_string(approvals) +
                               " of " + std::to_string(r->required_approvals) + "); state is now " +
                               store::approval_state_name(r->state) + "."
                         : "Denied by " + s->principal + "; this approval can no longer be used.";
  return show(200, {Notice::Kind::ok, std::move(text)});
}

WebResponse Handler::post_api_decision(const std::string& id, const WebRequest& req) const {
  using json = nlohmann::json;
  if (!opts_.oidc)
    return api_error(404, "not_found",
                     "This server has no decision API: it needs auth: (the identity provider). "
                     "Without auth:, decide on the approval page or with `dagmedic approvals "
                     "approve` where the store is.");
  // Only a CLI with a bearer token: never a browser, never a cookie. A browser's cross-site
  // fetch or form always carries Origin; this API has no use for one.
  if (req.headers.count("origin"))
    return api_error(403, "cross_site",
                     "Requests sent by a browser (with an Origin header) are refused: this API "
                     "takes a bearer token from `dagmedic login`. Nothing was recorded.");
  auto unauthorized = [&](std::string_view code, std::string text, std::string_view reason,
                          const std::string& principal) {
    if (!audit_auth_failed(id, principal, req.remote_address, reason, "api decision", ""))
      return api_error(503, "unavailable",
                       text + " (and the refusal could not be written to the audit log)");
    WebResponse r = api_error(401, code, text);
    r.headers.emplace_back("WWW-Authenticate",
                           code == "invalid_token" ? "Bearer error=\"invalid_token\"" : "Bearer");
    return r;
  };
  auto auth = req.headers.find("authorization");
  constexpr std::string_view scheme = "bearer ";
  if (auth == req.headers.end() || auth->second.size() <= scheme.size() ||
      lower(std::string_view(auth->second).substr(0, scheme.size())) != scheme)
    return unauthorized("unauthorized",
                        std::string("A bearer token is required (run `dagmedic login`)") +
                            (req.headers.count("cookie") ? "; cookies are not accepted here" : "") +
                            ". Nothing was recorded.",
                        "no_bearer_token", "");
  if (auth->second.size() > 16 * 1024)
    return unauthorized("invalid_token", "The Authorization header is too large.",
                        "oversized_token", "");
  auto ct = req.headers.find("content-type");
  if (ct == req.headers.end() || lower(ct->second).rfind("application/json", 0) != 0)
    return api_error(415, "unsupported_media_type", "Send the decision as application/json.");
  if (req.body.size() > kMaxFormBytes)
    return api_error(413, "too_large", "The request body is too large.");
  json body = json::parse(req.body, nullptr, false);
  if (!body.is_object())
    return api_error(400, "bad_request",
                     "The body must be a JSON object {\"decision\": \"approve\"|\"deny\", "
                     "\"reason\": \"…\"}.");
  for (const auto& [k, v] : body.items())
    if (k != "decision" && k != "reason")
      return api_error(400, "bad_request",
                       "Unknown field \"" + audit_text(k, 32) +
                           "\": only decision and reason are read (who decides comes from the "
                           "token).");
  const std::string decision = body.contains("decision") && body["decision"].is_string()
                                   ? body["decision"].get<std::string>()
                                   : "";
  const std::string reason = body.contains("reason") && body["reason"].is_string()
                                 ? body["reason"].get<std::string>()
                                 : "";
  if (decision != "approve" && decision != "deny")
    return api_error(400, "bad_request", "decision must be \"approve\" or \"deny\".");
  if (reason.find_first_not_of(" \t\r\n") == std::string::npos)
    return api_error(400, "bad_request", "A reason is required.");

  const std::string_view token = std::string_view(auth->second).substr(scheme.size());
  auto who = opts_.oidc->bearer(token);
  if (!who) {
    if (who.error().code == Errc::unavailable || who.error().code == Errc::timeout)
      return api_error(503, "unavailable",
                       "The token could not be checked: " + who.error().message);
    return unauthorized("invalid_token", who.error().message + ". Nothing was recorded.",
                        "invalid_token", "");
  }
  const auto a = approvals_->get(id);
  if (!a) {
    if (a.error().code == Errc::not_found)
      return api_error(404, "not_found", "There is no approval with id " + id + ".");
    return api_error(status_for(a.error().code), api_code_for(a.error().code), a.error().message);
  }
  auto forbidden = [&](std::string_view reason_code, std::string text, bool scope) {
    if (!audit_auth_failed(id, who->principal, req.remote_address, reason_code, decision, ""))
      return api_error(503, "unavailable",
                       text + " (and the refusal could not be written to the audit log)");
    WebResponse r = api_error(403, scope ? "insufficient_scope" : "forbidden", text);
    if (scope)
      r.headers.emplace_back("WWW-Authenticate", "Bearer error=\"insufficient_scope\", scope=\"" +
                                                     opts_.oidc->options().approve_scope + "\"");
    return r;
  };
  const std::string& scope = opts_.oidc->options().approve_scope;
  if (!std::binary_search(who->scopes.begin(), who->scopes.end(), scope))
    return forbidden("missing_scope",
                     who->principal + " may not decide on approvals: the login lacks the " + scope +
                         " scope (an approver role at the identity provider). Nothing "
                         "was recorded.",
                     true);
  if (!std::binary_search(who->environments.begin(), who->environments.end(), a->env)) {
    std::string granted;
    for (const auto& e : who->environments) granted += (granted.empty() ? "" : ", ") + e;
    return forbidden("environment",
                     who->principal + " may not decide in environment " + a->env +
                         " (the login grants: " + (granted.empty() ? "none" : granted) +
                         "). Nothing was recorded.",
                     false);
  }
  guard::Principal p{who->principal, false, "", who->issuer, who->subject};
  auto r =
      decision == "approve" ? approvals_->approve(id, p, reason) : approvals_->deny(id, p, reason);
  if (!r)
    return api_error(status_for(r.error().code), api_code_for(r.error().code),
                     "Refused: " + r.error().message);
  int approvals = 0;
  for (const auto& d : r->decisions) approvals += d.approve ? 1 : 0;
  std::string text = decision == "approve"
                         ? "Approved by " + who->principal + " (" + std::to_string(approvals) +
                               " of " + std::to_string(r->required_approvals) + "); state is now " +
                               store::approval_state_name(r->state) + "."
                         : "Denied by " + who->principal + "; this approval can no longer be used.";
  return api_json(200, {{"approval_id", r->id},
                        {"decision", decision},
                        {"principal", who->principal},
                        {"idp", {{"issuer", who->issuer}, {"subject", who->subject}}},
                        {"state", store::approval_state_name(r->state)},
                        {"approvals", approvals},
                        {"required_approvals", r->required_approvals},
                        {"message", text}});
}

}  // namespace dm::web::page
