// Sources that ask a local metadata endpoint: container (ECS / EKS Pod Identity) and EC2 IMDS.
#include <nlohmann/json.hpp>

#include "aws/credentials.h"
#include "aws/credentials_internal.h"
#include "aws/url.h"
#include "common/iso_time.h"

namespace dm::aws {
namespace detail {

Result<Credentials> parse_json_credentials(std::string_view body, std::string_view who) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception&) {
    return make_error(Errc::protocol,
                      std::string(who) + " answered with something that is not JSON");
  }
  if (!j.is_object())
    return make_error(Errc::protocol, std::string(who) + " answer is not a JSON object");
  auto str = [&](const char* k) -> std::string {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (auto code = str("Code"); !code.empty() && code != "Success")
    return make_error(Errc::unauthenticated,
                      std::string(who) + " answered Code=" + code +
                          (str("Message").empty() ? "" : ": " + str("Message")));
  Credentials c;
  c.access_key_id = str("AccessKeyId");
  c.secret_access_key = str("SecretAccessKey");
  c.session_token = str("Token");
  if (c.access_key_id.empty() || c.secret_access_key.empty())
    return make_error(Errc::protocol,
                      std::string(who) + " answer lacks AccessKeyId/SecretAccessKey");
  if (auto e = str("Expiration"); !e.empty()) {
    auto t = parse_rfc3339(e);
    if (!t)
      return make_error(Errc::protocol, std::string(who) + " Expiration: " + t.error().message);
    c.expiration = *t;
  }
  return c;
}

}  // namespace detail

namespace {

bool has_crlf(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

bool allowed_container_host(const UrlParts& u) {
  if (u.scheme == "https") return true;
  const std::string& h = u.host;
  if (h == "localhost" || h == "::1" || h == "169.254.170.2" || h == "169.254.170.23" ||
      h == "fd00:ec2::23")
    return true;
  // 127.0.0.0/8, written as a dotted quad.
  if (!h.starts_with("127.")) return false;
  int dots = 0;
  for (char c : h) {
    if (c == '.')
      ++dots;
    else if (c < '0' || c > '9')
      return false;
  }
  return dots == 3;
}

class ContainerSource final : public CredentialSource {
 public:
  explicit ContainerSource(ChainDeps d) : d_(std::move(d)) {}
  std::string name() const override { return "container"; }

  Result<std::optional<Credentials>> load() override {
    const Env& env = *d_.env;
    auto rel = env_nonempty(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    auto full = env_nonempty(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (!rel && !full) return std::optional<Credentials>();
    std::string url;
    if (rel) {
      url = "http://169.254.170.2" + (rel->starts_with("/") ? *rel : "/" + *rel);
    } else {
      url = *full;
      auto u = parse_url(url);
      if (!u)
        return make_error(Errc::invalid_argument,
                          "AWS_CONTAINER_CREDENTIALS_FULL_URI: " + u.error().message);
      if (!allowed_container_host(*u))
        return make_error(Errc::permission_denied,
                          "AWS_CONTAINER_CREDENTIALS_FULL_URI host " + u->host +
                              " is not allowed (https, loopback, 169.254.170.2, 169.254.170.23 or "
                              "fd00:ec2::23)");
    }
    http::Request req;
    req.method = http::Method::get;
    req.url = url;
    req.timeout = std::chrono::seconds(2);
    req.connect_timeout = std::chrono::seconds(2);
    req.headers.emplace_back("Accept", "application/json");
    std::optional<std::string> token;
    if (auto tf = env_nonempty(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) {
      auto t = env.read_file(*tf, 16 * 1024);  // read on every call: the token rotates
      if (!t) return make_error(t.error().code, "authorization token file: " + t.error().message);
      token = *t;
      while (!token->empty() && (token->back() == '\n' || token->back() == '\r')) token->pop_back();
    } else if (auto tv = env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
      token = *tv;
    }
    if (token) {
      if (has_crlf(*token))
        return make_error(Errc::invalid_argument,
                          "container authorization token contains CR or LF");
      req.headers.emplace_back("Authorization", *token);
    }
    // botocore: 3 attempts, 1 s apart (through the Clock seam, so tests do not wait).
    Error last{Errc::unavailable, ""};
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (attempt) d_.clock->sleep_for(std::chrono::seconds(1));
      auto resp = d_.http->send(req);
      if (!resp) {
        last = make_error(resp.error().code, "container endpoint " + http::redact_url(url) + ": " +
                                                 resp.error().message);
        continue;
      }
      if (resp->status != 200) {
        last = make_error(
            resp->status == 401 || resp->status == 403 ? Errc::unauthenticated : Errc::unavailable,
            "container endpoint " + http::redact_url(url) + " answered HTTP " +
                std::to_string(resp->status));
        continue;
      }
      auto c = detail::parse_json_credentials(resp->body, "container endpoint");
      if (!c) {
        last = c.error();
        continue;
      }
      return std::optional<Credentials>(std::move(*c));
    }
    return last;
  }

 private:
  ChainDeps d_;
};

class ImdsSource final : public CredentialSource {
 public:
  explicit ImdsSource(ChainDeps d) : d_(std::move(d)) {}
  std::string name() const override { return "imds"; }
  std::string note() const override { return note_; }

  Result<std::optional<Credentials>> load() override {
    note_.clear();
    const Env& env = *d_.env;
    auto lowered = [&](const char* var) {
      std::string v = env.get(var).value_or("");
      for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return v;
    };
    if (lowered("AWS_EC2_METADATA_DISABLED") == "true") {
      note_ = "IMDS disabled by AWS_EC2_METADATA_DISABLED";
      return std::optional<Credentials>();
    }
    base_ = "http://169.254.169.254";
    if (auto ep = env_nonempty(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT"))
      base_ = *ep;
    else if (lowered("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE") == "ipv6")
      base_ = "http://[fd00:ec2::254]";
    while (!base_.empty() && base_.back() == '/') base_.pop_back();
    if (auto u = parse_url(base_ + "/"); !u)
      return make_error(Errc::invalid_argument,
                        "AWS_EC2_METADATA_SERVICE_ENDPOINT: " + u.error().message);
    timeout_ = std::chrono::seconds(1);
    if (auto t = env_nonempty(env, "AWS_METADATA_SERVICE_TIMEOUT")) {
      int v = std::atoi(t->c_str());
      if (v > 0 && v <= 60) timeout_ = std::chrono::seconds(v);
    }
    attempts_ = 1;
    if (auto a = env_nonempty(env, "AWS_METADATA_SERVICE_NUM_ATTEMPTS")) {
      int v = std::atoi(a->c_str());
      if (v > 0 && v <= 10) attempts_ = v;
    }
    bool v1_disabled = lowered("AWS_EC2_METADATA_V1_DISABLED") == "true";

    // IMDSv2 session token. 403/404/405 or no answer → IMDSv1, as botocore does; 400 → stop.
    std::optional<std::string> token;
    {
      http::Request req = base_request(http::Method::put, "/latest/api/token");
      req.headers.emplace_back("X-aws-ec2-metadata-token-ttl-seconds", "21600");
      req.idempotent = true;
      auto resp = d_.http->send(req);
      if (resp && resp->status == 200 && !resp->body.empty() && !has_crlf(resp->body)) {
        token = resp->body;
      } else if (resp && resp->status == 400) {
        note_ = "IMDS rejected the token request (HTTP 400)";
        return std::optional<Credentials>();
      }
    }
    if (!token && v1_disabled)
      return make_error(Errc::unavailable, "no IMDSv2 token from " + base_ +
                                               " and AWS_EC2_METADATA_V1_DISABLED is set");

    const std::string prefix = "/latest/meta-data/iam/security-credentials/";
    auto role = get(prefix, token);
    if (!role) return std::optional<Credentials>();
    std::string name = role->substr(0, role->find_first_of("\r\n"));
    while (!name.empty() && name.back() == ' ') name.pop_back();
    if (name.empty() || name.find_first_of("/?#%") != std::string::npos) {
      note_ = "IMDS returned no usable role name";
      return std::optional<Credentials>();
    }
    auto body = get(prefix + name, token);
    if (!body) return std::optional<Credentials>();
    auto c = detail::parse_json_credentials(*body, "IMDS");
    if (!c) {
      note_ = c.error().message;
      return std::optional<Credentials>();
    }
    return std::optional<Credentials>(std::move(*c));
  }

 private:
  http::Request base_request(http::Method m, const std::string& path) const {
    http::Request req;
    req.method = m;
    req.url = base_ + path;
    req.timeout = timeout_;
    req.connect_timeout = timeout_;
    return req;
  }

  // GET with retries; nullopt (and note_) when IMDS has no usable answer.
  std::optional<std::string> get(const std::string& path, const std::optional<std::string>& token) {
    http::Request req = base_request(http::Method::get, path);
    if (token) req.headers.emplace_back("X-aws-ec2-metadata-token", *token);
    for (int i = 0; i < attempts_; ++i) {
      auto resp = d_.http->send(req);
      if (!resp) {
        note_ = "no answer from IMDS at " + base_ + " (" + resp.error().message + ")";
        continue;
      }
      if (resp->status != 200 || resp->body.empty()) {
        note_ = "IMDS answered HTTP " + std::to_string(resp->status) + " for " + path;
        continue;
      }
      return resp->body;
    }
    return std::nullopt;
  }

  ChainDeps d_;
  std::string base_;
  std::chrono::milliseconds timeout_{1000};
  int attempts_ = 1;
  std::string note_;
};

}  // namespace

std::unique_ptr<CredentialSource> container_source(ChainDeps d) {
  return std::make_unique<ContainerSource>(std::move(d));
}
std::unique_ptr<CredentialSource> imds_source(ChainDeps d) {
  return std::make_unique<ImdsSource>(std::move(d));
}

}  // namespace dm::aws
