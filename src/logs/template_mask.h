// Variable masking for template mining, byte-for-byte the output of
// mask_variables(in, MaskMode::templates, out) (signature_mask.h), but written into a caller's raw
// buffer: no std::string growth checks per appended piece. Masking is ~90% of the CPU of
// `dagmedic logs templates` (a cache hit on the masked line is cheap), so this is its hot loop.
// Pure, deterministic, thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

namespace dm::logs {

// Capacity `out` must have for an input of n bytes. The largest growth is a lone digit between
// separators ("1" -> "<n>"), 3x; 4n + 16 leaves margin.
constexpr std::size_t template_mask_bound(std::size_t n) { return 4 * n + 16; }

// Writes the masked form of `in` to out[0, r) and returns r.
// Requires: out has room for template_mask_bound(in.size()) bytes.
std::size_t mask_template(std::string_view in, char* out);

}  // namespace dm::logs
