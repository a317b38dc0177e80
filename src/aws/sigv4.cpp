#include "aws/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <ctime>
#include <utility>
#include <vector>

#include "aws/url.h"
#include "common/iso_time.h"

namespace dm::aws {
namespace {

using http::iequals;

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

// botocore's SIGNED_HEADERS_BLACKLIST: never part of the signature.
constexpr std::array<std::string_view, 11> kUnsigned = {"connection",
                                                        "expect",
                                                        "keep-alive",
                                                        "proxy-authenticate",
                                                        "proxy-authorization",
                                                        "te",
                                                        "trailer",
                                                        "transfer-encoding",
                                                        "upgrade",
                                                        "user-agent",
                                                        "x-amzn-trace-id"};

std::string hex(const unsigned char* p, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(kHex[p[i] >> 4]);
    out.push_back(kHex[p[i] & 15]);
  }
  return out;
}

std::string hmac(std::string_view key, std::string_view msg) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

// botocore.utils.remove_dot_segments (also drops empty segments) via normalize_url_path.
std::string normalize_path(std::string_view path) {
  if (path.empty()) return "/";
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view seg = path.substr(start, end - start);
    if (!seg.empty() && seg != ".") {
      if (seg == "..") {
        if (!out.empty()) out.pop_back();
      } else {
        out.push_back(seg);
      }
    }
    start = end + 1;
  }
  std::string r = path.front() == '/' ? "/" : "";
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (i) r += '/';
    r += out[i];
  }
  if (path.back() == '/' && !out.empty()) r += '/';
  return r;
}

Result<std::string> canonical_query(std::string_view query) {
  if (query.empty()) return std::string();
  std::vector<std::pair<std::string, std::string>> pairs;
  std::size_t start = 0;
  while (start <= query.size()) {
    auto end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    std::string_view pair = query.substr(start, end - start);
    auto eq = pair.find('=');
    std::string_view k = pair.substr(0, eq);
    std::string_view v = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    auto dk = percent_decode(k);
    auto dv = percent_decode(v);
    if (!dk || !dv)
      return make_error(Errc::invalid_argument, "sigv4: URL query has a malformed percent-escape");
    pairs.emplace_back(http::url_encode(*dk), http::url_encode(*dv));
    start = end + 1;
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    if (i) out += '&';
    out += pairs[i].first;
    out += '=';
    out += pairs[i].second;
  }
  return out;
}

// Trimall: Python's ' '.join(value.split()) for ASCII whitespace (incl. \x1c-\x1f).
bool py_space(unsigned char c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}
std::string fold(std::string_view v) {
  std::string out;
  bool pending = false;
  for (unsigned char c : v) {
    if (py_space(c)) {
      pending = !out.empty();
      continue;
    }
    if (pending) out.push_back(' ');
    pending = false;
    out.push_back(static_cast<char>(c));
  }
  return out;
}

bool is_tchar(unsigned char c) {
  return std::isalnum(c) ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool has_header(const http::Headers& h, std::string_view name) {
  return std::any_of(h.begin(), h.end(), [&](const auto& kv) { return iequals(kv.first, name); });
}
void erase_header(http::Headers& h, std::string_view name) {
  std::erase_if(h, [&](const auto& kv) { return iequals(kv.first, name); });
}

// email.utils.formatdate(t): "Thu, 26 Nov 2026 01:25:10 -0000".
std::string rfc2822(std::time_t t) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d -0000", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

std::time_t to_time_t(Clock::time_point t) {
  return static_cast<std::time_t>(
      std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count());
}

struct Prepared {
  http::Headers headers;  // the request's headers after signing
  SigningDetail detail;
};

Result<Prepared> prepare(const http::Request& req, const Credentials& creds,
                         std::string_view region, std::string_view service, Clock::time_point now) {
  if (creds.access_key_id.empty() || creds.secret_access_key.empty())
    return make_error(Errc::invalid_argument, "sigv4: credentials have no access key id or secret");
  if (region.empty() || service.empty())
    return make_error(Errc::invalid_argument, "sigv4: region and service must not be empty");
  auto url = parse_url(req.url);
  if (!url) return make_error(Errc::invalid_argument, "sigv4: " + url.error().message);
  for (const auto& [k, v] : req.headers) {
    if (k.empty() || !std::all_of(k.begin(), k.end(), [](char c) { return is_tchar(c); }))
      return make_error(Errc::invalid_argument, "sigv4: header name is not an HTTP token");
    if (v.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
      return make_error(Errc::invalid_argument,
                        "sigv4: header " + k + " has CR, LF or NUL in its value");
  }
  const bool s3 = service == "s3";
  const std::string ts = amz_date(now);
  const std::string_view day = std::string_view(ts).substr(0, 8);

  Prepared p;
  http::Headers& h = p.headers;
  h = req.headers;
  erase_header(h, "Authorization");
  if (has_header(h, "Date")) {
    erase_header(h, "Date");
    h.emplace_back("Date", rfc2822(to_time_t(now)));
    erase_header(h, "X-Amz-Date");
  } else {
    erase_header(h, "X-Amz-Date");
    h.emplace_back("X-Amz-Date", ts);
  }
  if (!creds.session_token.empty()) {
    if (creds.session_token.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
      return make_error(Errc::invalid_argument, "sigv4: session token has CR, LF or NUL");
    erase_header(h, "X-Amz-Security-Token");
    h.emplace_back("X-Amz-Security-Token", creds.session_token);
  }
  if (s3) {
    erase_header(h, "X-Amz-Content-SHA256");
    h.emplace_back("X-Amz-Content-SHA256", sha256_hex(req.body));
  }

  // Headers to sign, in arrival order; stable sort keeps repeated headers in order.
  std::vector<std::pair<std::string, std::string_view>> to_sign;
  for (const auto& [k, v] : h) {
    std::string lk = lower(k);
    if (std::find(kUnsigned.begin(), kUnsigned.end(), lk) != kUnsigned.end()) continue;
    to_sign.emplace_back(std::move(lk), v);
  }
  std::string derived_host;
  bool host_added = false;
  if (std::none_of(to_sign.begin(), to_sign.end(),
                   [](const auto& kv) { return kv.first == "host"; })) {
    derived_host = host_header(*url);
    to_sign.emplace_back("host", derived_host);
    host_added = true;
  }
  std::stable_sort(to_sign.begin(), to_sign.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string canon_headers, signed_headers;
  for (std::size_t i = 0; i < to_sign.size(); ++i) {
    bool first = i == 0 || to_sign[i - 1].first != to_sign[i].first;
    if (first) {
      if (i) {
        canon_headers += '\n';
        signed_headers += ';';
      }
      canon_headers += to_sign[i].first;
      canon_headers += ':';
      signed_headers += to_sign[i].first;
    } else {
      canon_headers += ',';
    }
    canon_headers += fold(to_sign[i].second);
  }

  std::string payload;
  for (const auto& [k, v] : h) {
    if (iequals(k, "X-Amz-Content-SHA256")) {
      payload = v;
      break;
    }
  }
  if (payload.empty() && !has_header(h, "X-Amz-Content-SHA256")) payload = sha256_hex(req.body);

  auto query = canonical_query(url->query);
  if (!query) return query.error();
  std::string path = s3 ? url->path : http::url_encode(normalize_path(url->path), "/");

  std::string& cr = p.detail.canonical_request;
  cr = http::method_name(req.method);
  cr += '\n';
  cr += path;
  cr += '\n';
  cr += *query;
  cr += '\n';
  cr += canon_headers;
  cr += "\n\n";
  cr += signed_headers;
  cr += '\n';
  cr += payload;

  std::string scope =
      std::string(day) + "/" + std::string(region) + "/" + std::string(service) + "/aws4_request";
  std::string& sts = p.detail.string_to_sign;
  sts = std::string(kAlgorithm) + "\n" + ts + "\n" + scope + "\n" + sha256_hex(cr);

  std::string k = hmac("AWS4" + creds.secret_access_key, day);
  k = hmac(k, region);
  k = hmac(k, service);
  k = hmac(k, "aws4_request");
  std::string sig = hmac(k, sts);
  p.detail.signature = hex(reinterpret_cast<const unsigned char*>(sig.data()), sig.size());

  h.emplace_back("Authorization", std::string(kAlgorithm) + " Credential=" + creds.access_key_id +
                                      "/" + scope + ", SignedHeaders=" + signed_headers +
                                      ", Signature=" + p.detail.signature);
  if (host_added) h.emplace_back("Host", derived_host);
  return p;
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return hex(md, len);
}

std::string amz_date(Clock::time_point t) { return format_utc(t, "%Y%m%dT%H%M%SZ"); }

std::string describe(const Credentials& c) {
  std::string id = c.access_key_id;
  if (id.size() > 8) id = id.substr(0, 4) + "…" + id.substr(id.size() - 4);
  std::string out = id + " (session token: " + (c.session_token.empty() ? "no" : "yes");
  if (c.expiration) out += ", expires " + format_iso8601(*c.expiration);
  return out + ")";
}

Status sign(http::Request& req, const Credentials& creds, std::string_view region,
            std::string_view service, Clock::time_point now) {
  auto p = prepare(req, creds, region, service, now);
  if (!p) return p.error();
  req.headers = std::move(p->headers);
  return Status::Ok();
}

Result<SigningDetail> signing_detail(const http::Request& req, const Credentials& creds,
                                     std::string_view region, std::string_view service,
                                     Clock::time_point now) {
  auto p = prepare(req, creds, region, service, now);
  if (!p) return p.error();
  return std::move(p->detail);
}

}  // namespace dm::aws
