#include "app/mcp_config.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace dm::app {

using json = nlohmann::json;

namespace {

// The key of the server map in `client`'s file.
const char* servers_key(McpClient c) { return c == McpClient::vscode ? "servers" : "mcpServers"; }

std::vector<std::string> stdio_args(const McpServerSpec& s) {
  std::vector<std::string> a = {"serve", "--transport", "stdio"};
  if (!s.config_path.empty()) {
    a.push_back("--config");
    a.push_back(s.config_path);
  }
  return a;
}

// Single-quoted for a POSIX shell.
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

std::optional<McpClient> mcp_client_from(const std::string& name) {
  if (name == "claude-code") return McpClient::claude_code;
  if (name == "claude-desktop") return McpClient::claude_desktop;
  if (name == "vscode") return McpClient::vscode;
  if (name == "cursor") return McpClient::cursor;
  return std::nullopt;
}

const char* mcp_client_name(McpClient c) {
  switch (c) {
    case McpClient::claude_code:
      return "claude-code";
    case McpClient::claude_desktop:
      return "claude-desktop";
    case McpClient::vscode:
      return "vscode";
    case McpClient::cursor:
      return "cursor";
  }
  return "";
}

json server_entry(McpClient client, const McpServerSpec& s) {
  const bool http = !s.http_url.empty();
  switch (client) {
    case McpClient::claude_code:
    case McpClient::vscode:
      if (http) return {{"type", "http"}, {"url", s.http_url}};
      return {{"type", "stdio"}, {"command", s.command}, {"args", stdio_args(s)}};
    case McpClient::cursor:
      if (http) return {{"url", s.http_url}};
      return {{"command", s.command}, {"args", stdio_args(s)}};
    case McpClient::claude_desktop:
      if (http) return {{"command", "npx"}, {"args", {"-y", "mcp-remote", s.http_url}}};
      return {{"command", s.command}, {"args", stdio_args(s)}};
  }
  return json::object();
}

json config_document(McpClient client, const McpServerSpec& s) {
  return {{servers_key(client), {{s.name, server_entry(client, s)}}}};
}

std::string registration_command(McpClient client, const McpServerSpec& s) {
  if (client == McpClient::claude_code) {
    if (!s.http_url.empty())
      return "claude mcp add --transport http " + shell_quote(s.name) + " " +
             shell_quote(s.http_url);
    std::string cmd =
        "claude mcp add --transport stdio " + shell_quote(s.name) + " -- " + shell_quote(s.command);
    for (const auto& a : stdio_args(s)) cmd += " " + shell_quote(a);
    return cmd;
  }
  if (client == McpClient::vscode) {
    json j = server_entry(client, s);
    j["name"] = s.name;
    return "code --add-mcp " + shell_quote(j.dump());
  }
  return "";
}

std::string default_config_file(McpClient client, const std::string& cwd, const std::string& home,
                                const std::string& xdg_config_home) {
  namespace fs = std::filesystem;
  switch (client) {
    case McpClient::claude_code:
      return (fs::path(cwd) / ".mcp.json").string();
    case McpClient::vscode:
      return (fs::path(cwd) / ".vscode" / "mcp.json").string();
    case McpClient::cursor:
      return (fs::path(home) / ".cursor" / "mcp.json").string();
    case McpClient::claude_desktop: {
#ifdef __APPLE__
      return (fs::path(home) / "Library/Application Support/Claude/claude_desktop_config.json")
          .string();
#else
      fs::path base =
          xdg_config_home.empty() ? fs::path(home) / ".config" : fs::path(xdg_config_home);
      return (base / "Claude" / "claude_desktop_config.json").string();
#endif
    }
  }
  return "";
}

Result<json> merged_config(McpClient client, const McpServerSpec& s, const std::string& existing,
                           const std::string& path) {
  json doc = json::object();
  if (existing.find_first_not_of(" \t\r\n") != std::string::npos) {
    doc = json::parse(existing, nullptr, /*allow_exceptions=*/false, /*ignore_comments=*/true);
    if (doc.is_discarded() || !doc.is_object())
      return make_error(Errc::invalid_argument,
                        path + " is not a JSON object; fix or move it, nothing was written");
  }
  json& servers = doc[servers_key(client)];
  if (servers.is_null()) servers = json::object();
  if (!servers.is_object())
    return make_error(Errc::invalid_argument, path + ": \"" + servers_key(client) +
                                                  "\" is not an object; nothing was written");
  servers[s.name] = server_entry(client, s);
  return doc;
}

Status write_merged(McpClient client, const McpServerSpec& s, const std::string& path) {
  namespace fs = std::filesystem;
  std::string existing;
  struct stat st {};
  const bool exists = ::stat(path.c_str(), &st) == 0;
  if (exists) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(Errc::unavailable, "cannot read " + path);
    std::ostringstream buf;
    buf << in.rdbuf();
    existing = buf.str();
  }
  auto doc = merged_config(client, s, existing, path);
  if (!doc) return doc.error();
  std::error_code ec;
  const fs::path dir = fs::path(path).parent_path();
  if (!dir.empty()) fs::create_directories(dir, ec);
  if (ec)
    return make_error(Errc::unavailable, "cannot create " + dir.string() + ": " + ec.message());
  const std::string tmp = path + ".dagmedic-tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << doc->dump(2) << "\n";
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      return make_error(Errc::unavailable, "cannot write " + tmp);
    }
  }
  if (exists) ::chmod(tmp.c_str(), st.st_mode & 07777);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    return make_error(Errc::unavailable, "cannot replace " + path + ": " + why);
  }
  return Status::Ok();
}

}  // namespace dm::app
