#include "http/curl_http_client.h"

#include <curl/curl.h>

#include <array>
#include <mutex>

namespace dm::http {
namespace {

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
  const Request* req = nullptr;
  Response* resp = nullptr;
  CURL* easy = nullptr;
  bool sink_stopped = false;
  bool status_known = false;
  bool stream_to_sink = false;
};

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return std::string(s);
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    // A new response starts (e.g. after "100 Continue"): drop headers of the previous one.
    t->resp->headers.clear();
    return size * n;
  }
  auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    t->resp->headers.emplace_back(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
  }
  return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  if (!t->status_known) {
    long code = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
    t->status_known = true;
    t->stream_to_sink = t->req->on_body && code >= 200 && code < 300;
  }
  if (t->stream_to_sink) {
    if (!t->req->on_body(std::string_view(data, len))) {
      t->sink_stopped = true;
      return 0;  // makes curl abort with CURLE_WRITE_ERROR
    }
    return len;
  }
  if (t->req->on_body) {
    // Error body while streaming: keep a bounded copy for the error message.
    if (t->resp->body.size() < kErrorBodyCap)
      t->resp->body.append(data, std::min(len, kErrorBodyCap - t->resp->body.size()));
    return len;
  }
  t->resp->body.append(data, len);
  return len;
}

Error transport_error(CURLcode rc, const Request& req, const char* errbuf) {
  std::string where = redact_url(req.url);
  std::string detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
      return make_error(Errc::unavailable, "connection refused by " + where + " (" + detail + ")");
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return make_error(Errc::unavailable, "cannot resolve host of " + where + " (" + detail + ")");
    case CURLE_OPERATION_TIMEDOUT:
      return make_error(Errc::timeout, "no answer in time from " + where + " (" + detail + ")");
    case CURLE_UNSUPPORTED_PROTOCOL:
      // curl reports a reply without an HTTP status line as "Received HTTP/0.9 when not allowed".
      if (detail.find("HTTP/0.9") != std::string::npos)
        return make_error(Errc::protocol,
                          "malformed HTTP answer from " + where + " (" + detail + ")");
      return make_error(Errc::invalid_argument, "bad URL " + where + " (" + detail + ")");
    case CURLE_URL_MALFORMAT:
      return make_error(Errc::invalid_argument, "bad URL " + where + " (" + detail + ")");
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
      return make_error(Errc::unavailable, "TLS failure talking to " + where + " (" + detail + ")");
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
      return make_error(Errc::protocol,
                        "malformed HTTP answer from " + where + " (" + detail + ")");
    default:
      return make_error(Errc::unavailable, "transfer with " + where + " failed (" + detail + ")");
  }
}

}  // namespace

struct CurlHttpClient::Shared {
  CURLSH* share = nullptr;
  std::array<std::mutex, CURL_LOCK_DATA_LAST> locks;

  static void lock(CURL*, curl_lock_data d, curl_lock_access, void* user) {
    static_cast<Shared*>(user)->locks[static_cast<size_t>(d)].lock();
  }
  static void unlock(CURL*, curl_lock_data d, void* user) {
    static_cast<Shared*>(user)->locks[static_cast<size_t>(d)].unlock();
  }
};

CurlHttpClient::CurlHttpClient(CurlOptions opts) : opts_(std::move(opts)), shared_(new Shared) {
  global_init_once();
  shared_->share = curl_share_init();
  if (shared_->share) {
    curl_share_setopt(shared_->share, CURLSHOPT_LOCKFUNC, &Shared::lock);
    curl_share_setopt(shared_->share, CURLSHOPT_UNLOCKFUNC, &Shared::unlock);
    curl_share_setopt(shared_->share, CURLSHOPT_USERDATA, shared_.get());
    curl_share_setopt(shared_->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(shared_->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(shared_->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
  }
}

CurlHttpClient::~CurlHttpClient() {
  if (shared_->share) curl_share_cleanup(shared_->share);
}

Result<Response> CurlHttpClient::send(const Request& req) {
  CURL* easy = curl_easy_init();
  if (!easy) return make_error(Errc::internal, "curl_easy_init failed");
  Response resp;
  Transfer t{&req, &resp, easy};
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_slist* hdrs = nullptr;
  for (const auto& [k, v] : req.headers) hdrs = curl_slist_append(hdrs, (k + ": " + v).c_str());
  // Don't let curl add "Expect: 100-continue" to POST bodies (one extra round trip).
  hdrs = curl_slist_append(hdrs, "Expect:");

  curl_easy_setopt(easy, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count()));
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req.connect_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_USERAGENT, opts_.user_agent.c_str());
  curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");  // any encoding curl can decode
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, opts_.verify_tls ? 1L : 0L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, opts_.verify_tls ? 2L : 0L);
  if (!opts_.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, opts_.ca_file.c_str());
  if (shared_->share) curl_easy_setopt(easy, CURLOPT_SHARE, shared_->share);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &t);

  switch (req.method) {
    case Method::get:
      curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
      break;
    case Method::head:
      curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
      break;
    default:
      curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method_name(req.method));
      curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
      curl_easy_setopt(easy, CURLOPT_POSTFIELDS, req.body.c_str());
      break;
  }

  CURLcode rc = curl_easy_perform(easy);
  long code = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
  curl_slist_free_all(hdrs);
  curl_easy_cleanup(easy);
  if (t.sink_stopped) return make_error(Errc::cancelled, "body sink stopped the transfer");
  if (rc != CURLE_OK) return transport_error(rc, req, errbuf);
  resp.status = static_cast<int>(code);
  return resp;
}

}  // namespace dm::http
