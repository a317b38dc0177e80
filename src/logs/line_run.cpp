#include "logs/line_run.h"

#include <atomic>

namespace dm::logs {
namespace {

thread_local LineRun t_current;
std::atomic<std::uint64_t> g_next_id{1};

}  // namespace

LineRunScope::LineRunScope(std::string_view run) : prev_(t_current) {
  t_current = LineRun{run, g_next_id.fetch_add(1, std::memory_order_relaxed)};
}

LineRunScope::~LineRunScope() { t_current = prev_; }

LineRun LineRunScope::current() { return t_current; }

LineRunBatcher::LineRunBatcher(Fn fn, std::size_t run_bytes)
    : fn_(std::move(fn)), run_bytes_(run_bytes) {
  run_.reserve(run_bytes_ + 1);
}

void LineRunBatcher::push(std::string_view text, std::string_view level) {
  if (text.size() >= run_bytes_) {
    flush();
    fn_(text, level);
    return;
  }
  if (run_.size() + text.size() + 1 > run_bytes_) flush();
  Entry e{static_cast<std::uint32_t>(run_.size()), static_cast<std::uint32_t>(text.size()),
          last_level_off_, last_level_len_};
  if (std::string_view(levels_).substr(last_level_off_, last_level_len_) != level) {
    e.level_off = last_level_off_ = static_cast<std::uint32_t>(levels_.size());
    e.level_len = last_level_len_ = static_cast<std::uint32_t>(level.size());
    levels_.append(level);
  }
  run_.append(text);
  run_.push_back('\n');
  entries_.push_back(e);
}

void LineRunBatcher::flush() {
  if (!entries_.empty()) {
    const std::string_view run(run_), levels(levels_);
    LineRunScope scope(run);
    for (const Entry& e : entries_)
      fn_(run.substr(e.text_off, e.text_len), levels.substr(e.level_off, e.level_len));
  }
  run_.clear();
  levels_.clear();
  entries_.clear();
  last_level_off_ = last_level_len_ = 0;
}

}  // namespace dm::logs
