// `dagmedic audit verify|export|checkpoint`: check and export the tamper-evident audit chain.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "app/commands.h"
#include "app/load_deps.h"
#include "config/config.h"
#include "runbook/deps.h"

namespace dm::app {

int cmd_audit(int argc, char** argv) {
  CLI::App cli{"Verify or export the audit log", "dagmedic audit"};
  cli.require_subcommand(1);
  std::string config_path, out_path;
  auto* verify = cli.add_subcommand(
      "verify", "check the hash chain and the signed checkpoints (exit 0 ok, 1 tampered/error)");
  verify->add_option("--config", config_path, "config file");
  auto* exp = cli.add_subcommand("export", "write the chain as JSON lines");
  exp->add_option("--out", out_path, "file to write (default: stdout)");
  exp->add_option("--config", config_path, "config file");
  auto* cp = cli.add_subcommand("checkpoint", "write a signed checkpoint of the head now");
  cp->add_option("--config", config_path, "config file");
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? 0 : 2;
  }
  auto deps = load_deps(config_path, "audit");
  if (!deps) return 1;
  auto audit = deps->audit();
  if (!audit) {
    std::fprintf(stderr, "dagmedic audit: %s\n", audit.error().message.c_str());
    return 1;
  }
  if (*verify) {
    auto r = (*audit)->verify();
    if (!r) {
      std::fprintf(stderr, "dagmedic audit: cannot read the log: %s\n", r.error().message.c_str());
      return 1;
    }
    std::printf("audit %s: %lld entries, %lld checkpoints checked, anchored to seq %lld\n",
                r->ok ? "OK" : "TAMPERED", static_cast<long long>(r->entries),
                static_cast<long long>(r->checkpoints), static_cast<long long>(r->anchored_seq));
    if (!r->ok)
      std::printf("first bad seq %lld: %s\n", static_cast<long long>(r->first_bad_seq),
                  r->reason.c_str());
    return r->ok ? 0 : 1;
  }
  if (*exp) {
    Status st = Status::Ok();
    if (out_path.empty()) {
      st = (*audit)->export_jsonl(std::cout);
      std::cout.flush();
    } else {
      std::ofstream f(out_path, std::ios::binary | std::ios::trunc);
      if (!f) {
        std::fprintf(stderr, "dagmedic audit: cannot write %s\n", out_path.c_str());
        return 1;
      }
      st = (*audit)->export_jsonl(f);
      f.flush();
      if (st && !f) st = make_error(Errc::unavailable, "write error on " + out_path);
    }
    if (!st) {
      std::fprintf(stderr, "dagmedic audit: %s\n", st.error().message.c_str());
      return 1;
    }
    return 0;
  }
  auto c = (*audit)->checkpoint();
  if (!c) {
    std::fprintf(stderr, "dagmedic audit: %s\n", c.error().message.c_str());
    return 1;
  }
  std::printf("checkpoint at seq %lld (%s)\n", static_cast<long long>(c->seq), c->hash.c_str());
  return 0;
}

}  // namespace dm::app
