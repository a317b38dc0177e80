// Cooperative cancellation for request handlers: the session flips the token when the client sends
// notifications/cancelled or the session closes; handlers poll it or wait on it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace dm::mcp {

// Shared by the session (which cancels) and the handler (which observes). Thread-safe.
class CancelToken {
 public:
  // Flips the token (idempotent) and wakes every waiter; runs registered callbacks once.
  void cancel();
  bool cancelled() const;
  // Blocks until cancelled or `d` has passed; returns cancelled(). For handlers that would
  // otherwise sleep (tests use it instead of sleeping).
  bool wait_for(std::chrono::milliseconds d) const;
  // Runs `fn` when cancelled (immediately if already cancelled). `fn` must not block and must not
  // call back into this token.
  void on_cancel(std::function<void()> fn) const;

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool cancelled_ = false;
  mutable std::vector<std::function<void()>> callbacks_;
};

using CancelTokenPtr = std::shared_ptr<CancelToken>;

}  // namespace dm::mcp
