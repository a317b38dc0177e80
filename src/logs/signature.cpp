#include "logs/signature.h"

#include <openssl/evp.h>

#include "logs/signature_mask.h"

namespace dm::logs {
namespace {

std::string collapse(std::string_view s, std::size_t cap) {
  std::string r;
  r.reserve(std::min(s.size(), cap));
  bool space = false;
  for (char c : s) {
    if (r.size() >= cap) break;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = !r.empty();
      continue;
    }
    if (space) r.push_back(' ');
    space = false;
    r.push_back(c);
  }
  return r;
}

std::string tag_of(ErrorKind kind, std::string_view type) {
  if (!type.empty()) {
    std::size_t p = type.find_last_of(".$");
    return std::string(p == std::string_view::npos ? type : type.substr(p + 1));
  }
  switch (kind) {
    case ErrorKind::shell_exit:
      return "ShellExit";
    case ErrorKind::oom_kill:
      return "OOMKilled";
    case ErrorKind::airflow_marker:
      return "AirflowFailure";
    default:
      return "ErrorLine";
  }
}

}  // namespace

std::string short_hash(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1 || len < 6) {
    return "000000000000";  // OpenSSL without SHA-256 is a broken install; keep a valid shape
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string r;
  for (int k = 0; k < 6; ++k) {
    r.push_back(kHex[md[k] >> 4]);
    r.push_back(kHex[md[k] & 15]);
  }
  return r;
}

Signature signature_of(ErrorKind kind, std::string_view exception_type, std::string_view message) {
  Signature s;
  s.text = tag_of(kind, exception_type);
  s.text += ": ";
  if (kind == ErrorKind::oom_kill) {
    s.text += "process killed (SIGKILL / out of memory)";
  } else {
    mask_variables(collapse(message, 512), MaskMode::signature, s.text);
  }
  std::string input(kSignatureVersion);
  input += "\n";
  input += s.text;
  s.id = short_hash(input);
  return s;
}

Signature signature_of(const ExtractedError& e) {
  return signature_of(e.kind, e.exception_type, e.message);
}

}  // namespace dm::logs
