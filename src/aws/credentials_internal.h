// Helpers shared by the credential sources (not part of the layer's API).
#pragma once

#include <map>
#include <optional>
#include <string>

#include "aws/credentials.h"
#include "aws/ini.h"

namespace dm::aws::detail {

// Both shared files of the environment. A missing file is empty; a malformed one is an error
// naming the file.
struct ProfileFiles {
  std::string credentials_path, config_path;
  IniFile credentials;                       // [name] sections
  std::map<std::string, IniSection> config;  // profiles of the config file
  // Config-file profile overlaid with the credentials-file section (botocore's full_config).
  std::optional<IniSection> merged(const std::string& profile) const;
};
Result<ProfileFiles> load_profile_files(const Env& env);

// Static keys of one section: nullopt when it has none; an error when only half is there.
Result<std::optional<Credentials>> static_keys(const IniSection& s, const std::string& where);

// AWS_REGION, AWS_DEFAULT_REGION, else the profile's "region", else "".
std::string region_for(const Env& env, const std::optional<IniSection>& profile);

// Credentials from the JSON that ECS/EKS container endpoints and IMDS return.
Result<Credentials> parse_json_credentials(std::string_view body, std::string_view who);

std::string default_session_name(Clock::time_point now);

inline Error sourced(std::string_view source, const Error& e) {
  return make_error(e.code, "aws credentials (" + std::string(source) + "): " + e.message);
}

}  // namespace dm::aws::detail
