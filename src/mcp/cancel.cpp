#include "mcp/cancel.h"

namespace dm::mcp {

void CancelToken::cancel() {
  std::vector<std::function<void()>> cbs;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (cancelled_) return;
    cancelled_ = true;
    cbs.swap(callbacks_);
  }
  cv_.notify_all();
  for (auto& f : cbs) f();
}

bool CancelToken::cancelled() const {
  std::lock_guard<std::mutex> lk(mu_);
  return cancelled_;
}

bool CancelToken::wait_for(std::chrono::milliseconds d) const {
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait_for(lk, d, [&] { return cancelled_; });
  return cancelled_;
}

void CancelToken::on_cancel(std::function<void()> fn) const {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (!cancelled_) {
      callbacks_.push_back(std::move(fn));
      return;
    }
  }
  fn();
}

}  // namespace dm::mcp
