#include "auth/token_verifier.h"

#include <algorithm>

namespace dm::auth {
namespace {

using json = nlohmann::json;

Error unauth(std::string msg) { return make_error(Errc::unauthenticated, std::move(msg)); }
Error unavailable(std::string msg) { return make_error(Errc::unavailable, std::move(msg)); }

// "scheme://authority" and the path (no trailing slash) of an http(s) URL; nullopt otherwise.
struct UrlParts {
  std::string origin;
  std::string path;
  std::string host;
};
std::optional<UrlParts> split_url(std::string_view url) {
  std::size_t scheme_end;
  if (url.rfind("https://", 0) == 0)
    scheme_end = 8;
  else if (url.rfind("http://", 0) == 0)
    scheme_end = 7;
  else
    return std::nullopt;
  const auto slash = url.find('/', scheme_end);
  UrlParts p;
  p.origin = std::string(url.substr(0, slash));
  std::string_view authority = url.substr(
      scheme_end, slash == std::string_view::npos ? std::string_view::npos : slash - scheme_end);
  if (authority.empty() || authority.find('@') != std::string_view::npos ||
      url.find_first_of("?#") != std::string_view::npos)
    return std::nullopt;
  if (authority.front() == '[') {
    p.host = std::string(authority.substr(0, authority.find(']') + 1));
  } else {
    p.host = std::string(authority.substr(0, authority.find(':')));
  }
  if (slash != std::string_view::npos) p.path = std::string(url.substr(slash));
  while (!p.path.empty() && p.path.back() == '/') p.path.pop_back();
  return p;
}

bool loopback_host(std::string_view host) {
  return host == "localhost" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

// An endpoint dagmedic sends tokens or secrets to, or trusts keys from: https, or http on a
// loopback host (a local test IdP).
Status check_endpoint(std::string_view what, std::string_view url) {
  auto p = split_url(url);
  if (!p)
    return make_error(Errc::invalid_argument,
                      std::string(what) +
                          " must be an http(s) URL without user info, query or "
                          "fragment, got \"" +
                          std::string(url) + "\"");
  if (url.rfind("http://", 0) == 0 && !loopback_host(p->host))
    return make_error(Errc::invalid_argument,
                      std::string(what) + " must use https (http only on localhost), got \"" +
                          std::string(url) + "\"");
  return Status::Ok();
}

int64_t unix_seconds(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::optional<double> number_claim(const json& claims, const char* name) {
  auto it = claims.find(name);
  if (it == claims.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

}  // namespace

struct TokenVerifier::Keys {
  std::vector<Jwk> keys;
  Clock::time_point fetched_at;
};

std::vector<std::string> metadata_urls(std::string_view issuer) {
  auto p = split_url(issuer);
  if (!p) return {};
  if (p->path.empty())
    return {p->origin + "/.well-known/oauth-authorization-server",
            p->origin + "/.well-known/openid-configuration"};
  return {p->origin + "/.well-known/oauth-authorization-server" + p->path,
          p->origin + "/.well-known/openid-configuration" + p->path,
          p->origin + p->path + "/.well-known/openid-configuration"};
}

TokenVerifier::TokenVerifier(VerifierOptions opts, std::shared_ptr<http::HttpClient> http,
                             std::shared_ptr<Clock> clock)
    : opts_(std::move(opts)), http_(std::move(http)), clock_(std::move(clock)) {
  jwks_uri_ = opts_.jwks_uri;
  if (opts_.introspection) introspection_endpoint_ = opts_.introspection->endpoint;
}

Status TokenVerifier::check_options(const VerifierOptions& o) {
  if (o.issuer.empty()) return make_error(Errc::invalid_argument, "issuer is required");
  if (auto s = check_endpoint("issuer", o.issuer); !s) return s;
  if (o.audience.empty())
    return make_error(Errc::invalid_argument,
                      "audience is required (the server's canonical resource URI)");
  if (!split_url(o.audience))
    return make_error(
        Errc::invalid_argument,
        "audience must be the server's https URL (RFC 8707 resource), got \"" + o.audience + "\"");
  if (!o.jwks_uri.empty())
    if (auto s = check_endpoint("jwks_uri", o.jwks_uri); !s) return s;
  if (o.algorithms.empty())
    return make_error(Errc::invalid_argument, "algorithms must name at least one algorithm");
  if (o.leeway.count() < 0) return make_error(Errc::invalid_argument, "leeway must be >= 0");
  if (o.max_token_bytes == 0 || o.max_document_bytes == 0)
    return make_error(Errc::invalid_argument, "size limits must be > 0");
  if (o.introspection) {
    if (o.introspection->client_id.empty() || o.introspection->client_secret.empty())
      return make_error(Errc::invalid_argument,
                        "introspection needs a client id and a client secret");
    if (!o.introspection->endpoint.empty())
      if (auto s = check_endpoint("introspection endpoint", o.introspection->endpoint); !s)
        return s;
  }
  return Status::Ok();
}

std::size_t TokenVerifier::key_fetches() const {
  std::lock_guard lk(mu_);
  return fetches_;
}

Result<std::string> TokenVerifier::get_document(const std::string& url, const char* what) {
  {
    std::lock_guard lk(mu_);
    ++fetches_;
  }
  http::Request req;
  req.method = http::Method::get;
  req.url = url;
  req.headers = {{"Accept", "application/json"}};
  req.timeout = opts_.http_timeout;
  req.connect_timeout = opts_.http_timeout;
  std::string body;
  bool too_big = false;
  req.on_body = [&](std::string_view chunk) {
    if (body.size() + chunk.size() > opts_.max_document_bytes) {
      too_big = true;
      return false;
    }
    body.append(chunk);
    return true;
  };
  auto r = http_->send(req);
  if (too_big)
    return unavailable(std::string(what) + " at " + url + " is larger than " +
                       std::to_string(opts_.max_document_bytes) + " bytes");
  if (!r) return unavailable(std::string(what) + " at " + url + ": " + r.error().message);
  if (r->status == 404) return make_error(Errc::not_found, std::string(what) + " not at " + url);
  if (r->status != 200)
    return unavailable(std::string(what) + " at " + url + " answered HTTP " +
                       std::to_string(r->status));
  return body;
}

Status TokenVerifier::discover_locked() {
  std::string tried;
  for (const auto& url : metadata_urls(opts_.issuer)) {
    auto doc = get_document(url, "issuer metadata");
    if (!doc) {
      if (doc.error().code == Errc::not_found) {
        tried += (tried.empty() ? "" : ", ") + url;
        continue;
      }
      return doc.error();
    }
    json m = json::parse(*doc, nullptr, false);
    if (!m.is_object()) return unavailable("issuer metadata at " + url + " is not a JSON object");
    if (m.value("issuer", std::string()) != opts_.issuer)
      return unavailable("issuer metadata at " + url + " names another issuer (\"" +
                         m.value("issuer", std::string()) + "\")");
    std::string jwks = m.value("jwks_uri", std::string());
    std::string intro = m.value("introspection_endpoint", std::string());
    if (opts_.jwks_uri.empty()) {
      if (jwks.empty()) return unavailable("issuer metadata at " + url + " has no jwks_uri");
      if (auto s = check_endpoint("jwks_uri", jwks); !s) return unavailable(s.error().message);
    }
    if (opts_.introspection && opts_.introspection->endpoint.empty()) {
      if (intro.empty())
        return unavailable("issuer metadata at " + url + " has no introspection_endpoint");
      if (auto s = check_endpoint("introspection_endpoint", intro); !s)
        return unavailable(s.error().message);
    }
    // A relying party's endpoints (endpoints()): kept when usable, else why not.
    std::optional<Endpoints> eps;
    std::string eps_error;
    const std::string authz = m.value("authorization_endpoint", std::string());
    const std::string token = m.value("token_endpoint", std::string());
    if (authz.empty() || token.empty()) {
      eps_error = "issuer metadata at " + url + " has no authorization_endpoint/token_endpoint";
    } else if (auto s1 = check_endpoint("authorization_endpoint", authz); !s1) {
      eps_error = s1.error().message;
    } else if (auto s2 = check_endpoint("token_endpoint", token); !s2) {
      eps_error = s2.error().message;
    } else if (auto pk = m.find("code_challenge_methods_supported");
               pk != m.end() &&
               (!pk->is_array() || std::find(pk->begin(), pk->end(), "S256") == pk->end())) {
      eps_error = "the issuer does not support PKCE with S256 (code_challenge_methods_supported)";
    } else {
      eps = Endpoints{authz, token};
    }
    std::lock_guard lk(mu_);
    if (opts_.jwks_uri.empty()) jwks_uri_ = jwks;
    if (opts_.introspection && opts_.introspection->endpoint.empty())
      introspection_endpoint_ = intro;
    endpoints_ = std::move(eps);
    endpoints_error_ = std::move(eps_error);
    return Status::Ok();
  }
  return unavailable("no issuer metadata found (tried " + tried + ")");
}

Status TokenVerifier::fetch_keys_locked() {
  const auto now = clock_->now();
  if (last_attempt_ && now - *last_attempt_ < opts_.min_refetch_interval)
    return unavailable("signing keys were fetched less than " +
                       std::to_string(opts_.min_refetch_interval.count()) + " s ago");
  last_attempt_ = now;
  bool need_metadata;
  {
    std::lock_guard lk(mu_);
    need_metadata = jwks_uri_.empty() || (opts_.introspection && introspection_endpoint_.empty());
  }
  if (need_metadata)
    if (auto s = discover_locked(); !s) return s;
  std::string uri;
  {
    std::lock_guard lk(mu_);
    uri = jwks_uri_;
  }
  auto doc = get_document(uri, "JWK set");
  if (!doc) return unavailable(doc.error().message);
  auto set = parse_jwks(*doc);
  if (!set) return unavailable("JWK set at " + uri + ": " + set.error().message);
  auto keys = std::make_shared<Keys>();
  keys->keys = std::move(set->keys);
  keys->fetched_at = now;
  std::lock_guard lk(mu_);
  keys_ = std::move(keys);
  return Status::Ok();
}

Status TokenVerifier::warm_up() {
  std::lock_guard lk(fetch_mu_);
  return fetch_keys_locked();
}

namespace {

// The key for (kid, alg) in `keys`; with no kid, the only key that fits.
const Jwk* find_key(const std::vector<Jwk>& keys, const std::string& kid, Alg alg,
                    bool& ambiguous) {
  ambiguous = false;
  const Jwk* found = nullptr;
  for (const auto& k : keys) {
    if (!kid.empty()) {
      if (k.kid == kid) return &k;
      continue;
    }
    if (!key_fits(k, alg)) continue;
    if (found) {
      ambiguous = true;
      return nullptr;
    }
    found = &k;
  }
  return found;
}

}  // namespace

Result<TokenVerifier::Endpoints> TokenVerifier::endpoints() {
  {
    std::lock_guard lk(mu_);
    if (endpoints_) return *endpoints_;
  }
  std::lock_guard flk(fetch_mu_);
  {
    std::lock_guard lk(mu_);
    if (endpoints_) return *endpoints_;
  }
  // Discovery made for the keys (jwks_uri not configured) already read the endpoints: say why
  // they were refused; else discover now, within its own budget.
  const auto now = clock_->now();
  if (last_discovery_ && now - *last_discovery_ < opts_.min_refetch_interval) {
    std::lock_guard lk(mu_);
    return unavailable(endpoints_error_.empty()
                           ? "the issuer's metadata was fetched less than " +
                                 std::to_string(opts_.min_refetch_interval.count()) + " s ago"
                           : endpoints_error_);
  }
  last_discovery_ = now;
  if (auto s = discover_locked(); !s) return s.error();
  std::lock_guard lk(mu_);
  if (!endpoints_) return unavailable(endpoints_error_);
  return *endpoints_;
}

Result<VerifiedToken> TokenVerifier::verify(std::string_view token) {
  return verify_impl(token, opts_.audience, opts_.introspection.has_value());
}

Result<VerifiedToken> TokenVerifier::verify_id_token(std::string_view token,
                                                     std::string_view client_id) {
  if (client_id.empty()) return unauth("no client id to check the ID token's audience against");
  return verify_impl(token, client_id, false);
}

Result<VerifiedToken> TokenVerifier::verify_impl(std::string_view token, std::string_view audience,
                                                 bool introspect_it) {
  auto jws = parse_compact(token, opts_.max_token_bytes);
  if (!jws) return unauth(jws.error().message);
  if (std::find(opts_.algorithms.begin(), opts_.algorithms.end(), jws->alg) ==
      opts_.algorithms.end())
    return unauth(std::string("algorithm ") + alg_name(jws->alg) + " is not allowed here");

  std::shared_ptr<const Keys> keys;
  {
    std::lock_guard lk(mu_);
    keys = keys_;
  }
  bool ambiguous = false;
  const auto now = clock_->now();
  const Jwk* key = keys ? find_key(keys->keys, jws->kid, jws->alg, ambiguous) : nullptr;
  const bool stale = keys && now - keys->fetched_at > opts_.jwks_max_age;
  Status fetch_status;
  if (!keys || stale || (!key && !ambiguous)) {
    std::lock_guard flk(fetch_mu_);
    std::shared_ptr<const Keys> current;
    {
      std::lock_guard lk(mu_);
      current = keys_;
    }
    if (current == keys) fetch_status = fetch_keys_locked();  // else another thread just did
    std::lock_guard lk(mu_);
    if (keys_) {
      keys = keys_;
      key = find_key(keys->keys, jws->kid, jws->alg, ambiguous);
    }
  }
  if (!keys)
    return unavailable(
        "the issuer's signing keys are unavailable: " +
        (fetch_status ? std::string("not fetched yet") : fetch_status.error().message));
  if (ambiguous) return unauth("token names no key id and the issuer has several keys");
  if (!key)
    return unauth(jws->kid.empty() ? "no signing key of the issuer fits the token"
                                   : "unknown signing key id \"" + jws->kid.substr(0, 64) + "\"");
  if (auto s = verify_signature(*jws, *key); !s) return unauth(s.error().message);

  const json& c = jws->payload;
  auto iss = c.find("iss");
  if (iss == c.end() || !iss->is_string() || *iss != opts_.issuer)
    return unauth("wrong issuer (iss)");
  bool aud_ok = false;
  if (auto aud = c.find("aud"); aud != c.end()) {
    if (aud->is_string()) aud_ok = aud->get_ref<const std::string&>() == audience;
    if (aud->is_array())
      for (const auto& a : *aud)
        aud_ok = aud_ok || (a.is_string() && a.get_ref<const std::string&>() == audience);
  }
  if (!aud_ok) return unauth("the token is not meant for this server (aud)");
  const double t = static_cast<double>(unix_seconds(now));
  const double leeway = static_cast<double>(opts_.leeway.count());
  auto exp = number_claim(c, "exp");
  if (!exp) return unauth("the token has no expiry (exp)");
  if (t > *exp + leeway) return unauth("the token has expired");
  if (c.contains("nbf")) {
    auto nbf = number_claim(c, "nbf");
    if (!nbf) return unauth("nbf is not a number");
    if (*nbf > t + leeway) return unauth("the token is not valid yet (nbf)");
  }
  if (c.contains("iat")) {
    auto iat = number_claim(c, "iat");
    if (!iat) return unauth("iat is not a number");
    if (*iat > t + leeway) return unauth("the token was issued in the future (iat)");
  }
  if (introspect_it)
    if (auto s = introspect(token); !s) return s.error();
  return VerifiedToken{std::move(jws->header), std::move(jws->payload)};
}

Status TokenVerifier::introspect(std::string_view token) {
  std::string endpoint;
  {
    std::lock_guard lk(mu_);
    endpoint = introspection_endpoint_;
  }
  if (endpoint.empty()) {
    std::lock_guard flk(fetch_mu_);
    {
      std::lock_guard lk(mu_);
      endpoint = introspection_endpoint_;
    }
    if (endpoint.empty()) {
      // Discovery shares the fetch budget with the key set.
      const auto now = clock_->now();
      if (last_attempt_ && now - *last_attempt_ < opts_.min_refetch_interval)
        return unavailable("the introspection endpoint is not known yet");
      last_attempt_ = now;
      if (auto s = discover_locked(); !s) return s;
      std::lock_guard lk(mu_);
      endpoint = introspection_endpoint_;
    }
  }
  const auto& io = *opts_.introspection;
  http::Request req;
  req.method = http::Method::post;
  req.url = endpoint;
  req.timeout = opts_.http_timeout;
  req.connect_timeout = opts_.http_timeout;
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                 {"Accept", "application/json"},
                 {"Authorization", "Basic " + base64_encode(http::url_encode(io.client_id) + ":" +
                                                            http::url_encode(io.client_secret))}};
  req.body = "token=" + http::url_encode(token) + "&token_type_hint=access_token";
  req.idempotent = true;  // asking twice changes nothing
  auto r = http_->send(req);
  if (!r) return unavailable("token introspection: " + r.error().message);
  if (r->status != 200)
    return unavailable("token introspection answered HTTP " + std::to_string(r->status));
  if (r->body.size() > opts_.max_document_bytes)
    return unavailable("token introspection answer too large");
  json j = json::parse(r->body, nullptr, false);
  if (!j.is_object() || !j.contains("active") || !j["active"].is_boolean())
    return unavailable("token introspection answered something else than {\"active\": …}");
  if (!j["active"].get<bool>())
    return unauth("the token is no longer active at the issuer (revoked, or its session ended)");
  return Status::Ok();
}

}  // namespace dm::auth
