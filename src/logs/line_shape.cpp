#include "logs/line_shape.h"

#include <algorithm>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#define DM_SHAPE_X86 1
#include <immintrin.h>
#else
#define DM_SHAPE_X86 0
#endif

namespace dm::logs {
namespace {

// 64x64 -> 128 multiply folded to 64 bits (wyhash's "mum"): good mixing, one instruction.
inline std::uint64_t mum(std::uint64_t a, std::uint64_t b) {
#if defined(__SIZEOF_INT128__)
  const unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
  return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
#else
  const std::uint64_t r = a * (b | 1);
  return r ^ (r >> 29);
#endif
}

// Hash of the skeleton out[0, n) whose bytes up to the next multiple of 16 are zero. Chunks are
// mixed independently and summed (no serial dependency between them), the chunk index keyed in.
std::uint64_t skeleton_hash(const char* s, std::size_t n) {
  constexpr std::uint64_t k1 = 0xa0761d6478bd642full, k2 = 0xe7037ed1a0b428dbull,
                          k3 = 0x8ebc6af09c88c6e3ull;
  std::uint64_t acc = mum(n ^ k1, k2);
  std::uint64_t key = k3;
  for (std::size_t i = 0; i < n; i += 16) {
    std::uint64_t a, b;
    std::memcpy(&a, s + i, 8);
    std::memcpy(&b, s + i + 8, 8);
    acc += mum(a ^ k1 ^ key, b ^ k2);
    key += k3;
  }
  return mum(acc, k1 ^ n);
}

#if DM_SHAPE_X86
// One 32-byte step (a lambda would not inherit the target attribute).
__attribute__((target("avx2"))) inline void skeleton32(const char* src, char* dst) {
  const __m256i c0 = _mm256_set1_epi8('0'), c9 = _mm256_set1_epi8(9);
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
  const __m256i t = _mm256_sub_epi8(v, c0);  // digit: (c - '0') unsigned <= 9
  const __m256i d = _mm256_cmpeq_epi8(_mm256_min_epu8(t, c9), t);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm256_blendv_epi8(v, c0, d));
}

__attribute__((target("avx2"))) void skeleton_avx2(const char* in, std::size_t n, char* out) {
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) skeleton32(in + i, out + i);
  alignas(32) char tail[32] = {};
  if (n > i) std::memcpy(tail, in + i, n - i);  // in may be null when n == 0
  skeleton32(tail, out + i);                    // zeros stay zeros: out[n, i + 32) is zero
}

// AVX-512BW/VL: the tail is a masked load (masked-off bytes neither read nor faulted, they load
// as zeros), so no copy through a stack buffer.
__attribute__((target("avx2,avx512bw,avx512vl,bmi2"))) void skeleton_avx512(const char* in,
                                                                            std::size_t n,
                                                                            char* out) {
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) skeleton32(in + i, out + i);
  const __m256i c0 = _mm256_set1_epi8('0'), c9 = _mm256_set1_epi8(9);
  const __mmask32 m = _bzhi_u32(0xffffffffu, static_cast<unsigned>(n - i));
  const __m256i v = _mm256_maskz_loadu_epi8(m, in + i);
  const __m256i t = _mm256_sub_epi8(v, c0);
  const __m256i d = _mm256_cmpeq_epi8(_mm256_min_epu8(t, c9), t);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm256_blendv_epi8(v, c0, d));
}
#endif

#if defined(__SSE2__)
void skeleton_sse2(const char* in, std::size_t n, char* out) {
  const __m128i c0 = _mm_set1_epi8('0'), c9 = _mm_set1_epi8(9);
  auto one = [&](const char* src, char* dst) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
    const __m128i t = _mm_sub_epi8(v, c0);
    const __m128i d = _mm_cmpeq_epi8(_mm_min_epu8(t, c9), t);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst),
                     _mm_or_si128(_mm_and_si128(d, c0), _mm_andnot_si128(d, v)));
  };
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) one(in + i, out + i);
  alignas(16) char tail[16] = {};
  if (n > i) std::memcpy(tail, in + i, n - i);
  one(tail, out + i);
}
#endif

void skeleton_scalar(const char* in, std::size_t n, char* out) {
  for (std::size_t i = 0; i < n; ++i) {
    const char c = in[i];
    out[i] = (c >= '0' && c <= '9') ? '0' : c;
  }
  std::memset(out + n, 0, 16);
}

using SkeletonFn = void (*)(const char*, std::size_t, char*);

SkeletonFn pick() {
#if DM_SHAPE_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("bmi2")) {
    return skeleton_avx512;
  }
  if (__builtin_cpu_supports("avx2")) return skeleton_avx2;
#endif
#if defined(__SSE2__)
  return skeleton_sse2;
#else
  return skeleton_scalar;
#endif
}

}  // namespace

std::uint64_t line_skeleton(std::string_view in, char* out) {
  static const SkeletonFn skeleton = pick();  // once; the CPU does not change under us
  skeleton(in.data(), in.size(), out);
  return skeleton_hash(out, in.size());
}

namespace {
inline bool hexc(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
inline bool alnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
}  // namespace

int uuid_spans(std::string_view line, std::uint16_t* offs, int max) {
  int count = 0;
  const char* s = line.data();
  const std::size_t n = line.size();
  std::size_t from = 8;  // the first '-' of a span is 8 bytes in
  while (from + 28 <= n) {
    const void* hit = std::memchr(s + from, '-', n - 28 - from + 1);
    if (!hit) break;
    const std::size_t d = static_cast<std::size_t>(static_cast<const char*>(hit) - s);
    from = d + 1;
    const std::size_t p = d - 8;
    if (s[d + 5] != '-' || s[d + 10] != '-' || s[d + 15] != '-') continue;
    if (p + 36 < n && alnum(s[p + 36])) continue;
    if (p > 0) {
      const char b = s[p - 1];
      if (alnum(b) || b == '-' || b == '+' || b == '.' || b == ',' || b == ':' || b == '_') {
        continue;
      }
    }
    bool ok = true;
    for (std::size_t k = 0; k < 36 && ok; ++k) {
      if (k == 8 || k == 13 || k == 18 || k == 23) continue;
      ok = hexc(s[p + k]);
    }
    if (!ok) continue;
    if (count == max || p > 0xffff) return -1;
    offs[count++] = static_cast<std::uint16_t>(p);
    from = p + 36;
  }
  return count;
}

std::uint64_t canonicalise_uuids(char* skel, std::size_t n, const std::uint16_t* offs, int count) {
  for (int k = 0; k < count; ++k) {
    char* p = skel + offs[k];
    for (std::size_t q = 0; q < 36; ++q) {
      if (q != 8 && q != 13 && q != 18 && q != 23) p[q] = '0';
    }
  }
  return skeleton_hash(skel, n);
}

std::uint64_t line_skeleton_scalar(std::string_view in, char* out) {
  skeleton_scalar(in.data(), in.size(), out);
  return skeleton_hash(out, in.size());
}

bool ShapeMemo::pins_match(const Entry& e, std::string_view line, const std::uint16_t* spans,
                           int nspans) const {
  if (e.spans != nspans) return false;
  const char* p = arena_.data() + e.off + e.skel_len + e.masked_len;
  const char* bytes = p + 4u * e.pins;
  for (std::uint16_t k = 0; k < e.pins; ++k) {
    std::uint16_t off, len;
    std::memcpy(&off, p + 4u * k, 2);
    std::memcpy(&len, p + 4u * k + 2, 2);
    if (std::size_t(off) + len > line.size() || std::memcmp(line.data() + off, bytes, len) != 0) {
      return false;
    }
    bytes += len;
  }
  return nspans == 0 || std::memcmp(bytes, spans, 2u * static_cast<unsigned>(nspans)) == 0;
}

bool ShapeMemo::find(std::string_view skel, std::uint64_t h, std::string_view line,
                     const std::uint16_t* spans, int nspans, Found& f) {
  ++lookups_;
  if (table_.empty()) return false;
  std::size_t i = h & mask_;
  for (std::size_t probe = 0; probe < kMaxProbe; ++probe, i = (i + 1) & mask_) {
    const Entry& e = table_[i];
    if (!e.used) return false;
    if (e.hash == h && e.skel_len == skel.size() &&
        (skel.empty() || std::memcmp(arena_.data() + e.off, skel.data(), skel.size()) == 0) &&
        ((e.pins | e.spans) == 0 ? nspans == 0 : pins_match(e, line, spans, nspans))) {
      f.masked = std::string_view(arena_.data() + e.off + e.skel_len, e.masked_len);
      f.masked_hash = e.masked_hash;
      ++hits_;
      return true;
    }
  }
  return false;
}

void ShapeMemo::insert(std::string_view skel, std::uint64_t h, std::string_view line,
                       const std::uint16_t* spans, int nspans, const MaskDigitUse& use,
                       std::string_view masked, std::uint64_t masked_hash) {
  if (use.values || nspans < 0 || nspans != use.uuids) return;
  for (int k = 0; k < nspans; ++k) {
    if (spans[k] != use.uuid_off[k]) return;  // the masker did not fire where the key assumes
  }
  std::size_t pin_bytes = 0;
  for (int k = 0; k < use.ranges; ++k) {
    if (std::size_t(use.off[k]) + use.len[k] > line.size()) return;
    pin_bytes += 4u + use.len[k];
  }
  pin_bytes += 2u * static_cast<unsigned>(nspans);
  const std::size_t need = skel.size() + masked.size() + pin_bytes;
  if (need > 0xffffffffu) return;
  if (used_bytes_ + need + 64 > cap_) {
    clear();
    ++clears_;
    if (need + 64 > cap_) return;
  }
  if ((count_ + 1) * 2 > table_.size()) grow();
  std::size_t i = h & mask_;
  for (std::size_t probe = 0; probe < kMaxProbe; ++probe, i = (i + 1) & mask_) {
    Entry& e = table_[i];
    if (!e.used) {
      e.hash = h;
      e.masked_hash = masked_hash;
      e.off = static_cast<std::uint32_t>(arena_.size());
      e.skel_len = static_cast<std::uint32_t>(skel.size());
      e.masked_len = static_cast<std::uint32_t>(masked.size());
      e.pins = static_cast<std::uint16_t>(use.ranges);
      e.spans = static_cast<std::uint16_t>(nspans);
      e.used = true;
      arena_.insert(arena_.end(), skel.begin(), skel.end());
      arena_.insert(arena_.end(), masked.begin(), masked.end());
      for (int k = 0; k < use.ranges; ++k) {
        char pair[4];
        std::memcpy(pair, &use.off[k], 2);
        std::memcpy(pair + 2, &use.len[k], 2);
        arena_.insert(arena_.end(), pair, pair + 4);
      }
      for (int k = 0; k < use.ranges; ++k) {
        arena_.insert(arena_.end(), line.begin() + use.off[k],
                      line.begin() + use.off[k] + use.len[k]);
      }
      const char* sp = reinterpret_cast<const char*>(spans);
      arena_.insert(arena_.end(), sp, sp + 2 * nspans);
      used_bytes_ += need + 64;
      ++count_;
      return;
    }
    if (e.hash == h && e.skel_len == skel.size() &&
        (skel.empty() || std::memcmp(arena_.data() + e.off, skel.data(), skel.size()) == 0) &&
        ((e.pins | e.spans) == 0 ? nspans == 0 : pins_match(e, line, spans, nspans))) {
      return;  // this line would have found it
    }
  }
}

void ShapeMemo::clear() {
  std::fill(table_.begin(), table_.end(), Entry{});
  arena_.clear();
  count_ = 0;
  used_bytes_ = 0;
}

void ShapeMemo::grow() {
  std::vector<Entry> old = std::move(table_);
  table_.assign(old.empty() ? 1024 : old.size() * 2, Entry{});
  mask_ = table_.size() - 1;
  for (const Entry& e : old) {
    if (!e.used) continue;
    std::size_t i = e.hash & mask_;
    for (std::size_t probe = 0; probe < kMaxProbe; ++probe, i = (i + 1) & mask_) {
      if (!table_[i].used) {
        table_[i] = e;
        break;
      }
      if (probe + 1 == kMaxProbe) --count_;  // dropped: a later lookup misses, no harm
    }
  }
}

}  // namespace dm::logs
