#include "common/base64.h"

#include <utility>

namespace dm {

namespace {
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
int decode_char(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Standard <-> URL-safe alphabet: the two characters that differ, swapped one way or the other.
std::string swap_alphabet(std::string_view in, char from62, char from63, char to62, char to63) {
  std::string out(in);
  for (char& c : out) {
    if (c == from62)
      c = to62;
    else if (c == from63)
      c = to63;
  }
  return out;
}

// base64_decode of `text`, whose final padding may be missing.
std::optional<std::string> decode_unpadded(std::string text) {
  if (text.size() % 4 == 1) return std::nullopt;  // no padding can make this whole
  if (text.size() % 4 != 0 && text.find('=') == std::string::npos)
    text.append(4 - text.size() % 4, '=');
  return base64_decode(text);
}
}  // namespace

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    const bool two = i + 1 < in.size();
    if (two) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += two ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (std::size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = in[i + k];
      if (c == '=' && i + 4 == in.size() && k >= 2) {
        v[k] = 0;
        ++pad;
      } else if (pad > 0 || (v[k] = decode_char(c)) < 0) {
        return std::nullopt;
      }
    }
    const unsigned n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out += static_cast<char>((n >> 16) & 0xFF);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xFF);
    if (pad < 1) out += static_cast<char>(n & 0xFF);
  }
  return out;
}

std::optional<std::string> base64_decode_lenient(std::string_view in) {
  std::string text;
  text.reserve(in.size() + 3);
  for (char c : in)
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') text += c;
  return decode_unpadded(std::move(text));
}

std::string base64url_encode(std::string_view in) {
  std::string out = swap_alphabet(base64_encode(in), '+', '/', '-', '_');
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

std::optional<std::string> base64url_decode(std::string_view in) {
  if (in.find_first_of("+/") != std::string_view::npos) return std::nullopt;
  auto out = decode_unpadded(swap_alphabet(in, '-', '_', '+', '/'));
  // Canonical only: the final character's unused bits must be zero, or "Zm8" and "Zm9" would
  // both decode to "fo" and a token's tag could be altered and still verify.
  std::string_view bare = in;
  while (!bare.empty() && bare.back() == '=') bare.remove_suffix(1);
  if (out && base64url_encode(*out) != bare) return std::nullopt;
  return out;
}

}  // namespace dm
