// libFuzzer target for the parsers that read bytes from outside: STS XML answers, the shared
// config/credentials files, ISO 8601 expirations, URLs, and sign() on arbitrary URLs/headers.
// Built only with -DDM_FUZZ=ON (clang). Must never crash, hang or trip a sanitizer.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "aws/ini.h"
#include "aws/sigv4.h"
#include "aws/sts.h"
#include "aws/url.h"
#include "aws/xml.h"
#include "common/iso_time.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)dm::aws::parse_xml(in);
  (void)dm::aws::parse_sts_response(size % 2 ? 200 : 403, in, "AssumeRole");
  if (auto ini = dm::aws::parse_ini(in, "fuzz"); ini.ok()) (void)dm::aws::config_profiles(*ini);
  (void)dm::parse_rfc3339(in);
  (void)dm::parse_iso8601(in);
  (void)dm::aws::parse_url(in);
  dm::http::Request req;
  auto nl = in.find('\n');
  req.url = std::string(in.substr(0, nl));
  if (nl != std::string_view::npos) {
    std::string_view rest = in.substr(nl + 1);
    auto colon = rest.find(':');
    req.headers.emplace_back(
        std::string(rest.substr(0, colon)),
        colon == std::string_view::npos ? "" : std::string(rest.substr(colon + 1)));
    req.body = std::string(rest);
  }
  dm::aws::Credentials c{"AKIDFUZZ", "secret", size % 3 ? "token" : "", std::nullopt};
  (void)dm::aws::sign(req, c, "us-east-1", size % 5 ? "logs" : "s3", dm::Clock::time_point{});
  return 0;
}
