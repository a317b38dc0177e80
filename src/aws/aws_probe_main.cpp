// aws-probe: test driver for tests/aws (pytest). JSON out, one command per run:
//   aws-probe sign < requests.json     sign each request (same shape as tests/aws vectors) and
//                                      print [{headers:[[k,v]…], canonical_request}] or {error}
//   aws-probe creds [--profile P]      resolve the default chain (real env, files, curl)
//   aws-probe identity [--profile P]   resolve the chain, then call STS GetCallerIdentity signed
//                                      with those credentials; print the caller's ARN
// The secret and token are never printed: only their presence and a SHA-256 prefix to compare.
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "aws/credentials.h"
#include "aws/sigv4.h"
#include "aws/sts.h"
#include "aws/xml.h"
#include "common/base64.h"
#include "http/curl_http_client.h"

namespace {

using nlohmann::json;
using namespace dm;

json error_json(const Error& e) {
  return {{"ok", false}, {"error", {{"code", errc_name(e.code)}, {"message", e.message}}}};
}

http::Method method_of(const std::string& m) {
  if (m == "GET") return http::Method::get;
  if (m == "HEAD") return http::Method::head;
  if (m == "POST") return http::Method::post;
  if (m == "PUT") return http::Method::put;
  if (m == "PATCH") return http::Method::patch;
  return http::Method::del;
}

int cmd_sign() {
  json in;
  try {
    in = json::parse(std::string(std::istreambuf_iterator<char>(std::cin), {}));
  } catch (const json::exception& e) {
    std::cout << error_json(make_error(Errc::invalid_argument, e.what())) << "\n";
    return 2;
  }
  json out = json::array();
  try {
    for (const auto& v : in) {
      http::Request req;
      req.method = method_of(v.at("method").get<std::string>());
      req.url = v.at("url").get<std::string>();
      for (const auto& h : v.at("headers")) req.headers.emplace_back(h.at(0), h.at(1));
      auto body = base64_decode(v.at("body_b64").get<std::string>());
      if (!body) {
        out.push_back(error_json(make_error(Errc::invalid_argument, "body_b64 is not base64")));
        continue;
      }
      req.body = std::move(*body);
      aws::Credentials c{v.at("access_key_id"), v.at("secret_access_key"),
                         v.value("session_token", ""), std::nullopt};
      Clock::time_point now{std::chrono::seconds(v.at("epoch").get<long long>())};
      std::string region = v.at("region"), service = v.at("service");
      auto d = aws::signing_detail(req, c, region, service, now);
      auto st = aws::sign(req, c, region, service, now);
      if (!d || !st) {
        out.push_back(error_json(d ? st.error() : d.error()));
        continue;
      }
      json headers = json::array();
      for (const auto& [k, val] : req.headers) headers.push_back({k, val});
      out.push_back(
          {{"ok", true}, {"headers", headers}, {"canonical_request", d->canonical_request}});
    }
  } catch (const json::exception& e) {
    std::cout << error_json(make_error(Errc::invalid_argument, e.what())) << "\n";
    return 2;
  }
  std::cout << out.dump() << "\n";
  return 0;
}

json creds_json(const aws::Credentials& c, const std::string& source) {
  json j = {{"ok", true},
            {"source", source},
            {"access_key_id", c.access_key_id},
            {"secret_sha256_prefix", aws::sha256_hex(c.secret_access_key).substr(0, 12)},
            {"session_token", !c.session_token.empty()},
            {"token_sha256_prefix", aws::sha256_hex(c.session_token).substr(0, 12)},
            {"describe", aws::describe(c)}};
  if (c.expiration)
    j["expiration_epoch"] =
        std::chrono::duration_cast<std::chrono::seconds>(c.expiration->time_since_epoch()).count();
  return j;
}

int cmd_creds(const std::optional<std::string>& profile, bool identity) {
  auto http = std::make_shared<http::CurlHttpClient>();
  auto env = aws::system_env();
  aws::ChainDeps deps{http, system_clock(), env};
  auto chain = aws::default_chain(deps, profile);
  auto c = chain->get();
  if (!c) {
    std::cout << error_json(c.error()) << "\n";
    return 1;
  }
  json out = creds_json(*c, chain->source_name());
  if (identity) {
    auto ep = aws::sts_endpoint(*env, aws::env_nonempty(*env, "AWS_REGION").value_or("us-east-1"));
    http::Request req;
    req.method = http::Method::post;
    req.url = ep.url;
    req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
    // A signed header with runs of whitespace: folding is checked by moto end to end.
    req.headers.emplace_back("X-Dm-Note", "two   spaces\tand  tab");
    req.body = "Action=GetCallerIdentity&Version=2011-06-15";
    if (auto st = aws::sign(req, *c, ep.region, "sts", system_clock()->now()); !st) {
      std::cout << error_json(st.error()) << "\n";
      return 1;
    }
    auto resp = http->send(req);
    if (!resp) {
      std::cout << error_json(resp.error()) << "\n";
      return 1;
    }
    out["identity_status"] = resp->status;
    auto doc = aws::parse_xml(resp->body);
    if (doc) {
      if (const auto* arn = doc->find({"GetCallerIdentityResult", "Arn"})) out["arn"] = arn->text;
      if (const auto* e = doc->descendant("Error"))
        if (const auto* code = e->child("Code")) out["identity_error"] = code->text;
    }
  }
  std::cout << out.dump() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: aws-probe sign|creds|identity [--profile P]\n";
    return 2;
  }
  std::string cmd = argv[1];
  std::optional<std::string> profile;
  for (int i = 2; i < argc; ++i) {
    if (std::string(argv[i]) == "--profile" && i + 1 < argc) profile = argv[++i];
  }
  if (cmd == "sign") return cmd_sign();
  if (cmd == "creds") return cmd_creds(profile, false);
  if (cmd == "identity") return cmd_creds(profile, true);
  std::cerr << "unknown command " << cmd << "\n";
  return 2;
}
