// libcurl implementation of the HttpClient seam.
#pragma once

#include <memory>
#include <string>

#include "http/http_client.h"

namespace dm::http {

struct CurlOptions {
  bool verify_tls = true;  // peer and host verification; turning it off is an explicit choice
  std::string ca_file;     // custom CA bundle (PEM); empty = system bundle
  std::string user_agent = "dagmedic";
};

// Thread-safe: each send() uses its own easy handle; DNS, TLS sessions and connections are
// shared across handles through a curl share object guarded by mutexes. curl_global_init runs
// once per process (std::call_once). CURLOPT_NOSIGNAL is set, so timeouts never raise signals.
// Redirects are not followed (credentials must not travel to another host).
class CurlHttpClient final : public HttpClient {
 public:
  explicit CurlHttpClient(CurlOptions opts = {});
  ~CurlHttpClient() override;
  CurlHttpClient(const CurlHttpClient&) = delete;
  CurlHttpClient& operator=(const CurlHttpClient&) = delete;

  Result<Response> send(const Request& req) override;

 private:
  struct Shared;
  CurlOptions opts_;
  std::unique_ptr<Shared> shared_;
};

}  // namespace dm::http
