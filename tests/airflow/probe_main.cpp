// airflow-probe: test driver for the C++ Airflow client (src/airflow), used by the pytest
// integration tests in tests/airflow/test_client_*.py against the real Airflow rigs.
//
//   airflow-probe '{"env": {...}, "op": "list_runs", "args": {...}}'     one command from argv
//   airflow-probe < commands.ndjson                                      one command per stdin line
//
// env: {"name": "rig3", "url": "http://127.0.0.1:PORT", "api_version": "auto|v1|v2",
//       "username": "...", "password": "..." | "token": "...", "timeout_seconds": N, "page_size":
//       N}
// (a test driver takes credentials inline; the product reads them only by reference, see config)
// ops: server_info, check_auth, list_runs, get_run, latest_run, list_tasks, read_log, get_dag,
//      import_errors, trigger, clear.
// Prints one JSON line per command: {"ok": true, "result": ...} or
// {"ok": false, "error": {"code": "not_found", "message": "..."}}.
// Exit code: 0 if every command succeeded, 1 if one failed, 2 on a malformed command.
#include <deque>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "airflow/rest_client.h"
#include "common/iso_time.h"
#include "http/curl_http_client.h"
#include "http/retrying_http_client.h"

using nlohmann::json;
namespace af = dm::airflow;

namespace {

struct Usage {
  std::string message;
};

std::string sget(const json& j, const char* k, const std::string& def = "") {
  if (!j.contains(k) || j[k].is_null()) return def;
  if (!j[k].is_string()) throw Usage{std::string("\"") + k + "\" must be a string"};
  return j[k].get<std::string>();
}

long long iget(const json& j, const char* k, long long def) {
  if (!j.contains(k) || j[k].is_null()) return def;
  if (!j[k].is_number_integer()) throw Usage{std::string("\"") + k + "\" must be an integer"};
  return j[k].get<long long>();
}

std::vector<std::string> lget(const json& j, const char* k) {
  std::vector<std::string> out;
  if (!j.contains(k) || j[k].is_null()) return out;
  if (!j[k].is_array()) throw Usage{std::string("\"") + k + "\" must be a list of strings"};
  for (const auto& e : j[k]) {
    if (!e.is_string()) throw Usage{std::string("\"") + k + "\" must be a list of strings"};
    out.push_back(e.get<std::string>());
  }
  return out;
}

std::shared_ptr<af::RestAirflowClient> make_client(const json& env) {
  if (!env.is_object()) throw Usage{"\"env\" must be an object"};
  af::RestClientOptions o;
  o.environment = sget(env, "name", "probe");
  o.base_url = sget(env, "url");
  if (o.base_url.empty()) throw Usage{"env.url is required"};
  std::string v = sget(env, "api_version", "auto");
  o.api_version = v == "v1"   ? dm::config::ApiVersion::v1
                  : v == "v2" ? dm::config::ApiVersion::v2
                              : dm::config::ApiVersion::auto_detect;
  if (env.contains("token")) {
    o.credentials.type = dm::config::Credentials::Type::token;
    o.credentials.token = sget(env, "token");
    o.credentials.origin = "token from the probe command";
  } else if (env.contains("username")) {
    o.credentials.type = dm::config::Credentials::Type::basic;
    o.credentials.username = sget(env, "username");
    o.credentials.password = sget(env, "password");
    o.credentials.origin = "user and password from the probe command";
  }
  auto secs = iget(env, "timeout_seconds", 60);
  o.timeouts.request = std::chrono::seconds(secs);
  o.timeouts.connect = std::chrono::seconds(std::min<long long>(secs, 10));
  o.page_size = static_cast<int>(iget(env, "page_size", 100));
  auto clock = dm::system_clock();
  auto http = std::make_shared<dm::http::RetryingHttpClient>(
      std::make_shared<dm::http::CurlHttpClient>(), clock,
      dm::http::RetryPolicy{static_cast<int>(iget(env, "max_attempts", 3)),
                            std::chrono::milliseconds(200), std::chrono::milliseconds(2000),
                            std::chrono::milliseconds(10000)});
  return std::make_shared<af::RestAirflowClient>(o, http, clock);
}

json error_json(const dm::Error& e) {
  return {{"ok", false}, {"error", {{"code", dm::errc_name(e.code)}, {"message", e.message}}}};
}

template <class T>
json wrap(const dm::Result<T>& r, const std::function<json(const T&)>& f) {
  if (!r.ok()) return error_json(r.error());
  return {{"ok", true}, {"result", f(r.value())}};
}

std::optional<dm::Clock::time_point> tget(const json& a, const char* k) {
  std::string s = sget(a, k);
  if (s.empty()) return std::nullopt;
  auto t = dm::parse_iso8601(s);
  if (!t) throw Usage{std::string("\"") + k + "\" is not an ISO-8601 date-time"};
  return t;
}

json run_op(af::AirflowClient& c, const std::string& op, const json& a) {
  if (op == "server_info") {
    return wrap<af::ServerInfo>(c.server_info(), [](const af::ServerInfo& i) {
      return json{{"api_version", af::dialect_name(i.dialect)}, {"version", i.version}};
    });
  }
  if (op == "check_auth") {
    auto s = c.check_auth();
    return s.ok() ? json{{"ok", true}, {"result", true}} : error_json(s.error());
  }
  if (op == "list_runs") {
    af::RunQuery q;
    q.dag_id = sget(a, "dag_id", "~");
    q.states = lget(a, "states");
    q.since = tget(a, "since");
    q.until = tget(a, "until");
    q.limit = static_cast<std::size_t>(iget(a, "limit", 0));
    return wrap<std::vector<af::DagRun>>(c.list_dag_runs(q), [](const auto& v) {
      json out = json::array();
      for (const auto& r : v) out.push_back(af::to_json(r));
      return out;
    });
  }
  if (op == "get_run")
    return wrap<af::DagRun>(c.get_dag_run(sget(a, "dag_id"), sget(a, "run_id")),
                            [](const af::DagRun& r) { return af::to_json(r); });
  if (op == "latest_run")
    return wrap<std::optional<af::DagRun>>(c.latest_run(sget(a, "dag_id")), [](const auto& r) {
      return r ? af::to_json(*r) : json(nullptr);
    });
  if (op == "list_tasks")
    return wrap<std::vector<af::TaskInstance>>(
        c.list_task_instances(sget(a, "dag_id"), sget(a, "run_id"), lget(a, "states")),
        [](const auto& v) {
          json out = json::array();
          for (const auto& t : v) out.push_back(af::to_json(t));
          return out;
        });
  if (op == "get_dag")
    return wrap<af::Dag>(c.get_dag(sget(a, "dag_id")),
                         [](const af::Dag& d) { return af::to_json(d); });
  if (op == "import_errors")
    return wrap<std::vector<af::ImportError>>(c.list_import_errors(), [](const auto& v) {
      json out = json::array();
      for (const auto& e : v) out.push_back(af::to_json(e));
      return out;
    });
  if (op == "trigger") {
    af::TriggerRequest t;
    t.dag_id = sget(a, "dag_id");
    t.dag_run_id = sget(a, "dag_run_id");
    if (a.contains("conf")) t.conf = a["conf"];
    t.note = sget(a, "note");
    // The run's one JSON form leaves conf and note out (conf may hold secrets); the tests check
    // that Airflow got what the trigger sent, so this op shows them too.
    return wrap<af::DagRun>(c.trigger_dag_run(t), [](const af::DagRun& r) {
      json j = af::to_json(r);
      j["conf"] = r.conf;
      j["note"] = r.note;
      return j;
    });
  }
  if (op == "clear") {
    af::ClearRequest cr;
    cr.dag_id = sget(a, "dag_id");
    cr.dag_run_id = sget(a, "dag_run_id");
    cr.task_ids = lget(a, "task_ids");
    if (!a.contains("dry_run") || !a["dry_run"].is_boolean())
      throw Usage{"clear needs an explicit boolean \"dry_run\""};
    cr.dry_run = a["dry_run"].get<bool>();
    if (a.contains("only_failed")) cr.only_failed = a["only_failed"].get<bool>();
    return wrap<std::vector<af::ClearedTask>>(c.clear_task_instances(cr), [](const auto& v) {
      json out = json::array();
      for (const auto& t : v)
        out.push_back({{"dag_id", t.dag_id},
                       {"run_id", t.run_id},
                       {"task_id", t.task_id},
                       {"map_index", t.map_index},
                       {"state", t.state}});
      return out;
    });
  }
  if (op == "read_log") {
    af::LogRequest lr;
    lr.dag_id = sget(a, "dag_id");
    lr.run_id = sget(a, "run_id");
    lr.task_id = sget(a, "task_id");
    lr.try_number = static_cast<int>(iget(a, "try_number", 1));
    lr.map_index = static_cast<int>(iget(a, "map_index", -1));
    auto tail_n = static_cast<std::size_t>(iget(a, "tail_lines", 50));
    auto head_n = static_cast<std::size_t>(iget(a, "head_lines", 5));
    auto stop_after = static_cast<std::size_t>(iget(a, "stop_after_lines", 0));
    auto grep = lget(a, "grep");
    std::deque<std::string> tail;
    std::vector<std::string> head;
    std::map<std::string, std::size_t> matches;
    for (const auto& g : grep) matches[g] = 0;
    std::size_t seen = 0;
    af::LogStats st;
    auto s = c.read_task_log(
        lr,
        [&](const af::LogLine& l) {
          ++seen;
          if (head.size() < head_n) head.emplace_back(l.text);
          if (tail_n) {
            tail.emplace_back(l.text);
            if (tail.size() > tail_n) tail.pop_front();
          }
          for (auto& [g, n] : matches)
            if (l.text.find(g) != std::string_view::npos) ++n;
          return stop_after == 0 || seen < stop_after;
        },
        &st);
    if (!s.ok()) return error_json(s.error());
    return {{"ok", true},
            {"result",
             {{"lines", st.lines},
              {"bytes", st.bytes},
              {"pages", st.pages},
              {"stopped_by_sink", st.stopped_by_sink},
              {"head", head},
              {"tail", std::vector<std::string>(tail.begin(), tail.end())},
              {"matches", matches}}}};
  }
  throw Usage{"unknown op \"" + op + "\""};
}

// Returns 0 ok, 1 op failed, 2 usage.
int run_command(const std::string& text,
                std::map<std::string, std::shared_ptr<af::RestAirflowClient>>& cache) {
  json cmd = json::parse(text, nullptr, false);
  try {
    if (!cmd.is_object()) throw Usage{"a command must be a JSON object"};
    if (!cmd.contains("env")) throw Usage{"\"env\" is required"};
    std::string key = cmd["env"].dump();
    auto& c = cache[key];
    if (!c) c = make_client(cmd["env"]);
    json args = cmd.contains("args") ? cmd["args"] : json::object();
    if (!args.is_object()) throw Usage{"\"args\" must be an object"};
    json out = run_op(*c, sget(cmd, "op"), args);
    std::cout << out.dump(-1, ' ', false, json::error_handler_t::replace) << std::endl;
    return out["ok"].get<bool>() ? 0 : 1;
  } catch (const Usage& u) {
    std::cout << json{{"ok", false}, {"error", {{"code", "usage"}, {"message", u.message}}}}.dump()
              << std::endl;
    return 2;
  } catch (const json::exception& e) {
    std::cout << json{{"ok", false}, {"error", {{"code", "usage"}, {"message", e.what()}}}}.dump()
              << std::endl;
    return 2;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::shared_ptr<af::RestAirflowClient>> cache;
  int rc = 0;
  if (argc > 1) {
    for (int i = 1; i < argc; ++i) rc = std::max(rc, run_command(argv[i], cache));
    return rc;
  }
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    rc = std::max(rc, run_command(line, cache));
  }
  return rc;
}
