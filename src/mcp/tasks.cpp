#include "mcp/tasks.h"

#include <openssl/rand.h>

#include "common/clock.h"
#include "common/iso_time.h"
#include "mcp/server.h"

namespace dm::mcp {

namespace {

const char* status_name(int s) {
  static const char* kNames[] = {"working", "input_required", "completed", "failed", "cancelled"};
  return kNames[s];
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             system_clock()->now().time_since_epoch())
      .count();
}

std::optional<std::string> new_task_id() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return std::nullopt;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "task-";
  for (unsigned char b : bytes) {
    id += kHex[b >> 4];
    id += kHex[b & 15];
  }
  return id;
}

// The context one round runs with.
class TaskCtx final : public RequestContext {
 public:
  TaskCtx(const CancelToken& token, const json& caps, const json& info, const Caller* caller,
          const json& responses, const std::optional<json>& state)
      : token_(token),
        caps_(caps),
        info_(info),
        caller_(caller),
        responses_(responses),
        state_(state) {}

  bool cancelled() const override { return token_.cancelled(); }
  const CancelToken& cancel_token() const override { return token_; }
  void progress(double, std::optional<double>, std::string) override {}
  void log(LogLevel, std::string, json) override {}
  Result<json> request_client(std::string method, json, std::chrono::milliseconds) override {
    return refuse(method);
  }
  Result<json> elicit_form(std::string, json, std::chrono::milliseconds) override {
    return refuse("elicitation/create");
  }
  Result<json> elicit_url(std::string, std::string, std::string,
                          std::chrono::milliseconds) override {
    return refuse("elicitation/create");
  }
  Result<json> create_message(json, std::chrono::milliseconds) override {
    return refuse("sampling/createMessage");
  }
  const json& client_capabilities() const override { return caps_; }
  const json& client_info() const override { return info_; }
  std::string protocol_version() const override { return kModernProtocolVersion; }
  const json& request_meta() const override { return empty_; }
  const Caller* caller() const override { return caller_; }
  bool modern() const override { return true; }
  const json& input_responses() const override { return responses_; }
  const std::optional<json>& request_state() const override { return state_; }
  bool in_task() const override { return true; }

 private:
  static Error refuse(const std::string& method) {
    return make_error(Errc::failed_precondition,
                      method + " cannot be sent from a task: answer ToolResult::needs_input");
  }
  const CancelToken& token_;
  const json& caps_;
  const json& info_;
  const Caller* caller_;
  const json& responses_;
  const std::optional<json>& state_;
  const json empty_ = json::object();
};

}  // namespace

struct TaskStore::Task {
  std::string id;
  int status = 0;  // index into status_name
  std::int64_t created = 0;
  std::int64_t updated = 0;
  TaskRunner runner;
  json caps;
  json info;
  std::shared_ptr<const Caller> caller;  // who created it (null: no authentication)
  CancelTokenPtr token = std::make_shared<CancelToken>();
  json result;                    // completed
  json error;                     // failed
  json pending = json::object();  // input_required: key -> request not yet answered
  json answers = json::object();  // answers gathered for the next round
  std::optional<json> state;      // handed to the next round
  bool terminal() const { return status >= 2; }
};

namespace {
// A task is its creator's: another authenticated caller (other issuer or subject), or an
// unauthenticated request for an authenticated caller's task, is told it does not exist.
bool same_owner_of(const Caller* owner, const Caller* caller) {
  if (!owner) return true;
  return caller && caller->issuer == owner->issuer && caller->subject == owner->subject;
}
}  // namespace

bool TaskStore::same_owner(const Task& t, const Caller* caller) {
  return same_owner_of(t.caller.get(), caller);
}

TaskStore::TaskStore(TaskOptions opts)
    : opts_(opts), pool_(std::make_unique<Executor>(opts.threads < 1 ? 1 : opts.threads)) {}

TaskStore::~TaskStore() { shutdown(); }

void TaskStore::shutdown() {
  std::map<std::string, std::shared_ptr<Task>> tasks;
  {
    std::lock_guard lk(mu_);
    if (stopped_) return;
    stopped_ = true;
    tasks = tasks_;
  }
  for (auto& [id, t] : tasks) t->token->cancel();
  pool_->stop();
}

void TaskStore::purge_expired() {
  const std::int64_t now = now_ms();
  for (auto it = tasks_.begin(); it != tasks_.end();) {
    if (now - it->second->created > opts_.ttl.count()) {
      it->second->token->cancel();
      it = tasks_.erase(it);
    } else {
      ++it;
    }
  }
}

json TaskStore::detail(const Task& t) const {
  json j = {{"taskId", t.id},
            {"status", status_name(t.status)},
            {"createdAt", ms_to_iso(t.created)},
            {"lastUpdatedAt", ms_to_iso(t.updated)},
            {"ttlMs", opts_.ttl.count()},
            {"pollIntervalMs", opts_.poll_interval.count()}};
  if (t.status == 1) j["inputRequests"] = t.pending;
  if (t.status == 2) j["result"] = t.result;
  if (t.status == 3) j["error"] = t.error;
  return j;
}

Result<json> TaskStore::create(TaskRunner runner, json caps, json info,
                               std::shared_ptr<const Caller> caller) {
  auto id = new_task_id();
  if (!id) return make_error(Errc::internal, "RAND_bytes failed: no task id");
  std::lock_guard lk(mu_);
  if (stopped_) return make_error(Errc::unavailable, "the server is shutting down");
  purge_expired();
  if (tasks_.size() >= opts_.max_tasks) {
    return make_error(Errc::unavailable,
                      "too many tasks (" + std::to_string(opts_.max_tasks) + ") are kept");
  }
  auto t = std::make_shared<Task>();
  t->id = *id;
  t->caller = std::move(caller);
  t->created = t->updated = now_ms();
  t->runner = std::move(runner);
  t->caps = std::move(caps);
  t->info = std::move(info);
  tasks_[t->id] = t;
  json out = detail(*t);
  out["resultType"] = "task";
  start_round(t);
  return out;
}

void TaskStore::start_round(const std::shared_ptr<Task>& t) {
  t->status = 0;
  t->updated = now_ms();
  json answers = std::move(t->answers);
  t->answers = json::object();
  std::optional<json> state = std::move(t->state);
  t->state.reset();
  std::weak_ptr<TaskStore> weak = weak_from_this();
  const bool posted =
      pool_->post([weak, t, answers = std::move(answers), state = std::move(state)]() mutable {
        TaskCtx ctx(*t->token, t->caps, t->info, t->caller.get(), answers, state);
        TaskRound r = t->runner(ctx);
        auto self = weak.lock();
        if (!self) return;
        std::lock_guard lk(self->mu_);
        if (t->terminal()) return;  // cancelled meanwhile: the round's answer is dropped
        t->updated = now_ms();
        switch (r.kind) {
          case TaskRound::Kind::complete:
            t->status = 2;
            t->result = std::move(r.value);
            break;
          case TaskRound::Kind::failed:
            t->status = 3;
            t->error = std::move(r.value);
            break;
          case TaskRound::Kind::input:
            if (!r.input_requests.is_object() || r.input_requests.empty()) {
              t->status = 3;
              t->error = {{"code", -32603}, {"message", "task asked for input without requests"}};
              break;
            }
            t->status = 1;
            t->pending = std::move(r.input_requests);
            t->state = std::move(r.state);
            break;
        }
      });
  if (!posted) {
    t->status = 3;
    t->error = {{"code", -32603}, {"message", "the server is shutting down"}};
  }
}

Result<json> TaskStore::get(const std::string& id, const Caller* caller) {
  std::lock_guard lk(mu_);
  purge_expired();
  auto it = tasks_.find(id);
  if (it == tasks_.end() || !same_owner(*it->second, caller)) {
    return make_error(Errc::not_found, "unknown task " + id);
  }
  json out = detail(*it->second);
  out["resultType"] = "complete";
  return out;
}

Status TaskStore::update(const std::string& id, const json& input_responses, const Caller* caller) {
  std::lock_guard lk(mu_);
  purge_expired();
  auto it = tasks_.find(id);
  if (it == tasks_.end() || !same_owner(*it->second, caller)) {
    return make_error(Errc::not_found, "unknown task " + id);
  }
  const auto& t = it->second;
  if (t->status != 1 || !input_responses.is_object()) return Status::Ok();
  for (auto r = input_responses.begin(); r != input_responses.end(); ++r) {
    if (t->pending.contains(r.key())) {
      t->pending.erase(r.key());
      t->answers[r.key()] = r.value();
    }
  }
  t->updated = now_ms();
  if (t->pending.empty()) start_round(t);
  return Status::Ok();
}

Status TaskStore::cancel(const std::string& id, const Caller* caller) {
  std::shared_ptr<Task> t;
  {
    std::lock_guard lk(mu_);
    purge_expired();
    auto it = tasks_.find(id);
    if (it == tasks_.end() || !same_owner(*it->second, caller)) {
      return make_error(Errc::not_found, "unknown task " + id);
    }
    t = it->second;
    if (t->terminal()) return Status::Ok();
    t->status = 4;
    t->updated = now_ms();
    t->pending = json::object();
  }
  t->token->cancel();
  return Status::Ok();
}

}  // namespace dm::mcp
