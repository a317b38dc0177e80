// Signs every request of tests/aws/sigv4_vectors.json (written by botocore's SigV4Auth through
// tests/aws/gen_vectors.py) and compares with botocore's output byte for byte: the headers after
// signing, in order, and the canonical request. DM_SIGV4_VECTORS points at a freshly generated
// file (dev/test.d/45-aws.sh); otherwise the checked-in copy is used.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "aws/sigv4.h"
#include "common/base64.h"
#include "dm_test_paths.h"

namespace dm::aws {
namespace {

using nlohmann::json;

// The vectors file is written by Python's base64 module: always valid, so value() cannot throw.
std::string body_of(const json& b) {
  if (b.contains("b64")) return base64_decode(b["b64"].get<std::string>()).value();
  std::string unit = base64_decode(b["repeat_b64"].get<std::string>()).value();
  std::size_t size = b["size"].get<std::size_t>();
  std::string out;
  while (out.size() < size) out += unit;
  out.resize(size);
  return out;
}

http::Method method_of(const std::string& m) {
  if (m == "GET") return http::Method::get;
  if (m == "HEAD") return http::Method::head;
  if (m == "POST") return http::Method::post;
  if (m == "PUT") return http::Method::put;
  if (m == "PATCH") return http::Method::patch;
  return http::Method::del;
}

json load_vectors() {
  const char* env = std::getenv("DM_SIGV4_VECTORS");
  std::string path = env && *env ? env : DM_SOURCE_DIR "/tests/aws/sigv4_vectors.json";
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

TEST(SigV4Vectors, MatchBotocoreByteForByte) {
  json doc = load_vectors();
  const auto& vectors = doc.at("vectors");
  ASSERT_GE(vectors.size(), 40u);
  int checked = 0;
  for (const auto& v : vectors) {
    SCOPED_TRACE(v["name"].get<std::string>());
    http::Request req;
    req.method = method_of(v["method"].get<std::string>());
    req.url = v["url"].get<std::string>();
    for (const auto& h : v["headers"]) req.headers.emplace_back(h[0], h[1]);
    req.body = body_of(v["body"]);
    ASSERT_EQ(sha256_hex(req.body), v["expected"]["body_sha256"].get<std::string>());
    Credentials c{v["access_key_id"], v["secret_access_key"], v["session_token"], std::nullopt};
    Clock::time_point now{std::chrono::seconds(v["epoch"].get<long long>())};
    std::string region = v["region"], service = v["service"];

    auto detail = signing_detail(req, c, region, service, now);
    ASSERT_TRUE(detail.ok()) << detail.error().message;
    EXPECT_EQ(detail->canonical_request, v["expected"]["canonical_request"].get<std::string>());

    ASSERT_TRUE(sign(req, c, region, service, now).ok());
    // botocore does not add Host (its HTTP layer sends it); we add it when absent, with the value
    // botocore signed. Everything else must be identical, in order.
    http::Headers got = req.headers;
    bool had_host = false;
    for (const auto& h : v["headers"]) had_host |= http::iequals(h[0].get<std::string>(), "host");
    if (!had_host) {
      ASSERT_FALSE(got.empty());
      EXPECT_EQ(got.back().first, "Host");
      EXPECT_EQ(got.back().second, v["expected"]["host"].get<std::string>());
      got.pop_back();
    }
    http::Headers want;
    for (const auto& h : v["expected"]["headers"]) want.emplace_back(h[0], h[1]);
    EXPECT_EQ(got, want);
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(vectors.size()));
}

}  // namespace
}  // namespace dm::aws
