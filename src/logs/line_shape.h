// Line shapes: a memo in front of the masker (signature_mask.h) for template mining.
//
// Most lines of a real log repeat a shape and differ only in their digits. The *skeleton* of a
// line is the line with every ASCII digit replaced by '0' (all other bytes unchanged, same length).
// In templates mode the masker decides on digits only by their class (is it a digit?) except where
// it copies digits to its output ("int64", "s3", "(42S02)"); mask_variables_into(..., MaskDigitUse)
// reports those ranges. So every line with the same skeleton and the same digits in those ranges
// masks to the same output, and ShapeMemo maps (skeleton, pinned digits) -> masked line (+ its
// template_hash) to skip the masker. Second level: UUID-shaped spans (uuid_spans) have their hex
// letters canonicalised in the key too; an entry records the span offsets, and a line is stored
// only if the masker's UUID rule fired exactly on those spans (MaskDigitUse::uuid_off), so the
// span's letters were only ever seen as "hex". Exact by construction: keys, spans and pinned
// digits are compared byte for byte (the hash only picks the slot), lines whose masking read digit
// values in other ways (MaskDigitUse::values) are never stored; checked by a differential test
// (line_shape_test.cpp: random substitutions of digits outside the pinned ranges and of hex
// characters inside the spans never change the output).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "logs/signature_mask.h"

namespace dm::logs {

// UUID-shaped spans the shape key canonicalises: p where line[p, p + 36) is 8-4-4-4-12 hex
// digits/letters with '-', line[p + 36] (if any) is no ASCII letter/digit, and line[p - 1] (if
// any) is no letter/digit and none of - + . , : _ (after those a date/time or tmp rule of the
// masker may read into the span by class, so a letter and a digit there could mask differently).
// Writes up to `max` offsets; returns their count, or -1 if there are more.
int uuid_spans(std::string_view line, std::uint16_t* offs, int max);

// Turns the 32 hex characters of each span in skel (a skeleton) into '0' and returns the hash of
// the result (the same hash line_skeleton gives for that text). skel has skeleton_bound room,
// zero from skel.size() to the next multiple of 16, as line_skeleton leaves it.
std::uint64_t canonicalise_uuids(char* skel, std::size_t n, const std::uint16_t* offs, int count);

// Words of '-' bitmap line_shape_key needs as scratch for an input of n bytes.
constexpr std::size_t dash_words(std::size_t n) { return n / 32 + 4; }

// The memo key of a line in one pass: writes its skeleton to skel (as line_skeleton), finds its
// UUID spans (as uuid_spans, from a '-' bitmap the SIMD pass gathers, no second scan of the
// line), canonicalises them (as canonicalise_uuids) and sets h to the key's hash. Returns the span
// count, or -1 if more than max (h is then unset and the key not canonicalised). Requires: skel
// has skeleton_bound(line.size()) bytes, dash has dash_words(line.size()) words (scratch), offs
// has max. Pure; thread-safe.
int line_shape_key(std::string_view line, char* skel, std::uint32_t* dash, std::uint16_t* offs,
                   int max, std::uint64_t& h);

// Room line_skeleton needs in `out` for an input of n bytes (it stores whole 32-byte vectors).
constexpr std::size_t skeleton_bound(std::size_t n) { return n + 32; }

// Writes the skeleton of `in` to out[0, in.size()) and returns its hash (deterministic within a
// process; the same on every code path). Requires: out has skeleton_bound(in.size()) bytes; bytes
// past in.size() are scratch. Picks AVX2 / SSE2 / scalar at run time. Pure; thread-safe.
std::uint64_t line_skeleton(std::string_view in, char* out);
// The scalar reference (same output and hash); for tests and other CPUs.
std::uint64_t line_skeleton_scalar(std::string_view in, char* out);

// A slot a memo entry carries for its user (the miner: where the entry's masked line sits in its
// LineCache, see template.cpp). Not part of the memo's value: starts zeroed, dropped on clear().
struct MemoRoute {
  std::uint64_t epoch = 0;  // 0: unset
  std::uint64_t id = 0;
  std::uint32_t slot = 0;
};

// Skeleton -> (masked line, its template_hash). Open addressing over 8-byte slots; keys and
// values in one arena.
// Bounded: when the arena plus 64 bytes per entry would pass cap_bytes the memo is cleared (like
// the miner's LineCache; while held, at release()), so memory stays under about 2 * cap_bytes
// including the table.
// Copyable. Not thread-safe (one per thread). Never throws except std::bad_alloc.
class ShapeMemo {
 public:
  explicit ShapeMemo(std::size_t cap_bytes = 32u << 20) : cap_(cap_bytes) {}
  struct Found {
    std::string_view masked;  // valid until the next insert()/clear()
    std::uint64_t masked_hash;
    std::uint32_t masked_off;  // masked = arena() + masked_off, valid until the next clear()
    std::uint32_t seq;         // the entry's route(seq), valid until the next clear()
  };
  // The entry whose key equals `skel` (line's skeleton, UUID spans canonicalised; h its hash),
  // with the same UUID spans (offsets) and whose pinned digit ranges hold the same bytes in
  // `line`, if any.
  bool find(std::string_view skel, std::uint64_t h, std::string_view line,
            const std::uint16_t* spans, int nspans, Found& f);
  // Stores (skel, spans, line's bytes in use's ranges) -> masked unless such an entry is there.
  // Requires !use.values, use's ranges inside line, and spans == the UUIDs the masker fired on
  // (use.uuid_off). Gives up silently past a probe limit.
  void insert(std::string_view skel, std::uint64_t h, std::string_view line,
              const std::uint16_t* spans, int nspans, const MaskDigitUse& use,
              std::string_view masked, std::uint64_t masked_hash);
  void clear();
  // While held, a full memo does not clear on insert() (the insert is dropped and the clear
  // deferred to release()), so offsets and routes a batch still holds stay valid. Speed only.
  void hold() { held_ = true; }
  void release() {
    held_ = false;
    if (pending_clear_) {
      pending_clear_ = false;
      clear();
      ++clears_;
    }
  }
  const char* arena() const { return arena_.data(); }
  // Route slot of the entry a find() gave as f.seq. The route is the user's cache, not the memo's
  // value, hence reachable from a const memo. Requires seq from a find() since the last clear().
  MemoRoute* route(std::uint32_t seq) const { return &routes_[seq]; }

  std::size_t size() const { return count_; }
  std::uint64_t lookups() const { return lookups_; }
  std::uint64_t hits() const { return hits_; }
  std::uint64_t clears() const { return clears_; }

 private:
  static constexpr std::size_t kMaxProbe = 64;
  static constexpr std::uint32_t kEmpty = 0xffffffffu;
  // An entry's record in the arena: this header, then the skeleton, the masked line, the pinned
  // ranges ((off, len) u16 pairs, then their bytes) and the UUID span offsets (u16 each). One
  // record is contiguous, so a hit reads the 8-byte slot and then adjacent cache lines.
  struct Entry {
    std::uint64_t hash = 0;
    std::uint64_t masked_hash = 0;
    std::uint32_t skel_len = 0, masked_len = 0;
    std::uint16_t pins = 0, spans = 0;
    std::uint32_t seq = 0;  // index into routes_
  };
  // The table: 8 bytes a slot (the hash's high half as a tag, the record's arena offset), so its
  // probes stay in cache; the full hash and key are checked in the record.
  struct Slot {
    std::uint32_t tag = 0;
    std::uint32_t rec = kEmpty;
  };
  Entry entry(std::uint32_t rec) const;
  bool matches(std::uint32_t rec, const Entry& e, std::string_view skel, std::uint64_t h,
               std::string_view line, const std::uint16_t* spans, int nspans) const;
  bool pins_match(const Entry& e, std::uint32_t rec, std::string_view line,
                  const std::uint16_t* spans, int nspans) const;
  void grow();
  std::size_t cap_;
  std::vector<Slot> table_;
  std::size_t mask_ = 0, count_ = 0, used_bytes_ = 0;
  std::vector<char> arena_;
  mutable std::vector<MemoRoute> routes_;  // one per stored entry, in insertion order
  bool held_ = false, pending_clear_ = false;
  std::uint64_t lookups_ = 0, hits_ = 0, clears_ = 0;
};

}  // namespace dm::logs
