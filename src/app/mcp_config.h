// `dagmedic mcp-config`: the entry each MCP client expects for dagmedic, and merging it into the
// client's own configuration file without losing what the file already holds.
//   claude-code:    .mcp.json (project scope)            {"mcpServers": {NAME: {"type": …}}}
//   claude-desktop: claude_desktop_config.json           {"mcpServers": {NAME: {"command": …}}}
//   vscode:         .vscode/mcp.json                     {"servers": {NAME: {"type": …}}}
//   cursor:         ~/.cursor/mcp.json                   {"mcpServers": {NAME: {"command": …}}}
// Over stdio the entry starts `dagmedic serve --transport stdio [--config FILE]`; over HTTP it
// names the server's URL (a client that meets an OAuth-protected server finds its authorization
// server through the server's protected-resource metadata). Claude Desktop's file takes only local
// commands, so its HTTP entry runs the `mcp-remote` bridge (npm) to the URL. Pure functions, except
// write_merged (the file system); none throws.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace dm::app {

enum class McpClient { claude_code, claude_desktop, vscode, cursor };

// "claude-code" | "claude-desktop" | "vscode" | "cursor" → the client; nullopt otherwise.
std::optional<McpClient> mcp_client_from(const std::string& name);
const char* mcp_client_name(McpClient c);

struct McpServerSpec {
  std::string name = "dagmedic";  // the key under the client's server map
  std::string command{};          // absolute path of dagmedic (stdio)
  std::string config_path{};      // passed as --config when not empty (stdio)
  std::string http_url{};         // non-empty: the client connects to this URL instead
};

// The server entry (the value under NAME) for `client`.
nlohmann::json server_entry(McpClient client, const McpServerSpec& s);
// The whole minimal file for `client`: {"mcpServers"|"servers": {NAME: entry}}.
nlohmann::json config_document(McpClient client, const McpServerSpec& s);
// A shell command that registers the server with the client's own CLI, where it has one
// (claude-code: `claude mcp add …`; vscode: `code --add-mcp '…'`); "" otherwise.
std::string registration_command(McpClient client, const McpServerSpec& s);

// The file --write merges into when no --file is given: claude-code and vscode the project files
// under `cwd`; claude-desktop and cursor the user's file under `home` (claude-desktop: Linux
// $XDG_CONFIG_HOME/Claude, else HOME/.config/Claude).
std::string default_config_file(McpClient client, const std::string& cwd, const std::string& home,
                                const std::string& xdg_config_home);

// `existing` (the file's text; "" = no file) with NAME set to the entry and every other key kept.
// Errors (invalid_argument, naming `path`): the text is not a JSON object, or the server map is
// not an object — nothing is to be written then.
Result<nlohmann::json> merged_config(McpClient client, const McpServerSpec& s,
                                     const std::string& existing, const std::string& path);

// Reads `path` (missing = empty), merges, and replaces the file atomically (a temporary file in
// the same folder, then rename), creating the folder when needed and keeping an existing file's
// mode. On any error the file is left as it was.
Status write_merged(McpClient client, const McpServerSpec& s, const std::string& path);

}  // namespace dm::app
