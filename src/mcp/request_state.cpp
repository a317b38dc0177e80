#include "mcp/request_state.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "common/base64.h"

namespace dm::mcp {

using json = nlohmann::json;

namespace {

constexpr std::size_t kMinKeyBytes = 32;
constexpr int kFormatVersion = 1;

std::int64_t to_ms(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::string dump_canonical(const json& v) {
  // nlohmann's object is an ordered std::map: keys come out sorted.
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

std::string canonical_sha256(const json& v) {
  const std::string text = dump_canonical(v);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr) != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

RequestStateSealer::RequestStateSealer(std::string key, RequestStateOptions opts,
                                       std::shared_ptr<Clock> clock)
    : key_(std::move(key)), opts_(opts), clock_(std::move(clock)) {}

Result<std::shared_ptr<const RequestStateSealer>> RequestStateSealer::create(
    std::string key, RequestStateOptions opts, std::shared_ptr<Clock> clock) {
  if (key.size() < kMinKeyBytes) {
    return make_error(Errc::invalid_argument, "requestState key must be at least 32 bytes");
  }
  if (opts.ttl.count() <= 0)
    return make_error(Errc::invalid_argument, "requestState ttl must be > 0");
  if (opts.max_bytes == 0) {
    return make_error(Errc::invalid_argument, "requestState max_bytes must be > 0");
  }
  if (!clock) clock = system_clock();
  return std::shared_ptr<const RequestStateSealer>(
      new RequestStateSealer(std::move(key), opts, std::move(clock)));
}

Result<std::shared_ptr<const RequestStateSealer>> RequestStateSealer::create_random(
    RequestStateOptions opts, std::shared_ptr<Clock> clock) {
  std::string key(kMinKeyBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size())) != 1) {
    return make_error(Errc::internal, "RAND_bytes failed: no requestState key");
  }
  return create(std::move(key), opts, std::move(clock));
}

std::string RequestStateSealer::mac(std::string_view data) const {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
           &len) == nullptr) {
    return {};
  }
  return std::string(reinterpret_cast<const char*>(out), len);
}

Result<std::string> RequestStateSealer::seal(const json& claims, const json& payload) const {
  unsigned char nonce[12];
  if (RAND_bytes(nonce, sizeof nonce) != 1) {
    return make_error(Errc::internal, "RAND_bytes failed while sealing requestState");
  }
  const std::int64_t now = to_ms(clock_->now());
  const json body = {
      {"v", kFormatVersion},
      {"iat", now},
      {"exp", now + opts_.ttl.count()},
      {"n", base64url_encode(std::string_view(reinterpret_cast<char*>(nonce), sizeof nonce))},
      {"c", claims},
      {"p", payload}};
  std::string out = base64url_encode(dump_canonical(body));
  const std::string tag = mac(out);
  if (tag.empty()) return make_error(Errc::internal, "HMAC failed while sealing requestState");
  out += '.';
  out += base64url_encode(tag);
  if (out.size() > opts_.max_bytes) {
    return make_error(Errc::too_large, "requestState of " + std::to_string(out.size()) +
                                           " bytes exceeds the limit of " +
                                           std::to_string(opts_.max_bytes));
  }
  return out;
}

Result<json> RequestStateSealer::open(std::string_view state, const json& expected_claims) const {
  if (state.size() > opts_.max_bytes) {
    return make_error(Errc::too_large, "requestState of " + std::to_string(state.size()) +
                                           " bytes exceeds the limit of " +
                                           std::to_string(opts_.max_bytes));
  }
  const auto dot = state.find('.');
  if (dot == std::string_view::npos || dot == 0 ||
      state.find('.', dot + 1) != std::string_view::npos) {
    return make_error(Errc::invalid_argument, "requestState integrity check failed");
  }
  const std::string_view body_b64 = state.substr(0, dot);
  const auto tag = base64url_decode(state.substr(dot + 1));
  const std::string expected = mac(body_b64);
  if (!tag || expected.empty() || tag->size() != expected.size() ||
      CRYPTO_memcmp(tag->data(), expected.data(), expected.size()) != 0) {
    return make_error(Errc::invalid_argument, "requestState integrity check failed");
  }
  // From here on the bytes are ours: a malformed body is a bug or a key shared with something
  // else, not an attack, but it is still refused without a crash.
  const auto raw = base64url_decode(body_b64);
  if (!raw) return make_error(Errc::invalid_argument, "requestState malformed");
  json body = json::parse(*raw, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object() || body.value("v", 0) != kFormatVersion || !body.contains("exp") ||
      !body["exp"].is_number_integer() || !body.contains("c") || !body.contains("p")) {
    return make_error(Errc::invalid_argument, "requestState malformed");
  }
  if (body["c"] != expected_claims) {
    return make_error(Errc::invalid_argument, "requestState was issued for another request");
  }
  if (to_ms(clock_->now()) > body["exp"].get<std::int64_t>()) {
    return make_error(Errc::failed_precondition, "requestState expired");
  }
  return std::move(body["p"]);
}

}  // namespace dm::mcp
