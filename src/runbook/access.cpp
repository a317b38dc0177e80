#include "runbook/access.h"

#include <algorithm>

namespace dm::runbook {
namespace {

bool holds(const mcp::Caller& c, const std::string& scope) {
  return std::find(c.scopes.begin(), c.scopes.end(), scope) != c.scopes.end();
}

}  // namespace

std::string scope_for(const config::AuthScopes& scopes, std::optional<mcp::Effect> effect) {
  return effect && *effect == mcp::Effect::reads ? scopes.read : scopes.operate;
}

bool may_use(const config::AuthScopes& scopes, const mcp::Caller& caller,
             std::optional<mcp::Effect> effect) {
  if (holds(caller, scopes.operate)) return true;  // operate includes read
  return scope_for(scopes, effect) == scopes.read && holds(caller, scopes.read);
}

std::string missing_scope(const mcp::Server& server, const config::AuthScopes& scopes,
                          const mcp::Caller& caller, std::string_view method,
                          std::string_view target) {
  std::optional<mcp::Effect> effect = mcp::Effect::reads;
  if (method == "tools/call")
    if (auto t = server.find_tool(std::string(target))) effect = t->effect;
  return may_use(scopes, caller, effect) ? std::string() : scope_for(scopes, effect);
}

void install_access(mcp::Server& server, const config::AuthScopes& scopes) {
  server.set_tool_filter([scopes](const mcp::Tool& t, const mcp::Caller* caller) {
    return !caller || may_use(scopes, *caller, t.effect);
  });
}

std::optional<std::string> call_environment(const Deps& deps, const mcp::Call& call) {
  if (call.arguments.is_object())
    if (auto e = call.arguments.find("environment");
        e != call.arguments.end() && e->is_string() && !e->get_ref<const std::string&>().empty())
      return e->get<std::string>();
  if (!call.tool || !call.tool->input_schema.is_object()) return std::nullopt;
  const auto props = call.tool->input_schema.find("properties");
  if (props == call.tool->input_schema.end() || !props->is_object() ||
      !props->contains("environment"))
    return std::nullopt;
  auto env = deps.config.pick("");
  if (!env) return std::nullopt;
  return (*env)->name;
}

}  // namespace dm::runbook
