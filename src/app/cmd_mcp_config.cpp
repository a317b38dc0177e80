// `dagmedic mcp-config CLIENT [--http URL] [--config FILE] [--name NAME] [--write [--file PATH]]`:
// prints the configuration CLIENT expects for dagmedic (and the client's own registration command
// where it has one), or with --write merges it into the client's configuration file.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "app/commands.h"
#include "app/mcp_config.h"

namespace dm::app {
namespace {

// The running program's absolute path (what the client should start).
std::string self_path(const char* argv0) {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) return p.string();
  p = std::filesystem::absolute(argv0, ec);
  return ec ? std::string(argv0) : p.string();
}

std::string env_or(const char* name, const std::string& dflt) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : dflt;
}

}  // namespace

int cmd_mcp_config(int argc, char** argv) {
  CLI::App app{"Print (or --write) the MCP client configuration that starts or reaches dagmedic.",
               "dagmedic mcp-config"};
  std::string client_name, config_path, file;
  McpServerSpec spec;
  bool write = false;
  app.add_option("client", client_name, "claude-code | claude-desktop | vscode | cursor")
      ->required();
  app.add_option("--http", spec.http_url,
                 "Reach a running `dagmedic serve --transport http` at this URL (e.g. "
                 "https://dagmedic.example.com/mcp) instead of starting it over stdio");
  app.add_option("--config", config_path, "dagmedic config file the stdio server should use");
  app.add_option("--name", spec.name, "Server name in the client's list (default dagmedic)");
  app.add_flag("--write", write, "Merge into the client's configuration file (other entries kept)");
  app.add_option("--file", file,
                 "With --write: the file to merge into (default: the client's own)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  auto client = mcp_client_from(client_name);
  if (!client) {
    std::fprintf(stderr,
                 "dagmedic mcp-config: unknown client '%s' (claude-code, claude-desktop, vscode, "
                 "cursor)\n",
                 client_name.c_str());
    return 2;
  }
  if (!spec.http_url.empty() && spec.http_url.rfind("http://", 0) != 0 &&
      spec.http_url.rfind("https://", 0) != 0) {
    std::fprintf(stderr, "dagmedic mcp-config: --http needs an http:// or https:// URL\n");
    return 2;
  }
  if (!spec.http_url.empty() && !config_path.empty()) {
    std::fprintf(stderr,
                 "dagmedic mcp-config: --config is for a stdio server; the HTTP server reads its "
                 "own\n");
    return 2;
  }
  if (!file.empty() && !write) {
    std::fprintf(stderr, "dagmedic mcp-config: --file goes with --write\n");
    return 2;
  }
  spec.command = self_path(argv[0]);
  std::error_code ec;
  if (!config_path.empty()) spec.config_path = std::filesystem::absolute(config_path, ec).string();

  if (write) {
    const std::string cwd = std::filesystem::current_path(ec).string();
    const std::string home = env_or("HOME", cwd);
    if (file.empty()) file = default_config_file(*client, cwd, home, env_or("XDG_CONFIG_HOME", ""));
    if (auto st = write_merged(*client, spec, file); !st) {
      std::fprintf(stderr, "dagmedic mcp-config: %s\n", st.error().message.c_str());
      return 1;
    }
    std::printf("%s: server \"%s\" written to %s\n", mcp_client_name(*client), spec.name.c_str(),
                file.c_str());
    return 0;
  }
  std::printf("%s\n", config_document(*client, spec).dump(2).c_str());
  if (auto cmd = registration_command(*client, spec); !cmd.empty())
    std::fprintf(stderr, "# or register it with: %s\n", cmd.c_str());
  return 0;
}

}  // namespace dm::app
