#include "aws/credentials.h"
#include "aws/credentials_internal.h"

namespace dm::aws {

CredentialChain::CredentialChain(std::vector<std::unique_ptr<CredentialSource>> sources,
                                 std::shared_ptr<Clock> clock, std::chrono::seconds margin)
    : sources_(std::move(sources)), clock_(std::move(clock)), margin_(margin) {}

std::string CredentialChain::source_name() const {
  std::lock_guard lk(mu_);
  return chosen_ >= 0 && cached_ ? sources_[static_cast<std::size_t>(chosen_)]->name() : "";
}

Result<Credentials> CredentialChain::get() {
  std::lock_guard lk(mu_);
  const auto now = clock_->now();
  if (cached_ && (!cached_->expiration || now < *cached_->expiration - margin_)) return *cached_;
  auto fresh = reload(now);
  if (fresh) return fresh;
  // A failed refresh keeps serving credentials that have not expired yet.
  if (cached_ && cached_->expiration && now < *cached_->expiration) return *cached_;
  return fresh;
}

Result<Credentials> CredentialChain::reload(Clock::time_point now) {
  auto accept = [&](std::size_t i, Credentials c) -> Result<Credentials> {
    if (c.expiration && *c.expiration <= now)
      return detail::sourced(sources_[i]->name(),
                             make_error(Errc::unauthenticated, "credentials are already expired"));
    chosen_ = static_cast<int>(i);
    cached_ = c;
    return c;
  };
  // Stick to the source that worked, as the SDKs do; if it has nothing any more, walk again.
  if (chosen_ >= 0) {
    auto i = static_cast<std::size_t>(chosen_);
    auto r = sources_[i]->load();
    if (!r) return detail::sourced(sources_[i]->name(), r.error());
    if (*r) return accept(i, std::move(**r));
  }
  chosen_ = -1;
  std::string tried, notes;
  for (std::size_t i = 0; i < sources_.size(); ++i) {
    auto r = sources_[i]->load();
    if (!r) return detail::sourced(sources_[i]->name(), r.error());
    if (*r) return accept(i, std::move(**r));
    tried += (tried.empty() ? "" : ", ") + sources_[i]->name();
    if (auto n = sources_[i]->note(); !n.empty()) notes += "; " + n;
  }
  return make_error(Errc::unauthenticated,
                    "aws credentials: none found (tried " + tried + ")" + notes);
}

std::string active_profile(const Env& env, const std::optional<std::string>& explicit_profile) {
  if (explicit_profile && !explicit_profile->empty()) return *explicit_profile;
  if (auto p = env_nonempty(env, "AWS_PROFILE")) return *p;
  if (auto p = env_nonempty(env, "AWS_DEFAULT_PROFILE")) return *p;
  return "default";
}

std::unique_ptr<CredentialChain> default_chain(ChainDeps d, std::optional<std::string> profile) {
  std::string p = active_profile(*d.env, profile);
  std::vector<std::unique_ptr<CredentialSource>> s;
  s.push_back(environment_source(d));
  s.push_back(assume_role_source(d, p));
  s.push_back(web_identity_source(d, p));
  s.push_back(shared_credentials_source(d, p));
  s.push_back(config_file_source(d, p));
  s.push_back(container_source(d));
  s.push_back(imds_source(d));
  return std::make_unique<CredentialChain>(std::move(s), d.clock);
}

}  // namespace dm::aws
