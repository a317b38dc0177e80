// Sub-commands of the `dagmedic` program. Each lives in its own cmd_*.cpp, parses its own
// arguments (argv[0] is the sub-command name) and returns the process exit code:
// 0 success, 1 the operation failed (message on stderr), 2 usage error.
// Nothing here throws; stdout carries only the command's output (for `serve --transport stdio`,
// only MCP protocol), diagnostics go to stderr.
#pragma once

namespace dm::app {

int cmd_serve(int argc, char** argv);       // MCP server: --transport stdio|http [--port N]
int cmd_logs(int argc, char** argv);        // logs redact|extract|templates FILE|-
int cmd_doctor(int argc, char** argv);      // doctor [--env NAME] [--config FILE]
int cmd_approvals(int argc, char** argv);   // approvals list|show|approve|deny|web
int cmd_audit(int argc, char** argv);       // audit verify|export|checkpoint
int cmd_mcp_config(int argc, char** argv);  // mcp-config CLIENT [--http URL] [--write]
int cmd_watch(int argc, char** argv);       // watch [--once] [--env NAME] | watch status
int cmd_login(int argc, char** argv);       // login [--config FILE] (device grant; auth:)
int cmd_logout(int argc, char** argv);      // logout [--config FILE]

}  // namespace dm::app
