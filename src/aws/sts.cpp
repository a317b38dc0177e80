#include "aws/sts.h"

#include "aws/xml.h"
#include "common/iso_time.h"

namespace dm::aws {
namespace {

std::string form(std::initializer_list<std::pair<std::string_view, std::string_view>> kv) {
  std::string out;
  for (const auto& [k, v] : kv) {
    if (v.empty()) continue;
    if (!out.empty()) out += '&';
    out += http::url_encode(k);
    out += '=';
    out += http::url_encode(v);
  }
  return out;
}

http::Request sts_request(const StsEndpoint& ep, std::string body) {
  http::Request req;
  req.method = http::Method::post;
  req.url = ep.url;
  req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
  req.body = std::move(body);
  req.idempotent = true;  // issuing credentials twice is harmless
  req.timeout = std::chrono::seconds(30);
  return req;
}

}  // namespace

StsEndpoint sts_endpoint(const Env& env, std::string_view region) {
  StsEndpoint ep;
  ep.region = region.empty() ? "us-east-1" : std::string(region);
  if (auto u = env_nonempty(env, "AWS_ENDPOINT_URL_STS")) {
    ep.url = *u;
  } else if (auto g = env_nonempty(env, "AWS_ENDPOINT_URL")) {
    ep.url = *g;
  } else if (region.empty()) {
    ep.url = "https://sts.amazonaws.com/";
  } else {
    ep.url = "https://sts." + std::string(region) + ".amazonaws.com" +
             (region.starts_with("cn-") ? ".cn/" : "/");
  }
  if (ep.url.find("://") != std::string::npos &&
      ep.url.find('/', ep.url.find("://") + 3) == std::string::npos)
    ep.url += '/';
  return ep;
}

Result<Credentials> parse_sts_response(int status, std::string_view body, std::string_view action) {
  auto doc = parse_xml(body);
  if (status < 200 || status >= 300) {
    std::string code, msg;
    if (doc) {
      // <ErrorResponse><Error>… from AWS, <Response><Errors><Error>… from some emulators.
      if (const auto* e = doc->descendant("Error")) {
        if (const auto* c = e->child("Code")) code = c->text;
        if (const auto* m = e->child("Message")) msg = m->text;
      }
    }
    if (msg.size() > 300) msg = msg.substr(0, 300) + "…";
    std::string text = "STS " + std::string(action) + " returned HTTP " + std::to_string(status) +
                       (code.empty() ? "" : " " + code) + (msg.empty() ? "" : ": " + msg);
    Errc ec = status >= 500 || status == 429 ? Errc::unavailable
              : status == 403 && code != "ExpiredToken" && code != "InvalidClientTokenId" &&
                      code != "SignatureDoesNotMatch"
                  ? Errc::permission_denied
                  : Errc::unauthenticated;
    return make_error(ec, text);
  }
  if (!doc)
    return make_error(Errc::protocol, "STS " + std::string(action) + ": " + doc.error().message);
  const std::string result_name = std::string(action) + "Result";
  const XmlNode* creds = doc->find({result_name, "Credentials"});
  if (!creds)
    return make_error(Errc::protocol, "STS " + std::string(action) + " answer has no Credentials");
  Credentials c;
  const XmlNode* ak = creds->child("AccessKeyId");
  const XmlNode* sk = creds->child("SecretAccessKey");
  const XmlNode* tok = creds->child("SessionToken");
  const XmlNode* exp = creds->child("Expiration");
  if (!ak || !sk || !tok || !exp || ak->text.empty() || sk->text.empty() || tok->text.empty())
    return make_error(Errc::protocol,
                      "STS " + std::string(action) + " answer has incomplete Credentials");
  c.access_key_id = ak->text;
  c.secret_access_key = sk->text;
  c.session_token = tok->text;
  auto t = parse_rfc3339(exp->text);
  if (!t)
    return make_error(Errc::protocol,
                      "STS " + std::string(action) + " Expiration: " + t.error().message);
  c.expiration = *t;
  return c;
}

Result<Credentials> assume_role(http::HttpClient& http, const StsEndpoint& ep,
                                const Credentials& source, const AssumeRoleParams& p,
                                Clock::time_point now) {
  std::string dur = p.duration_seconds ? std::to_string(*p.duration_seconds) : "";
  auto req = sts_request(ep, form({{"Action", "AssumeRole"},
                                   {"Version", "2011-06-15"},
                                   {"RoleArn", p.role_arn},
                                   {"RoleSessionName", p.session_name},
                                   {"ExternalId", p.external_id},
                                   {"DurationSeconds", dur}}));
  if (auto st = sign(req, source, ep.region, "sts", now); !st)
    return make_error(st.error().code, "STS AssumeRole: " + st.error().message);
  auto resp = http.send(req);
  if (!resp)
    return make_error(resp.error().code, "STS AssumeRole at " + http::redact_url(ep.url) + ": " +
                                             resp.error().message);
  return parse_sts_response(resp->status, resp->body, "AssumeRole");
}

Result<Credentials> assume_role_with_web_identity(http::HttpClient& http, const StsEndpoint& ep,
                                                  const AssumeRoleParams& p,
                                                  std::string_view web_identity_token) {
  std::string dur = p.duration_seconds ? std::to_string(*p.duration_seconds) : "";
  auto req = sts_request(ep, form({{"Action", "AssumeRoleWithWebIdentity"},
                                   {"Version", "2011-06-15"},
                                   {"RoleArn", p.role_arn},
                                   {"RoleSessionName", p.session_name},
                                   {"WebIdentityToken", web_identity_token},
                                   {"DurationSeconds", dur}}));
  auto resp = http.send(req);
  if (!resp)
    return make_error(resp.error().code, "STS AssumeRoleWithWebIdentity at " +
                                             http::redact_url(ep.url) + ": " +
                                             resp.error().message);
  return parse_sts_response(resp->status, resp->body, "AssumeRoleWithWebIdentity");
}

}  // namespace dm::aws
