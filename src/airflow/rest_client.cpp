#include "airflow/rest_client.h"

#include <algorithm>
#include <set>

#include "airflow/log_stream.h"
#include "airflow/mapping.h"
#include "common/base64.h"
#include "common/iso_time.h"

namespace dm::airflow {

using http::Method;
using nlohmann::json;

struct RestAirflowClient::Call {
  const char* name;      // "list DAG runs"
  std::string what;      // subject named on 404: `DAG "x"`
  std::string conflict;  // message on 409
};

namespace {

std::string q(const std::string& s) { return "\"" + s + "\""; }

std::string seg(const std::string& s) { return http::url_encode(s); }

void add_param(std::string& qs, std::string_view key, std::string_view value) {
  qs += qs.empty() ? "?" : "&";
  qs += key;
  qs += '=';
  qs += http::url_encode(value);
}

// Printable, bounded excerpt of a body for messages.
std::string excerpt(std::string_view body, std::size_t n = 160) {
  std::string out(body.substr(0, n));
  for (auto& c : out)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  if (body.size() > n) out += "...";
  return out;
}

// Airflow error bodies: {"detail": "..."} (v2, FastAPI; may be a list for 422) or problem+json
// {"title", "detail", "status"} (v1).
std::string server_detail(const http::Response& r) {
  json j = json::parse(r.body, nullptr, false);
  if (j.is_object()) {
    if (auto d = j.find("detail"); d != j.end() && !d->is_null()) {
      if (d->is_string()) return excerpt(d->get<std::string>(), 300);
      if (d->is_array()) {
        std::string out;
        for (const auto& e : *d) {
          if (!out.empty()) out += "; ";
          if (e.is_object() && e.contains("msg")) {
            std::string loc;
            if (e.contains("loc") && e["loc"].is_array())
              for (const auto& p : e["loc"])
                loc += (loc.empty() ? "" : ".") + (p.is_string() ? p.get<std::string>() : p.dump());
            out += (loc.empty() ? "" : loc + ": ") +
                   (e["msg"].is_string() ? e["msg"].get<std::string>() : e["msg"].dump());
          } else {
            out += e.dump();
          }
        }
        return excerpt(out, 300);
      }
      return excerpt(d->dump(), 300);
    }
    if (auto t = j.find("title"); t != j.end() && t->is_string())
      return excerpt(t->get<std::string>(), 300);
  }
  return excerpt(r.body);
}

bool is_2xx(int s) { return s >= 200 && s < 300; }

}  // namespace

std::optional<Clock::time_point> jwt_expiry(std::string_view jwt) {
  auto a = jwt.find('.');
  if (a == std::string_view::npos) return std::nullopt;
  auto b = jwt.find('.', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  auto payload = base64url_decode(jwt.substr(a + 1, b - a - 1));
  if (!payload) return std::nullopt;
  json p = json::parse(*payload, nullptr, false);
  if (!p.is_object() || !p.contains("exp") || !p["exp"].is_number()) return std::nullopt;
  auto secs = static_cast<long long>(p["exp"].get<double>());
  return Clock::time_point(std::chrono::seconds(secs));
}

RestAirflowClient::RestAirflowClient(RestClientOptions opts, std::shared_ptr<http::HttpClient> h,
                                     std::shared_ptr<Clock> clock)
    : opts_(std::move(opts)), http_(std::move(h)), clock_(std::move(clock)) {
  while (!opts_.base_url.empty() && opts_.base_url.back() == '/') opts_.base_url.pop_back();
  if (opts_.page_size < 1) opts_.page_size = 100;
  if (opts_.api_version == config::ApiVersion::v1) dialect_ = Dialect::v1;
  if (opts_.api_version == config::ApiVersion::v2) dialect_ = Dialect::v2;
}

int RestAirflowClient::token_fetches() const {
  std::lock_guard lk(mu_);
  return token_fetches_;
}

std::string RestAirflowClient::api_prefix(Dialect d) const {
  return d == Dialect::v2 ? "/api/v2" : "/api/v1";
}

Error RestAirflowClient::fail(const Call& c, Errc code, const std::string& detail) const {
  return make_error(code, "environment " + q(opts_.environment) + ": " + c.name + ": " + detail);
}

Error RestAirflowClient::transport_error(const Call& c, const Error& e) const {
  std::string at = "Airflow at " + http::redact_url(opts_.base_url);
  std::string gave_up;
  if (auto p = e.message.find("gave up after"); p != std::string::npos)
    gave_up = " (" + e.message.substr(p) + ")";
  const std::string& m = e.message;
  switch (e.code) {
    case Errc::unavailable:
      if (m.find("refused") != std::string::npos)
        return fail(c, e.code, at + " refused the connection; is it running?" + gave_up);
      if (m.find("resolve") != std::string::npos)
        return fail(
            c, e.code,
            "cannot resolve the host name in " + http::redact_url(opts_.base_url) + gave_up);
      if (m.find("TLS") != std::string::npos)
        return fail(c, e.code,
                    "TLS failure talking to " + at + " (" + m + "); check ca_file / verify_tls");
      return fail(c, e.code, at + " is unreachable (" + m + ")");
    case Errc::timeout: {
      auto secs = std::chrono::duration_cast<std::chrono::seconds>(opts_.timeouts.request).count();
      return fail(c, e.code,
                  at + " did not answer within " + std::to_string(secs) + " s" + gave_up);
    }
    case Errc::protocol:
      return fail(c, e.code, at + " sent a malformed HTTP reply (" + m + ")");
    default:
      return fail(c, e.code, m);
  }
}

Error RestAirflowClient::status_error(const Call& c, const http::Response& r) const {
  std::string at = "Airflow at " + http::redact_url(opts_.base_url);
  std::string detail = server_detail(r);
  std::string said = detail.empty() ? "" : " (Airflow said: " + detail + ")";
  using Type = config::Credentials::Type;
  const auto& cr = opts_.credentials;
  switch (r.status) {
    case 401:
      if (cr.type == Type::basic)
        return fail(c, Errc::unauthenticated,
                    "authentication failed: wrong username or password (" + cr.origin + ")");
      if (cr.type == Type::token)
        return fail(
            c, Errc::unauthenticated,
            "authentication failed: the token was rejected or has expired (" + cr.origin + ")");
      return fail(c, Errc::unauthenticated,
                  at + " requires credentials and none are configured: set username_env and "
                       "password_env (or token_env) for this environment");
    case 403:
      return fail(c, Errc::permission_denied,
                  "the Airflow user is not allowed to do this (HTTP 403)" + said);
    case 404:
      return fail(c, Errc::not_found,
                  (c.what.empty() ? "not found" : c.what + " not found") + said);
    case 409:
      return fail(c, Errc::conflict, (c.conflict.empty() ? "conflict" : c.conflict) + said);
    case 400:
    case 422:
      return fail(c, Errc::invalid_argument,
                  "Airflow rejected the request (HTTP " + std::to_string(r.status) + ")" + said);
    default:
      break;
  }
  std::string attempts = r.header("X-Dagmedic-Attempts");
  std::string after = attempts.empty() ? "" : " after " + attempts + " attempts";
  if (r.status == 429)
    return fail(c, Errc::unavailable, at + " is throttling requests (HTTP 429)" + after);
  if (r.status >= 500)
    return fail(c, Errc::unavailable,
                at + " answered HTTP " + std::to_string(r.status) + after + said);
  return fail(c, Errc::protocol,
              "unexpected HTTP " + std::to_string(r.status) + " from " + at + said);
}

Result<Dialect> RestAirflowClient::dialect(const Call& c) {
  {
    std::lock_guard lk(mu_);
    if (dialect_) return *dialect_;
  }
  auto probe = [&](const char* path) -> Result<int> {
    http::Request req;
    req.url = opts_.base_url + path;
    req.headers = {{"Accept", "application/json"}};
    req.timeout = opts_.timeouts.request;
    req.connect_timeout = opts_.timeouts.connect;
    auto r = http_->send(req);
    if (!r) return transport_error(c, r.error());
    return r->status;
  };
  auto v2 = probe("/api/v2/monitor/health");
  if (!v2) return v2.error();
  Dialect d;
  if (*v2 == 200) {
    d = Dialect::v2;
  } else {
    auto v1 = probe("/api/v1/health");
    if (!v1) return v1.error();
    if (*v1 != 200)
      return fail(
          c, Errc::protocol,
          "cannot tell the Airflow API version at " + http::redact_url(opts_.base_url) +
              ": /api/v2/monitor/health answered HTTP " + std::to_string(*v2) +
              " and /api/v1/health HTTP " + std::to_string(*v1) +
              "; is the url the Airflow web/API server? (api_version: v1|v2 skips detection)");
    d = Dialect::v1;
  }
  std::lock_guard lk(mu_);
  dialect_ = d;
  return d;
}

Result<std::string> RestAirflowClient::auth_header(const Call& c, bool force_renew) {
  using Type = config::Credentials::Type;
  const auto& cr = opts_.credentials;
  if (cr.type == Type::none) return std::string();
  if (cr.type == Type::token) return "Bearer " + cr.token;
  Dialect d;
  {
    std::lock_guard lk(mu_);
    d = dialect_.value_or(Dialect::v2);
  }
  if (d == Dialect::v1) return "Basic " + base64_encode(cr.username + ":" + cr.password);

  std::lock_guard lk(mu_);
  if (!force_renew && !jwt_.empty() &&
      (!jwt_exp_ || clock_->now() + opts_.token_renew_margin < *jwt_exp_))
    return "Bearer " + jwt_;
  jwt_.clear();
  jwt_exp_.reset();
  http::Request req;
  req.method = Method::post;
  req.idempotent = true;  // getting a token changes nothing on the server
  req.url = opts_.base_url + "/auth/token";
  req.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
  req.body = json{{"username", cr.username}, {"password", cr.password}}.dump();
  req.timeout = opts_.timeouts.request;
  req.connect_timeout = opts_.timeouts.connect;
  ++token_fetches_;
  auto r = http_->send(req);
  if (!r) return transport_error(c, r.error());
  if (r->status == 401 || r->status == 403)
    return fail(c, Errc::unauthenticated,
                "authentication failed: wrong username or password (" + cr.origin + ")");
  if (!is_2xx(r->status)) {
    Call tc{c.name, "the token endpoint /auth/token", ""};
    return status_error(tc, *r);
  }
  json j = json::parse(r->body, nullptr, false);
  if (!j.is_object() || !j.contains("access_token") || !j["access_token"].is_string() ||
      j["access_token"].get<std::string>().empty())
    return fail(c, Errc::protocol, "POST /auth/token answered without an access_token");
  jwt_ = j["access_token"].get<std::string>();
  jwt_exp_ = jwt_expiry(jwt_);
  return "Bearer " + jwt_;
}

Result<http::Response> RestAirflowClient::send(const Call& c, Method m,
                                               const std::string& path_query,
                                               const std::optional<json>& body,
                                               const http::BodySink& sink, const char* accept) {
  auto d = dialect(c);
  if (!d) return d.error();
  bool can_renew = opts_.credentials.type == config::Credentials::Type::basic && *d == Dialect::v2;
  for (int attempt = 0;; ++attempt) {
    auto auth = auth_header(c, attempt > 0);
    if (!auth) return auth.error();
    http::Request req;
    req.method = m;
    req.url = opts_.base_url + path_query;
    req.headers.emplace_back("Accept", accept ? accept : "application/json");
    if (!auth->empty()) req.headers.emplace_back("Authorization", *auth);
    if (body) {
      req.headers.emplace_back("Content-Type", "application/json");
      req.body = body->dump();
    }
    req.timeout = opts_.timeouts.request;
    req.connect_timeout = opts_.timeouts.connect;
    req.on_body = sink;
    auto r = http_->send(req);
    if (!r) {
      if (r.error().code == Errc::cancelled) return r.error();
      return transport_error(c, r.error());
    }
    // An expired/revoked JWT: get a new one and repeat the call, once. A 401 means the server
    // did not act on the request, so repeating even a write is safe.
    if (r->status == 401 && can_renew && attempt == 0) continue;
    return r;
  }
}

Result<json> RestAirflowClient::send_json(const Call& c, Method m, const std::string& path_query,
                                          const std::optional<json>& body) {
  auto r = send(c, m, path_query, body);
  if (!r) return r.error();
  if (!is_2xx(r->status)) return status_error(c, *r);
  json j = json::parse(r->body, nullptr, false);
  if (j.is_discarded())
    return fail(c, Errc::protocol,
                "Airflow at " + http::redact_url(opts_.base_url) +
                    " sent a reply that is not JSON (HTTP " + std::to_string(r->status) +
                    ", starts with \"" + excerpt(r->body, 60) + "\")");
  return j;
}

Result<std::vector<json>> RestAirflowClient::get_all_pages(const Call& c, const std::string& path,
                                                           const std::string& query,
                                                           const char* key, std::size_t limit) {
  std::vector<json> out;
  std::size_t offset = 0;
  for (int page = 0; page < 100000; ++page) {
    std::size_t page_limit = static_cast<std::size_t>(opts_.page_size);
    if (limit && limit - out.size() < page_limit) page_limit = limit - out.size();
    std::string qs = query;
    add_param(qs, "limit", std::to_string(page_limit));
    add_param(qs, "offset", std::to_string(offset));
    auto j = send_json(c, Method::get, path + qs);
    if (!j) return j.error();
    if (!j->is_object() || !j->contains(key) || !(*j)[key].is_array())
      return fail(c, Errc::protocol,
                  std::string("unexpected JSON from Airflow: no \"") + key + "\" array");
    auto& items = (*j)[key];
    std::size_t n = items.size();
    for (auto& it : items) out.push_back(std::move(it));
    std::optional<std::size_t> total;
    if (auto t = j->find("total_entries"); t != j->end() && t->is_number_unsigned())
      total = t->get<std::size_t>();
    if (n == 0) break;
    offset += n;
    if (limit && out.size() >= limit) break;
    if (total ? offset >= *total : n < page_limit) break;
  }
  return out;
}

Result<Dialect> RestAirflowClient::api_dialect() {
  Call c{"detect API version", "", ""};
  return dialect(c);
}

Result<ServerInfo> RestAirflowClient::server_info() {
  Call c{"get version", "the version endpoint", ""};
  auto d = dialect(c);
  if (!d) return d.error();
  // The version endpoint is public on both dialects: ask without credentials first, so the
  // version is known even when the credentials are wrong (doctor reports both facts).
  std::optional<json> j;
  {
    http::Request req;
    req.url = opts_.base_url + api_prefix(*d) + "/version";
    req.headers = {{"Accept", "application/json"}};
    req.timeout = opts_.timeouts.request;
    req.connect_timeout = opts_.timeouts.connect;
    auto r = http_->send(req);
    if (!r) return transport_error(c, r.error());
    if (r->status != 401 && r->status != 403) {
      if (!is_2xx(r->status)) return status_error(c, *r);
      json parsed = json::parse(r->body, nullptr, false);
      if (parsed.is_discarded())
        return fail(c, Errc::protocol,
                    "the version endpoint sent a reply that is not JSON (starts with \"" +
                        excerpt(r->body, 60) + "\")");
      j = std::move(parsed);
    }
  }
  if (!j) {
    auto authed = send_json(c, Method::get, api_prefix(*d) + "/version");
    if (!authed) return authed.error();
    j = std::move(*authed);
  }
  ServerInfo info;
  info.dialect = *d;
  if (j->is_object() && j->contains("version") && (*j)["version"].is_string())
    info.version = (*j)["version"].get<std::string>();
  if (info.version.empty()) return fail(c, Errc::protocol, "the version endpoint sent no version");
  return info;
}

Status RestAirflowClient::check_auth() {
  Call c{"check authentication", "the DAG list", ""};
  auto d = dialect(c);
  if (!d) return d.error();
  auto j = send_json(c, Method::get, api_prefix(*d) + "/dags?limit=1");
  if (!j) return j.error();
  return Status::Ok();
}

Result<std::vector<DagRun>> RestAirflowClient::list_dag_runs(const RunQuery& rq) {
  std::string dag = rq.dag_id.empty() ? "~" : rq.dag_id;
  Call c{"list DAG runs", dag == "~" ? "DAG runs" : "DAG " + q(dag), ""};
  if (rq.since && rq.until && *rq.since > *rq.until)
    return fail(c, Errc::invalid_argument, "the time window starts after it ends");
  auto d = dialect(c);
  if (!d) return d.error();
  std::string qs;
  for (const auto& s : rq.states) add_param(qs, "state", s);
  const char* field = *d == Dialect::v2 ? "run_after" : "execution_date";
  if (rq.since) add_param(qs, std::string(field) + "_gte", format_iso8601(*rq.since));
  if (rq.until) add_param(qs, std::string(field) + "_lte", format_iso8601(*rq.until));
  if (rq.ended_since && rq.ended_until && *rq.ended_since > *rq.ended_until)
    return fail(c, Errc::invalid_argument, "the end-time window starts after it ends");
  if (rq.ended_since) add_param(qs, "end_date_gte", format_iso8601(*rq.ended_since));
  if (rq.ended_until) add_param(qs, "end_date_lte", format_iso8601(*rq.ended_until));
  // v2 adds the primary key as a tie-breaker to any sort; v1 does not, and many runs share an
  // execution_date (one per DAG per date), so offset paging over it can skip or repeat runs.
  // v1 therefore pages in id order (unique) unless one page holds the whole answer; the result
  // is sorted newest first below either way.
  bool one_page = rq.limit && rq.limit <= static_cast<std::size_t>(opts_.page_size);
  add_param(qs, "order_by", *d == Dialect::v1 && !one_page ? "-id" : std::string("-") + field);
  auto items =
      get_all_pages(c, api_prefix(*d) + "/dags/" + seg(dag) + "/dagRuns", qs, "dag_runs", rq.limit);
  if (!items) return items.error();
  std::vector<DagRun> runs;
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& it : *items) {
    auto r = map_dag_run(it, *d);
    if (!r) return fail(c, Errc::protocol, r.error().message);
    // Offsets shift when runs are added while paging: the same run may show up twice.
    if (!seen.insert({r->dag_id, r->run_id}).second) continue;
    runs.push_back(std::move(*r));
  }
  auto key = [](const DagRun& r) {
    return parse_iso8601(r.run_after).value_or(Clock::time_point{});
  };
  std::stable_sort(runs.begin(), runs.end(), [&](const DagRun& a, const DagRun& b) {
    auto ka = key(a), kb = key(b);
    if (ka != kb) return ka > kb;
    return a.run_id > b.run_id;
  });
  if (rq.limit && runs.size() > rq.limit) runs.resize(rq.limit);
  return runs;
}

Result<DagRun> RestAirflowClient::get_dag_run(const std::string& dag_id,
                                              const std::string& run_id) {
  Call c{"get DAG run", "DAG run " + q(run_id) + " of DAG " + q(dag_id), ""};
  if (dag_id.empty() || run_id.empty())
    return fail(c, Errc::invalid_argument, "DAG id and run id are required");
  auto d = dialect(c);
  if (!d) return d.error();
  auto j = send_json(c, Method::get,
                     api_prefix(*d) + "/dags/" + seg(dag_id) + "/dagRuns/" + seg(run_id));
  if (!j) return j.error();
  auto r = map_dag_run(*j, *d);
  if (!r) return fail(c, Errc::protocol, r.error().message);
  return r;
}

Result<std::optional<DagRun>> RestAirflowClient::latest_run(const std::string& dag_id) {
  Call c{"get latest run", "DAG " + q(dag_id), ""};
  if (dag_id.empty() || dag_id == "~")
    return fail(c, Errc::invalid_argument, "a DAG id is required");
  RunQuery rq;
  rq.dag_id = dag_id;
  rq.limit = 1;
  auto runs = list_dag_runs(rq);
  if (!runs) return runs.error();
  if (runs->empty()) {
    // v1 answers an empty list for an unknown DAG: tell "no runs" from "no such DAG".
    auto dag = get_dag(dag_id);
    if (!dag) return dag.error();
    return std::optional<DagRun>();
  }
  return std::optional<DagRun>(std::move(runs->front()));
}

Result<std::vector<TaskInstance>> RestAirflowClient::list_task_instances(
    const std::string& dag_id, const std::string& run_id, const std::vector<std::string>& states) {
  Call c{"list task instances", "DAG run " + q(run_id) + " of DAG " + q(dag_id), ""};
  if (dag_id.empty() || dag_id == "~" || run_id.empty() || run_id == "~")
    return fail(c, Errc::invalid_argument, "a DAG id and a run id are required");
  auto d = dialect(c);
  if (!d) return d.error();
  std::string qs;
  for (const auto& s : states) add_param(qs, "state", s);
  auto items = get_all_pages(
      c, api_prefix(*d) + "/dags/" + seg(dag_id) + "/dagRuns/" + seg(run_id) + "/taskInstances", qs,
      "task_instances", 0);
  if (!items) return items.error();
  std::vector<TaskInstance> out;
  std::set<std::pair<std::string, int>> seen;
  for (const auto& it : *items) {
    auto t = map_task_instance(it, *d);
    if (!t) return fail(c, Errc::protocol, t.error().message);
    if (!seen.insert({t->task_id, t->map_index}).second) continue;
    out.push_back(std::move(*t));
  }
  if (out.empty()) {
    // Some versions answer an empty list for an unknown run: make that a clear not_found.
    auto run = get_dag_run(dag_id, run_id);
    if (!run) return run.error();
  }
  std::sort(out.begin(), out.end(), [](const TaskInstance& a, const TaskInstance& b) {
    return std::tie(a.task_id, a.map_index) < std::tie(b.task_id, b.map_index);
  });
  return out;
}

Status RestAirflowClient::read_task_log(const LogRequest& lr, const LogSink& sink,
                                        LogStats* stats) {
  std::string subject =
      "log of task " + q(lr.task_id) +
      (lr.map_index >= 0 ? " [map index " + std::to_string(lr.map_index) + "]" : "") + " try " +
      std::to_string(lr.try_number) + " in run " + q(lr.run_id) + " of DAG " + q(lr.dag_id);
  Call c{"read task log", subject, ""};
  if (lr.dag_id.empty() || lr.run_id.empty() || lr.task_id.empty())
    return fail(c, Errc::invalid_argument, "DAG id, run id and task id are required");
  if (lr.try_number < 0 || lr.map_index < -1)
    return fail(c, Errc::invalid_argument, "try_number must be >= 0 and map_index >= -1");
  if (!sink) return fail(c, Errc::invalid_argument, "no log sink");
  auto d = dialect(c);
  if (!d) return d.error();
  LogStats local;
  LogStats& st = stats ? *stats : local;
  LineFn fn = counting_sink(sink, st, opts_.log_read_bytes_max);
  std::string path = api_prefix(*d) + "/dags/" + seg(lr.dag_id) + "/dagRuns/" + seg(lr.run_id) +
                     "/taskInstances/" + seg(lr.task_id) + "/logs/" + std::to_string(lr.try_number);

  if (*d == Dialect::v1) {
    std::string qs;
    add_param(qs, "full_content", "true");
    add_param(qs, "map_index", std::to_string(lr.map_index));
    TextLineSplitter split(fn);
    auto r = send(
        c, Method::get, path + qs, std::nullopt,
        [&](std::string_view chunk) { return split.feed(chunk); }, "text/plain");
    ++st.pages;
    if (!r) {
      if (st.stopped_by_sink) return Status::Ok();
      return r.error().code == Errc::cancelled ? fail(c, Errc::internal, r.error().message)
                                               : r.error();
    }
    if (!is_2xx(r->status)) return status_error(c, *r);
    split.finish();
    return Status::Ok();
  }

  std::string token, prev_token;
  for (int page = 0; page < opts_.max_log_pages; ++page) {
    std::string qs;
    add_param(qs, "full_content", "false");
    add_param(qs, "map_index", std::to_string(lr.map_index));
    if (!token.empty()) add_param(qs, "token", token);
    EventLogDecoder dec(fn);
    auto r = send(
        c, Method::get, path + qs, std::nullopt,
        [&](std::string_view chunk) { return dec.feed(chunk); }, "application/x-ndjson");
    ++st.pages;
    if (!r) {
      if (st.stopped_by_sink) return Status::Ok();
      if (dec.error()) return fail(c, dec.error()->code, dec.error()->message);
      return r.error().code == Errc::cancelled ? fail(c, Errc::internal, r.error().message)
                                               : r.error();
    }
    if (!is_2xx(r->status)) return status_error(c, *r);
    if (!dec.finish()) {
      if (st.stopped_by_sink) return Status::Ok();
      if (dec.error()) return fail(c, dec.error()->code, dec.error()->message);
    }
    // Only the JSON page form chains pages; an NDJSON stream already ran to the end of the log
    // (its Airflow-Continuation-Token header is computed before streaming and would repeat it).
    if (!dec.saw_page_form() || dec.continuation_token().empty() || dec.events() == 0)
      return Status::Ok();
    prev_token = token;
    token = dec.continuation_token();
    if (token == prev_token) return Status::Ok();
  }
  return fail(c, Errc::too_large,
              "the log did not end after " + std::to_string(opts_.max_log_pages) + " pages");
}

Result<Dag> RestAirflowClient::get_dag(const std::string& dag_id) {
  Call c{"get DAG", "DAG " + q(dag_id), ""};
  if (dag_id.empty() || dag_id == "~")
    return fail(c, Errc::invalid_argument, "a DAG id is required");
  auto d = dialect(c);
  if (!d) return d.error();
  auto j = send_json(c, Method::get, api_prefix(*d) + "/dags/" + seg(dag_id));
  if (!j) return j.error();
  auto r = map_dag(*j, *d);
  if (!r) return fail(c, Errc::protocol, r.error().message);
  return r;
}

Result<std::vector<TaskInstance>> RestAirflowClient::list_task_instances_in(
    const std::vector<std::string>& states) {
  Call c{"list task instances", "task instances of every DAG", ""};
  if (states.empty()) return fail(c, Errc::invalid_argument, "at least one state is required");
  auto d = dialect(c);
  if (!d) return d.error();
  std::string qs;
  for (const auto& s : states) add_param(qs, "state", s);
  auto items =
      get_all_pages(c, api_prefix(*d) + "/dags/~/dagRuns/~/taskInstances", qs, "task_instances", 0);
  if (!items) return items.error();
  std::vector<TaskInstance> out;
  for (const auto& it : *items) {
    auto t = map_task_instance(it, *d);
    if (!t) return fail(c, Errc::protocol, t.error().message);
    out.push_back(std::move(*t));
  }
  std::sort(out.begin(), out.end(), [](const TaskInstance& a, const TaskInstance& b) {
    return std::tie(a.dag_id, a.run_id, a.task_id, a.map_index) <
           std::tie(b.dag_id, b.run_id, b.task_id, b.map_index);
  });
  return out;
}

Result<std::vector<TaskInstance>> RestAirflowClient::recent_successes(const std::string& dag_id,
                                                                      const std::string& task_id,
                                                                      Clock::time_point since,
                                                                      std::size_t limit) {
  Call c{"list task instances", "task " + q(task_id) + " of DAG " + q(dag_id), ""};
  if (dag_id.empty() || dag_id == "~" || task_id.empty())
    return fail(c, Errc::invalid_argument, "a DAG id and a task id are required");
  auto d = dialect(c);
  if (!d) return d.error();
  std::string qs;
  add_param(qs, "state", "success");
  add_param(qs, "end_date_gte", format_iso8601(since));
  // /api/v2 filters by task there; /api/v1 has no such parameter (and refuses unknown ones), so
  // the DAG's instances are filtered here.
  if (*d == Dialect::v2) add_param(qs, "task_id", task_id);
  auto items =
      get_all_pages(c, api_prefix(*d) + "/dags/" + seg(dag_id) + "/dagRuns/~/taskInstances", qs,
                    "task_instances", limit);
  if (!items) return items.error();
  std::vector<TaskInstance> out;
  for (const auto& it : *items) {
    auto t = map_task_instance(it, *d);
    if (!t) return fail(c, Errc::protocol, t.error().message);
    if (t->task_id == task_id) out.push_back(std::move(*t));
  }
  return out;
}

Result<std::vector<Dag>> RestAirflowClient::list_dags(const DagQuery& q) {
  Call c{"list DAGs", "DAGs", ""};
  auto d = dialect(c);
  if (!d) return d.error();
  std::string qs;
  for (const auto& t : q.tags) add_param(qs, "tags", t);
  auto items = get_all_pages(c, api_prefix(*d) + "/dags", qs, "dags", 0);
  if (!items) return items.error();
  std::vector<Dag> out;
  std::set<std::string> seen;
  for (const auto& it : *items) {
    auto g = map_dag(it, *d);
    if (!g) return fail(c, Errc::protocol, g.error().message);
    if (seen.insert(g->dag_id).second) out.push_back(std::move(*g));
  }
  return out;
}

Result<std::vector<ImportError>> RestAirflowClient::list_import_errors() {
  Call c{"list import errors", "import errors", ""};
  auto d = dialect(c);
  if (!d) return d.error();
  auto items = get_all_pages(c, api_prefix(*d) + "/importErrors", "", "import_errors", 0);
  if (!items) return items.error();
  std::vector<ImportError> out;
  for (const auto& it : *items) {
    auto e = map_import_error(it, *d);
    if (!e) return fail(c, Errc::protocol, e.error().message);
    out.push_back(std::move(*e));
  }
  return out;
}

Result<DagRun> RestAirflowClient::trigger_dag_run(const TriggerRequest& tr) {
  Call c{"trigger DAG run", "DAG " + q(tr.dag_id),
         "run " + q(tr.dag_run_id) + " already exists in DAG " + q(tr.dag_id)};
  if (tr.dag_id.empty() || tr.dag_id == "~")
    return fail(c, Errc::invalid_argument, "a DAG id is required");
  if (tr.dag_run_id.empty()) return fail(c, Errc::invalid_argument, "a dag_run_id is required");
  if (!tr.conf.is_object()) return fail(c, Errc::invalid_argument, "conf must be a JSON object");
  auto d = dialect(c);
  if (!d) return d.error();
  json body = {{"dag_run_id", tr.dag_run_id}, {"conf", tr.conf}};
  if (*d == Dialect::v2) body["logical_date"] = nullptr;  // required key on v2; null = "now"
  if (!tr.note.empty()) body["note"] = tr.note;
  auto j =
      send_json(c, Method::post, api_prefix(*d) + "/dags/" + seg(tr.dag_id) + "/dagRuns", body);
  if (!j) return j.error();
  auto r = map_dag_run(*j, *d);
  if (!r) return fail(c, Errc::protocol, r.error().message);
  if (r->dag_id.empty()) r->dag_id = tr.dag_id;
  return r;
}

Result<std::vector<ClearedTask>> RestAirflowClient::clear_task_instances(const ClearRequest& cr) {
  Call c{cr.dry_run ? "clear task instances (dry run)" : "clear task instances",
         "DAG " + q(cr.dag_id), ""};
  if (cr.dag_id.empty() || cr.dag_id == "~")
    return fail(c, Errc::invalid_argument, "a DAG id is required");
  if (cr.dag_run_id.empty()) return fail(c, Errc::invalid_argument, "a dag_run_id is required");
  auto d = dialect(c);
  if (!d) return d.error();
  json body = {{"dry_run", cr.dry_run},  // always explicit: v2 defaults it to true, v1 too
               {"dag_run_id", cr.dag_run_id},
               {"only_failed", cr.only_failed},
               {"include_downstream", cr.include_downstream},
               {"include_upstream", false},
               {"include_future", false},
               {"include_past", false},
               {"reset_dag_runs", true}};
  if (!cr.task_ids.empty()) body["task_ids"] = cr.task_ids;
  auto j = send_json(c, Method::post,
                     api_prefix(*d) + "/dags/" + seg(cr.dag_id) + "/clearTaskInstances", body);
  if (!j) return j.error();
  if (!j->is_object() || !j->contains("task_instances") || !(*j)["task_instances"].is_array())
    return fail(c, Errc::protocol, "unexpected JSON from Airflow: no \"task_instances\" array");
  std::vector<ClearedTask> out;
  for (const auto& it : (*j)["task_instances"]) {
    if (!it.is_object()) return fail(c, Errc::protocol, "unexpected JSON for a cleared task");
    ClearedTask t;
    auto s = [&](const char* k) {
      return it.contains(k) && it[k].is_string() ? it[k].get<std::string>() : std::string();
    };
    t.dag_id = s("dag_id");
    t.run_id = s("dag_run_id");
    if (t.run_id.empty()) t.run_id = s("run_id");
    t.task_id = s("task_id");
    if (it.contains("map_index") && it["map_index"].is_number_integer())
      t.map_index = it["map_index"].get<int>();
    t.state = s("state");
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace dm::airflow
