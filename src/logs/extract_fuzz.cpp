// libFuzzer target: extraction, signatures, categories, template mining and the JSON output on
// arbitrary bytes. Invariants: no crash, every copied field within its cap, the signature id is
// 12 hex digits, the JSON dump of a Diagnosis never throws and stays under its byte cap.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "logs/category.h"
#include "logs/extract.h"
#include "logs/pipeline.h"
#include "logs/signature.h"
#include "logs/template.h"

using namespace dm::logs;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto cat = Categorizer::builtin();
  if (!cat.ok()) std::abort();
  std::string_view text(reinterpret_cast<const char*>(data), size);

  Extraction x = extract_errors(text);
  for (const ExtractedError& e : x.errors) {
    if (e.message.size() > kMaxFieldBytes || e.root_cause_line.size() > kMaxFieldBytes)
      std::abort();
    for (const auto& l : e.lines) {
      if (l.text.size() > kMaxFieldBytes) std::abort();
    }
    Signature s = signature_of(e);
    if (s.id.size() != 12) std::abort();
    (void)cat.value()->categorize(&e, &s);
  }

  // The pipeline without the redactor (covered by redact_fuzz): lines as they come.
  std::vector<LogLine> lines;
  std::uint64_t n = 1;
  std::size_t start = 0;
  while (start <= text.size() && lines.size() < 4096) {
    std::size_t nl = text.find('\n', start);
    lines.push_back(LogLine{
        n++, std::string(text.substr(
                 start, nl == std::string_view::npos ? std::string_view::npos : nl - start))});
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  Diagnosis d = diagnose_redacted_lines(lines, *cat.value(), ExtractOptions{}, 4096);
  std::string out = to_json(d).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (out.size() > 4096) std::abort();

  TemplateOptions to;
  to.max_clusters = 8;
  TemplateMiner m(to);
  for (const LogLine& l : lines) {
    std::uint64_t id = m.add(l.text);
    if (m.template_of(id).size() > 4 * to.max_line_bytes) std::abort();
  }
  if (m.clusters().size() > 8) std::abort();
  return 0;
}
