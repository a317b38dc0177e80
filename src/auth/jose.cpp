#include "auth/jose.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "common/base64.h"

namespace dm::auth {
namespace {

using json = nlohmann::json;

Error bad(std::string msg) { return make_error(Errc::invalid_argument, std::move(msg)); }

struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
struct BldFree {
  void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct CtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct MdFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct SigFree {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};

std::shared_ptr<evp_pkey_st> own(EVP_PKEY* p) {
  return std::shared_ptr<evp_pkey_st>(p, [](EVP_PKEY* k) { EVP_PKEY_free(k); });
}

bool b64url_alphabet(std::string_view s) {
  for (char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

// A base64url member of a JWK, decoded; `want` > 0 requires exactly that many bytes.
Result<std::string> member(const json& jwk, const char* name, std::size_t want = 0) {
  auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string())
    return bad(std::string("JWK member \"") + name + "\" missing or not a string");
  const auto& s = it->get_ref<const std::string&>();
  auto raw = b64url_alphabet(s) ? base64url_decode(s) : std::nullopt;
  if (!raw || raw->empty()) return bad(std::string("JWK member \"") + name + "\" is not base64url");
  if (want && raw->size() != want)
    return bad(std::string("JWK member \"") + name + "\" must be " + std::to_string(want) +
               " bytes");
  return *raw;
}

Result<std::shared_ptr<evp_pkey_st>> from_params(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld));
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) != 1 || !pkey)
    return bad(std::string("JWK: not a valid ") + type + " public key");
  auto key = own(pkey);
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1)
    return bad(std::string("JWK: not a valid ") + type + " public key");
  return key;
}

Result<std::shared_ptr<evp_pkey_st>> rsa_key(const json& jwk) {
  auto n = member(jwk, "n");
  if (!n) return n.error();
  auto e = member(jwk, "e");
  if (!e) return e.error();
  std::unique_ptr<BIGNUM, BnFree> bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()),
                                               static_cast<int>(n->size()), nullptr));
  std::unique_ptr<BIGNUM, BnFree> be(BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()),
                                               static_cast<int>(e->size()), nullptr));
  std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
  if (!bn || !be || !bld ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, be.get()) != 1)
    return bad("JWK: not a valid RSA public key");
  auto key = from_params("RSA", bld.get());
  if (!key) return key;
  if (EVP_PKEY_get_bits(key->get()) < 2048)
    return bad("JWK: RSA keys shorter than 2048 bits are refused");
  return key;
}

Result<std::shared_ptr<evp_pkey_st>> ec_key(const json& jwk) {
  if (jwk.value("crv", std::string()) != "P-256")
    return bad("JWK: only the EC curve P-256 is accepted");
  auto x = member(jwk, "x", 32);
  if (!x) return x.error();
  auto y = member(jwk, "y", 32);
  if (!y) return y.error();
  std::string point = "\x04" + *x + *y;  // uncompressed SEC1 point
  std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) !=
          1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1)
    return bad("JWK: not a valid EC public key");
  return from_params("EC", bld.get());
}

Result<std::shared_ptr<evp_pkey_st>> okp_key(const json& jwk) {
  if (jwk.value("crv", std::string()) != "Ed25519")
    return bad("JWK: only the OKP curve Ed25519 is accepted");
  auto x = member(jwk, "x", 32);
  if (!x) return x.error();
  EVP_PKEY* p = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(x->data()), x->size());
  if (!p) return bad("JWK: not a valid Ed25519 public key");
  return own(p);
}

// JOSE ES256 r||s (64 bytes) → the DER ECDSA-Sig-Value OpenSSL verifies.
Result<std::string> ecdsa_der(std::string_view rs) {
  if (rs.size() != 64) return bad("bad signature (an ES256 signature is 64 bytes)");
  const auto* p = reinterpret_cast<const unsigned char*>(rs.data());
  std::unique_ptr<ECDSA_SIG, SigFree> sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(p, 32, nullptr);
  BIGNUM* s = BN_bin2bn(p + 32, 32, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return make_error(Errc::internal, "cannot build an ECDSA signature");
  }
  const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return make_error(Errc::internal, "cannot encode an ECDSA signature");
  std::string der(static_cast<std::size_t>(len), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  i2d_ECDSA_SIG(sig.get(), &out);
  return der;
}

std::optional<json> json_object(std::string_view segment) {
  auto raw = base64url_decode(segment);
  if (!raw) return std::nullopt;
  json j = json::parse(*raw, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  return j;
}

}  // namespace

const char* alg_name(Alg a) noexcept {
  switch (a) {
    case Alg::rs256:
      return "RS256";
    case Alg::es256:
      return "ES256";
    case Alg::eddsa:
      return "EdDSA";
  }
  return "?";
}

std::optional<Alg> parse_alg(std::string_view name) noexcept {
  if (name == "RS256") return Alg::rs256;
  if (name == "ES256") return Alg::es256;
  if (name == "EdDSA") return Alg::eddsa;
  return std::nullopt;
}

bool key_fits(const Jwk& key, Alg alg) noexcept {
  if (!key.alg.empty() && key.alg != alg_name(alg)) return false;
  switch (alg) {
    case Alg::rs256:
      return key.type == KeyType::rsa;
    case Alg::es256:
      return key.type == KeyType::ec_p256;
    case Alg::eddsa:
      return key.type == KeyType::ed25519;
  }
  return false;
}

Result<Jwk> parse_jwk(const json& jwk) {
  if (!jwk.is_object()) return bad("JWK: not a JSON object");
  for (const char* priv : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
    if (jwk.contains(priv))
      return bad(std::string("JWK: holds private or symmetric key material (\"") + priv + "\")");
  Jwk out;
  if (auto it = jwk.find("kid"); it != jwk.end()) {
    if (!it->is_string()) return bad("JWK: \"kid\" is not a string");
    out.kid = *it;
  }
  if (auto it = jwk.find("use"); it != jwk.end() && (!it->is_string() || *it != "sig"))
    return bad("JWK: \"use\" is not \"sig\"");
  if (auto it = jwk.find("key_ops"); it != jwk.end()) {
    bool verify = false;
    if (it->is_array())
      for (const auto& op : *it) verify = verify || (op.is_string() && op == "verify");
    if (!verify) return bad("JWK: \"key_ops\" does not allow \"verify\"");
  }
  if (auto it = jwk.find("alg"); it != jwk.end()) {
    if (!it->is_string()) return bad("JWK: \"alg\" is not a string");
    out.alg = *it;
    if (!parse_alg(out.alg)) return bad("JWK: algorithm \"" + out.alg + "\" is not accepted");
  }
  const std::string kty = jwk.value("kty", std::string());
  Result<std::shared_ptr<evp_pkey_st>> key = bad("JWK: key type \"" + kty + "\" is not accepted");
  if (kty == "RSA") {
    out.type = KeyType::rsa;
    key = rsa_key(jwk);
  } else if (kty == "EC") {
    out.type = KeyType::ec_p256;
    key = ec_key(jwk);
  } else if (kty == "OKP") {
    out.type = KeyType::ed25519;
    key = okp_key(jwk);
  }
  if (!key) return key.error();
  out.key = std::move(*key);
  if (!out.alg.empty()) {
    Alg a = *parse_alg(out.alg);
    if (!key_fits(out, a)) return bad("JWK: \"alg\" " + out.alg + " does not fit the key type");
  }
  return out;
}

Result<JwkSet> parse_jwks(std::string_view text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array())
    return bad("not a JWK set (a JSON object with a \"keys\" array)");
  JwkSet set;
  std::size_t i = 0;
  for (const auto& k : doc["keys"]) {
    auto key = parse_jwk(k);
    std::string name = k.is_object() && k.contains("kid") && k["kid"].is_string()
                           ? "kid " + k["kid"].get<std::string>()
                           : "key #" + std::to_string(i);
    if (key)
      set.keys.push_back(std::move(*key));
    else
      set.skipped.push_back(name + ": " + key.error().message);
    ++i;
  }
  if (set.keys.empty()) return bad("the JWK set holds no key that can verify a signature");
  return set;
}

Result<Jws> parse_compact(std::string_view token, std::size_t max_bytes) {
  if (token.empty()) return bad("empty token");
  if (token.size() > max_bytes)
    return bad("token longer than " + std::to_string(max_bytes) + " bytes");
  const auto d1 = token.find('.');
  const auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos)
    return bad("not a JWT (three dot-separated segments expected)");
  const auto h = token.substr(0, d1);
  const auto p = token.substr(d1 + 1, d2 - d1 - 1);
  const auto s = token.substr(d2 + 1);
  if (h.empty() || p.empty() || !b64url_alphabet(h) || !b64url_alphabet(p) || !b64url_alphabet(s))
    return bad("not a JWT (segments must be unpadded base64url)");
  Jws out;
  auto header = json_object(h);
  if (!header) return bad("JWT header is not a base64url JSON object");
  out.header = std::move(*header);
  auto alg = out.header.find("alg");
  if (alg == out.header.end() || !alg->is_string()) return bad("JWT header has no \"alg\"");
  const auto& a = alg->get_ref<const std::string&>();
  auto parsed = parse_alg(a);
  if (!parsed) {
    std::string lower;
    for (char c : a) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    if (lower == "none") return bad("alg \"none\" is never accepted");
    if (lower.rfind("hs", 0) == 0)
      return bad("symmetric algorithm \"" + a + "\" is never accepted");
    return bad("algorithm \"" + a + "\" is not accepted");
  }
  out.alg = *parsed;
  if (out.header.contains("crit")) return bad("JWT header \"crit\" is not supported");
  if (auto kid = out.header.find("kid"); kid != out.header.end()) {
    if (!kid->is_string()) return bad("JWT header \"kid\" is not a string");
    out.kid = *kid;
  }
  auto payload = json_object(p);
  if (!payload) return bad("JWT payload is not a base64url JSON object");
  out.payload = std::move(*payload);
  auto sig = s.empty() ? std::optional<std::string>() : base64url_decode(s);
  if (!sig || sig->empty()) return bad("JWT has no signature");
  out.signature = std::move(*sig);
  out.signing_input = std::string(token.substr(0, d2));
  return out;
}

Status verify_signature(const Jws& jws, const Jwk& key) {
  if (!key.key) return bad("no key");
  if (!key_fits(key, jws.alg))
    return bad(std::string("the key does not fit algorithm ") + alg_name(jws.alg));
  std::string der;
  std::string_view sig = jws.signature;
  if (jws.alg == Alg::es256) {
    auto d = ecdsa_der(sig);
    if (!d) return d.error();
    der = std::move(*d);
    sig = der;
  }
  std::unique_ptr<EVP_MD_CTX, MdFree> md(EVP_MD_CTX_new());
  const EVP_MD* digest = jws.alg == Alg::eddsa ? nullptr : EVP_sha256();
  if (!md || EVP_DigestVerifyInit(md.get(), nullptr, digest, nullptr, key.key.get()) != 1)
    return make_error(Errc::internal, "cannot set up signature verification");
  const int rc = EVP_DigestVerify(
      md.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
      reinterpret_cast<const unsigned char*>(jws.signing_input.data()), jws.signing_input.size());
  if (rc != 1) return bad("bad signature");
  return Status::Ok();
}

}  // namespace dm::auth
