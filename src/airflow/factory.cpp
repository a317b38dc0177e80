#include "airflow/factory.h"

#include "airflow/rest_client.h"
#include "config/credentials.h"
#include "http/curl_http_client.h"
#include "http/retrying_http_client.h"

namespace dm::airflow {

Result<std::unique_ptr<AirflowClient>> make_client(const config::Environment& env,
                                                   ClientDeps deps) {
  if (env.kind == config::Kind::mwaa)
    return make_error(Errc::failed_precondition,
                      "environment \"" + env.name +
                          "\": kind mwaa is not supported by the direct Airflow client yet");
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
  return std::unique_ptr<AirflowClient>(
      std::make_unique<RestAirflowClient>(std::move(o), deps.http, deps.clock));
}

}  // namespace dm::airflow
