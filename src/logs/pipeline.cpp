#include "logs/pipeline.h"

#include <algorithm>

#include "common/json_shape.h"

namespace dm::logs {
namespace {

using nlohmann::json;

// Strings in a Diagnosis may hold any bytes a log held; json stores them as-is and the dump
// below replaces invalid UTF-8, so nothing throws.
std::size_t dumped_size(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace).size();
}

}  // namespace

json to_json(const Diagnosis& d) { return shape::to_json(d); }

Diagnosis diagnose_redacted_lines(const std::vector<LogLine>& lines, const Categorizer& cat,
                                  const ExtractOptions& opt, std::size_t max_output_bytes) {
  Diagnosis d;
  Extraction ex = extract_errors(lines, opt);
  const ExtractedError* e = ex.primary_error();
  d.category = cat.categorize(e, nullptr);
  if (e) {
    Signature sig = signature_of(*e);
    d.category = cat.categorize(e, &sig);
    d.found = true;
    d.signature = sig.id;
    d.signature_text = cap_utf8(sig.text);
    d.kind = error_kind_name(e->kind);
    d.exception_type = e->exception_type;
    d.message = e->message;
    d.error = e->root_cause_line;
    d.error_line = e->root_cause_line_number;
    d.exit_code = e->exit_code;
    d.lines = e->lines;
    d.frames = e->frames;
    d.chain = e->chain;
    d.other_errors = ex.errors.size() - 1;
  }
  // Fit the byte cap: drop relevant lines (never the root-cause one), then chain, then frames.
  // 160 bytes stay free for the tail statistics the caller fills in afterwards.
  std::size_t budget = max_output_bytes > 640 ? max_output_bytes - 160 : max_output_bytes;
  auto too_big = [&] { return dumped_size(to_json(d)) > budget; };
  // Cheap first pass: drop relevant lines by their approximate JSON size, then check exactly.
  std::size_t approx = dumped_size(to_json(d));
  for (std::size_t k = 0; approx > budget && k < d.lines.size();) {
    if (d.lines[k].number == d.error_line) {
      ++k;
      continue;
    }
    std::size_t sz = d.lines[k].text.size() + 24;
    d.lines.erase(d.lines.begin() + static_cast<long>(k));
    approx = approx > sz ? approx - sz : 0;
  }
  while (too_big()) {
    auto it = std::find_if(d.lines.begin(), d.lines.end(),
                           [&](const RelevantLine& l) { return l.number != d.error_line; });
    if (it != d.lines.end()) {
      d.lines.erase(it);
    } else if (!d.chain.empty()) {
      d.chain.pop_back();
    } else if (!d.frames.empty()) {
      d.frames.pop_back();
    } else if (!d.lines.empty()) {
      d.lines.clear();
    } else {
      // Only capped single fields remain; shorten the longest ones.
      d.message = cap_utf8(d.message, 256);
      d.error = cap_utf8(d.error, 256);
      d.signature_text = cap_utf8(d.signature_text, 256);
      break;
    }
  }
  return d;
}

DiagnoseStream::DiagnoseStream(DiagnoseOptions opt) : opt_(std::move(opt)), tail_(opt_.tail) {}

Result<std::unique_ptr<DiagnoseStream>> DiagnoseStream::create(DiagnoseOptions opt) {
  if (!opt.redactor) {
    auto r = Redactor::builtin();
    if (!r.ok()) return r.error();
    opt.redactor = r.value();
  }
  if (!opt.categorizer) {
    auto c = Categorizer::builtin();
    if (!c.ok()) return c.error();
    opt.categorizer = c.value();
  }
  std::unique_ptr<DiagnoseStream> s(new DiagnoseStream(std::move(opt)));
  s->redact_ = std::make_unique<RedactStream>(s->opt_.redactor);
  return s;
}

void DiagnoseStream::feed(std::string_view chunk) {
  redact_->feed(chunk, [this](std::string_view redacted) { tail_.feed(redacted); });
}

void DiagnoseStream::feed_line(std::string_view text, std::string_view level) {
  redact_->feed_line(text, [&](std::string_view redacted) { tail_.push(redacted, level); });
}

Diagnosis DiagnoseStream::finish() {
  redact_->finish([this](std::string_view redacted) { tail_.feed(redacted); });
  tail_.finish();
  std::vector<LogLine> lines;
  for (auto& l : tail_.lines()) lines.push_back(LogLine{l.number, std::move(l.text)});
  Diagnosis d =
      diagnose_redacted_lines(lines, *opt_.categorizer, opt_.extract, opt_.max_output_bytes);
  d.tail.total_lines = tail_.total_lines();
  d.tail.total_bytes = tail_.total_bytes();
  d.tail.tail_lines = lines.size();
  d.tail.truncated = tail_.truncated();
  return d;
}

Result<Diagnosis> diagnose(std::string_view text, DiagnoseOptions opt) {
  auto s = DiagnoseStream::create(std::move(opt));
  if (!s.ok()) return s.error();
  s.value()->feed(text);
  return s.value()->finish();
}

}  // namespace dm::logs
