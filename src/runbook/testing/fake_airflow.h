// Test support (header-only, for *_test.cpp): an in-memory AirflowClient and a ClientProvider over
// it, so tool tests script Airflow's state (DAGs, runs, task instances, logs) and inject faults
// per call without HTTP. The real REST client is tested against real Airflow in tests/airflow.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "airflow/airflow_client.h"
#include "airflow/log_stream.h"
#include "common/iso_time.h"
#include "config/config.h"
#include "runbook/deps.h"

namespace dm::runbook::testing {

class FakeAirflow final : public airflow::AirflowClient {
 public:
  explicit FakeAirflow(std::string env = "test") : env_(std::move(env)) {}

  // ---- scripting ----
  void add_dag(airflow::Dag d) {
    std::lock_guard lk(mu_);
    dags_[d.dag_id] = std::move(d);
  }
  void add_run(airflow::DagRun r) {
    std::lock_guard lk(mu_);
    if (!dags_.count(r.dag_id)) dags_[r.dag_id] = airflow::Dag{.dag_id = r.dag_id};
    runs_.push_back(std::move(r));
  }
  // Replaces the run with r's (dag_id, run_id) (e.g. a run cleared and failed again: a new
  // end_date); adds it when there is none.
  void update_run(airflow::DagRun r) {
    std::lock_guard lk(mu_);
    for (auto& x : runs_)
      if (x.dag_id == r.dag_id && x.run_id == r.run_id) {
        x = std::move(r);
        return;
      }
    if (!dags_.count(r.dag_id)) dags_[r.dag_id] = airflow::Dag{.dag_id = r.dag_id};
    runs_.push_back(std::move(r));
  }
  void add_task(airflow::TaskInstance t) {
    std::lock_guard lk(mu_);
    tis_.push_back(std::move(t));
  }
  // Moves every instance of (dag, run, task) to `state` (e.g. a task that finished).
  void set_task_state(const std::string& dag, const std::string& run, const std::string& task,
                      const std::string& state) {
    std::lock_guard lk(mu_);
    for (auto& t : tis_)
      if (t.dag_id == dag && t.run_id == run && t.task_id == task) t.state = state;
  }
  // Log text of one try ('\n'-separated lines).
  void set_log(const std::string& dag, const std::string& run, const std::string& task, int try_n,
               std::string text, int map_index = -1) {
    std::lock_guard lk(mu_);
    logs_[{dag, run, task, try_n, map_index}] = std::move(text);
  }
  // A log given as the Airflow layer's lines (text, level) — delivered as they are, one LogLine
  // each, never split (a text may hold '\r' or '\n'). Takes precedence over set_log.
  void set_log_lines(const std::string& dag, const std::string& run, const std::string& task,
                     int try_n, std::vector<std::pair<std::string, std::string>> lines,
                     int map_index = -1) {
    std::lock_guard lk(mu_);
    line_logs_[{dag, run, task, try_n, map_index}] = std::move(lines);
  }
  // The byte cap of a log read, as the production clients take caps.log_read_bytes_max (0, the
  // default here: none): read_task_log stops before the line that would pass it (stats.capped).
  void set_log_read_bytes_max(std::uint64_t n) {
    std::lock_guard lk(mu_);
    log_read_bytes_max_ = n;
  }
  // Every later call of `method` ("list_dag_runs", "get_dag_run", "latest_run",
  // "list_task_instances", "read_task_log", "get_dag", "list_import_errors", "trigger_dag_run",
  // "clear_task_instances", "check_auth") fails with `e` (until clear_fault).
  void fail(const std::string& method, Error e) {
    std::lock_guard lk(mu_);
    faults_[method] = std::move(e);
  }
  void clear_fault(const std::string& method) {
    std::lock_guard lk(mu_);
    faults_.erase(method);
  }
  // Calls seen, by method name.
  int calls(const std::string& method) const {
    std::lock_guard lk(mu_);
    auto it = calls_.find(method);
    return it == calls_.end() ? 0 : it->second;
  }
  // Requests a REST client would send for the calls seen so far: one per call, and for
  // list_dag_runs one per page of `page_size` runs (Airflow pages its lists; the REST client pages
  // to the end). Set the page size with set_page_size (default 100, caps.page_size's default).
  int requests() const {
    std::lock_guard lk(mu_);
    return requests_;
  }
  void set_page_size(std::size_t n) {
    std::lock_guard lk(mu_);
    page_size_ = n == 0 ? 1 : n;
  }
  std::vector<airflow::TriggerRequest> triggered() const {
    std::lock_guard lk(mu_);
    return triggered_;
  }
  std::vector<airflow::ClearRequest> cleared() const {
    std::lock_guard lk(mu_);
    return cleared_;
  }

  // ---- AirflowClient ----
  const std::string& environment() const override { return env_; }
  Result<airflow::Dialect> api_dialect() override { return airflow::Dialect::v2; }
  Result<airflow::ServerInfo> server_info() override {
    return airflow::ServerInfo{airflow::Dialect::v2, "3.3.2"};
  }
  Status check_auth() override {
    std::lock_guard lk(mu_);
    if (auto e = fault("check_auth")) return *e;
    return Status::Ok();
  }

  Result<std::vector<airflow::DagRun>> list_dag_runs(const airflow::RunQuery& q) override {
    std::lock_guard lk(mu_);
    if (auto e = fault("list_dag_runs")) return *e;
    if (q.dag_id != "~" && !dags_.count(q.dag_id)) return not_found_dag(q.dag_id);
    std::vector<airflow::DagRun> out;
    for (const auto& r : runs_) {
      if (q.dag_id != "~" && r.dag_id != q.dag_id) continue;
      if (!q.states.empty() &&
          std::find(q.states.begin(), q.states.end(), r.state) == q.states.end())
        continue;
      auto at = parse_iso8601(r.run_after);
      if (q.since && (!at || *at < *q.since)) continue;
      if (q.until && (!at || *at > *q.until)) continue;
      auto ended = parse_iso8601(r.end_date);
      if (q.ended_since && (!ended || *ended < *q.ended_since)) continue;
      if (q.ended_until && (!ended || *ended > *q.ended_until)) continue;
      out.push_back(r);
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const auto& a, const auto& b) { return a.run_after > b.run_after; });
    if (q.limit && out.size() > q.limit) out.resize(q.limit);
    if (out.size() > page_size_) requests_ += static_cast<int>((out.size() - 1) / page_size_);
    return out;
  }
  Result<airflow::DagRun> get_dag_run(const std::string& dag, const std::string& run) override {
    std::lock_guard lk(mu_);
    if (auto e = fault("get_dag_run")) return *e;
    for (const auto& r : runs_)
      if (r.dag_id == dag && r.run_id == run) return r;
    if (!dags_.count(dag)) return not_found_dag(dag);
    return make_error(Errc::not_found, "environment \"" + env_ + "\": DAG run \"" + run +
                                           "\" of DAG \"" + dag + "\" not found");
  }
  Result<std::optional<airflow::DagRun>> latest_run(const std::string& dag) override {
    std::lock_guard lk(mu_);
    if (auto e = fault("latest_run")) return *e;
    if (!dags_.count(dag)) return not_found_dag(dag);
    std::optional<airflow::DagRun> best;
    for (const auto& r : runs_)
      if (r.dag_id == dag && (!best || r.run_after > best->run_after)) best = r;
    return best;
  }
  Result<std::vector<airflow::TaskInstance>> list_task_instances(
      const std::string& dag, const std::string& run,
      const std::vector<std::string>& states) override {
    std::lock_guard lk(mu_);
    if (auto e = fault("list_task_instances")) return *e;
    bool run_known = false;
    for (const auto& r : runs_) run_known |= (r.dag_id == dag && r.run_id == run);
    if (!run_known)
      return make_error(Errc::not_found, "environment \"" + env_ + "\": DAG run \"" + run +
                                             "\" of DAG \"" + dag + "\" not found");
    std::vector<airflow::TaskInstance> out;
    for (const auto& t : tis_) {
      if (t.dag_id != dag || t.run_id != run) continue;
      if (!states.empty() && std::find(states.begin(), states.end(), t.state) == states.end())
        continue;
      out.push_back(t);
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      return std::tie(a.task_id, a.map_index) < std::tie(b.task_id, b.map_index);
    });
    return out;
  }
  Result<std::vector<airflow::TaskInstance>> list_task_instances_in(
      const std::vector<std::string>& states) override {
    std::lock_guard lk(mu_);
    if (auto e = fault("list_task_instances_in")) return *e;
    std::vector<airflow::TaskInstance> out;
    for (const auto& t : tis_)
      if (std::find(states.begin(), states.end(), t.state) != states.end()) out.push_back(t);
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      return std::tie(a.dag_id, a.run_id, a.task_id, a.map_index) <
             std::tie(b.dag_id, b.run_id, b.task_id, b.map_index);
    });
    if (out.size() > page_size_) requests_ += static_cast<int>((out.size() - 1) / page_size_);
    return out;
  }
  Result<std::vector<airflow::TaskInstance>> recent_successes(const std::string& dag,
                                                              const std::string& task,
                                                              Clock::time_point since,
                                                              std::size_t limit) override {
    std::lock_guard lk(mu_);
    if (auto e = fault("recent_successes")) return *e;
    std::vector<airflow::TaskInstance> out;
    for (const auto& t : tis_) {
      if (t.dag_id != dag || t.task_id != task || t.state != "success") continue;
      auto end = parse_iso8601(t.end_date);
      if (!end || *end < since) continue;
      if (limit > 0 && out.size() >= limit) break;
      out.push_back(t);
    }
    return out;
  }
  Status read_task_log(const airflow::LogRequest& req, const airflow::LogSink& sink,
                       airflow::LogStats* stats) override {
    std::string text;
    std::uint64_t cap = 0;
    {
      std::lock_guard lk(mu_);
      if (auto e = fault("read_task_log")) return *e;
      cap = log_read_bytes_max_;
      if (auto ll =
              line_logs_.find({req.dag_id, req.run_id, req.task_id, req.try_number, req.map_index});
          ll != line_logs_.end()) {
        airflow::LogStats st;
        auto fn = airflow::counting_sink(sink, st, log_read_bytes_max_);
        st.pages = 1;
        for (const auto& [t, lv] : ll->second)
          if (!fn(t, lv)) break;
        if (stats) *stats = st;
        return Status::Ok();
      }
      auto it = logs_.find({req.dag_id, req.run_id, req.task_id, req.try_number, req.map_index});
      if (it == logs_.end())
        return make_error(Errc::not_found, "environment \"" + env_ + "\": no log for task \"" +
                                               req.task_id + "\" try " +
                                               std::to_string(req.try_number));
      text = it->second;
    }
    airflow::LogStats st;
    auto fn = airflow::counting_sink(sink, st, cap);
    st.pages = 1;
    std::size_t pos = 0;
    while (pos < text.size()) {
      std::size_t nl = text.find('\n', pos);
      std::string_view line(text.data() + pos, (nl == std::string::npos ? text.size() : nl) - pos);
      if (!fn(line, {})) break;
      if (nl == std::string::npos) break;
      pos = nl + 1;
    }
    if (stats) *stats = st;
    return Status::Ok();
  }
  Result<airflow::Dag> get_dag(const std::string& dag) override {
    std::lock_guard lk(mu_);
    if (auto e = fault("get_dag")) return *e;
    auto it = dags_.find(dag);
    if (it == dags_.end()) return not_found_dag(dag);
    return it->second;
  }
  Result<std::vector<airflow::Dag>> list_dags(const airflow::DagQuery& q) override {
    std::lock_guard lk(mu_);
    if (auto e = fault("list_dags")) return *e;
    std::vector<airflow::Dag> out;
    for (const auto& [id, d] : dags_) {
      const bool match =
          q.tags.empty() || std::any_of(d.tags.begin(), d.tags.end(), [&](const std::string& t) {
            return std::find(q.tags.begin(), q.tags.end(), t) != q.tags.end();
          });
      if (match) out.push_back(d);
    }
    if (out.size() > page_size_) requests_ += static_cast<int>((out.size() - 1) / page_size_);
    return out;
  }
  Result<std::vector<airflow::ImportError>> list_import_errors() override {
    std::lock_guard lk(mu_);
    if (auto e = fault("list_import_errors")) return *e;
    return import_errors_;
  }
  void add_import_error(airflow::ImportError e) {
    std::lock_guard lk(mu_);
    import_errors_.push_back(std::move(e));
  }
  // The file imports again: Airflow no longer lists its error.
  void remove_import_error(const std::string& filename) {
    std::lock_guard lk(mu_);
    std::erase_if(import_errors_, [&](const auto& e) { return e.filename == filename; });
  }
  Result<airflow::DagRun> trigger_dag_run(const airflow::TriggerRequest& req) override {
    std::lock_guard lk(mu_);
    if (auto e = fault("trigger_dag_run")) return *e;
    if (!dags_.count(req.dag_id)) return not_found_dag(req.dag_id);
    for (const auto& r : runs_)
      if (r.dag_id == req.dag_id && r.run_id == req.dag_run_id)
        return make_error(Errc::conflict, "environment \"" + env_ + "\": DAG run \"" +
                                              req.dag_run_id + "\" already exists");
    triggered_.push_back(req);
    airflow::DagRun r{.dag_id = req.dag_id,
                      .run_id = req.dag_run_id,
                      .state = "queued",
                      .run_type = "manual",
                      .conf = req.conf,
                      .note = req.note};
    runs_.push_back(r);
    return r;
  }
  Result<std::vector<airflow::ClearedTask>> clear_task_instances(
      const airflow::ClearRequest& req) override {
    std::lock_guard lk(mu_);
    if (auto e = fault("clear_task_instances")) return *e;
    cleared_.push_back(req);
    std::vector<airflow::ClearedTask> out;
    for (auto& t : tis_) {
      if (t.dag_id != req.dag_id || t.run_id != req.dag_run_id) continue;
      if (req.only_failed && t.state != "failed" && t.state != "upstream_failed") continue;
      if (!req.task_ids.empty() &&
          std::find(req.task_ids.begin(), req.task_ids.end(), t.task_id) == req.task_ids.end())
        continue;
      out.push_back({t.dag_id, t.run_id, t.task_id, t.map_index, t.state});
      if (!req.dry_run) t.state = "";
    }
    return out;
  }

 private:
  std::optional<Error> fault(const std::string& m) {
    ++calls_[m];
    ++requests_;
    auto it = faults_.find(m);
    if (it == faults_.end()) return std::nullopt;
    return it->second;
  }
  Error not_found_dag(const std::string& dag) const {
    return make_error(Errc::not_found,
                      "environment \"" + env_ + "\": DAG \"" + dag + "\" not found");
  }

  std::string env_;
  mutable std::mutex mu_;
  std::uint64_t log_read_bytes_max_ = 0;
  std::map<std::string, airflow::Dag> dags_;
  std::vector<airflow::DagRun> runs_;
  std::vector<airflow::TaskInstance> tis_;
  std::vector<airflow::ImportError> import_errors_;
  std::map<std::tuple<std::string, std::string, std::string, int, int>, std::string> logs_;
  std::map<std::tuple<std::string, std::string, std::string, int, int>,
           std::vector<std::pair<std::string, std::string>>>
      line_logs_;
  std::map<std::string, Error> faults_;
  std::map<std::string, int> calls_;
  int requests_ = 0;
  std::size_t page_size_ = 100;
  std::vector<airflow::TriggerRequest> triggered_;
  std::vector<airflow::ClearRequest> cleared_;
};

// A ClientProvider serving FakeAirflow clients for the environments of its own config.
class FakeProvider final : public ClientProvider {
 public:
  // One environment per fake, named as the fake's environment(), tier dev unless set in `tiers`.
  explicit FakeProvider(std::vector<std::shared_ptr<FakeAirflow>> fakes,
                        std::map<std::string, config::Tier> tiers = {}) {
    for (auto& f : fakes) {
      config::Environment e;
      e.name = f->environment();
      e.url = "http://fake.invalid";
      if (auto it = tiers.find(e.name); it != tiers.end()) e.tier = it->second;
      cfg_.environments.push_back(e);
      fakes_[e.name] = f;
    }
  }
  const config::Config& config() const { return cfg_; }
  Result<Target> get(std::string_view name) override {
    if (cfg_.environments.empty())
      return make_error(Errc::failed_precondition, "no Airflow environment is configured");
    auto env = cfg_.pick(name);
    if (!env) return env.error();
    return Target{*env, fakes_.at((*env)->name)};
  }

 private:
  config::Config cfg_;
  std::map<std::string, std::shared_ptr<FakeAirflow>> fakes_;
};

}  // namespace dm::runbook::testing
