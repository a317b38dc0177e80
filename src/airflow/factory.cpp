#include "airflow/factory.h"

#include <map>
#include <mutex>

#include "airflow/mwaa_client.h"
#include "airflow/rest_client.h"
#include "aws/credentials.h"
#include "config/credentials.h"
#include "http/curl_http_client.h"
#include "http/retrying_http_client.h"

namespace dm::airflow {

namespace {

// The process environment, with AWS_ENDPOINT_URL_STS taken from the config when it names one.
class StsOverrideEnv final : public aws::Env {
 public:
  explicit StsOverrideEnv(std::string sts) : sts_(std::move(sts)) {}
  std::optional<std::string> get(std::string_view name) const override {
    if (name == "AWS_ENDPOINT_URL_STS") return sts_;
    return aws::system_env()->get(name);
  }
  Result<std::string> read_file(const std::string& path, std::size_t max_bytes) const override {
    return aws::system_env()->read_file(path, max_bytes);
  }

 private:
  std::string sts_;
};

// One credential chain per process (per STS override): its cache and single refresh are shared
// by every MWAA environment, as the sigv4 notes ask.
std::shared_ptr<aws::CredentialsProvider> shared_chain(const std::string& sts,
                                                       const std::shared_ptr<http::HttpClient>& h,
                                                       const std::shared_ptr<Clock>& clock) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<aws::CredentialsProvider>> chains;
  std::lock_guard lk(mu);
  auto& c = chains[sts];
  if (!c) {
    std::shared_ptr<aws::Env> env =
        sts.empty() ? aws::system_env() : std::make_shared<StsOverrideEnv>(sts);
    c = aws::default_chain({h, clock, env});
  }
  return c;
}

Result<std::unique_ptr<AirflowClient>> make_mwaa_client(const config::Environment& env,
                                                        ClientDeps deps) {
  if (!deps.clock) deps.clock = system_clock();
  std::shared_ptr<http::HttpClient> raw = deps.http;
  if (!raw) {
    http::CurlOptions co;
    co.verify_tls = env.verify_tls;
    co.ca_file = env.ca_file;
    raw = std::make_shared<http::CurlHttpClient>(co);
  }
  auto creds =
      deps.aws_credentials
          ? deps.aws_credentials
          : shared_chain(env.mwaa.sts_endpoint,
                         std::make_shared<http::RetryingHttpClient>(raw, deps.clock), deps.clock);
  aws::MwaaOptions mo;
  mo.name = env.mwaa.name;
  mo.region = env.mwaa.region;
  mo.endpoint = env.mwaa.endpoint;
  mo.web_server_url = env.mwaa.web_server_url;
  mo.timeout = env.timeouts.request;
  mo.connect_timeout = env.timeouts.connect;
  auto api = std::make_shared<aws::MwaaApi>(mo, raw, creds, deps.clock);
  auto invoke = std::make_shared<aws::InvokeRestApiHttpClient>(api);
  RestClientOptions o;
  o.environment = env.name;
  o.base_url = invoke->rest_base_url();
  // MWAA on Airflow 3 speaks v2; detection also works (health paths are short).
  o.api_version = env.api_version;
  o.timeouts = env.timeouts;
  o.page_size = deps.page_size;
  o.log_read_bytes_max = deps.log_read_bytes_max;
  // Throttled InvokeRestApi reads come back as 429: the retrying layer backs off and repeats.
  auto rest = std::make_unique<RestAirflowClient>(
      std::move(o), std::make_shared<http::RetryingHttpClient>(invoke, deps.clock), deps.clock);
  aws::CloudWatchLogsOptions lo;
  lo.region = env.mwaa.region;
  lo.endpoint = env.mwaa.logs_endpoint;
  lo.timeout = env.timeouts.request;
  lo.connect_timeout = env.timeouts.connect;
  auto logs = std::make_shared<aws::CloudWatchLogsClient>(lo, raw, creds, deps.clock);
  return std::unique_ptr<AirflowClient>(
      std::make_unique<MwaaAirflowClient>(std::move(rest), std::move(api), std::move(logs),
                                          env.mwaa.log_group, deps.log_read_bytes_max));
}

}  // namespace

Result<std::unique_ptr<AirflowClient>> make_client(const config::Environment& env,
                                                   ClientDeps deps) {
  if (env.kind == config::Kind::mwaa) return make_mwaa_client(env, std::move(deps));
  auto creds = config::resolve_credentials(env);
  if (!creds) return creds.error();
  if (!deps.clock) deps.clock = system_clock();
  if (!deps.http) {
    http::CurlOptions co;
    co.verify_tls = env.verify_tls;
    co.ca_file = env.ca_file;
    deps.http = std::make_shared<http::RetryingHttpClient>(
        std::make_shared<http::CurlHttpClient>(co), deps.clock);
  }
  RestClientOptions o;
  o.environment = env.name;
  o.base_url = env.url;
  o.api_version = env.api_version;
  o.credentials = std::move(*creds);
  o.timeouts = env.timeouts;
  o.page_size = deps.page_size;
  o.log_read_bytes_max = deps.log_read_bytes_max;
  return std::unique_ptr<AirflowClient>(
      std::make_unique<RestAirflowClient>(std::move(o), deps.http, deps.clock));
}

}  // namespace dm::airflow
