// Builds the production AirflowClient for a configured environment: resolves credentials,
// CurlHttpClient (TLS options from the config) wrapped in RetryingHttpClient, RestAirflowClient.
#pragma once

#include <memory>

#include "airflow/airflow_client.h"
#include "config/config.h"
#include "http/http_client.h"

namespace dm::airflow {

struct ClientDeps {
  std::shared_ptr<Clock> clock;            // default: system clock
  std::shared_ptr<http::HttpClient> http;  // default: retrying curl client
  int page_size = 100;
};

// Errors: failed_precondition for an MWAA environment (not served by the direct REST client) or
// unresolvable credentials (message names the variable/file).
Result<std::unique_ptr<AirflowClient>> make_client(const config::Environment& env,
                                                   ClientDeps deps = {});

}  // namespace dm::airflow
