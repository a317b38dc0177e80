#include "app/wiring.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "guard/canonical.h"
#include "store/pg_store.h"
#include "store/sqlite_store.h"

namespace dm::app {
namespace {

// Folder of the audit key file: the SQLite store's folder (or the default state folder).
Result<std::string> key_dir(const config::StoreSettings& s) {
  std::string db = s.path;
  if (s.backend == config::StoreSettings::Backend::postgres || db.empty() || db == ":memory:") {
    auto d = store::default_sqlite_path();
    if (!d) return d.error();
    db = *d;
  }
  auto slash = db.rfind('/');
  return slash == std::string::npos ? std::string(".") : db.substr(0, slash == 0 ? 1 : slash);
}

Status mkdirs(const std::string& dir) {
  std::string cur;
  for (std::size_t i = 0; i <= dir.size(); ++i) {
    if (i == dir.size() || (dir[i] == '/' && i > 0)) {
      cur = dir.substr(0, i);
      if (::mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST)
        return make_error(Errc::unavailable,
                          "cannot create folder " + cur + ": " + std::strerror(errno));
    }
  }
  return Status::Ok();
}

// The generated key file: created once with O_EXCL (0600), read afterwards.
Result<guard::AuditKey> default_key(const config::StoreSettings& s) {
  auto dir = key_dir(s);
  if (!dir) return dir.error();
  if (auto st = mkdirs(*dir); !st) return st.error();
  const std::string path = *dir + "/audit.key";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    auto hex = guard::random_hex(32);
    bool ok = hex.ok();
    if (ok) {
      std::string line = *hex + "\n";
      ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
           ::fsync(fd) == 0;
    }
    ::close(fd);
    if (!ok) {
      ::unlink(path.c_str());
      return make_error(Errc::unavailable, "audit: cannot write the new key file " + path);
    }
    std::fprintf(stderr,
                 "dagmedic: created the audit key %s (0600). Keep a copy elsewhere: without it "
                 "checkpoints cannot be verified.\n",
                 path.c_str());
  } else if (errno != EEXIST) {
    return make_error(Errc::unavailable,
                      "audit: cannot create the key file " + path + ": " + std::strerror(errno));
  }
  return guard::AuditKey::from_file(path);
}

}  // namespace

Result<std::unique_ptr<store::Store>> open_configured_store(const config::StoreSettings& s) {
  if (s.backend == config::StoreSettings::Backend::postgres) {
    const char* dsn = std::getenv(s.dsn_env.c_str());
    if (dsn == nullptr || *dsn == '\0')
      return make_error(Errc::failed_precondition,
                        "store: $" + s.dsn_env + " (store.dsn_env) is not set or empty");
    return store::open_pg_store({.dsn = dsn});
  }
  return store::open_sqlite_store({.path = s.path});
}

std::function<Result<guard::AuditKey>()> audit_key_source(const config::Config& cfg) {
  if (!cfg.audit.key_file.empty())
    return [path = cfg.audit.key_file] { return guard::AuditKey::from_file(path); };
  if (!cfg.audit.key_env.empty())
    return [var = cfg.audit.key_env] { return guard::AuditKey::from_env(var.c_str()); };
  return [s = cfg.store] { return default_key(s); };
}

Result<guard::Principal> operator_from(const config::Config& cfg) {
  std::string id = cfg.identity.principal;
  if (id.empty()) {
    if (const passwd* pw = ::getpwuid(::geteuid()); pw != nullptr && pw->pw_name && *pw->pw_name)
      id = pw->pw_name;
    else if (const char* u = std::getenv("USER"); u && *u)
      id = u;
    else
      id = "uid:" + std::to_string(::geteuid());
  }
  auto n = guard::normalize_principal(id);
  if (!n) return make_error(Errc::invalid_argument, "identity.principal: " + n.error().message);
  if (n->rfind("agent:", 0) == 0)
    return make_error(Errc::invalid_argument, "identity.principal: \"agent:\" is reserved");
  return guard::Principal{*n, false};
}

Result<std::shared_ptr<runbook::Deps>> wire_deps(config::Config cfg) {
  auto op = operator_from(cfg);
  if (!op) return op.error();
  runbook::DepsOverrides o;
  o.open_store = [s = cfg.store] { return open_configured_store(s); };
  o.audit_key_source = audit_key_source(cfg);
  o.operator_principal = std::move(*op);
  return runbook::make_deps(std::move(cfg), std::move(o));
}

Result<std::shared_ptr<const mcp::RequestStateSealer>> request_state_sealer(
    const config::Config& cfg) {
  const auto& sv = cfg.server;
  std::string key, where;
  if (!sv.request_state_key_file.empty()) {
    where = "server.request_state_key_file " + sv.request_state_key_file;
    std::ifstream f(sv.request_state_key_file, std::ios::binary);
    if (!f) return make_error(Errc::failed_precondition, "cannot read " + where);
    std::ostringstream ss;
    ss << f.rdbuf();
    key = ss.str();
  } else if (!sv.request_state_key_env.empty()) {
    where = "$" + sv.request_state_key_env + " (server.request_state_key_env)";
    const char* v = std::getenv(sv.request_state_key_env.c_str());
    if (v == nullptr || *v == '\0')
      return make_error(Errc::failed_precondition, where + " is not set or empty");
    key = v;
  } else {
    return std::shared_ptr<const mcp::RequestStateSealer>();
  }
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
  auto sealer = mcp::RequestStateSealer::create(std::move(key));
  if (!sealer) return make_error(sealer.error().code, where + ": " + sealer.error().message);
  return sealer;
}

}  // namespace dm::app
