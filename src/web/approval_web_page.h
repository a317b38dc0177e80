// HTML for the approval page (approval_web.h). Internal to src/app. Every piece of text that did
// not come from this file goes through html_escape(); the pages contain no script at all.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace dm::web::page {

// Escapes & < > " ' (text and attribute values alike).
std::string html_escape(std::string_view s);
// "2026-11-26 01:30:00 UTC" (0 -> "-").
std::string format_time_ms(int64_t ms);

// A notice shown above the details after a POST (or an error).
struct Notice {
  enum class Kind { none, ok, error } kind = Kind::none;
  std::string text;
};

// With auth: the sign-in state shown instead of the approver id/token fields.
struct SignIn {
  bool signed_in = false;
  std::string who;         // "alice (subject … at issuer …)" when signed in
  std::string login_href;  // "/oidc/login?return=/approvals/<id>"
};

// The approval's details; the decision form only when `csrf` is non-empty (pending, unexpired).
// With `signin` (auth: on) the form has no approver/token fields: it is shown when signed in,
// else a "Sign in" link.
std::string render_approval(const store::ApprovalRecord& a, int64_t now_ms, const std::string& csrf,
                            const Notice& notice, const SignIn* signin = nullptr);
// The page the OIDC callback answers with: refreshes to `path` (a path of this page).
std::string render_signed_in(std::string_view who, std::string_view path);
// The list of pending approvals, each linking to its page.
std::string render_index(const std::vector<store::ApprovalRecord>& pending, int64_t now_ms);
// A page with a title and one message.
std::string render_message(std::string_view title, std::string_view message);

}  // namespace dm::web::page
