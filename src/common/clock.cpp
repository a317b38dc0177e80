#include "common/clock.h"

#include <thread>

namespace dm {
namespace {
class SystemClock final : public Clock {
 public:
  time_point now() const override { return std::chrono::system_clock::now(); }
  void sleep_for(std::chrono::milliseconds d) override { std::this_thread::sleep_for(d); }
};
}  // namespace

std::shared_ptr<Clock> system_clock() {
  static auto c = std::make_shared<SystemClock>();
  return c;
}

}  // namespace dm
