// cw-tail-bench: reads one MWAA task try's log from a CloudWatch Logs endpoint (moto in
// bench/logpath/run.sh) the two ways dagmedic can, and prints one JSON line per way:
//   forward: MwaaAirflowClient::read_task_log      (what task_log did before: the whole stream)
//   tail:    MwaaAirflowClient::read_task_log_tail (what task_log does now: from the end)
// Each with GetLogEvents calls (pages), lines and bytes delivered, and wall time.
//   cw-tail-bench --endpoint URL --group G --dag D --run R --task T [--try N] [--tail N]
// Never run by tests.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "airflow/mwaa_client.h"
#include "airflow/rest_client.h"
#include "http/curl_http_client.h"

using namespace dm;

int main(int argc, char** argv) {
  std::string endpoint, group, dag, run, task;
  int try_n = 1;
  std::size_t tail = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--endpoint")
      endpoint = v;
    else if (k == "--group")
      group = v;
    else if (k == "--dag")
      dag = v;
    else if (k == "--run")
      run = v;
    else if (k == "--task")
      task = v;
    else if (k == "--try")
      try_n = std::stoi(v);
    else if (k == "--tail")
      tail = std::stoul(v);
  }
  if (endpoint.empty() || group.empty() || dag.empty() || run.empty() || task.empty()) {
    std::fputs("usage: cw-tail-bench --endpoint URL --group G --dag D --run R --task T\n", stderr);
    return 2;
  }
  auto http = std::make_shared<http::CurlHttpClient>();
  auto clock = system_clock();
  auto creds = std::make_shared<aws::StaticCredentialsProvider>(
      aws::Credentials{"testing", "testing", "", {}});
  aws::CloudWatchLogsOptions co;
  co.region = "us-east-1";
  co.endpoint = endpoint;
  co.timeout = std::chrono::milliseconds(600000);
  auto logs = std::make_shared<aws::CloudWatchLogsClient>(co, http, creds, clock);
  // The REST side is never called for logs (the log group is given).
  airflow::RestClientOptions ro;
  ro.environment = "bench";
  ro.base_url = "http://127.0.0.1:9";
  auto rest = std::make_unique<airflow::RestAirflowClient>(ro, http, clock);
  auto api = std::make_shared<aws::MwaaApi>(
      aws::MwaaOptions{"bench", "us-east-1", "http://127.0.0.1:9", "http://127.0.0.1:9"}, http,
      creds, clock);
  airflow::MwaaAirflowClient client(std::move(rest), api, logs, group);
  airflow::LogRequest req{dag, run, task, try_n, -1};
  for (const char* mode : {"forward", "tail"}) {
    airflow::LogStats st;
    std::size_t ring = 0;
    auto sink = [&](const airflow::LogLine&) {
      ++ring;
      return true;
    };
    auto t0 = std::chrono::steady_clock::now();
    Status s = std::strcmp(mode, "tail") == 0 ? client.read_task_log_tail(req, tail, sink, &st)
                                              : client.read_task_log(req, sink, &st);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!s) {
      std::fprintf(stderr, "%s: %s\n", mode, s.error().message.c_str());
      return 1;
    }
    std::printf(
        "{\"mode\":\"%s\",\"pages\":%zu,\"lines\":%zu,\"bytes\":%zu,\"seconds\":%.3f,"
        "\"head_skipped\":%s}\n",
        mode, st.pages, st.lines, st.bytes, secs, st.head_skipped ? "true" : "false");
  }
  return 0;
}
