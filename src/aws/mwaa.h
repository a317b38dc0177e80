// Amazon MWAA calls dagmedic makes (docs/mwaa.md), all SigV4-signed for service "airflow":
//  - InvokeRestApi   POST {endpoint}/restapi/{Name}  {Path, Method, QueryParameters, Body}
//                    → {RestApiStatusCode, RestApiResponse}
//  - CreateCliToken  POST {endpoint}/clitoken/{Name} → {CliToken, WebServerHostname}, then the
//                    CLI itself: POST https://{WebServerHostname}/aws_mwaa/cli (Bearer token,
//                    text body "dags trigger …") → {stdout, stderr} base64
//  - GetEnvironment  GET  {endpoint}/environments/{Name} (the task log group)
// InvokeRestApiHttpClient turns the REST requests RestAirflowClient makes into InvokeRestApi
// calls, so the Airflow REST client works unchanged against MWAA (the endpoint authorizes by
// IAM: no Airflow credentials are sent).
//
// Errors: AWS error types are mapped once (aws_error()): AccessDenied → permission_denied naming
// the IAM action, signature/token problems → unauthenticated, ResourceNotFound → not_found,
// throttling → unavailable (after backoff). Messages never hold credentials or tokens.
// Thread-safety: every class here is safe to call from several threads (state is immutable
// after construction; the credentials provider and HttpClient are thread-safe).
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "aws/credentials.h"
#include "common/clock.h"
#include "common/result.h"
#include "http/http_client.h"

namespace dm::aws {

struct MwaaOptions {
  std::string name{};    // MWAA environment name
  std::string region{};  // signing region
  // No trailing slash; empty = the regional endpoint with the service model's host prefix (below).
  std::string endpoint{};
  std::string web_server_url{};  // CLI host override; empty = https://{WebServerHostname}
  std::chrono::milliseconds timeout{30000};
  std::chrono::milliseconds connect_timeout{10000};
  int max_attempts = 4;  // throttled control-plane calls (CreateCliToken, GetEnvironment)
  std::chrono::milliseconds base_delay{250};
};

// Where the call to `path` goes: `o.endpoint` + path when set (tests, VPC endpoints: used as is);
// else the regional endpoint with the host prefix botocore's service model (mwaa 2020-07-01) gives
// the operation: "env." for the data plane (/restapi/…, /clitoken/…: InvokeRestApi,
// CreateCliToken), "api." for the control plane (/environments/…: GetEnvironment), i.e.
// https://env.airflow.{region}.amazonaws.com/restapi/{Name}.
std::string mwaa_url(const MwaaOptions& o, const std::string& path);

// An AWS JSON error reply, parsed: `type` without namespace ("AccessDeniedException"), message.
struct AwsError {
  int status = 0;
  std::string type{};
  std::string message{};
};
// From the x-amzn-ErrorType header or the body's __type / code; message from message/Message.
AwsError parse_aws_error(const http::Response& r);
// Maps an AWS error to an Error. `action` is the IAM action for AccessDenied ("airflow:…").
Error aws_error(const AwsError& e, std::string_view what, std::string_view action);
bool is_throttling(const AwsError& e);

struct CliToken {
  std::string token{};  // secret: never log
  std::string web_server_hostname{};
};

struct CliOutput {
  std::string stdout_text{};
  std::string stderr_text{};
};

class MwaaApi {
 public:
  MwaaApi(MwaaOptions o, std::shared_ptr<http::HttpClient> http,
          std::shared_ptr<CredentialsProvider> creds, std::shared_ptr<Clock> clock);

  const MwaaOptions& options() const { return o_; }
  // "environment NAME (MWAA, REGION)" for messages.
  std::string describe() const;

  // A signed request (JSON body when `body` is not null) to {endpoint}{path}; HTTP statuses are
  // returned as they are (callers map them); transport and credential errors are errors.
  Result<http::Response> signed_call(http::Method m, const std::string& path,
                                     const nlohmann::json& body, bool idempotent);

  // GetEnvironment → LoggingConfiguration.TaskLogs.CloudWatchLogGroupArn → the group name.
  // failed_precondition when task logging is disabled or the ARN is missing.
  Result<std::string> task_log_group();

  Result<CliToken> create_cli_token();
  // Runs one MWAA CLI command line (see cli_quote); never retried (it may be a write).
  Result<CliOutput> run_cli(const std::string& command_line);

 private:
  // signed_call + throttling backoff for idempotent control-plane calls.
  Result<http::Response> call_with_backoff(http::Method m, const std::string& path,
                                           const nlohmann::json& body, bool idempotent);
  MwaaOptions o_;
  std::shared_ptr<http::HttpClient> http_;
  std::shared_ptr<CredentialsProvider> creds_;
  std::shared_ptr<Clock> clock_;
};

// http::HttpClient over InvokeRestApi. Accepts requests whose URL is
// `{prefix}/api/v2/...` or `{prefix}/api/v1/...` (prefix = rest_base_url()); the Path sent is the
// part after /api/vN, percent-decoded (MWAA counts its ≤ 64 characters), QueryParameters the
// decoded query (repeated names → arrays), Body the JSON body.
//  - RestApiStatusCode/RestApiResponse (also inside RestApiClientException /
//    RestApiServerException replies) become the Response's status and JSON body.
//  - AWS errors become statuses RestAirflowClient already explains, with a {"detail": …} body:
//    AccessDenied → 403 naming airflow:InvokeRestApi; throttling → 429 (RetryingHttpClient
//    backs off and repeats reads); unknown environment → 404; bad signature/expired token → 401.
//  - A Path over 64 characters: GET …/dags/{d}/dagRuns/{r}/taskInstances is routed to
//    POST /dags/~/dagRuns/~/taskInstances/list (v2), which answers the same shape; any other
//    long path is Errc::invalid_argument naming the limit.
// A streamed request (on_body) gets the whole 2xx body in one chunk.
class InvokeRestApiHttpClient final : public http::HttpClient {
 public:
  explicit InvokeRestApiHttpClient(std::shared_ptr<MwaaApi> api);
  // What RestAirflowClient should use as base_url: "{endpoint}/restapi/{Name}".
  std::string rest_base_url() const;
  Result<http::Response> send(const http::Request& req) override;

  static constexpr std::size_t kMaxPath = 64;

 private:
  std::shared_ptr<MwaaApi> api_;
};

// POSIX shell single-quoting: 'it'"'"'s'. The result is always exactly one word for a
// shlex/POSIX splitter whatever `s` holds.
std::string cli_quote(std::string_view s);
// "dags trigger 'DAG' --run-id='RUN' --conf='JSON'" (conf omitted when empty): every value is
// one quoted word, and the --name=value form keeps a value starting with '-' from being read as
// an option. invalid_argument for a DAG id outside [A-Za-z0-9_.-] (Airflow's rule) or starting
// with '-', an empty run id, control characters in the run id, a conf that is not an object.
Result<std::string> dags_trigger_command(const std::string& dag_id, const std::string& run_id,
                                         const nlohmann::json& conf);

}  // namespace dm::aws
