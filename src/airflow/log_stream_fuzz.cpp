// libFuzzer target: EventLogDecoder on arbitrary bytes, differential. The body goes through the
// fast mode (FastEventDecoder first) and the reference mode (nlohmann for every line), whole and
// in chunks whose size the first input byte picks; the (text, level) lines, the outcome and the
// error message must be identical. Invariant: no crash, no difference (abort otherwise).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "airflow/log_stream.h"

using dm::airflow::EventLogDecoder;

namespace {

struct Out {
  std::vector<std::pair<std::string, std::string>> lines;
  bool ok = true;
  std::string error;
  std::size_t events = 0;
  bool operator==(const Out&) const = default;
};

Out run(std::string_view body, EventLogDecoder::Mode mode, std::size_t chunk) {
  Out o;
  EventLogDecoder d(
      [&](std::string_view t, std::string_view l) {
        o.lines.emplace_back(std::string(t), std::string(l));
        return o.lines.size() < 100000;
      },
      mode);
  bool go = true;
  for (std::size_t i = 0; go && i < body.size(); i += chunk) go = d.feed(body.substr(i, chunk));
  if (go) go = d.finish();
  o.ok = go;
  if (d.error()) o.error = d.error()->message;
  o.events = d.events();
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::size_t chunk = 1 + data[0] % 64;
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  Out ref = run(body, EventLogDecoder::Mode::reference, body.size() + 1);
  if (!(run(body, EventLogDecoder::Mode::fast, body.size() + 1) == ref)) std::abort();
  if (!(run(body, EventLogDecoder::Mode::fast, chunk) == ref)) std::abort();
  return 0;
}
