// Test support: an MwaaAirflowClient whose every request (MWAA API, InvokeRestApi, CloudWatch
// Logs at http://logs.test/, the web server CLI) goes to one FakeHttpClient, with static
// credentials and an injected clock. Environment "env1" in eu-west-1, REST API v2.
#pragma once

#include <memory>
#include <string>

#include "airflow/mwaa_client.h"
#include "airflow/rest_client.h"
#include "http/fake_http_client.h"

namespace dm::airflow::testing {

inline std::unique_ptr<MwaaAirflowClient> make_mwaa_test_client(
    std::shared_ptr<http::FakeHttpClient> http, std::shared_ptr<Clock> clock,
    std::string log_group) {
  auto creds = std::make_shared<aws::StaticCredentialsProvider>(
      aws::Credentials{"AKIDEXAMPLE", "S", "", {}});
  aws::MwaaOptions mo{"env1", "eu-west-1", "http://mwaa.test", "http://web.test"};
  auto api = std::make_shared<aws::MwaaApi>(mo, http, creds, clock);
  auto invoke = std::make_shared<aws::InvokeRestApiHttpClient>(api);
  RestClientOptions ro;
  ro.environment = "mwaa-prod";
  ro.base_url = invoke->rest_base_url();
  ro.api_version = config::ApiVersion::v2;
  auto rest = std::make_unique<RestAirflowClient>(ro, invoke, clock);
  auto logs = std::make_shared<aws::CloudWatchLogsClient>(
      aws::CloudWatchLogsOptions{"eu-west-1", "http://logs.test"}, http, creds, clock);
  return std::make_unique<MwaaAirflowClient>(std::move(rest), api, logs, std::move(log_group));
}

}  // namespace dm::airflow::testing
