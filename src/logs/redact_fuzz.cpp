// libFuzzer target (built with -DDM_FUZZ=ON, clang): redaction and tail never crash, and
// invariants hold for any bytes: streaming in any chunks == whole-buffer redaction, newlines are
// kept, and the tail respects its caps.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "logs/redact.h"
#include "logs/tail.h"

namespace {
const std::shared_ptr<const dm::logs::Redactor>& redactor() {
  static const auto r = [] {
    auto b = dm::logs::Redactor::builtin();
    if (!b) std::abort();
    return *b;
  }();
  return r;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const unsigned seed_a = data[0] % 64 + 1, seed_b = data[1];
  const std::string_view in(reinterpret_cast<const char*>(data) + 2, size - 2);
  const auto& r = redactor();

  const std::string whole = r->redact(in);
  std::string streamed;
  dm::logs::RedactStream s(r);
  auto sink = [&](std::string_view v) { streamed.append(v); };
  std::size_t pos = 0, k = 0;
  while (pos < in.size()) {
    const std::size_t n = 1 + (seed_a * (k + 1) + seed_b * k * k) % 97;
    s.feed(in.substr(pos, n), sink);
    pos += n;
    ++k;
  }
  s.finish(sink);
  if (streamed != whole) std::abort();
  std::size_t nl_in = 0, nl_out = 0;
  for (char c : in) nl_in += c == '\n';
  for (char c : whole) nl_out += c == '\n';
  if (nl_in != nl_out) std::abort();

  dm::logs::Tail t(
      {.max_lines = seed_a, .max_bytes = 64u + seed_b * 4u, .max_line_bytes = 8u + seed_b});
  for (std::size_t p = 0; p < whole.size(); p += seed_a)
    t.feed(std::string_view(whole).substr(p, seed_a));
  t.finish();
  if (t.lines().size() > seed_a) std::abort();
  if (t.text().size() > 64u + seed_b * 4u) std::abort();
  if (t.total_bytes() != whole.size()) std::abort();
  return 0;
}
