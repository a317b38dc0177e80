// The approval page's request handling, transport-free (approval_web.h describes the behaviour).
// Internal to src/app. Thread-safe: handle() holds no mutable state besides Approvals' and the
// login limiter's (which locks itself).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "web/approval_web.h"
#include "web/approval_web_page.h"

namespace dm::web::page {

class Handler {
 public:
  // `csrf_key`: random secret bytes (>= 32) for the CSRF MACs; lives as long as the server.
  Handler(std::shared_ptr<guard::Approvals> approvals, ApprovalWebOptions opts,
          std::string csrf_key);
  WebResponse handle(const WebRequest& req) const;

 private:
  WebResponse get_approval(const std::string& id, const WebRequest& req) const;
  WebResponse post_approval(const std::string& id, const WebRequest& req) const;
  WebResponse index() const;
  // POST /api/approvals/{id}/decision (approval_web.h): a decision with a bearer token.
  WebResponse post_api_decision(const std::string& id, const WebRequest& req) const;
  WebResponse oidc_login(const WebRequest& req) const;
  WebResponse oidc_callback(const WebRequest& req) const;
  WebResponse post_oidc_decision(const std::string& id, const WebRequest& req,
                                 const std::map<std::string, std::string, std::less<>>& form,
                                 const std::function<WebResponse(int, Notice)>& show) const;
  // The sign-in state of the page of approval `id` (nullopt without auth:).
  std::optional<SignIn> sign_in_for(const std::string& id, const WebRequest& req) const;
  std::string cookie_attributes() const;
  bool host_allowed(std::string_view host) const;
  std::string csrf_for(const std::string& id, const std::string& nonce) const;
  int64_t now_ms() const;
  // Audits one failed login (fail closed: an error means the attempt must be answered 503).
  Status audit_auth_failed(const std::string& id, const std::string& principal,
                           const std::string& address, std::string_view reason,
                           std::string_view decision, std::string_view detail) const;

  std::shared_ptr<guard::Approvals> approvals_;
  ApprovalWebOptions opts_;
  std::string csrf_key_;
  std::unique_ptr<LoginLimiter> limiter_;  // never null; thread-safe
};

// The claimed principal as it goes into the audit: at most `max_bytes` bytes, cut on a UTF-8
// boundary (then "…"), with control characters and invalid UTF-8 replaced by '?'.
std::string audit_text(std::string_view s, std::size_t max_bytes = 64);
// The limiter key for a peer address: "addr:<ipv4>", "addr:<ipv6 /64 prefix>/64" (one host
// usually owns a whole /64), an IPv4-mapped IPv6 address as IPv4, "addr:unknown" when empty.
std::string address_key(std::string_view address);

// application/x-www-form-urlencoded decoding ('+' is a space). invalid_argument on a bad %
// escape or a repeated field.
Result<std::map<std::string, std::string, std::less<>>> parse_form(std::string_view body);

}  // namespace dm::web::page
