// Variable masking shared by signatures and template mining: one left-to-right pass, no regex,
// no allocation beyond appending to the caller's buffer (fast enough for millions of lines/s).
//
// The text is seen as runs of ASCII letters/digits ("segments") separated by anything else;
// separators are copied as they are. Rules, applied where a segment starts:
//   run ids        manual__…, scheduled__…, backfill__…, dataset_triggered__…, asset_triggered__…
//                  up to whitespace, a quote, '/', ',', ';' or a bracket           -> <run_id>
//   UUIDs          8-4-4-4-12 hex                                                  -> <uuid>
//   dates          2026-01-01, 2026/01/01 (+ time, fraction, zone: 2026-01-01T00:00:00.1+00:00
//                  or "2026-01-01 00:00:00,123")                                   -> <date> / <ts>
//   times          00:00:00(.123)                                                  -> <time>
//   temp dirs      the path component after /tmp/ or /var/folders/, tmpXXXXXXXX    -> <tmp>
//   numbers        a digit-only segment                                            -> <n>
//                  (signature mode keeps "cause" numbers: after errno/code/status/exit/signal/
//                  http/error/sqlstate, HTTP-like 400-599, SQL codes "1146 (42S02)", "(1054, ")
//   ids            a segment mixing letters and digits (hex, base62, k8s pod suffixes)
//                                                                                  -> <id>
//                  except word+1-3 digits (int64, v2, s3, ec2) kept, and
//                  digits+unit (512MB, 30s) -> <n>MB
//   SQLSTATE       a 5-character segment in parentheses "(42S02)"                  -> kept
// Letters-only segments stay: they are what names the cause (column, table, module, bucket).
// Deterministic; pure; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace dm::logs {

enum class MaskMode {
  templates,  // every number is variable
  signature,  // numbers that name the cause (exit codes, errno, HTTP status, SQL codes) stay
};

// Capacity the raw form needs for an input of n bytes. The largest growth is a lone digit between
// separators ("1" -> "<n>"), 3x; 4n + 16 leaves margin.
constexpr std::size_t mask_bound(std::size_t n) { return 4 * n + 16; }

// Raw form, for hot loops: writes the masked form of `in` to out[0, r) and returns r.
// Requires: `out` has room for mask_bound(in.size()) bytes.
// On x86-64 (SSE2) inputs up to 4096 bytes are classified 16 bytes per step into bitmaps and
// stretches no rule can touch are copied in bulk; output is byte-identical to the byte-at-a-time
// engine below (mask_variables_scalar_into), which other targets and longer inputs use.
std::size_t mask_variables_into(std::string_view in, MaskMode mode, char* out);

// Where a masking depended on the VALUE of ASCII digits rather than only on where digits are.
struct MaskDigitUse {
  static constexpr int kMaxRanges = 8;
  // Input ranges [off, off + len) of digits copied to the output ("int64" -> the "64",
  // "(42S02)" -> "42S02").
  std::uint16_t off[kMaxRanges] = {}, len[kMaxRanges] = {};
  int ranges = 0;
  // Digit values used beyond those ranges (signature mode's protected numbers compare digits
  // with given digits; or more than kMaxRanges ranges / offsets past 65535).
  bool values = false;
  // Offsets of the UUIDs masked (the 8-4-4-4-12 rule fired there), in order; more than
  // kMaxRanges sets `values`.
  std::uint16_t uuid_off[kMaxRanges] = {};
  int uuids = 0;
  void add(std::size_t off, std::size_t len);
};

// Same, and reports in `digits` where the output depended on digit values. Promise: when
// !digits.values, every input with the same length, the same bytes except digits, digits at the
// same positions, and the same digits in digits' ranges masks to the same output (digit
// substitutions outside the ranges change nothing): what the shape memo (line_shape.h) relies on.
std::size_t mask_variables_into(std::string_view in, MaskMode mode, char* out,
                                MaskDigitUse& digits);

// The byte-at-a-time reference engine: same contract and output as mask_variables_into.
std::size_t mask_variables_scalar_into(std::string_view in, MaskMode mode, char* out);

// Appends the masked form of `in` to `out`.
void mask_variables(std::string_view in, MaskMode mode, std::string& out);

inline std::string mask_variables(std::string_view in, MaskMode mode) {
  std::string out;
  mask_variables(in, mode, out);
  return out;
}

}  // namespace dm::logs
