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

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// Opaque per-run names the generic mask keeps (they look like words): py4j's JVM object ids
// ("calling o518.save" — "o518" reads like "ec2"), YARN container epochs ("container_e42_…")
// and Kubernetes pod name suffixes ("Pod etl-transform-x7k2m9qp", "pod/etl-transform-abcdefgh":
// random, sometimes letters only).
std::string normalize_opaque(std::string_view s) {
  std::string r;
  r.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    if (s[i] == 'o' && i >= 8 && s.substr(i - 8, 8) == "calling " && i + 1 < s.size() &&
        s[i + 1] >= '0' && s[i + 1] <= '9') {
      std::size_t k = i + 1;
      while (k < s.size() && s[k] >= '0' && s[k] <= '9') ++k;
      if (k < s.size() && s[k] == '.') {
        r += "o<n>";
        i = k;
        continue;
      }
    }
    if (s[i] == 'c' && s.substr(i, 11) == "container_e" && i + 11 < s.size() && s[i + 11] >= '0' &&
        s[i + 11] <= '9') {
      // YARN's container_e42_1700000000000_0012_01_000003: the epoch reads like a word.
      std::size_t k = i + 11;
      while (k < s.size() && s[k] >= '0' && s[k] <= '9') ++k;
      r += "container_e<n>";
      i = k;
      continue;
    }
    if ((s[i] == 'P' || s[i] == 'p') && s.substr(i + 1, 2) == "od" &&
        (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\'' || s[i - 1] == '"') && i + 4 < s.size() &&
        (s[i + 3] == ' ' || s[i + 3] == '/' || s[i + 3] == ':')) {
      std::size_t b = i + 4;
      if (s[i + 3] == ':' && b < s.size() && s[b] == ' ') ++b;
      std::size_t e = b;
      while (e < s.size() && (lower_alnum(s[e]) || s[e] == '-' || s[e] == '.')) ++e;
      std::size_t dash = s.substr(b, e - b).rfind('-');
      std::size_t suffix = dash == std::string_view::npos ? 0 : e - (b + dash + 1);
      if (dash != std::string_view::npos && dash > 0 && suffix >= 4 && suffix <= 10) {
        r.append(s.substr(i, b + dash + 1 - i));
        r += "<pod>";
        i = e;
        continue;
      }
    }
    r.push_back(s[i++]);
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
    case ErrorKind::pod_failure:
      return "PodFailure";
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
    mask_variables(normalize_opaque(collapse(message, 512)), MaskMode::signature, s.text);
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
