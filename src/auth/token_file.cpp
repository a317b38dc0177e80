#include "auth/token_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

namespace dm::auth {
namespace {

using json = nlohmann::json;

Error io_error(const std::string& what, const std::string& path) {
  return make_error(Errc::internal, what + " " + path + ": " + std::strerror(errno));
}

int64_t to_s(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}
Clock::time_point from_s(int64_t s) { return Clock::time_point(std::chrono::seconds(s)); }

// mkdir -p with mode 0700 for the directories it creates.
Status make_dirs(const std::string& dir) {
  if (dir.empty()) return Status::Ok();
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return make_error(Errc::internal, dir + " is not a directory");
    return Status::Ok();
  }
  const auto slash = dir.find_last_of('/');
  if (slash != std::string::npos && slash > 0)
    if (auto s = make_dirs(dir.substr(0, slash)); !s) return s;
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return io_error("cannot create", dir);
  return Status::Ok();
}

}  // namespace

Result<std::string> default_login_path() {
  const char* state = std::getenv("XDG_STATE_HOME");
  if (state && *state == '/') return std::string(state) + "/dagmedic/login.json";
  const char* home = std::getenv("HOME");
  if (home && *home) return std::string(home) + "/.local/state/dagmedic/login.json";
  return make_error(Errc::failed_precondition,
                    "neither $XDG_STATE_HOME nor $HOME is set: no place to keep the login");
}

Status save_login(const std::string& path, const StoredLogin& l) {
  const auto slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  if (auto s = make_dirs(dir); !s) return s;
  // The state dir holds secrets: it is the owner's alone (a dir created by someone else stays).
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0 && st.st_uid == ::geteuid() && (st.st_mode & 077) != 0)
    ::chmod(dir.c_str(), st.st_mode & 0700);
  json j = {{"version", 1},
            {"issuer", l.issuer},
            {"audience", l.audience},
            {"client_id", l.client_id},
            {"token_endpoint", l.token_endpoint},
            {"revocation_endpoint", l.revocation_endpoint},
            {"access_token", l.tokens.access_token},
            {"refresh_token", l.tokens.refresh_token},
            {"id_token", l.tokens.id_token},
            {"scope", l.tokens.scope},
            {"expires_at", to_s(l.tokens.expires_at)},
            {"refresh_expires_at", to_s(l.tokens.refresh_expires_at)}};
  const std::string text = j.dump(2) + "\n";
  std::random_device rd;
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(rd());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return io_error("cannot create", tmp);
  std::size_t off = 0;
  while (off < text.size()) {
    const ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      auto e = io_error("cannot write", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return e;
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fchmod(fd, 0600) != 0 || ::fsync(fd) != 0) {
    auto e = io_error("cannot write", tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return e;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto e = io_error("cannot replace", path);
    ::unlink(tmp.c_str());
    return e;
  }
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

Result<StoredLogin> load_login(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return make_error(Errc::not_found, "not logged in (no " + path + ")");
    return io_error("cannot open", path);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    auto e = io_error("cannot stat", path);
    ::close(fd);
    return e;
  }
  if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0 || st.st_uid != ::geteuid()) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return make_error(Errc::failed_precondition,
                      path + " must be a regular file of yours with mode 0600 (it is " + mode +
                          "): it holds your tokens; remove it and run `dagmedic login` again");
  }
  std::string text;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      auto e = io_error("cannot read", path);
      ::close(fd);
      return e;
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > (1 << 20)) break;
  }
  ::close(fd);
  json j = json::parse(text, nullptr, false);
  auto str = [&](const char* k) {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto num = [&](const char* k) -> int64_t {
    auto it = j.find(k);
    return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
  };
  if (!j.is_object() || num("version") != 1 || str("access_token").empty() || str("issuer").empty())
    return make_error(Errc::protocol,
                      path + " is not a dagmedic login file; remove it and run `dagmedic login`");
  StoredLogin l;
  l.issuer = str("issuer");
  l.audience = str("audience");
  l.client_id = str("client_id");
  l.token_endpoint = str("token_endpoint");
  l.revocation_endpoint = str("revocation_endpoint");
  l.tokens.access_token = str("access_token");
  l.tokens.refresh_token = str("refresh_token");
  l.tokens.id_token = str("id_token");
  l.tokens.scope = str("scope");
  l.tokens.expires_at = from_s(num("expires_at"));
  l.tokens.refresh_expires_at = from_s(num("refresh_expires_at"));
  return l;
}

Status remove_login(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return io_error("cannot remove", path);
  return Status::Ok();
}

Result<StoredLogin> fresh_login(const std::string& path, StoredLogin login, DeviceClient& client,
                                const Clock& clock, std::chrono::seconds margin) {
  const auto now = clock.now();
  if (login.tokens.expires_at - margin > now) return login;
  const bool refresh_expired = login.tokens.refresh_expires_at != Clock::time_point{} &&
                               login.tokens.refresh_expires_at <= now;
  if (login.tokens.refresh_token.empty() || refresh_expired || login.token_endpoint.empty())
    return make_error(Errc::unauthenticated, "your login has expired; run `dagmedic login` again");
  auto t = client.refresh(login.token_endpoint, login.tokens.refresh_token);
  if (!t) return t.error();
  login.tokens = std::move(*t);
  if (auto s = save_login(path, login); !s) return s.error();
  return login;
}

}  // namespace dm::auth
