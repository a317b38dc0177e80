#include "logs/tail.h"

#include <algorithm>
#include <cstring>

namespace dm::logs {

std::string_view utf8_prefix(std::string_view s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t n = max;
  // Step back over continuation bytes (10xxxxxx) so a multi-byte sequence is never split.
  std::size_t back = 0;
  while (n > 0 && back < 4 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) {
    --n;
    ++back;
  }
  if (back == 4) n = max;  // not UTF-8 after all: plain byte cut
  return s.substr(0, n);
}

namespace {
constexpr std::size_t kMaxLevelBytes = 32;

std::string cut_marker(std::uint64_t dropped) {
  return "\xE2\x80\xA6[cut " + std::to_string(dropped) + " bytes]";
}
}  // namespace

Tail::Tail(TailOptions opt) : opt_(opt) {
  opt_.max_lines = std::min(opt_.max_lines, opt_.hard_max_lines);
}

void Tail::feed(std::string_view chunk) {
  total_bytes_ += chunk.size();
  while (!chunk.empty()) {
    const void* p = std::memchr(chunk.data(), '\n', chunk.size());
    const std::size_t k =
        p ? static_cast<std::size_t>(static_cast<const char*>(p) - chunk.data()) : chunk.size();
    // Keep one byte more than the cap so that a '\r' before '\n' or the UTF-8 boundary can be
    // judged; bytes beyond are only counted (flat memory).
    const std::size_t keep_cap = opt_.max_line_bytes + 4;
    if (cur_.size() < keep_cap) cur_.append(chunk.substr(0, std::min(k, keep_cap - cur_.size())));
    cur_bytes_ += k;
    if (!p) break;
    push_line();
    chunk.remove_prefix(k + 1);
  }
}

void Tail::finish() {
  if (cur_bytes_ > 0) push_line();
}

void Tail::push(std::string_view line, std::string_view level) {
  if (cur_bytes_ > 0) push_line();
  total_bytes_ += line.size() + 1;
  ++total_lines_;
  keep_line(line, line.size(), level);
}

void Tail::push_line(std::string_view level) {
  ++total_lines_;
  std::uint64_t len = cur_bytes_;
  std::string_view v(cur_);
  // Drop a trailing '\r' (CRLF logs) when we still hold the end of the line.
  if (len == v.size() && !v.empty() && v.back() == '\r') {
    v.remove_suffix(1);
    --len;
  }
  keep_line(v, len, level);
  cur_.clear();
  cur_bytes_ = 0;
}

// `v` holds at least the first min(len, max_line_bytes + 1) bytes of a line of `len` bytes.
void Tail::keep_line(std::string_view v, std::uint64_t len, std::string_view level) {
  if (opt_.max_lines == 0) return;
  Line* slot;
  if (ring_.size() >= opt_.max_lines) {
    // Overwrite the oldest line (its buffers reused: a steady stream allocates nothing).
    slot = &ring_[first_];
    if (++first_ == ring_.size()) first_ = 0;
  } else {
    slot = &ring_.emplace_back();
  }
  Line& l = *slot;
  l.number = total_lines_;
  if (len > opt_.max_line_bytes) {
    const std::string_view keep = utf8_prefix(v, opt_.max_line_bytes);
    l.text.assign(keep);
    l.text += cut_marker(len - keep.size());
    l.cut = true;
  } else {
    l.text.assign(v.substr(0, static_cast<std::size_t>(len)));
    l.cut = false;
  }
  l.level.assign(utf8_prefix(level, kMaxLevelBytes));
}

std::vector<Tail::Line> Tail::lines() const {
  std::vector<Line> v;
  v.reserve(ring_.size());
  for (std::size_t i = 0; i < ring_.size(); ++i) v.push_back(at(i));
  return v;
}

bool Tail::truncated() const {
  if (total_lines_ > ring_.size()) return true;
  return std::any_of(ring_.begin(), ring_.end(), [](const Line& l) { return l.cut; });
}

std::string Tail::text() const {
  const std::size_t cap = opt_.max_bytes;
  // Newest lines first until the cap (with room for the omission line) is reached.
  std::size_t used = 0, take = 0;
  const std::size_t n = ring_.size();
  const std::uint64_t before = total_lines_ - n;  // lines already dropped by max_lines
  for (std::size_t i = n; i-- > 0;) {
    const std::size_t add = at(i).text.size() + (take > 0 ? 1 : 0);
    if (used + add > cap) break;
    used += add;
    ++take;
  }
  std::string out;
  std::uint64_t omitted = before + (n - take);
  if (omitted > 0) {
    std::string head = "\xE2\x80\xA6[" + std::to_string(omitted) + " earlier lines omitted]";
    // Make room for the omission line by dropping more old lines if needed.
    while (take > 0 && used + head.size() + 1 > cap) {
      const std::size_t i = n - take;
      used -= at(i).text.size() + (take > 1 ? 1 : 0);
      --take;
      ++omitted;
      head = "\xE2\x80\xA6[" + std::to_string(omitted) + " earlier lines omitted]";
    }
    if (take == 0 && n > 0) {
      // Not even the newest line fits: show its beginning, cut to fit.
      const std::string& last = at(n - 1).text;
      const std::uint64_t shown_omitted = omitted - 1;
      const std::string h = shown_omitted ? "\xE2\x80\xA6[" + std::to_string(shown_omitted) +
                                                " earlier lines omitted]\n"
                                          : std::string();
      const std::size_t mark = cut_marker(last.size()).size();
      if (h.size() + mark < cap) {
        const std::string_view keep = utf8_prefix(last, cap - h.size() - mark);
        return std::string(
            utf8_prefix(h + std::string(keep) + cut_marker(last.size() - keep.size()), cap));
      }
    }
    out = head;
    if (take > 0) out += '\n';
  }
  for (std::size_t i = n - take; i < n; ++i) {
    out += at(i).text;
    if (i + 1 < n) out += '\n';
  }
  return std::string(utf8_prefix(out, cap));
}

}  // namespace dm::logs
