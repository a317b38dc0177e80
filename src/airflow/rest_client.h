// RestAirflowClient: AirflowClient over the Airflow REST API, direct HTTP.
//  - v2 (Airflow 3): JWT from POST /auth/token; renewed shortly before its `exp` and, once, when a
//    call answers 401. A static token (token_env/token_file) is sent as Bearer and never renewed.
//  - v1 (Airflow 2): HTTP Basic auth (or a static Bearer token).
//  - Dialect: as configured, else detected once (GET /api/v2/monitor/health, then /api/v1/health).
// Reads go through the given HttpClient (callers pass a RetryingHttpClient for production);
// writes are sent once. Thread-safe: dialect and token state are guarded by a mutex.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "airflow/airflow_client.h"
#include "config/config.h"
#include "config/credentials.h"
#include "http/http_client.h"

namespace dm::airflow {

struct RestClientOptions {
  std::string environment;  // name used in messages
  std::string base_url;     // no trailing slash
  config::ApiVersion api_version = config::ApiVersion::auto_detect;
  config::Credentials credentials;
  config::Timeouts timeouts;
  int page_size = 100;       // clamped by the server (Airflow's maximum_page_limit)
  int max_log_pages = 1000;  // guard against a server that never ends a token chain
  // Most bytes of log text one read_task_log delivers (LogStats::capped beyond); 0: no cap.
  std::uint64_t log_read_bytes_max = static_cast<std::uint64_t>(config::Caps{}.log_read_bytes_max);
  std::chrono::seconds token_renew_margin{30};
};

class RestAirflowClient final : public AirflowClient {
 public:
  RestAirflowClient(RestClientOptions opts, std::shared_ptr<http::HttpClient> http,
                    std::shared_ptr<Clock> clock);

  const std::string& environment() const override { return opts_.environment; }
  Result<Dialect> api_dialect() override;
  Result<ServerInfo> server_info() override;
  Status check_auth() override;
  Result<std::vector<DagRun>> list_dag_runs(const RunQuery& q) override;
  Result<DagRun> get_dag_run(const std::string& dag_id, const std::string& run_id) override;
  Result<std::optional<DagRun>> latest_run(const std::string& dag_id) override;
  Result<std::vector<TaskInstance>> list_task_instances(
      const std::string& dag_id, const std::string& run_id,
      const std::vector<std::string>& states) override;
  Status read_task_log(const LogRequest& req, const LogSink& sink,
                       LogStats* stats = nullptr) override;
  Result<std::vector<TaskInstance>> list_task_instances_in(
      const std::vector<std::string>& states) override;
  Result<std::vector<TaskInstance>> recent_successes(const std::string& dag_id,
                                                     const std::string& task_id,
                                                     Clock::time_point since,
                                                     std::size_t limit) override;
  Result<Dag> get_dag(const std::string& dag_id) override;
  Result<std::vector<Dag>> list_dags(const DagQuery& q) override;
  Result<std::vector<ImportError>> list_import_errors() override;
  Result<DagRun> trigger_dag_run(const TriggerRequest& req) override;
  Result<std::vector<ClearedTask>> clear_task_instances(const ClearRequest& req) override;

  // How many times a JWT was obtained (tests check "exactly one re-auth").
  int token_fetches() const;

 private:
  struct Call;  // per-call context (name, what-if-404)

  Result<Dialect> dialect(const Call& c);
  Result<std::string> auth_header(const Call& c, bool force_renew);
  Result<http::Response> send(const Call& c, http::Method m, const std::string& path_query,
                              const std::optional<nlohmann::json>& body,
                              const http::BodySink& sink = {}, const char* accept = nullptr);
  Result<nlohmann::json> send_json(const Call& c, http::Method m, const std::string& path_query,
                                   const std::optional<nlohmann::json>& body = std::nullopt);
  Result<std::vector<nlohmann::json>> get_all_pages(const Call& c, const std::string& path,
                                                    const std::string& query, const char* items_key,
                                                    std::size_t limit);
  Error transport_error(const Call& c, const Error& e) const;
  Error status_error(const Call& c, const http::Response& r) const;
  Error fail(const Call& c, Errc code, const std::string& detail) const;
  std::string api_prefix(Dialect d) const;

  RestClientOptions opts_;
  std::shared_ptr<http::HttpClient> http_;
  std::shared_ptr<Clock> clock_;
  mutable std::mutex mu_;
  std::optional<Dialect> dialect_;
  std::string jwt_;
  std::optional<Clock::time_point> jwt_exp_;
  int token_fetches_ = 0;
};

// Seconds-since-epoch `exp` claim of a JWT, if present (no signature check: the server does it).
std::optional<Clock::time_point> jwt_expiry(std::string_view jwt);

}  // namespace dm::airflow
