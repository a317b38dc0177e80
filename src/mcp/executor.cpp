#include "mcp/executor.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace dm::mcp {

struct Executor::State {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> q;
  bool stopping = false;
  std::vector<std::thread> threads;
};

Executor::Executor(int threads) : st_(std::make_shared<State>()) {
  if (threads < 1) threads = 1;
  for (int i = 0; i < threads; ++i) {
    // Each worker holds the state so a detached worker never touches freed memory.
    st_->threads.emplace_back([st = st_] {
      for (;;) {
        std::function<void()> task;
        {
          std::unique_lock<std::mutex> lk(st->mu);
          st->cv.wait(lk, [&] { return st->stopping || !st->q.empty(); });
          if (st->q.empty()) return;
          task = std::move(st->q.front());
          st->q.pop_front();
        }
        task();
      }
    });
  }
}

Executor::~Executor() { stop(); }

bool Executor::post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lk(st_->mu);
    if (st_->stopping) return false;
    st_->q.push_back(std::move(task));
  }
  st_->cv.notify_one();
  return true;
}

void Executor::stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lk(st_->mu);
    st_->stopping = true;
    threads.swap(st_->threads);
  }
  st_->cv.notify_all();
  for (auto& t : threads) {
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();
    } else if (t.joinable()) {
      t.join();
    }
  }
}

}  // namespace dm::mcp
