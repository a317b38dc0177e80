// dagmedic: MCP server and CLI for incident response on Airflow / MWAA pipelines.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "app/commands.h"
#include "app/precompiled.h"

namespace {

constexpr const char* kUsage =
    "usage: dagmedic <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve    run the MCP server (--transport stdio|http, --port N)\n"
    "  logs     redact | extract | templates a log file or stdin\n"
    "  doctor   check config, reachability, auth and API version of environments\n"
    "  approvals list | show ID | approve ID --reason R | deny ID --reason R | web\n"
    "  audit    verify | export [--out F] | checkpoint\n"
    "  watch    [--once] [--env NAME] [--json] | status: find new failed runs, open incidents\n"
    "  login    sign in at the identity provider of auth: (device code in a browser)\n"
    "  logout   forget (and revoke) that login\n"
    "  mcp-config claude-code | claude-desktop | vscode | cursor [--http URL] [--write]\n"
    "  version  print the version, the git commit and the build type\n"
    "\n"
    "`dagmedic <command> --help` describes a command.\n";

}  // namespace

int main(int argc, char** argv) {
  dm::app::register_precompiled_dbs();
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::string_view cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (cmd == "version" || cmd == "--version") {
    std::puts("dagmedic " DM_VERSION_STRING " (commit " DM_GIT_COMMIT ", " DM_BUILD_TYPE " build)");
    return 0;
  }
  if (cmd == "serve") return dm::app::cmd_serve(argc - 1, argv + 1);
  if (cmd == "logs") return dm::app::cmd_logs(argc - 1, argv + 1);
  if (cmd == "doctor") return dm::app::cmd_doctor(argc - 1, argv + 1);
  if (cmd == "approvals") return dm::app::cmd_approvals(argc - 1, argv + 1);
  if (cmd == "audit") return dm::app::cmd_audit(argc - 1, argv + 1);
  if (cmd == "login") return dm::app::cmd_login(argc - 1, argv + 1);
  if (cmd == "logout") return dm::app::cmd_logout(argc - 1, argv + 1);
  if (cmd == "mcp-config") return dm::app::cmd_mcp_config(argc - 1, argv + 1);
  if (cmd == "watch") return dm::app::cmd_watch(argc - 1, argv + 1);
  std::fprintf(stderr, "dagmedic: unknown command '%s'\n\n%s", argv[1], kUsage);
  return 2;
}
