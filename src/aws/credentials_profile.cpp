// Sources that read the environment and the shared files: environment, assume-role,
// web-identity, shared-credentials-file, config-file.
#include <set>

#include "aws/credentials.h"
#include "aws/credentials_internal.h"
#include "aws/sts.h"
#include "common/iso_time.h"

namespace dm::aws {
namespace detail {

std::optional<IniSection> ProfileFiles::merged(const std::string& profile) const {
  std::optional<IniSection> out;
  if (auto it = config.find(profile); it != config.end()) out = it->second;
  if (auto it = credentials.find(profile); it != credentials.end()) {
    if (!out) out.emplace();
    for (const auto& [k, v] : it->second) (*out)[k] = v;
  }
  return out;
}

Result<ProfileFiles> load_profile_files(const Env& env) {
  ProfileFiles f;
  f.credentials_path = expand_home(
      env, env_nonempty(env, "AWS_SHARED_CREDENTIALS_FILE").value_or("~/.aws/credentials"));
  f.config_path = expand_home(env, env_nonempty(env, "AWS_CONFIG_FILE").value_or("~/.aws/config"));
  for (int which = 0; which < 2; ++which) {
    const std::string& path = which == 0 ? f.credentials_path : f.config_path;
    auto text = env.read_file(path);
    if (!text) {
      if (text.error().code == Errc::not_found) continue;
      return text.error();
    }
    auto ini = parse_ini(*text, path);
    if (!ini) return ini.error();
    if (which == 0)
      f.credentials = std::move(*ini);
    else
      f.config = config_profiles(*ini);
  }
  return f;
}

Result<std::optional<Credentials>> static_keys(const IniSection& s, const std::string& where) {
  auto get = [&](const char* k) -> std::string {
    auto it = s.find(k);
    return it == s.end() ? std::string() : it->second;
  };
  std::string ak = get("aws_access_key_id"), sk = get("aws_secret_access_key");
  if (ak.empty() && sk.empty()) return std::optional<Credentials>();
  if (ak.empty() || sk.empty())
    return make_error(Errc::invalid_argument,
                      where + " has only one of aws_access_key_id / aws_secret_access_key");
  Credentials c;
  c.access_key_id = ak;
  c.secret_access_key = sk;
  c.session_token = get("aws_session_token");
  if (c.session_token.empty()) c.session_token = get("aws_security_token");
  return std::optional<Credentials>(std::move(c));
}

std::string region_for(const Env& env, const std::optional<IniSection>& profile) {
  if (auto r = env_nonempty(env, "AWS_REGION")) return *r;
  if (auto r = env_nonempty(env, "AWS_DEFAULT_REGION")) return *r;
  if (profile) {
    if (auto it = profile->find("region"); it != profile->end()) return it->second;
  }
  return {};
}

std::string default_session_name(Clock::time_point now) {
  return "dagmedic-" +
         std::to_string(
             std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count());
}

}  // namespace detail

namespace {

using detail::sourced;

std::string get(const IniSection& s, const char* k) {
  auto it = s.find(k);
  return it == s.end() ? std::string() : it->second;
}

class EnvironmentSource final : public CredentialSource {
 public:
  explicit EnvironmentSource(ChainDeps d) : d_(std::move(d)) {}
  std::string name() const override { return "environment"; }
  Result<std::optional<Credentials>> load() override {
    const Env& env = *d_.env;
    auto ak = env_nonempty(env, "AWS_ACCESS_KEY_ID");
    if (!ak) return std::optional<Credentials>();
    auto sk = env_nonempty(env, "AWS_SECRET_ACCESS_KEY");
    if (!sk)
      return make_error(Errc::invalid_argument,
                        "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
    Credentials c{*ak, *sk, {}, std::nullopt};
    if (auto t = env_nonempty(env, "AWS_SESSION_TOKEN"))
      c.session_token = *t;
    else if (auto t2 = env_nonempty(env, "AWS_SECURITY_TOKEN"))
      c.session_token = *t2;
    if (auto e = env_nonempty(env, "AWS_CREDENTIAL_EXPIRATION")) {
      auto t = parse_rfc3339(*e);
      if (!t)
        return make_error(Errc::invalid_argument,
                          "AWS_CREDENTIAL_EXPIRATION: " + t.error().message);
      c.expiration = *t;
    }
    return std::optional<Credentials>(std::move(c));
  }

 private:
  ChainDeps d_;
};

// [profile] static keys in one of the two files.
class FileSource final : public CredentialSource {
 public:
  FileSource(ChainDeps d, std::string profile, bool credentials_file)
      : d_(std::move(d)), profile_(std::move(profile)), creds_file_(credentials_file) {}
  std::string name() const override {
    return creds_file_ ? "shared-credentials-file" : "config-file";
  }
  Result<std::optional<Credentials>> load() override {
    auto files = detail::load_profile_files(*d_.env);
    if (!files) return files.error();
    if (creds_file_) {
      auto it = files->credentials.find(profile_);
      if (it == files->credentials.end()) return std::optional<Credentials>();
      return detail::static_keys(it->second, files->credentials_path + " [" + profile_ + "]");
    }
    auto it = files->config.find(profile_);
    if (it == files->config.end()) return std::optional<Credentials>();
    return detail::static_keys(it->second, files->config_path + " [profile " + profile_ + "]");
  }

 private:
  ChainDeps d_;
  std::string profile_;
  bool creds_file_;
};

Result<Credentials> web_identity_call(const ChainDeps& d, const std::string& token_file,
                                      const std::string& role_arn, std::string session,
                                      const std::optional<IniSection>& profile) {
  std::string path = expand_home(*d.env, token_file);
  auto token = d.env->read_file(path, 64 * 1024);
  if (!token)
    return make_error(token.error().code, "web identity token file: " + token.error().message);
  std::string t = *token;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
  if (t.empty())
    return make_error(Errc::invalid_argument, "web identity token file " + path + " is empty");
  AssumeRoleParams p;
  p.role_arn = role_arn;
  p.session_name =
      session.empty() ? detail::default_session_name(d.clock->now()) : std::move(session);
  auto ep = sts_endpoint(*d.env, detail::region_for(*d.env, profile));
  return assume_role_with_web_identity(*d.http, ep, p, t);
}

class WebIdentitySource final : public CredentialSource {
 public:
  WebIdentitySource(ChainDeps d, std::string profile)
      : d_(std::move(d)), profile_(std::move(profile)) {}
  std::string name() const override { return "web-identity"; }
  Result<std::optional<Credentials>> load() override {
    const Env& env = *d_.env;
    std::optional<IniSection> prof;
    auto files = detail::load_profile_files(env);
    if (!files) return files.error();
    prof = files->merged(profile_);
    auto from = [&](const char* var, const char* key) -> std::string {
      if (auto v = env_nonempty(env, var)) return *v;
      return prof ? get(*prof, key) : std::string();
    };
    std::string token_file = from("AWS_WEB_IDENTITY_TOKEN_FILE", "web_identity_token_file");
    if (token_file.empty()) return std::optional<Credentials>();
    std::string role = from("AWS_ROLE_ARN", "role_arn");
    if (role.empty())
      return make_error(Errc::invalid_argument,
                        "a web identity token file is set but no role ARN "
                        "(AWS_ROLE_ARN or role_arn)");
    auto c = web_identity_call(d_, token_file, role,
                               from("AWS_ROLE_SESSION_NAME", "role_session_name"), prof);
    if (!c) return c.error();
    return std::optional<Credentials>(std::move(*c));
  }

 private:
  ChainDeps d_;
  std::string profile_;
};

class AssumeRoleSource final : public CredentialSource {
 public:
  AssumeRoleSource(ChainDeps d, std::string profile)
      : d_(std::move(d)), profile_(std::move(profile)) {}
  std::string name() const override { return "assume-role"; }
  Result<std::optional<Credentials>> load() override {
    auto files = detail::load_profile_files(*d_.env);
    if (!files) return files.error();
    auto prof = files->merged(profile_);
    if (!prof || get(*prof, "role_arn").empty() || !get(*prof, "web_identity_token_file").empty())
      return std::optional<Credentials>();
    std::set<std::string> visited;
    auto c = resolve(*files, profile_, visited);
    if (!c) return c.error();
    return std::optional<Credentials>(std::move(*c));
  }

 private:
  Result<Credentials> from_credential_source(const std::string& cs, const std::string& prof) {
    std::unique_ptr<CredentialSource> src;
    if (cs == "Environment")
      src = environment_source(d_);
    else if (cs == "Ec2InstanceMetadata")
      src = imds_source(d_);
    else if (cs == "EcsContainer")
      src = container_source(d_);
    else
      return make_error(Errc::invalid_argument,
                        "profile " + prof + ": unsupported credential_source '" + cs +
                            "' (Environment, Ec2InstanceMetadata, EcsContainer)");
    auto r = src->load();
    if (!r) return r.error();
    if (!*r)
      return make_error(Errc::unauthenticated,
                        "profile " + prof + ": credential_source " + cs + " has no credentials" +
                            (src->note().empty() ? "" : " (" + src->note() + ")"));
    return std::move(**r);
  }

  Result<Credentials> resolve(const detail::ProfileFiles& f, const std::string& name,
                              std::set<std::string>& visited) {
    if (visited.size() > 10 || !visited.insert(name).second)
      return make_error(Errc::invalid_argument, "profile " + name + ": source_profile chain loops");
    auto prof = f.merged(name);
    if (!prof) return make_error(Errc::invalid_argument, "profile " + name + " not found");
    if (!get(*prof, "mfa_serial").empty())
      return make_error(Errc::failed_precondition,
                        "profile " + name + ": mfa_serial is not supported");
    std::string sp = get(*prof, "source_profile"), cs = get(*prof, "credential_source");
    if (sp.empty() == cs.empty())
      return make_error(Errc::invalid_argument,
                        "profile " + name +
                            ": role_arn needs exactly one of source_profile "
                            "and credential_source");
    Result<Credentials> source = make_error(Errc::internal, "unset");
    if (!cs.empty()) {
      source = from_credential_source(cs, name);
    } else {
      auto src = f.merged(sp);
      if (!src)
        return make_error(Errc::invalid_argument,
                          "profile " + name + ": source_profile " + sp + " not found");
      if (sp != name && !get(*src, "role_arn").empty()) {
        if (!get(*src, "web_identity_token_file").empty())
          source = web_identity_call(d_, get(*src, "web_identity_token_file"),
                                     get(*src, "role_arn"), get(*src, "role_session_name"), src);
        else
          source = resolve(f, sp, visited);
      } else {
        auto keys = detail::static_keys(*src, "profile " + sp);
        if (!keys) return keys.error();
        if (!*keys)
          return make_error(Errc::unauthenticated,
                            "profile " + name + ": source_profile " + sp + " has no credentials");
        source = std::move(**keys);
      }
    }
    if (!source) return source.error();
    AssumeRoleParams p;
    p.role_arn = get(*prof, "role_arn");
    p.session_name = get(*prof, "role_session_name");
    if (p.session_name.empty()) p.session_name = detail::default_session_name(d_.clock->now());
    p.external_id = get(*prof, "external_id");
    if (std::string ds = get(*prof, "duration_seconds"); !ds.empty()) {
      int v = 0;
      for (char ch : ds) {
        if (ch < '0' || ch > '9' || v > 1000000)
          return make_error(Errc::invalid_argument,
                            "profile " + name + ": duration_seconds is not a number");
        v = v * 10 + (ch - '0');
      }
      p.duration_seconds = v;
    }
    auto ep = sts_endpoint(*d_.env, detail::region_for(*d_.env, prof));
    auto c = assume_role(*d_.http, ep, *source, p, d_.clock->now());
    if (!c) return make_error(c.error().code, "profile " + name + ": " + c.error().message);
    return c;
  }

  ChainDeps d_;
  std::string profile_;
};

}  // namespace

std::unique_ptr<CredentialSource> environment_source(ChainDeps d) {
  return std::make_unique<EnvironmentSource>(std::move(d));
}
std::unique_ptr<CredentialSource> assume_role_source(ChainDeps d, std::string profile) {
  return std::make_unique<AssumeRoleSource>(std::move(d), std::move(profile));
}
std::unique_ptr<CredentialSource> web_identity_source(ChainDeps d, std::string profile) {
  return std::make_unique<WebIdentitySource>(std::move(d), std::move(profile));
}
std::unique_ptr<CredentialSource> shared_credentials_source(ChainDeps d, std::string profile) {
  return std::make_unique<FileSource>(std::move(d), std::move(profile), true);
}
std::unique_ptr<CredentialSource> config_file_source(ChainDeps d, std::string profile) {
  return std::make_unique<FileSource>(std::move(d), std::move(profile), false);
}

}  // namespace dm::aws
