// The approval page's request handling, transport-free (approval_web.h describes the behaviour).
// Internal to src/app. Thread-safe: handle() holds no mutable state besides Approvals'.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "app/approval_web.h"

namespace dm::app::web {

class Handler {
 public:
  // `csrf_key`: random secret bytes (>= 32) for the CSRF MACs; lives as long as the server.
  Handler(std::shared_ptr<guard::Approvals> approvals, ApprovalWebOptions opts,
          std::string csrf_key);
  WebResponse handle(const WebRequest& req) const;

 private:
  WebResponse get_approval(const std::string& id) const;
  WebResponse post_approval(const std::string& id, const WebRequest& req) const;
  WebResponse index() const;
  bool host_allowed(std::string_view host) const;
  std::string csrf_for(const std::string& id, const std::string& nonce) const;
  int64_t now_ms() const;

  std::shared_ptr<guard::Approvals> approvals_;
  ApprovalWebOptions opts_;
  std::string csrf_key_;
};

// application/x-www-form-urlencoded decoding ('+' is a space). invalid_argument on a bad %
// escape or a repeated field.
Result<std::map<std::string, std::string, std::less<>>> parse_form(std::string_view body);

}  // namespace dm::app::web
