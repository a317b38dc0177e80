#include "auth/device_login.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>

#include "auth/token_verifier.h"
#include "common/base64.h"

namespace dm::auth {
namespace {

using json = nlohmann::json;

constexpr const char* kDeviceGrant = "urn:ietf:params:oauth:grant-type:device_code";

std::string host_of(std::string_view url) {
  auto start = url.find("://");
  if (start == std::string_view::npos) return "";
  start += 3;
  auto end = url.find_first_of("/?#", start);
  std::string_view authority = url.substr(start, end == std::string_view::npos ? end : end - start);
  if (!authority.empty() && authority.front() == '[')
    return std::string(authority.substr(0, authority.find(']') + 1));
  return std::string(authority.substr(0, authority.find(':')));
}

bool loopback(std::string_view host) {
  return host == "localhost" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

// A URL shown to the person (it may carry a query, e.g. ?user_code=…).
bool showable_url(std::string_view url) {
  if (url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0) return false;
  for (char c : url)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) return false;
  const std::string host = host_of(url);
  return !host.empty() && url.substr(0, url.find_first_of("?#")).find('@') == std::string::npos;
}

// A short, printable piece of what the issuer said (error codes, descriptions).
std::string said(const json& body, const char* key, std::size_t cap = 200) {
  std::string out;
  if (!body.is_object() || !body.contains(key) || !body[key].is_string()) return out;
  for (char c : body[key].get<std::string>()) {
    if (out.size() >= cap) {
      out += "…";
      break;
    }
    out += static_cast<unsigned char>(c) < 0x20 || c == 0x7F ? '?' : c;
  }
  return out;
}

std::optional<long long> seconds_field(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || !it->is_number()) return std::nullopt;
  const double v = it->get<double>();
  if (v < 0 || v > 1e9) return std::nullopt;
  return static_cast<long long>(v);
}

}  // namespace

bool acceptable_endpoint(std::string_view url) {
  const bool https = url.rfind("https://", 0) == 0;
  const bool http = url.rfind("http://", 0) == 0;
  if (!https && !http) return false;
  if (url.find_first_of("?#@") != std::string_view::npos) return false;
  for (char c : url)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) return false;
  const std::string host = host_of(url);
  if (host.empty()) return false;
  return https || loopback(host);
}

DeviceClient::DeviceClient(DeviceClientOptions opts, std::shared_ptr<http::HttpClient> http,
                           std::shared_ptr<Clock> clock)
    : opts_(std::move(opts)), http_(std::move(http)), clock_(std::move(clock)) {}

Result<DeviceEndpoints> DeviceClient::discover() {
  if (!acceptable_endpoint(opts_.issuer))
    return make_error(
        Errc::invalid_argument,
        "issuer must be an https URL (http only on localhost), got \"" + opts_.issuer + "\"");
  std::string tried;
  bool no_device = false;
  for (const auto& url : metadata_urls(opts_.issuer)) {
    http::Request req;
    req.url = url;
    req.headers = {{"Accept", "application/json"}};
    req.timeout = opts_.http_timeout;
    req.connect_timeout = opts_.http_timeout;
    auto r = http_->send(req);
    if (!r)
      return make_error(Errc::unavailable, "issuer metadata at " + url + ": " + r.error().message);
    if (r->status == 404 || r->status == 400) {
      tried += (tried.empty() ? "" : ", ") + url;
      continue;
    }
    if (r->status != 200)
      return make_error(Errc::unavailable, "issuer metadata at " + url + " answered HTTP " +
                                               std::to_string(r->status));
    if (r->body.size() > opts_.max_document_bytes)
      return make_error(Errc::protocol, "issuer metadata at " + url + " is too large");
    json m = json::parse(r->body, nullptr, false);
    if (!m.is_object())
      return make_error(Errc::protocol, "issuer metadata at " + url + " is not a JSON object");
    if (m.value("issuer", std::string()) != opts_.issuer)
      return make_error(Errc::protocol, "issuer metadata at " + url + " names another issuer (\"" +
                                            said(m, "issuer") + "\")");
    DeviceEndpoints e;
    auto str = [&](const char* k) {
      auto it = m.find(k);
      return it != m.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    e.device_authorization_endpoint = str("device_authorization_endpoint");
    e.token_endpoint = str("token_endpoint");
    e.revocation_endpoint = str("revocation_endpoint");
    if (e.device_authorization_endpoint.empty()) {
      // Another of the issuer's metadata documents may list it (RFC 8414 vs OIDC discovery).
      no_device = true;
      tried += (tried.empty() ? "" : ", ") + url;
      continue;
    }
    if (e.token_endpoint.empty())
      return make_error(Errc::protocol, "issuer metadata at " + url + " has no token_endpoint");
    for (const auto* ep : {&e.device_authorization_endpoint, &e.token_endpoint})
      if (!acceptable_endpoint(*ep))
        return make_error(
            Errc::protocol,
            "issuer metadata at " + url + " names an endpoint that is not https: \"" + *ep + "\"");
    if (!e.revocation_endpoint.empty() && !acceptable_endpoint(e.revocation_endpoint))
      e.revocation_endpoint.clear();  // optional: never send a refresh token over plain http
    return e;
  }
  if (no_device)
    return make_error(Errc::failed_precondition,
                      "the issuer " + opts_.issuer +
                          " does not offer the device authorization grant (RFC 8628): its "
                          "metadata has no device_authorization_endpoint");
  return make_error(Errc::unavailable, "no issuer metadata found (tried " + tried + ")");
}

Result<http::Response> DeviceClient::post_form(const std::string& url, const std::string& body) {
  http::Request req;
  req.method = http::Method::post;
  req.url = url;
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                 {"Accept", "application/json"}};
  req.body = body;
  req.timeout = opts_.http_timeout;
  req.connect_timeout = opts_.http_timeout;
  auto r = http_->send(req);
  if (!r) return make_error(Errc::unavailable, r.error().message);
  return r;
}

Result<DeviceCode> DeviceClient::start(const DeviceEndpoints& eps) {
  unsigned char rnd[32];
  if (RAND_bytes(rnd, sizeof rnd) != 1)
    return make_error(Errc::internal, "no random bytes for the PKCE verifier");
  const std::string verifier =
      base64url_encode(std::string_view(reinterpret_cast<const char*>(rnd), sizeof rnd));
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  EVP_Digest(verifier.data(), verifier.size(), md, &md_len, EVP_sha256(), nullptr);
  const std::string challenge =
      base64url_encode(std::string_view(reinterpret_cast<const char*>(md), md_len));
  auto r = post_form(eps.device_authorization_endpoint,
                     "client_id=" + http::url_encode(opts_.client_id) +
                         "&scope=" + http::url_encode(opts_.scope) +
                         "&code_challenge=" + challenge + "&code_challenge_method=S256");
  if (!r)
    return make_error(Errc::unavailable, "device authorization endpoint: " + r.error().message);
  json b = json::parse(r->body, nullptr, false);
  if (r->status != 200) {
    if (r->status >= 500 || !b.is_object())
      return make_error(Errc::unavailable,
                        "device authorization endpoint answered HTTP " + std::to_string(r->status));
    const std::string err = said(b, "error", 64), desc = said(b, "error_description");
    return make_error(Errc::unauthenticated,
                      "the issuer refused to start a device login for client " + opts_.client_id +
                          " (" + (err.empty() ? "HTTP " + std::to_string(r->status) : err) +
                          (desc.empty() ? "" : ": " + desc) +
                          "); is the device authorization grant enabled for that client?");
  }
  if (!b.is_object())
    return make_error(Errc::protocol,
                      "the device authorization endpoint answered something that "
                      "is not a JSON object");
  DeviceCode c;
  c.code_verifier = verifier;
  auto str = [&](const char* k) {
    auto it = b.find(k);
    return it != b.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  c.device_code = str("device_code");
  c.user_code = str("user_code");
  c.verification_uri = str("verification_uri");
  if (c.verification_uri.empty()) c.verification_uri = str("verification_url");  // older drafts
  c.verification_uri_complete = str("verification_uri_complete");
  auto exp = seconds_field(b, "expires_in");
  if (c.device_code.empty() || c.user_code.empty() || c.verification_uri.empty() || !exp ||
      *exp <= 0)
    return make_error(Errc::protocol,
                      "the device authorization answer lacks device_code, user_code, "
                      "verification_uri or expires_in");
  if (!showable_url(c.verification_uri) ||
      (!c.verification_uri_complete.empty() && !showable_url(c.verification_uri_complete)))
    return make_error(Errc::protocol,
                      "the device authorization answer's verification URI is not "
                      "an http(s) URL");
  c.expires_in = std::chrono::seconds(*exp);
  if (auto iv = seconds_field(b, "interval"); iv && *iv > 0)
    c.interval = std::chrono::seconds(std::min<long long>(*iv, 300));
  return c;
}

Result<TokenSet> DeviceClient::token_answer(const http::Response& r) {
  if (r.body.size() > opts_.max_document_bytes)
    return make_error(Errc::protocol, "the token endpoint's answer is too large");
  json b = json::parse(r.body, nullptr, false);
  if (!b.is_object())
    return make_error(r.status >= 500 ? Errc::unavailable : Errc::protocol,
                      "the token endpoint answered HTTP " + std::to_string(r.status) +
                          " with something that is not JSON");
  auto str = [&](const char* k) {
    auto it = b.find(k);
    return it != b.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  TokenSet t;
  t.access_token = str("access_token");
  if (t.access_token.empty())
    return make_error(Errc::protocol, "the token endpoint's answer has no access_token");
  const std::string type = str("token_type");
  if (!type.empty() && !http::iequals(type, "Bearer"))
    return make_error(Errc::protocol, "the token endpoint issued a " + said(b, "token_type", 32) +
                                          " token, not a Bearer token");
  t.refresh_token = str("refresh_token");
  t.id_token = str("id_token");
  t.scope = str("scope");
  const auto now = clock_->now();
  t.expires_at = now + std::chrono::seconds(seconds_field(b, "expires_in").value_or(60));
  if (auto re = seconds_field(b, "refresh_expires_in"); re && *re > 0)
    t.refresh_expires_at = now + std::chrono::seconds(*re);
  return t;
}

Result<TokenSet> DeviceClient::poll(const DeviceEndpoints& eps, const DeviceCode& code) {
  const auto deadline = clock_->now() + code.expires_in;
  auto interval = code.interval;
  const std::string body =
      "grant_type=" + http::url_encode(kDeviceGrant) +
      "&device_code=" + http::url_encode(code.device_code) +
      "&client_id=" + http::url_encode(opts_.client_id) +
      (code.code_verifier.empty() ? std::string()
                                  : "&code_verifier=" + http::url_encode(code.code_verifier));
  for (;;) {
    if (clock_->now() + interval > deadline)
      return make_error(Errc::timeout, "the login code expired before the sign-in was completed (" +
                                           std::to_string(code.expires_in.count()) +
                                           " s); run `dagmedic login` again");
    clock_->sleep_for(std::chrono::duration_cast<std::chrono::milliseconds>(interval));
    ++polls_;
    auto r = post_form(eps.token_endpoint, body);
    if (!r) return make_error(Errc::unavailable, "token endpoint: " + r.error().message);
    if (r->status == 200) return token_answer(*r);
    json b = json::parse(r->body, nullptr, false);
    if (r->status >= 500 || !b.is_object())
      return make_error(r->status >= 500 ? Errc::unavailable : Errc::protocol,
                        "the token endpoint answered HTTP " + std::to_string(r->status) +
                            (b.is_object() ? "" : " with something that is not JSON"));
    const std::string err = said(b, "error", 64);
    if (err == "authorization_pending") continue;
    if (err == "slow_down") {
      interval += opts_.slow_down_step;
      continue;
    }
    if (err == "access_denied")
      return make_error(Errc::permission_denied,
                        "the sign-in was denied at the identity provider (access_denied): "
                        "nothing was stored");
    if (err == "expired_token")
      return make_error(Errc::timeout,
                        "the login code expired at the identity provider (expired_token) before "
                        "the sign-in was completed; run `dagmedic login` again");
    const std::string desc = said(b, "error_description");
    return make_error(Errc::unauthenticated,
                      "the identity provider refused the device login (" +
                          (err.empty() ? "HTTP " + std::to_string(r->status) : err) +
                          (desc.empty() ? "" : ": " + desc) + ")");
  }
}

Result<TokenSet> DeviceClient::refresh(const std::string& token_endpoint,
                                       const std::string& refresh_token) {
  auto r = post_form(token_endpoint,
                     "grant_type=refresh_token&refresh_token=" + http::url_encode(refresh_token) +
                         "&client_id=" + http::url_encode(opts_.client_id));
  if (!r) return make_error(Errc::unavailable, "token endpoint: " + r.error().message);
  if (r->status == 200) {
    auto t = token_answer(*r);
    if (t && t->refresh_token.empty()) t->refresh_token = refresh_token;
    return t;
  }
  json b = json::parse(r->body, nullptr, false);
  if (r->status >= 500 || !b.is_object())
    return make_error(r->status >= 500 ? Errc::unavailable : Errc::protocol,
                      "the token endpoint answered HTTP " + std::to_string(r->status));
  const std::string err = said(b, "error", 64);
  return make_error(Errc::unauthenticated,
                    "the identity provider did not renew the login (" +
                        (err.empty() ? "HTTP " + std::to_string(r->status) : err) +
                        "); run `dagmedic login` again");
}

Status DeviceClient::revoke(const std::string& revocation_endpoint,
                            const std::string& refresh_token) {
  auto r = post_form(revocation_endpoint, "token=" + http::url_encode(refresh_token) +
                                              "&token_type_hint=refresh_token&client_id=" +
                                              http::url_encode(opts_.client_id));
  if (!r) return make_error(Errc::unavailable, "revocation endpoint: " + r.error().message);
  if (r->status != 200)
    return make_error(Errc::unavailable,
                      "the revocation endpoint answered HTTP " + std::to_string(r->status));
  return Status::Ok();
}

}  // namespace dm::auth
