#include "aws/env.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace dm::aws {
namespace {

class SystemEnv final : public Env {
 public:
  std::optional<std::string> get(std::string_view name) const override {
    // getenv is safe as long as nobody calls setenv concurrently; dagmedic never does.
    const char* v = std::getenv(std::string(name).c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  }

  Result<std::string> read_file(const std::string& path, std::size_t max_bytes) const override {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR)
        return make_error(Errc::not_found, "no such file: " + path);
      return make_error(Errc::unavailable, "cannot read " + path);
    }
    if (!S_ISREG(st.st_mode)) return make_error(Errc::unavailable, "not a regular file: " + path);
    if (static_cast<std::size_t>(st.st_size) > max_bytes)
      return make_error(Errc::too_large, "file too large: " + path);
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(Errc::unavailable, "cannot read " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    if (s.size() > max_bytes) return make_error(Errc::too_large, "file too large: " + path);
    return s;
  }
};

}  // namespace

std::shared_ptr<Env> system_env() {
  static auto env = std::make_shared<SystemEnv>();
  return env;
}

void FakeEnv::set(std::string name, std::string value) {
  std::lock_guard lk(mu_);
  vars_[std::move(name)] = std::move(value);
}
void FakeEnv::unset(const std::string& name) {
  std::lock_guard lk(mu_);
  vars_.erase(name);
}
void FakeEnv::put_file(std::string path, std::string content) {
  std::lock_guard lk(mu_);
  files_[std::move(path)] = std::move(content);
}
void FakeEnv::remove_file(const std::string& path) {
  std::lock_guard lk(mu_);
  files_.erase(path);
}
std::optional<std::string> FakeEnv::get(std::string_view name) const {
  std::lock_guard lk(mu_);
  auto it = vars_.find(name);
  if (it == vars_.end()) return std::nullopt;
  return it->second;
}
Result<std::string> FakeEnv::read_file(const std::string& path, std::size_t max_bytes) const {
  std::lock_guard lk(mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return make_error(Errc::not_found, "no such file: " + path);
  if (it->second.size() > max_bytes) return make_error(Errc::too_large, "file too large: " + path);
  return it->second;
}

std::optional<std::string> env_nonempty(const Env& env, std::string_view name) {
  auto v = env.get(name);
  if (!v || v->empty()) return std::nullopt;
  return v;
}

std::string expand_home(const Env& env, std::string_view path) {
  if (path == "~" || path.starts_with("~/")) {
    if (auto home = env_nonempty(env, "HOME")) return *home + std::string(path.substr(1));
  }
  return std::string(path);
}

}  // namespace dm::aws
