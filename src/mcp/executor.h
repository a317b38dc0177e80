// A small fixed thread pool that runs request handlers off the transport's thread.
#pragma once

#include <functional>
#include <memory>

namespace dm::mcp {

// Thread-safety: post() and stop() may be called from any thread, including from a task.
class Executor {
 public:
  explicit Executor(int threads);
  ~Executor();  // stop()
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Queues `task`; false (task dropped) once stop() began. Tasks must not throw.
  bool post(std::function<void()> task);
  // Refuses new tasks, runs the queued ones, joins the workers. When called from a worker thread
  // (the last owner of the server released it inside a task) that worker is detached instead.
  void stop();

 private:
  struct State;
  std::shared_ptr<State> st_;
};

}  // namespace dm::mcp
