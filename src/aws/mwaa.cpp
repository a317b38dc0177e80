#include "aws/mwaa.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "aws/sigv4.h"
#include "common/base64.h"

namespace dm::aws {

using json = nlohmann::json;
using http::Method;

namespace {

bool is_2xx(int s) { return s >= 200 && s < 300; }

std::string excerpt(std::string_view s, std::size_t n) {
  std::string out(s.substr(0, n));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return s.size() > n ? out + "…" : out;
}

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> pct_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
      return make_error(Errc::invalid_argument, "malformed percent-escape in the request URL");
    out += static_cast<char>(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
    i += 2;
  }
  return out;
}

std::string detail_body(const std::string& msg) { return json{{"detail", msg}}.dump(); }

}  // namespace

std::string mwaa_url(const MwaaOptions& o, const std::string& path) {
  if (!o.endpoint.empty()) return o.endpoint + path;
  const char* prefix = path.rfind("/environments", 0) == 0 ? "api." : "env.";
  return "https://" + std::string(prefix) + "airflow." + o.region + ".amazonaws.com" + path;
}

AwsError parse_aws_error(const http::Response& r) {
  AwsError e;
  e.status = r.status;
  std::string type = r.header("x-amzn-ErrorType");
  json j = json::parse(r.body, nullptr, false);
  if (j.is_object()) {
    for (const char* k : {"__type", "code", "Code"})
      if (type.empty() && j.contains(k) && j[k].is_string()) type = j[k].get<std::string>();
    for (const char* k : {"message", "Message"})
      if (e.message.empty() && j.contains(k) && j[k].is_string())
        e.message = excerpt(j[k].get<std::string>(), 300);
  }
  if (auto p = type.find(':'); p != std::string::npos) type.resize(p);
  if (auto p = type.rfind('#'); p != std::string::npos) type = type.substr(p + 1);
  e.type = type;
  return e;
}

bool is_throttling(const AwsError& e) {
  return e.status == 429 || e.type == "ThrottlingException" || e.type == "Throttling" ||
         e.type == "TooManyRequestsException" || e.type == "RequestLimitExceeded";
}

Error aws_error(const AwsError& e, std::string_view what, std::string_view action) {
  std::string w(what);
  std::string said = e.message.empty() ? "" : ": " + e.message;
  std::string t = e.type.empty() ? "HTTP " + std::to_string(e.status) : e.type;
  if (e.type == "AccessDeniedException" || e.type == "AccessDenied" || e.status == 403) {
    if (e.type == "InvalidSignatureException" || e.type == "SignatureDoesNotMatch" ||
        e.type == "UnrecognizedClientException" || e.type == "ExpiredTokenException" ||
        e.type == "IncompleteSignature")
      return make_error(Errc::unauthenticated,
                        w + ": AWS rejected the credentials (" + t + said +
                            "); check the AWS credential chain and the clock");
    return make_error(Errc::permission_denied, w + ": access denied; the IAM identity needs " +
                                                   std::string(action) + " on this environment (" +
                                                   t + said + ")");
  }
  if (e.type == "ResourceNotFoundException" || e.status == 404)
    return make_error(Errc::not_found, w + ": not found (" + t + said + ")");
  if (e.type == "UnrecognizedClientException" || e.type == "InvalidSignatureException" ||
      e.type == "ExpiredTokenException" || e.status == 401)
    return make_error(Errc::unauthenticated, w + ": AWS rejected the credentials (" + t + said +
                                                 "); check the AWS credential chain and the clock");
  if (is_throttling(e))
    return make_error(Errc::unavailable, w + ": throttled by AWS (" + t + said + ")");
  if (e.status >= 500) return make_error(Errc::unavailable, w + ": AWS error (" + t + said + ")");
  return make_error(Errc::invalid_argument, w + ": AWS refused the request (" + t + said + ")");
}

MwaaApi::MwaaApi(MwaaOptions o, std::shared_ptr<http::HttpClient> http,
                 std::shared_ptr<CredentialsProvider> creds, std::shared_ptr<Clock> clock)
    : o_(std::move(o)), http_(std::move(http)), creds_(std::move(creds)), clock_(std::move(clock)) {
  while (!o_.endpoint.empty() && o_.endpoint.back() == '/') o_.endpoint.pop_back();
  while (!o_.web_server_url.empty() && o_.web_server_url.back() == '/')
    o_.web_server_url.pop_back();
}

std::string MwaaApi::describe() const {
  return "MWAA environment \"" + o_.name + "\" (" + o_.region + ")";
}

Result<http::Response> MwaaApi::signed_call(Method m, const std::string& path, const json& body,
                                            bool idempotent) {
  auto c = creds_->get();
  if (!c) return c.error();
  http::Request req;
  req.method = m;
  req.url = mwaa_url(o_, path);
  req.headers = {{"Accept", "application/json"}};
  if (!body.is_null()) {
    req.headers.emplace_back("Content-Type", "application/json");
    req.body = body.dump();
  }
  req.timeout = o_.timeout;
  req.connect_timeout = o_.connect_timeout;
  req.idempotent = idempotent;
  if (auto s = sign(req, *c, o_.region, "airflow", clock_->now()); !s) return s.error();
  return http_->send(req);
}

Result<http::Response> MwaaApi::call_with_backoff(Method m, const std::string& path,
                                                  const json& body, bool idempotent) {
  auto delay = o_.base_delay;
  for (int attempt = 1;; ++attempt) {
    auto r = signed_call(m, path, body, idempotent);
    if (!r) return r;
    if (is_2xx(r->status) || attempt >= o_.max_attempts || !is_throttling(parse_aws_error(*r)))
      return r;
    clock_->sleep_for(delay);
    delay *= 2;
  }
}

Result<std::string> MwaaApi::task_log_group() {
  std::string what = describe() + ": GetEnvironment";
  auto r =
      call_with_backoff(Method::get, "/environments/" + http::url_encode(o_.name), nullptr, true);
  if (!r) return make_error(r.error().code, what + ": " + r.error().message);
  if (!is_2xx(r->status)) return aws_error(parse_aws_error(*r), what, "airflow:GetEnvironment");
  json j = json::parse(r->body, nullptr, false);
  const json* arn = nullptr;
  if (j.is_object() && j.contains("Environment")) {
    auto p = json::json_pointer("/Environment/LoggingConfiguration/TaskLogs");
    if (j.contains(p) && j[p].is_object()) {
      const json& tl = j[p];
      if (tl.contains("Enabled") && tl["Enabled"].is_boolean() && !tl["Enabled"].get<bool>())
        return make_error(Errc::failed_precondition,
                          what + ": task logging to CloudWatch is disabled for this environment");
      if (tl.contains("CloudWatchLogGroupArn") && tl["CloudWatchLogGroupArn"].is_string())
        arn = &tl["CloudWatchLogGroupArn"];
    }
  } else {
    return make_error(Errc::protocol, what + ": reply without an Environment object");
  }
  if (!arn)
    return make_error(Errc::failed_precondition,
                      what + ": no TaskLogs.CloudWatchLogGroupArn; set mwaa.log_group");
  std::string a = arn->get<std::string>();
  auto p = a.find(":log-group:");
  if (p == std::string::npos)
    return make_error(Errc::protocol, what + ": unexpected log group ARN \"" + a + "\"");
  std::string group = a.substr(p + 11);
  if (group.size() >= 2 && group.compare(group.size() - 2, 2, ":*") == 0)
    group.resize(group.size() - 2);
  if (group.empty()) return make_error(Errc::protocol, what + ": empty log group in the ARN");
  return group;
}

Result<CliToken> MwaaApi::create_cli_token() {
  std::string what = describe() + ": CreateCliToken";
  // Getting a token changes nothing: safe to repeat when throttled.
  auto r = call_with_backoff(Method::post, "/clitoken/" + http::url_encode(o_.name), nullptr, true);
  if (!r) return make_error(r.error().code, what + ": " + r.error().message);
  if (!is_2xx(r->status)) return aws_error(parse_aws_error(*r), what, "airflow:CreateCliToken");
  json j = json::parse(r->body, nullptr, false);
  if (!j.is_object() || !j.contains("CliToken") || !j["CliToken"].is_string() ||
      !j.contains("WebServerHostname") || !j["WebServerHostname"].is_string())
    return make_error(Errc::protocol, what + ": reply without CliToken and WebServerHostname");
  return CliToken{j["CliToken"].get<std::string>(), j["WebServerHostname"].get<std::string>()};
}

Result<CliOutput> MwaaApi::run_cli(const std::string& command_line) {
  std::string what = describe() + ": CLI";
  auto tok = create_cli_token();
  if (!tok) return tok.error();
  http::Request req;
  req.method = Method::post;
  req.url = o_.web_server_url.empty() ? "https://" + tok->web_server_hostname + "/aws_mwaa/cli"
                                      : o_.web_server_url + "/aws_mwaa/cli";
  req.headers = {{"Authorization", "Bearer " + tok->token}, {"Content-Type", "text/plain"}};
  req.body = command_line;
  req.timeout = o_.timeout;
  req.connect_timeout = o_.connect_timeout;
  req.idempotent = false;
  auto r = http_->send(req);
  if (!r) return make_error(r.error().code, what + ": " + r.error().message);
  if (r->status == 401 || r->status == 403)
    return make_error(
        Errc::permission_denied,
        what + ": the web server refused the CLI token (HTTP " + std::to_string(r->status) + ")");
  if (!is_2xx(r->status))
    return make_error(
        r->status >= 500 ? Errc::unavailable : Errc::invalid_argument,
        what + ": HTTP " + std::to_string(r->status) + " (" + excerpt(r->body, 200) + ")");
  json j = json::parse(r->body, nullptr, false);
  if (!j.is_object() || !j.contains("stdout") || !j["stdout"].is_string() ||
      !j.contains("stderr") || !j["stderr"].is_string())
    return make_error(Errc::protocol, what + ": reply without base64 stdout and stderr");
  auto out = base64_decode_lenient(j["stdout"].get<std::string>());
  auto err = base64_decode_lenient(j["stderr"].get<std::string>());
  if (!out || !err) return make_error(Errc::protocol, what + ": stdout/stderr are not base64");
  return CliOutput{std::move(*out), std::move(*err)};
}

// ---------------------------------------------------------------------------------------------

InvokeRestApiHttpClient::InvokeRestApiHttpClient(std::shared_ptr<MwaaApi> api)
    : api_(std::move(api)) {}

std::string InvokeRestApiHttpClient::rest_base_url() const {
  return mwaa_url(api_->options(), "/restapi/" + http::url_encode(api_->options().name));
}

namespace {

struct Split {
  std::string path;  // decoded, after /api/vN
  json query = json::object();
  bool v2 = true;
};

Result<Split> split_url(const std::string& url, const std::string& base) {
  if (url.compare(0, base.size(), base) != 0)
    return make_error(Errc::invalid_argument,
                      "InvokeRestApi: the request URL is not under " + base);
  std::string rest = url.substr(base.size());
  Split s;
  if (rest.rfind("/api/v2", 0) == 0) {
    s.v2 = true;
  } else if (rest.rfind("/api/v1", 0) == 0) {
    s.v2 = false;
  } else {
    return make_error(Errc::invalid_argument,
                      "InvokeRestApi only carries the Airflow REST API (/api/v1, /api/v2)");
  }
  rest = rest.substr(7);
  std::string q;
  if (auto p = rest.find('?'); p != std::string::npos) {
    q = rest.substr(p + 1);
    rest.resize(p);
  }
  auto path = pct_decode(rest);
  if (!path) return path.error();
  s.path = path->empty() ? "/" : *path;
  std::size_t i = 0;
  while (i < q.size()) {
    std::size_t amp = q.find('&', i);
    if (amp == std::string::npos) amp = q.size();
    std::string_view pair(q.data() + i, amp - i);
    i = amp + 1;
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    auto name = pct_decode(pair.substr(0, eq));
    auto value = pct_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    if (!name || !value) return make_error(Errc::invalid_argument, "malformed query string");
    json& slot = s.query[*name];
    if (slot.is_null())
      slot = *value;
    else if (slot.is_array())
      slot.push_back(*value);
    else
      slot = json::array({slot, *value});
  }
  return s;
}

// "/dags/D/dagRuns/R/taskInstances" → (D, R); nullopt for any other path.
std::optional<std::pair<std::string, std::string>> task_instances_path(const std::string& p) {
  static const std::string a = "/dags/", b = "/dagRuns/", c = "/taskInstances";
  if (p.rfind(a, 0) != 0 || p.size() < c.size() || p.compare(p.size() - c.size(), c.size(), c) != 0)
    return std::nullopt;
  std::string mid = p.substr(a.size(), p.size() - a.size() - c.size());
  auto k = mid.find(b);
  if (k == std::string::npos) return std::nullopt;
  std::string d = mid.substr(0, k), r = mid.substr(k + b.size());
  if (d.empty() || r.empty() || d.find('/') != std::string::npos ||
      r.find('/') != std::string::npos)
    return std::nullopt;
  return std::make_pair(d, r);
}

json as_array(const json& v) { return v.is_array() ? v : json::array({v}); }

// A query value as a non-negative int; nullopt when it is not one.
std::optional<int> to_int(const json& v) {
  if (!v.is_string()) return std::nullopt;
  const std::string& s = v.get_ref<const std::string&>();
  int out = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc() || p != s.data() + s.size() || out < 0) return std::nullopt;
  return out;
}

}  // namespace

Result<http::Response> InvokeRestApiHttpClient::send(const http::Request& req) {
  std::string what = api_->describe() + ": InvokeRestApi";
  auto s = split_url(req.url, rest_base_url());
  if (!s) return make_error(Errc::invalid_argument, what + ": " + s.error().message);
  std::string method = http::method_name(req.method);
  json body = nullptr;
  if (!req.body.empty()) {
    body = json::parse(req.body, nullptr, false);
    if (body.is_discarded())
      return make_error(Errc::invalid_argument, what + ": the request body is not JSON");
  }
  if (s->path.size() > kMaxPath) {
    auto ti = task_instances_path(s->path);
    if (ti && s->v2 && req.method == Method::get) {
      // Same answer shape ({task_instances, total_entries}) through a short path.
      json b{{"dag_ids", json::array({ti->first})}, {"dag_run_ids", json::array({ti->second})}};
      if (s->query.contains("state")) b["state"] = as_array(s->query["state"]);
      for (auto [from, to] :
           {std::pair{"limit", "page_limit"}, std::pair{"offset", "page_offset"}}) {
        if (!s->query.contains(from)) continue;
        auto n = to_int(s->query[from]);
        if (!n) return make_error(Errc::invalid_argument, what + ": bad " + from + " parameter");
        b[to] = *n;
      }
      s->path = "/dags/~/dagRuns/~/taskInstances/list";
      s->query = json::object();
      method = "POST";
      body = std::move(b);
    } else {
      return make_error(Errc::invalid_argument,
                        what + ": the Airflow API path \"" + excerpt(s->path, 100) + "\" has " +
                            std::to_string(s->path.size()) +
                            " characters; InvokeRestApi accepts at most 64");
    }
  }
  json call{{"Path", s->path}, {"Method", method}};
  if (!s->query.empty()) call["QueryParameters"] = s->query;
  if (!body.is_null()) call["Body"] = body;
  auto r = api_->signed_call(Method::post, "/restapi/" + http::url_encode(api_->options().name),
                             call, req.idempotent || req.method == Method::get);
  if (!r) return r;
  http::Response out;
  json j = json::parse(r->body, nullptr, false);
  if (j.is_object() && j.contains("RestApiStatusCode") &&
      j["RestApiStatusCode"].is_number_integer()) {
    // Success, RestApiClientException (Airflow 4xx) and RestApiServerException (Airflow 5xx)
    // all carry Airflow's own status and reply.
    out.status = j["RestApiStatusCode"].get<int>();
    out.headers = {{"Content-Type", "application/json"}};
    if (j.contains("RestApiResponse")) out.body = j["RestApiResponse"].dump();
  } else if (is_2xx(r->status)) {
    return make_error(Errc::protocol, what + ": reply without RestApiStatusCode");
  } else {
    AwsError e = parse_aws_error(*r);
    Error mapped = aws_error(e, what, "airflow:InvokeRestApi");
    out.headers = {{"Content-Type", "application/json"}};
    if (is_throttling(e)) {
      out.status = 429;
      if (auto ra = r->header("Retry-After"); !ra.empty())
        out.headers.emplace_back("Retry-After", ra);
    } else {
      switch (mapped.code) {
        case Errc::permission_denied:
          out.status = 403;
          break;
        case Errc::unauthenticated:
          out.status = 401;
          break;
        case Errc::not_found:
          out.status = 404;
          break;
        case Errc::unavailable:
          out.status = 503;
          break;
        default:
          out.status = 400;
          break;
      }
    }
    out.body = detail_body(mapped.message);
  }
  if (req.on_body && is_2xx(out.status)) {
    if (!out.body.empty() && !req.on_body(out.body))
      return make_error(Errc::cancelled, what + ": the reader stopped");
    out.body.clear();
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

std::string cli_quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\"'\"'";
    else
      out += c;
  }
  out += '\'';
  return out;
}

Result<std::string> dags_trigger_command(const std::string& dag_id, const std::string& run_id,
                                         const json& conf) {
  if (dag_id.empty() || dag_id.size() > 250 || dag_id.front() == '-' ||
      !std::all_of(dag_id.begin(), dag_id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
      }))
    return make_error(Errc::invalid_argument,
                      "DAG id must be 1-250 characters of letters, digits, '_', '.', '-' and "
                      "not start with '-'");
  if (run_id.empty() || std::any_of(run_id.begin(), run_id.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
      }))
    return make_error(Errc::invalid_argument,
                      "run id must be non-empty and hold no control characters");
  // --name=value: a value starting with '-' cannot be taken for an option by argparse.
  std::string cmd = "dags trigger " + cli_quote(dag_id) + " --run-id=" + cli_quote(run_id);
  if (!conf.is_null() && !(conf.is_object() && conf.empty())) {
    if (!conf.is_object()) return make_error(Errc::invalid_argument, "conf must be a JSON object");
    // ensure_ascii: no raw control bytes or newlines reach the command line.
    cmd += " --conf=" + cli_quote(conf.dump(-1, ' ', true));
  }
  return cmd;
}

}  // namespace dm::aws
