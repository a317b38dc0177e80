#include "web/oidc_login.h"

#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include "common/base64.h"
#include "guard/approval.h"
#include "guard/canonical.h"

namespace dm::web {
namespace {

using json = nlohmann::json;

Error unauth(std::string m) { return make_error(Errc::unauthenticated, std::move(m)); }

std::string str_claim(const json& c, const char* name) {
  auto it = c.find(name);
  return it != c.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::optional<std::string> approval_id_of_return_path(std::string_view path) {
  constexpr std::string_view prefix = "/approvals/";
  if (path.substr(0, prefix.size()) != prefix) return std::nullopt;
  std::string_view id = path.substr(prefix.size());
  if (id.empty() || id.size() > 128) return std::nullopt;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return std::nullopt;
  }
  return std::string(id);
}

std::string pkce_challenge(std::string_view verifier) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(verifier.data(), verifier.size(), md, &len, EVP_sha256(), nullptr);
  return base64url_encode(std::string_view(reinterpret_cast<const char*>(md), len));
}

OidcLogin::OidcLogin(OidcOptions opts, std::shared_ptr<auth::TokenVerifier> verifier,
                     std::shared_ptr<http::HttpClient> http, std::shared_ptr<Clock> clock)
    : opts_(std::move(opts)),
      verifier_(std::move(verifier)),
      http_(std::move(http)),
      clock_(std::move(clock)) {}

void OidcLogin::purge_locked(Clock::time_point now) {
  for (auto it = pending_.begin(); it != pending_.end();)
    it = now - it->second.created > opts_.login_ttl ? pending_.erase(it) : std::next(it);
  for (auto it = sessions_.begin(); it != sessions_.end();)
    it = now >= it->second.expires_at ? sessions_.erase(it) : std::next(it);
}

Result<OidcLogin::Begin> OidcLogin::begin(std::string_view return_path) {
  auto id = approval_id_of_return_path(return_path);
  if (!id)
    return make_error(Errc::invalid_argument,
                      "the return address must be an approval of this page (/approvals/<id>)");
  auto eps = verifier_->endpoints();
  if (!eps)
    return make_error(Errc::unavailable,
                      "the identity provider cannot be reached: " + eps.error().message);
  auto state = guard::random_hex(32);
  auto nonce = guard::random_hex(32);
  auto code_verifier = guard::random_hex(32);  // 64 unreserved characters (RFC 7636: 43-128)
  auto binding = guard::random_hex(32);
  if (!state || !nonce || !code_verifier || !binding)
    return make_error(Errc::unavailable, "no random bytes for a sign-in");
  const auto now = clock_->now();
  {
    std::lock_guard lk(mu_);
    purge_locked(now);
    if (pending_.size() >= opts_.max_pending)
      return make_error(Errc::unavailable, "too many sign-ins in progress; try again shortly");
    pending_[*state] =
        Pending{*binding, *nonce, *code_verifier, std::string(return_path), *id, now};
  }
  const std::string& authz = eps->authorization_endpoint;
  std::string url = authz + (authz.find('?') == std::string::npos ? "?" : "&");
  url += "response_type=code&client_id=" + http::url_encode(opts_.client_id) +
         "&redirect_uri=" + http::url_encode(opts_.redirect_uri) +
         "&scope=" + http::url_encode("openid " + opts_.approve_scope) + "&state=" + *state +
         "&nonce=" + *nonce + "&code_challenge=" + pkce_challenge(*code_verifier) +
         "&code_challenge_method=S256&prompt=login";
  return Begin{std::move(url), std::move(*binding), std::move(*id)};
}

bool OidcLogin::drop_state(std::string_view state, std::string_view binding) {
  std::lock_guard lk(mu_);
  auto it = pending_.find(state);
  if (it == pending_.end() || !guard::constant_time_equal(it->second.binding, binding))
    return false;
  pending_.erase(it);
  return true;
}

Result<OidcLogin::Completed> OidcLogin::complete(std::string_view state, std::string_view code,
                                                 std::string_view binding) {
  Pending p;
  {
    std::lock_guard lk(mu_);
    auto it = pending_.find(state);
    if (state.empty() || it == pending_.end())
      return unauth("unknown or already used sign-in (state); start again from the approval page");
    p = it->second;
    // Single use: a state is gone after its first callback, whatever the outcome — unless the
    // callback came from another browser, which must not be able to cancel the real one.
    if (!guard::constant_time_equal(p.binding, binding))
      return unauth(
          "this sign-in was started in another browser (the state does not belong to this "
          "browser's sign-in cookie); start again from the approval page");
    pending_.erase(it);
  }
  if (clock_->now() - p.created > opts_.login_ttl)
    return unauth("the sign-in took too long; start again from the approval page");
  if (code.empty() || code.size() > 4096) return unauth("the identity provider sent no code");
  return finish(p, code);
}

Result<OidcLogin::Completed> OidcLogin::finish(const Pending& p, std::string_view code) {
  auto eps = verifier_->endpoints();
  if (!eps) return make_error(Errc::unavailable, eps.error().message);
  http::Request req;
  req.method = http::Method::post;
  req.url = eps->token_endpoint;
  req.timeout = opts_.http_timeout;
  req.connect_timeout = opts_.http_timeout;
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                 {"Accept", "application/json"}};
  req.body = "grant_type=authorization_code&code=" + http::url_encode(code) +
             "&redirect_uri=" + http::url_encode(opts_.redirect_uri) +
             "&code_verifier=" + http::url_encode(p.code_verifier);
  if (opts_.client_secret.empty())
    req.body += "&client_id=" + http::url_encode(opts_.client_id);
  else
    req.headers.push_back(
        {"Authorization", "Basic " + base64_encode(http::url_encode(opts_.client_id) + ":" +
                                                   http::url_encode(opts_.client_secret))});
  auto r = http_->send(req);
  if (!r) return make_error(Errc::unavailable, "token endpoint: " + r.error().message);
  json body = json::parse(r->body, nullptr, false);
  if (r->status != 200) {
    std::string err = body.is_object() ? body.value("error", std::string()) : std::string();
    if (r->status >= 500 || !body.is_object())
      return make_error(Errc::unavailable,
                        "token endpoint answered HTTP " + std::to_string(r->status));
    return unauth("the identity provider refused the code (" +
                  (err.empty() ? "HTTP " + std::to_string(r->status) : err.substr(0, 64)) + ")");
  }
  if (!body.is_object() || !body.contains("id_token") || !body["id_token"].is_string() ||
      !body.contains("access_token") || !body["access_token"].is_string())
    return unauth("the identity provider answered without an ID token and an access token");

  auto idt = verifier_->verify_id_token(body["id_token"].get<std::string>(), opts_.client_id);
  if (!idt) return make_error(idt.error().code, "ID token: " + idt.error().message);
  const std::string nonce = str_claim(idt->claims, "nonce");
  if (nonce.empty() || !guard::constant_time_equal(nonce, p.nonce))
    return unauth(
        "ID token: the nonce is not the one this sign-in sent (a replayed or injected "
        "login)");
  if (auto azp = idt->claims.find("azp");
      azp != idt->claims.end() && (!azp->is_string() || *azp != opts_.client_id))
    return unauth("ID token: issued to another client (azp)");
  const std::string subject = str_claim(idt->claims, "sub");
  if (subject.empty()) return unauth("ID token: no subject (sub)");

  auto at = verifier_->verify(body["access_token"].get<std::string>());
  if (!at) return make_error(at.error().code, "access token: " + at.error().message);
  if (str_claim(at->claims, "sub") != subject)
    return unauth("the access token and the ID token name different people (sub)");
  auto id = auth::identity_of(*at, opts_.rules);
  if (!id) return id.error();
  auto principal = guard::normalize_principal(id->principal);
  if (!principal)
    return unauth("your " + opts_.rules.principal_claim +
                  " cannot be a principal here: " + principal.error().message);
  if (principal->rfind("agent:", 0) == 0)
    return unauth("your " + opts_.rules.principal_claim + " is in the reserved agent: space");

  auto sid = guard::random_hex(32);
  if (!sid) return make_error(Errc::unavailable, "no random bytes for a session");
  Completed c;
  c.session_id = *sid;
  c.return_path = p.return_path;
  c.session.approval_id = p.approval_id;
  c.session.issuer = id->issuer;
  c.session.subject = subject;
  c.session.principal = *principal;
  c.session.scopes = id->scopes;
  c.session.environments = id->environments;
  const auto now = clock_->now();
  c.session.expires_at = now + opts_.session_ttl;
  std::lock_guard lk(mu_);
  purge_locked(now);
  if (sessions_.size() >= opts_.max_pending)
    return make_error(Errc::unavailable, "too many sessions; try again shortly");
  sessions_[c.session_id] = c.session;
  return c;
}

Result<ApproverSession> OidcLogin::bearer(std::string_view access_token) {
  if (opts_.cli_client_id.empty())
    return unauth("decisions with a bearer token are not accepted here (no CLI client configured)");
  auto at = verifier_->verify(access_token);
  if (!at) return make_error(at.error().code, "access token: " + at.error().message);
  std::string client = str_claim(at->claims, "azp");
  if (client.empty()) client = str_claim(at->claims, "client_id");
  if (client != opts_.cli_client_id)
    return unauth("access token: issued to client \"" + client.substr(0, 64) +
                  "\", not to dagmedic login's client (" + opts_.cli_client_id +
                  "); an agent's or another service's token cannot decide on approvals");
  const std::string subject = str_claim(at->claims, "sub");
  if (subject.empty()) return unauth("access token: no subject (sub)");
  auto id = auth::identity_of(*at, opts_.rules);
  if (!id) return id.error();
  auto principal = guard::normalize_principal(id->principal);
  if (!principal)
    return unauth("your " + opts_.rules.principal_claim +
                  " cannot be a principal here: " + principal.error().message);
  if (principal->rfind("agent:", 0) == 0)
    return unauth("your " + opts_.rules.principal_claim + " is in the reserved agent: space");
  ApproverSession s;
  s.issuer = id->issuer;
  s.subject = subject;
  s.principal = *principal;
  s.scopes = id->scopes;
  s.environments = id->environments;
  if (auto exp = at->claims.find("exp"); exp != at->claims.end() && exp->is_number())
    s.expires_at = Clock::time_point(std::chrono::seconds(exp->get<int64_t>()));
  return s;
}

std::optional<ApproverSession> OidcLogin::session(std::string_view id) {
  if (id.empty()) return std::nullopt;
  std::lock_guard lk(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  if (clock_->now() >= it->second.expires_at) {
    sessions_.erase(it);
    return std::nullopt;
  }
  return it->second;
}

void OidcLogin::end_session(std::string_view id) {
  std::lock_guard lk(mu_);
  if (auto it = sessions_.find(id); it != sessions_.end()) sessions_.erase(it);
}

}  // namespace dm::web
