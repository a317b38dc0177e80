// The Diagnose pipeline in one call: redact → tail → extract → signature → category.
//
// Every byte goes through the Redactor before anything else keeps it, so every text in a
// Diagnosis (error, message, lines, frames, chain) has been redacted. Memory is bounded by the
// tail options whatever the input size; the JSON form of a Diagnosis stays under
// max_output_bytes (relevant lines, then chain links, then frames are dropped to fit — the root
// cause line and the signature always stay), and every string in it under kMaxFieldBytes.
// Only the tail of the log is analysed (TailOptions::max_lines, default 400 lines): an error far
// before the end of a very long log is not seen.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "logs/category.h"
#include "logs/extract.h"
#include "logs/redact.h"
#include "logs/signature.h"
#include "logs/tail.h"

namespace dm::logs {

struct DiagnoseOptions {
  // Lines are kept long enough for Airflow 3 JSON events with a structured traceback.
  TailOptions tail{400, 5000, 16 * 1024, 32 * 1024};
  ExtractOptions extract{};
  std::size_t max_output_bytes = 16 * 1024;
  std::shared_ptr<const Redactor> redactor;        // null: Redactor::builtin()
  std::shared_ptr<const Categorizer> categorizer;  // null: Categorizer::builtin()
};

struct Diagnosis {
  bool found = false;          // an error was found
  std::string signature;       // 12 hex digits ("" when nothing was found)
  std::string signature_text;  // the masked template behind it
  Category category;           // name, action, risk, reason, rule_id
  std::string kind;            // error_kind_name()
  std::string exception_type;
  std::string message;
  std::string error;             // the root-cause line
  std::uint64_t error_line = 0;  // its line number (0: none)
  int exit_code = 0;
  std::vector<RelevantLine> lines;
  std::vector<Frame> frames;
  std::vector<ChainLink> chain;
  std::size_t other_errors = 0;  // further findings in the tail besides the primary one
  struct TailStats {
    std::uint64_t total_lines = 0, total_bytes = 0, tail_lines = 0;
    bool truncated = false;
    template <class V>
    void fields(V& v) const {
      v.field("total_lines", total_lines, "Lines in the log");
      v.field("total_bytes", total_bytes, "Bytes in the log");
      v.field("tail_lines", tail_lines, "Lines analysed (the last ones)");
      v.field("truncated", truncated, "The tail was cut to its byte bound");
    }
  } tail;

  // Its JSON shape (common/json_shape.h); to_json() below writes it.
  template <class V>
  void fields(V& v) const {
    v.field("found", found, "An error was found");
    v.field("signature", signature, "Stable id of the error (\"\" when none)");
    v.field("signature_text", signature_text, "The masked template behind the signature");
    v.field("category", category.name, "Error category");
    v.field("action", category.action, "Proposed next step");
    v.one_of("risk", category.risk, {"low", "medium", "high"}, "Risk of that step");
    v.field("reason", category.reason, "Why that step");
    v.field("rule", category.rule_id, "Category rule that matched");
    v.field("kind", kind, "How the error was found");
    v.field("exception_type", exception_type, "Exception type, as written");
    v.field("message", message, "Root-cause message");
    v.field("error", error, "The root-cause line");
    v.field("error_line", error_line, "Its line number (0: none)");
    v.maybe("exit_code", exit_code == 0 ? std::nullopt : std::optional(exit_code),
            "Exit code of a failed command");
    v.field("lines", lines, "Relevant lines with their numbers");
    v.field("frames", frames, "Stack frames, outermost first");
    v.field("chain", chain, "Exceptions of the chain, root cause first");
    v.field("other_errors", other_errors, "Further errors in the tail");
    v.field("tail", tail, "What was read");
  }
};

// Streaming form: feed chunks of any size (feed) or whole lines (feed_line), then finish().
// Not thread-safe (one per log).
class DiagnoseStream {
 public:
  // Errors: internal if the builtin redaction or category rules cannot load.
  static Result<std::unique_ptr<DiagnoseStream>> create(DiagnoseOptions opt = {});
  // Bytes: lines are found by '\n' (a trailing '\r' dropped).
  void feed(std::string_view chunk);
  // One whole line from a source that already split its log into lines (Airflow's LogLine): it
  // goes through RedactStream::feed_line into Tail::push once, as a view — never joined with a
  // '\n' and split again, so an embedded '\r' or '\n' stays in this one line and line numbers
  // match the source's lines. `level` (may be empty) is kept with the tail line. Do not mix with
  // feed() inside one line.
  void feed_line(std::string_view text, std::string_view level = {});
  Diagnosis finish();

 private:
  explicit DiagnoseStream(DiagnoseOptions opt);
  DiagnoseOptions opt_;
  std::unique_ptr<RedactStream> redact_;
  Tail tail_;
};

Result<Diagnosis> diagnose(std::string_view text, DiagnoseOptions opt = {});

// Builds the Diagnosis from lines that are ALREADY REDACTED (used by DiagnoseStream; exposed for
// callers that ran the redactor and tail themselves).
Diagnosis diagnose_redacted_lines(const std::vector<LogLine>& lines, const Categorizer& cat,
                                  const ExtractOptions& opt, std::size_t max_output_bytes);

// JSON object (the shape `dagmedic logs extract` prints). Never throws; invalid UTF-8 is replaced.
nlohmann::json to_json(const Diagnosis& d);

}  // namespace dm::logs
