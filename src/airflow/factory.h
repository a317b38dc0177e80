// Builds the production AirflowClient for a configured environment: resolves credentials,
// CurlHttpClient (TLS options from the config) wrapped in RetryingHttpClient, RestAirflowClient.
#pragma once

#include <cstdint>
#include <memory>

#include "airflow/airflow_client.h"
#include "aws/credentials.h"
#include "config/config.h"
#include "http/http_client.h"

namespace dm::airflow {

struct ClientDeps {
  std::shared_ptr<Clock> clock;            // default: system clock
  std::shared_ptr<http::HttpClient> http;  // default: retrying curl client
  int page_size = 100;
  // Most bytes of log text one task-log read delivers (caps.log_read_bytes_max); 0: no cap.
  std::uint64_t log_read_bytes_max = static_cast<std::uint64_t>(config::Caps{}.log_read_bytes_max);
  // MWAA only: AWS credentials; default = the process-wide default chain (aws/credentials.h).
  // For MWAA, `http` is the raw transport (signed requests are re-signed per attempt inside).
  std::shared_ptr<aws::CredentialsProvider> aws_credentials;
};

// kind airflow: RestAirflowClient over direct HTTP. kind mwaa: MwaaAirflowClient (REST over
// InvokeRestApi, task logs from CloudWatch, triggers through the MWAA CLI; docs/mwaa.md).
// Errors: unresolvable credentials (message names the variable/file). AWS credentials are
// resolved lazily, on the first call.
Result<std::unique_ptr<AirflowClient>> make_client(const config::Environment& env,
                                                   ClientDeps deps = {});

}  // namespace dm::airflow
