// The tasks extension (io.modelcontextprotocol/tasks, SEP-2663) as the server keeps it: tasks in
// memory, their work on a dedicated thread pool, tasks/get, tasks/update and tasks/cancel.
// Private to src/mcp (the server creates tasks for tools answering ToolResult::as_task).
//
// A task runs rounds. Each round calls the runner on the pool with the input responses gathered so
// far; the runner answers complete (a CallToolResult), failed (a JSON-RPC error object) or input
// (inputRequests + state: the task parks in input_required until tasks/update has answered every
// key, then the next round runs with those answers and that state). tasks/cancel marks the task
// cancelled at once and flips the round's cancel token; what the round returns afterwards is
// dropped. Tasks are readable for `ttl` after creation, then forgotten.
// Tasks live in this process: a replica does not see another's tasks.
// A task created by an authenticated caller (session.h Caller) is that caller's: get, update and
// cancel from anyone else (another issuer/subject, or no caller) answer not_found, as for an
// unknown id, so task ids cannot be probed across users.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/result.h"
#include "mcp/cancel.h"
#include "mcp/context.h"
#include "mcp/executor.h"

namespace dm::mcp {

using json = nlohmann::json;

struct TaskRound {
  enum class Kind { complete, failed, input } kind = Kind::failed;
  json value;                 // complete: the result; failed: {code, message, data?}
  json input_requests;        // input: key -> request
  std::optional<json> state;  // input: handed back to the next round
};

// Runs one round. The context's cancelled() turns true on tasks/cancel or shutdown; its
// input_responses()/request_state() carry the answers and state of the previous round; in_task()
// is true; progress and log go nowhere (there is no response stream).
using TaskRunner = std::function<TaskRound(RequestContext& ctx)>;

struct TaskOptions {
  std::chrono::milliseconds ttl{std::chrono::hours(1)};
  std::chrono::milliseconds poll_interval{500};
  std::size_t max_tasks = 10000;
  int threads = 2;
};

// Thread-safety: every member may be called from any thread.
class TaskStore : public std::enable_shared_from_this<TaskStore> {
 public:
  explicit TaskStore(TaskOptions opts);
  ~TaskStore();

  // Creates a task (readable at once by get()) and starts its first round. `caps`/`info` are the
  // creating request's client capabilities and info, kept for every round. Returns the
  // CreateTaskResult (resultType "task"). Errc::unavailable when max_tasks are kept or the pool is
  // stopping.
  // `caller` (may be null) owns the task and is what each round's context returns as caller().
  Result<json> create(TaskRunner runner, json caps, json info,
                      std::shared_ptr<const Caller> caller = nullptr);
  // The DetailedTask (resultType "complete"); Errc::not_found for an unknown or expired id.
  Result<json> get(const std::string& id, const Caller* caller = nullptr);
  // Records the answers to pending input requests (unknown or already answered keys are
  // ignored); when none is pending any more the next round starts. Errc::not_found for an unknown
  // id; a task not waiting for input ignores the call.
  Status update(const std::string& id, const json& input_responses, const Caller* caller = nullptr);
  // Cancels a task that is not terminal yet (a terminal one is left as it is).
  // Errc::not_found for an unknown id.
  Status cancel(const std::string& id, const Caller* caller = nullptr);
  // Cancels every task and stops the pool (waits for running rounds). Idempotent.
  void shutdown();

 private:
  struct Task;
  static bool same_owner(const Task& t, const Caller* caller);
  void start_round(const std::shared_ptr<Task>& t);  // mu_ held by the caller
  void purge_expired();                              // mu_ held
  json detail(const Task& t) const;                  // mu_ held

  const TaskOptions opts_;
  std::unique_ptr<Executor> pool_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Task>> tasks_;
  bool stopped_ = false;
};

}  // namespace dm::mcp
