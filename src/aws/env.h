// The process environment and the file system, as a seam for the credential chain: production
// uses system_env(); unit tests use FakeEnv (variables and files in memory).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace dm::aws {

class Env {
 public:
  virtual ~Env() = default;
  // The variable's value; nullopt when unset. Thread-safe.
  virtual std::optional<std::string> get(std::string_view name) const = 0;
  // Whole file contents. Errors: Errc::not_found (no such file), Errc::too_large (over
  // `max_bytes`), Errc::unavailable (other I/O failure). Messages name the path, never content.
  virtual Result<std::string> read_file(const std::string& path,
                                        std::size_t max_bytes = 1 << 20) const = 0;
};

// Real getenv() and file reads. Never null; lives for the whole program.
std::shared_ptr<Env> system_env();

// In-memory environment for tests. Thread-safe.
class FakeEnv final : public Env {
 public:
  void set(std::string name, std::string value);
  void unset(const std::string& name);
  void put_file(std::string path, std::string content);
  void remove_file(const std::string& path);

  std::optional<std::string> get(std::string_view name) const override;
  Result<std::string> read_file(const std::string& path, std::size_t max_bytes) const override;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string, std::less<>> vars_;
  std::map<std::string, std::string, std::less<>> files_;
};

// The variable's value when set and not empty (the SDKs treat an empty variable as unset).
std::optional<std::string> env_nonempty(const Env& env, std::string_view name);
// "~/x" → "$HOME/x"; anything else unchanged.
std::string expand_home(const Env& env, std::string_view path);

}  // namespace dm::aws
