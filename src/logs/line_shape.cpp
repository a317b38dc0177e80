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

// a[0, n) == b[0, n), inline: memo keys are short and a libc memcmp call with its size dispatch
// cost more than the compare itself on the hit path.
inline bool same_bytes(const char* a, const char* b, std::size_t n) {
#if defined(__SSE2__)
  if (n >= 16) {
    auto eq16 = [](const char* x, const char* y) {
      const __m128i u = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x));
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(y));
      return _mm_movemask_epi8(_mm_cmpeq_epi8(u, v)) == 0xffff;
    };
    for (std::size_t i = 0; i + 16 < n; i += 16) {
      if (!eq16(a + i, b + i)) return false;
    }
    return eq16(a + n - 16, b + n - 16);  // the last 16 bytes (may overlap the loop's)
  }
#endif
  if (n >= 8) {
    std::uint64_t x0, y0, x1, y1;
    std::memcpy(&x0, a, 8);
    std::memcpy(&y0, b, 8);
    std::memcpy(&x1, a + n - 8, 8);
    std::memcpy(&y1, b + n - 8, 8);
    return ((x0 ^ y0) | (x1 ^ y1)) == 0;
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

#if DM_SHAPE_X86
// One 32-byte step (a lambda would not inherit the target attribute). Returns the '-' bitmap of
// the 32 input bytes (bit k: src[k] == '-'), for the UUID candidates of line_shape_key.
__attribute__((target("avx2"))) inline std::uint32_t skeleton32(const char* src, char* dst) {
  const __m256i c0 = _mm256_set1_epi8('0'), c9 = _mm256_set1_epi8(9);
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
  const __m256i t = _mm256_sub_epi8(v, c0);  // digit: (c - '0') unsigned <= 9
  const __m256i d = _mm256_cmpeq_epi8(_mm256_min_epu8(t, c9), t);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm256_blendv_epi8(v, c0, d));
  return static_cast<std::uint32_t>(
      _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('-'))));
}

__attribute__((target("avx2"))) void skeleton_avx2(const char* in, std::size_t n, char* out,
                                                   std::uint32_t* dash) {
  std::size_t i = 0, w = 0;
  for (; i + 32 <= n; i += 32) dash[w++] = skeleton32(in + i, out + i);
  alignas(32) char tail[32] = {};
  if (n > i) std::memcpy(tail, in + i, n - i);  // in may be null when n == 0
  dash[w] = skeleton32(tail, out + i);          // zeros stay zeros: out[n, i + 32) is zero
}

// AVX-512BW/VL: the tail is a masked load (masked-off bytes neither read nor faulted, they load
// as zeros), so no copy through a stack buffer.
__attribute__((target("avx2,avx512bw,avx512vl,bmi2"))) void skeleton_avx512(const char* in,
                                                                            std::size_t n,
                                                                            char* out,
                                                                            std::uint32_t* dash) {
  std::size_t i = 0, w = 0;
  for (; i + 32 <= n; i += 32) dash[w++] = skeleton32(in + i, out + i);
  const __m256i c0 = _mm256_set1_epi8('0'), c9 = _mm256_set1_epi8(9);
  const __mmask32 m = _bzhi_u32(0xffffffffu, static_cast<unsigned>(n - i));
  const __m256i v = _mm256_maskz_loadu_epi8(m, in + i);
  const __m256i t = _mm256_sub_epi8(v, c0);
  const __m256i d = _mm256_cmpeq_epi8(_mm256_min_epu8(t, c9), t);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm256_blendv_epi8(v, c0, d));
  dash[w] = _mm256_cmpeq_epi8_mask(v, _mm256_set1_epi8('-'));
}
#endif

#if defined(__SSE2__)
void skeleton_sse2(const char* in, std::size_t n, char* out, std::uint32_t* dash) {
  const __m128i c0 = _mm_set1_epi8('0'), c9 = _mm_set1_epi8(9), cd = _mm_set1_epi8('-');
  auto one = [&](const char* src, char* dst) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
    const __m128i t = _mm_sub_epi8(v, c0);
    const __m128i d = _mm_cmpeq_epi8(_mm_min_epu8(t, c9), t);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst),
                     _mm_or_si128(_mm_and_si128(d, c0), _mm_andnot_si128(d, v)));
    return static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, cd)));
  };
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const std::uint32_t b = one(in + i, out + i);
    if ((i & 16) == 0) {
      dash[i / 32] = b;
    } else {
      dash[i / 32] |= b << 16;
    }
  }
  alignas(16) char tail[16] = {};
  if (n > i) std::memcpy(tail, in + i, n - i);
  const std::uint32_t b = one(tail, out + i);
  if ((i & 16) == 0) {
    dash[i / 32] = b;
  } else {
    dash[i / 32] |= b << 16;
  }
}
#endif

void skeleton_scalar(const char* in, std::size_t n, char* out, std::uint32_t* dash) {
  for (std::size_t w = 0; w <= n / 32; ++w) dash[w] = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = in[i];
    out[i] = (c >= '0' && c <= '9') ? '0' : c;
    if (c == '-') dash[i / 32] |= 1u << (i % 32);
  }
  std::memset(out + n, 0, 16);
}

using SkeletonFn = void (*)(const char*, std::size_t, char*, std::uint32_t*);

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

SkeletonFn skeleton_fn() {
  static const SkeletonFn fn = pick();  // once; the CPU does not change under us
  return fn;
}

}  // namespace

std::uint64_t line_skeleton(std::string_view in, char* out) {
  std::vector<std::uint32_t> dash(dash_words(in.size()));
  skeleton_fn()(in.data(), in.size(), out, dash.data());
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

namespace {
// Whether line s[0, n) has a counted UUID span at p = d - 8 (d: its first '-'; d >= 8 and
// d + 28 <= n): see uuid_spans.
inline bool uuid_at(const char* s, std::size_t n, std::size_t d) {
  const std::size_t p = d - 8;
  if (s[d + 5] != '-' || s[d + 10] != '-' || s[d + 15] != '-') return false;
  if (p + 36 < n && alnum(s[p + 36])) return false;
  if (p > 0) {
    const char b = s[p - 1];
    if (alnum(b) || b == '-' || b == '+' || b == '.' || b == ',' || b == ':' || b == '_') {
      return false;
    }
  }
#if defined(__SSE2__)
  // Bytes 0-31 by class in two 16-byte steps (the '-' at 8, 13, 18 and 23 are known), 32-35 alone.
  auto hex16 = [](const char* q) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
    const __m128i t = _mm_sub_epi8(v, _mm_set1_epi8('0'));
    const __m128i dig = _mm_cmpeq_epi8(_mm_min_epu8(t, _mm_set1_epi8(9)), t);
    const __m128i l = _mm_sub_epi8(_mm_or_si128(v, _mm_set1_epi8(0x20)), _mm_set1_epi8('a'));
    const __m128i let = _mm_cmpeq_epi8(_mm_min_epu8(l, _mm_set1_epi8(5)), l);
    return static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_or_si128(dig, let)));
  };
  constexpr std::uint32_t kDashes = (1u << 8) | (1u << 13) | (1u << 18) | (1u << 23);
  const std::uint32_t hex = hex16(s + p) | (hex16(s + p + 16) << 16);
  if ((hex | kDashes) != 0xffffffffu) return false;
  return hexc(s[p + 32]) && hexc(s[p + 33]) && hexc(s[p + 34]) && hexc(s[p + 35]);
#else
  for (std::size_t k = 0; k < 36; ++k) {
    if (k == 8 || k == 13 || k == 18 || k == 23) continue;
    if (!hexc(s[p + k])) return false;
  }
  return true;
#endif
}

constexpr char kZeroUuid[] = "00000000-0000-0000-0000-000000000000";
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
    if (!uuid_at(s, n, d)) continue;
    const std::size_t p = d - 8;
    if (count == max || p > 0xffff) return -1;
    offs[count++] = static_cast<std::uint16_t>(p);
    from = p + 36;
  }
  return count;
}

int line_shape_key(std::string_view line, char* skel, std::uint32_t* dash, std::uint16_t* offs,
                   int max, std::uint64_t& h) {
  const char* s = line.data();
  const std::size_t n = line.size();
  skeleton_fn()(s, n, skel, dash);
  const std::size_t last = n / 32;  // the last bitmap word the pass wrote
  dash[last + 1] = dash[last + 2] = dash[last + 3] = 0;
  int count = 0;
  std::size_t from = 8;  // as uuid_spans: candidates in increasing order, none inside a span
  for (std::size_t w = 0; n >= 36 && w * 64 <= n; ++w) {
    const std::uint64_t cur = dash[2 * w] | (std::uint64_t{dash[2 * w + 1]} << 32);
    if (cur == 0) continue;
    const std::uint64_t nx = dash[2 * w + 2] | (std::uint64_t{dash[2 * w + 3]} << 32);
    // Bit d: '-' at d, d + 5, d + 10 and d + 15, the dashes of a UUID span.
    std::uint64_t c =
        cur & ((cur >> 5) | (nx << 59)) & ((cur >> 10) | (nx << 54)) & ((cur >> 15) | (nx << 49));
    while (c != 0) {
      const std::size_t d = w * 64 + static_cast<std::size_t>(__builtin_ctzll(c));
      c &= c - 1;
      if (d + 28 > n) goto done;
      if (d < from || !uuid_at(s, n, d)) continue;
      const std::size_t p = d - 8;
      if (count == max || p > 0xffff) return -1;
      offs[count++] = static_cast<std::uint16_t>(p);
      std::memcpy(skel + p, kZeroUuid, 36);  // the span's hex -> '0', its dashes stay
      from = p + 36;
    }
  }
done:
  h = skeleton_hash(skel, n);
  return count;
}

std::uint64_t canonicalise_uuids(char* skel, std::size_t n, const std::uint16_t* offs, int count) {
  for (int k = 0; k < count; ++k) std::memcpy(skel + offs[k], kZeroUuid, 36);
  return skeleton_hash(skel, n);
}

std::uint64_t line_skeleton_scalar(std::string_view in, char* out) {
  std::vector<std::uint32_t> dash(dash_words(in.size()));
  skeleton_scalar(in.data(), in.size(), out, dash.data());
  return skeleton_hash(out, in.size());
}

ShapeMemo::Entry ShapeMemo::entry(std::uint32_t rec) const {
  Entry e;
  std::memcpy(&e, arena_.data() + rec, sizeof e);
  return e;
}

bool ShapeMemo::pins_match(const Entry& e, std::uint32_t rec, std::string_view line,
                           const std::uint16_t* spans, int nspans) const {
  if (e.spans != nspans) return false;
  const char* p = arena_.data() + rec + sizeof(Entry) + e.skel_len + e.masked_len;
  const char* bytes = p + 4u * e.pins;
  for (std::uint16_t k = 0; k < e.pins; ++k) {
    std::uint16_t off, len;
    std::memcpy(&off, p + 4u * k, 2);
    std::memcpy(&len, p + 4u * k + 2, 2);
    if (std::size_t(off) + len > line.size() || !same_bytes(line.data() + off, bytes, len)) {
      return false;
    }
    bytes += len;
  }
  return nspans == 0 || std::memcmp(bytes, spans, 2u * static_cast<unsigned>(nspans)) == 0;
}

// The record at rec is the one for (skel, h, line's pinned digits, spans)?
bool ShapeMemo::matches(std::uint32_t rec, const Entry& e, std::string_view skel, std::uint64_t h,
                        std::string_view line, const std::uint16_t* spans, int nspans) const {
  return e.hash == h && e.skel_len == skel.size() &&
         same_bytes(arena_.data() + rec + sizeof(Entry), skel.data(), skel.size()) &&
         ((e.pins | e.spans) == 0 ? nspans == 0 : pins_match(e, rec, line, spans, nspans));
}

bool ShapeMemo::find(std::string_view skel, std::uint64_t h, std::string_view line,
                     const std::uint16_t* spans, int nspans, Found& f) {
  ++lookups_;
  if (table_.empty()) return false;
  const std::uint32_t tag = static_cast<std::uint32_t>(h >> 32);
  std::size_t i = h & mask_;
  for (std::size_t probe = 0; probe < kMaxProbe; ++probe, i = (i + 1) & mask_) {
    const Slot s = table_[i];
    if (s.rec == kEmpty) return false;
    if (s.tag != tag) continue;
    const Entry e = entry(s.rec);
    if (matches(s.rec, e, skel, h, line, spans, nspans)) {
      const std::uint32_t off = s.rec + static_cast<std::uint32_t>(sizeof(Entry)) + e.skel_len;
      f.masked = std::string_view(arena_.data() + off, e.masked_len);
      f.masked_hash = e.masked_hash;
      f.masked_off = off;
      f.seq = e.seq;
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
  if (need > 0x7fffffffu) return;
  if (used_bytes_ + need + 64 > cap_) {
    if (held_) {  // someone holds offsets into the arena: clear at release()
      pending_clear_ = true;
      return;
    }
    clear();
    ++clears_;
    if (need + 64 > cap_) return;
  }
  if (arena_.size() + sizeof(Entry) + need >= kEmpty) return;  // offsets are 32-bit
  if ((count_ + 1) * 2 > table_.size()) grow();
  const std::uint32_t tag = static_cast<std::uint32_t>(h >> 32);
  std::size_t i = h & mask_;
  for (std::size_t probe = 0; probe < kMaxProbe; ++probe, i = (i + 1) & mask_) {
    Slot& s = table_[i];
    if (s.rec == kEmpty) {
      Entry e;
      e.hash = h;
      e.masked_hash = masked_hash;
      e.skel_len = static_cast<std::uint32_t>(skel.size());
      e.masked_len = static_cast<std::uint32_t>(masked.size());
      e.pins = static_cast<std::uint16_t>(use.ranges);
      e.spans = static_cast<std::uint16_t>(nspans);
      e.seq = static_cast<std::uint32_t>(routes_.size());
      routes_.emplace_back();
      s.tag = tag;
      s.rec = static_cast<std::uint32_t>(arena_.size());
      const char* hdr = reinterpret_cast<const char*>(&e);
      arena_.insert(arena_.end(), hdr, hdr + sizeof e);
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
    if (s.tag == tag && matches(s.rec, entry(s.rec), skel, h, line, spans, nspans)) {
      return;  // this line would have found it
    }
  }
}

void ShapeMemo::clear() {
  std::fill(table_.begin(), table_.end(), Slot{});
  arena_.clear();
  routes_.clear();
  count_ = 0;
  used_bytes_ = 0;
}

void ShapeMemo::grow() {
  std::vector<Slot> old = std::move(table_);
  table_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
  mask_ = table_.size() - 1;
  for (const Slot& s : old) {
    if (s.rec == kEmpty) continue;
    std::size_t i = entry(s.rec).hash & mask_;
    for (std::size_t probe = 0; probe < kMaxProbe; ++probe, i = (i + 1) & mask_) {
      if (table_[i].rec == kEmpty) {
        table_[i] = s;
        break;
      }
      if (probe + 1 == kMaxProbe) --count_;  // dropped: a later lookup misses, no harm
    }
  }
}

}  // namespace dm::logs
