// Test support (never linked into dagmedic itself): keys generated in the test with OpenSSL and
// tokens signed with them — good ones and forged ones (alg none, HS256 under the public key,
// a signature of another key). Header-only; every function aborts the test on an OpenSSL failure
// by returning empty values the assertions then catch.
#pragma once

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "auth/jose.h"
#include "common/base64.h"

namespace dm::auth::testing {

using json = nlohmann::json;

struct TestKey {
  Alg alg = Alg::rs256;
  std::string kid;
  std::shared_ptr<EVP_PKEY> pkey;  // private key
  json jwk;                        // its public JWK (with kid and alg)
};

inline std::string bn_bytes(const BIGNUM* bn, int pad = 0) {
  int n = pad ? pad : BN_num_bytes(bn);
  std::string out(static_cast<std::size_t>(n), '\0');
  if (pad)
    BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), n);
  else
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

// A fresh key pair for `alg` (RSA 2048, P-256 or Ed25519) whose public JWK carries `kid`.
inline TestKey make_key(Alg alg, std::string kid, int rsa_bits = 2048) {
  TestKey k;
  k.alg = alg;
  k.kid = kid;
  EVP_PKEY* p = nullptr;
  switch (alg) {
    case Alg::rs256:
      p = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(rsa_bits));
      break;
    case Alg::es256:
      p = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case Alg::eddsa:
      p = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
  }
  if (!p) return k;
  k.pkey = std::shared_ptr<EVP_PKEY>(p, EVP_PKEY_free);
  k.jwk = {{"kid", kid}, {"use", "sig"}, {"alg", alg_name(alg)}};
  if (alg == Alg::rs256) {
    BIGNUM *n = nullptr, *e = nullptr;
    EVP_PKEY_get_bn_param(p, OSSL_PKEY_PARAM_RSA_N, &n);
    EVP_PKEY_get_bn_param(p, OSSL_PKEY_PARAM_RSA_E, &e);
    k.jwk["kty"] = "RSA";
    k.jwk["n"] = base64url_encode(bn_bytes(n));
    k.jwk["e"] = base64url_encode(bn_bytes(e));
    BN_free(n);
    BN_free(e);
  } else if (alg == Alg::es256) {
    BIGNUM *x = nullptr, *y = nullptr;
    EVP_PKEY_get_bn_param(p, OSSL_PKEY_PARAM_EC_PUB_X, &x);
    EVP_PKEY_get_bn_param(p, OSSL_PKEY_PARAM_EC_PUB_Y, &y);
    k.jwk["kty"] = "EC";
    k.jwk["crv"] = "P-256";
    k.jwk["x"] = base64url_encode(bn_bytes(x, 32));
    k.jwk["y"] = base64url_encode(bn_bytes(y, 32));
    BN_free(x);
    BN_free(y);
  } else {
    std::string raw(32, '\0');
    size_t len = raw.size();
    EVP_PKEY_get_raw_public_key(p, reinterpret_cast<unsigned char*>(raw.data()), &len);
    k.jwk["kty"] = "OKP";
    k.jwk["crv"] = "Ed25519";
    k.jwk["x"] = base64url_encode(raw);
  }
  return k;
}

// One key per algorithm, made once per test binary (RSA key generation is slow): kids r1, e1, d1.
inline const TestKey& rsa() {
  static const TestKey k = make_key(Alg::rs256, "r1");
  return k;
}
inline const TestKey& ec() {
  static const TestKey k = make_key(Alg::es256, "e1");
  return k;
}
inline const TestKey& ed() {
  static const TestKey k = make_key(Alg::eddsa, "d1");
  return k;
}

inline json jwks_of(std::initializer_list<const TestKey*> keys) {
  json set = {{"keys", json::array()}};
  for (const auto* k : keys) set["keys"].push_back(k->jwk);
  return set;
}

inline std::string segment(const json& j) { return base64url_encode(j.dump()); }

// Raw signature of `input` with `key` in JOSE form (ES256: r||s).
inline std::string raw_signature(const TestKey& key, const std::string& input) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  const EVP_MD* digest = key.alg == Alg::eddsa ? nullptr : EVP_sha256();
  if (EVP_DigestSignInit(md.get(), nullptr, digest, nullptr, key.pkey.get()) != 1) return {};
  size_t len = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  if (EVP_DigestSign(md.get(), nullptr, &len, data, input.size()) != 1) return {};
  std::string sig(len, '\0');
  if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, data,
                     input.size()) != 1)
    return {};
  sig.resize(len);
  if (key.alg != Alg::es256) return sig;
  const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
  ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
  if (!es) return {};
  std::string rs = bn_bytes(ECDSA_SIG_get0_r(es), 32) + bn_bytes(ECDSA_SIG_get0_s(es), 32);
  ECDSA_SIG_free(es);
  return rs;
}

// A compact JWS over `claims`, signed by `key`; `header` defaults to {alg, typ, kid}.
inline std::string sign(const TestKey& key, const json& claims, json header = nullptr) {
  if (header.is_null()) header = {{"alg", alg_name(key.alg)}, {"typ", "at+jwt"}, {"kid", key.kid}};
  std::string input = segment(header) + "." + segment(claims);
  return input + "." + base64url_encode(raw_signature(key, input));
}

// Forgery: HS256 with `secret` as the HMAC key (e.g. the issuer's public JWK or PEM text).
inline std::string sign_hs256(const std::string& secret, const json& claims, json header) {
  std::string input = segment(header) + "." + segment(claims);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." + base64url_encode(std::string(reinterpret_cast<char*>(mac), len));
}

}  // namespace dm::auth::testing
