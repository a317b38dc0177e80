#include "app/mcp_config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace dm::app {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

McpServerSpec stdio_spec() {
  return {.name = "dagmedic", .command = "/usr/bin/dagmedic", .config_path = "/etc/dm.yaml"};
}
McpServerSpec http_spec() {
  return {.name = "dagmedic", .command = "/usr/bin/dagmedic", .http_url = "https://dm.example/mcp"};
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream b;
  b << in.rdbuf();
  return b.str();
}

TEST(McpConfig, EachClientGetsItsOwnShapeOverStdio) {
  const json args = {"serve", "--transport", "stdio", "--config", "/etc/dm.yaml"};
  auto cc = config_document(McpClient::claude_code, stdio_spec());
  EXPECT_EQ(cc["mcpServers"]["dagmedic"],
            (json{{"type", "stdio"}, {"command", "/usr/bin/dagmedic"}, {"args", args}}));
  auto vs = config_document(McpClient::vscode, stdio_spec());
  EXPECT_TRUE(vs.contains("servers"));
  EXPECT_FALSE(vs.contains("mcpServers"));
  EXPECT_EQ(vs["servers"]["dagmedic"]["type"], "stdio");
  auto cu = config_document(McpClient::cursor, stdio_spec());
  EXPECT_EQ(cu["mcpServers"]["dagmedic"], (json{{"command", "/usr/bin/dagmedic"}, {"args", args}}));
  auto cd = config_document(McpClient::claude_desktop, stdio_spec());
  EXPECT_EQ(cd["mcpServers"]["dagmedic"]["args"], args);
}

TEST(McpConfig, HttpNamesTheUrlAndClaudeDesktopBridgesIt) {
  EXPECT_EQ(server_entry(McpClient::claude_code, http_spec()),
            (json{{"type", "http"}, {"url", "https://dm.example/mcp"}}));
  EXPECT_EQ(server_entry(McpClient::vscode, http_spec()),
            (json{{"type", "http"}, {"url", "https://dm.example/mcp"}}));
  EXPECT_EQ(server_entry(McpClient::cursor, http_spec()),
            (json{{"url", "https://dm.example/mcp"}}));
  auto d = server_entry(McpClient::claude_desktop, http_spec());
  EXPECT_EQ(d["command"], "npx");
  EXPECT_EQ(d["args"].back(), "https://dm.example/mcp");
}

TEST(McpConfig, RegistrationCommandsQuoteForTheShell) {
  McpServerSpec s = stdio_spec();
  s.config_path = "/etc/it's here.yaml";
  EXPECT_EQ(registration_command(McpClient::claude_code, s),
            "claude mcp add --transport stdio 'dagmedic' -- '/usr/bin/dagmedic' 'serve' "
            "'--transport' 'stdio' '--config' '/etc/it'\\''s here.yaml'");
  EXPECT_EQ(registration_command(McpClient::claude_code, http_spec()),
            "claude mcp add --transport http 'dagmedic' 'https://dm.example/mcp'");
  auto vs = registration_command(McpClient::vscode, http_spec());
  EXPECT_EQ(vs.rfind("code --add-mcp '", 0), 0u);
  EXPECT_NE(vs.find("\"name\":\"dagmedic\""), std::string::npos);
  EXPECT_EQ(registration_command(McpClient::cursor, stdio_spec()), "");
}

TEST(McpConfig, DefaultFilesFollowEachClient) {
  EXPECT_EQ(default_config_file(McpClient::claude_code, "/p", "/h", ""), "/p/.mcp.json");
  EXPECT_EQ(default_config_file(McpClient::vscode, "/p", "/h", ""), "/p/.vscode/mcp.json");
  EXPECT_EQ(default_config_file(McpClient::cursor, "/p", "/h", ""), "/h/.cursor/mcp.json");
#ifndef __APPLE__
  EXPECT_EQ(default_config_file(McpClient::claude_desktop, "/p", "/h", ""),
            "/h/.config/Claude/claude_desktop_config.json");
  EXPECT_EQ(default_config_file(McpClient::claude_desktop, "/p", "/h", "/x"),
            "/x/Claude/claude_desktop_config.json");
#endif
  EXPECT_FALSE(mcp_client_from("emacs").has_value());
  EXPECT_EQ(mcp_client_name(*mcp_client_from("claude-desktop")), std::string("claude-desktop"));
}

TEST(McpConfig, MergeKeepsOtherServersAndKeysAndReplacesItsOwn) {
  const std::string existing = R"({
    // a comment some clients allow
    "inputs": [{"id": "k"}],
    "servers": {"other": {"type": "stdio", "command": "x"},
                "dagmedic": {"type": "stdio", "command": "/old/dagmedic"}}
  })";
  auto m = merged_config(McpClient::vscode, stdio_spec(), existing, "f");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ((*m)["inputs"][0]["id"], "k");
  EXPECT_EQ((*m)["servers"]["other"]["command"], "x");
  EXPECT_EQ((*m)["servers"]["dagmedic"]["command"], "/usr/bin/dagmedic");
  EXPECT_EQ((*m)["servers"].size(), 2u);
}

TEST(McpConfig, MergeRefusesWhatIsNotAnObjectAndNamesTheFile) {
  for (const std::string bad : {"[1,2]", "{not json", R"({"mcpServers": [1]})"}) {
    auto m = merged_config(McpClient::cursor, stdio_spec(), bad, "/h/.cursor/mcp.json");
    ASSERT_FALSE(m.ok()) << bad;
    EXPECT_EQ(m.error().code, Errc::invalid_argument);
    EXPECT_NE(m.error().message.find("/h/.cursor/mcp.json"), std::string::npos);
  }
  EXPECT_TRUE(merged_config(McpClient::cursor, stdio_spec(), "  \n", "f").ok());
}

class McpConfigFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("dm-mcp-config-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(McpConfigFiles, WriteCreatesTheFolderAndFile) {
  const fs::path f = dir_ / ".vscode" / "mcp.json";
  ASSERT_TRUE(write_merged(McpClient::vscode, stdio_spec(), f.string()).ok());
  auto j = json::parse(slurp(f));
  EXPECT_EQ(j["servers"]["dagmedic"]["command"], "/usr/bin/dagmedic");
  EXPECT_FALSE(fs::exists(f.string() + ".dagmedic-tmp"));
}

TEST_F(McpConfigFiles, WriteKeepsTheModeAndOtherEntries) {
  fs::create_directories(dir_);
  const fs::path f = dir_ / "claude_desktop_config.json";
  std::ofstream(f) << R"({"mcpServers": {"fs": {"command": "npx"}}, "globalShortcut": "x"})";
  ::chmod(f.c_str(), 0600);
  ASSERT_TRUE(write_merged(McpClient::claude_desktop, http_spec(), f.string()).ok());
  auto j = json::parse(slurp(f));
  EXPECT_EQ(j["globalShortcut"], "x");
  EXPECT_EQ(j["mcpServers"]["fs"]["command"], "npx");
  EXPECT_EQ(j["mcpServers"]["dagmedic"]["args"].back(), "https://dm.example/mcp");
  struct stat st {};
  ASSERT_EQ(::stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(McpConfigFiles, ABrokenFileIsLeftExactlyAsItWas) {
  fs::create_directories(dir_);
  const fs::path f = dir_ / ".mcp.json";
  const std::string broken = "{\"mcpServers\": {\"a\": ";
  std::ofstream(f) << broken;
  auto st = write_merged(McpClient::claude_code, stdio_spec(), f.string());
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(slurp(f), broken);
  EXPECT_FALSE(fs::exists(f.string() + ".dagmedic-tmp"));
}

}  // namespace
}  // namespace dm::app
