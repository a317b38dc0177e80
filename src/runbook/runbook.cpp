#include "runbook/runbook.h"

#include <openssl/crypto.h>

namespace dm::runbook {

Result<Deps> make_deps(config::Config cfg) {
  // Initialise OpenSSL here, on the starting thread, rather than lazily on whichever handler
  // thread hashes the first signature.
  OPENSSL_init_crypto(0, nullptr);
  auto redactor = logs::Redactor::builtin();
  if (!redactor) {
    return make_error(Errc::internal, "built-in redaction rules: " + redactor.error().message);
  }
  auto categorizer = logs::Categorizer::builtin();
  if (!categorizer) {
    return make_error(Errc::internal, "built-in category rules: " + categorizer.error().message);
  }
  return Deps{std::move(cfg), std::move(*redactor), std::move(*categorizer)};
}

Status register_tools(mcp::Server& server, const std::shared_ptr<const Deps>& deps) {
  if (auto st = register_diagnose_tools(server, deps); !st) return st;
  return Status::Ok();
}

}  // namespace dm::runbook
