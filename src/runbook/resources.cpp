// Incident resources (see resources.h). Reads only the store; never calls Airflow.
#include "runbook/resources.h"

#include <exception>

#include "runbook/postmortem_internal.h"
#include "runbook/tool_kit.h"

namespace dm::runbook {
namespace {

using json = nlohmann::json;
namespace pm = postmortem;

constexpr std::size_t kMaxListed = 100;

Result<store::Store*> open_store(const Deps& deps) {
  auto st = deps.store();
  if (!st) return make_error(st.error().code, "incident store unavailable: " + st.error().message);
  return st;
}

Result<store::Incident> load(const Deps& deps, const std::string& id) {
  if (!pm::valid_incident_id(id))
    return make_error(Errc::invalid_argument,
                      "incident id must look like inc-0123456789abcdef (\"inc-\" and 16 hex "
                      "digits, as list_incidents and generate_postmortem return)");
  auto st = open_store(deps);
  if (!st) return st.error();
  auto inc = (*st)->get_incident(id);
  if (!inc && inc.error().code == Errc::not_found)
    return make_error(Errc::not_found, "no incident " + id +
                                           " (incidents open when get_run_summary or "
                                           "get_failed_tasks looks at a failed run)");
  if (!inc)
    return make_error(inc.error().code, "reading incident " + id + ": " + inc.error().message);
  return inc;
}

std::string dump_redacted(const Deps& deps, json j) {
  redact_json(*deps.redactor, j);
  return j.dump(2, ' ', false, json::error_handler_t::replace);
}

template <class F>
Result<std::vector<mcp::ResourceContents>> guarded(F&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    return make_error(Errc::internal,
                      std::string("incident resource: unexpected failure: ") + e.what());
  }
}

Result<std::vector<mcp::ResourceContents>> read_list(const Deps& deps, const std::string& uri) {
  auto st = open_store(deps);
  if (!st) return st.error();
  auto list = (*st)->list_incidents(store::IncidentQuery{}, kMaxListed);
  if (!list) return make_error(list.error().code, "listing incidents: " + list.error().message);
  json items = json::array();
  for (const auto& inc : *list) items.push_back(pm::incident_json(inc, false));
  json doc = {{"count", items.size()}, {"incidents", std::move(items)}};
  return std::vector<mcp::ResourceContents>{
      {.uri = uri, .mime_type = "application/json", .text = dump_redacted(deps, std::move(doc))}};
}

Result<std::vector<mcp::ResourceContents>> read_incident(const Deps& deps, const std::string& uri,
                                                         const mcp::UriVars& vars) {
  auto inc = load(deps, vars.count("incident_id") ? vars.at("incident_id") : "");
  if (!inc) return inc.error();
  return std::vector<mcp::ResourceContents>{
      {.uri = uri,
       .mime_type = "application/json",
       .text = dump_redacted(deps, pm::incident_json(*inc, true))}};
}

Result<std::vector<mcp::ResourceContents>> read_postmortem(const Deps& deps, const std::string& uri,
                                                           const mcp::UriVars& vars) {
  auto inc = load(deps, vars.count("incident_id") ? vars.at("incident_id") : "");
  if (!inc) return inc.error();
  if (inc->postmortem_md.empty())
    return make_error(Errc::not_found, "incident " + inc->id +
                                           " has no postmortem yet: call generate_postmortem(" +
                                           inc->dag_id + ", " + inc->run_id + ")");
  return std::vector<mcp::ResourceContents>{{.uri = uri,
                                             .mime_type = "text/markdown",
                                             .text = deps.redactor->redact(inc->postmortem_md)}};
}

}  // namespace

std::string incident_resource_uri(const std::string& incident_id) {
  return std::string(kIncidentsUri) + "/" + incident_id;
}

Status register_resources(mcp::Server& server, const std::shared_ptr<const Deps>& deps) {
  mcp::Resource list;
  list.uri = kIncidentsUri;
  list.name = "incidents";
  list.title = "Incidents";
  list.description =
      "Incidents dagmedic opened for failed DAG runs (JSON), most recently updated first, at most "
      "100: id, environment, dag_id, run_id, state, signature, category, uri, postmortem_uri.";
  list.mime_type = "application/json";
  list.handler = [deps](const std::string& uri, mcp::RequestContext&) {
    return guarded([&] { return read_list(*deps, uri); });
  };
  if (auto st = server.add_resource(std::move(list)); !st) return st;

  mcp::ResourceTemplate one;
  one.uri_template = "dagmedic://incidents/{incident_id}";
  one.name = "incident";
  one.title = "Incident";
  one.description =
      "One incident (JSON): state, diagnosis (signature, category, redacted error, diagnosed_at: "
      "when first diagnosed), triage summary and the postmortem's URI once written.";
  one.mime_type = "application/json";
  one.handler = [deps](const std::string& uri, const mcp::UriVars& vars, mcp::RequestContext&) {
    return guarded([&] { return read_incident(*deps, uri, vars); });
  };
  if (auto st = server.add_resource_template(std::move(one)); !st) return st;

  mcp::ResourceTemplate pmt;
  pmt.uri_template = "dagmedic://postmortems/{incident_id}";
  pmt.name = "postmortem";
  pmt.title = "Incident postmortem";
  pmt.description =
      "The Markdown postmortem of an incident, as generate_postmortem wrote it (redacted).";
  pmt.mime_type = "text/markdown";
  pmt.handler = [deps](const std::string& uri, const mcp::UriVars& vars, mcp::RequestContext&) {
    return guarded([&] { return read_postmortem(*deps, uri, vars); });
  };
  return server.add_resource_template(std::move(pmt));
}

}  // namespace dm::runbook
