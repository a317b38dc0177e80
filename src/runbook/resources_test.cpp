#include <gtest/gtest.h>

#include "mcp/memory_transport.h"
#include "runbook/runbook.h"
#include "store/sqlite_store.h"

namespace dm::runbook {
namespace {

using json = nlohmann::json;

constexpr const char* kSecret = "Sup3rS3cretPw";
constexpr const char* kSecretUri = "postgresql://etl:Sup3rS3cretPw@db.internal:5432/dw";

class IncidentResources : public ::testing::Test {
 protected:
  void SetUp() override {
    auto st = store::open_sqlite_store({.path = ":memory:"});
    ASSERT_TRUE(st.ok()) << st.error().message;
    store_ = std::shared_ptr<store::Store>(std::move(*st));
    server_ = mcp::Server::create({.name = "t", .version = "0"});
    auto deps = make_deps(config::Config{}, {.store = store_});
    ASSERT_TRUE(deps.ok()) << deps.error().message;
    ASSERT_TRUE(register_tools(*server_, *deps).ok());
    client_ = std::make_unique<mcp::InMemoryClient>(server_);
    ASSERT_TRUE(client_->initialize().ok());
  }

  store::Incident add(const std::string& dag, int64_t opened, std::string postmortem = "") {
    store::Incident i;
    i.id = store::incident_id_for("prod", dag, "run1");
    i.env = "prod";
    i.dag_id = dag;
    i.run_id = "run1";
    i.signature = "0123456789ab";
    i.category = "permissions";
    i.error = std::string("AccessDenied connecting to ") + kSecretUri;
    i.summary_json = json{{"severity", "sev2"}, {"conf_keys", json::array({"day"})}}.dump();
    i.postmortem_md = std::move(postmortem);
    i.opened_at_ms = opened;
    i.updated_at_ms = opened;
    auto s = store_->upsert_incident(i);
    EXPECT_TRUE(s.ok()) << s.error().message;
    return i;
  }

  Result<json> read(const std::string& uri) {
    return client_->call("resources/read", {{"uri", uri}});
  }

  std::shared_ptr<store::Store> store_;
  std::shared_ptr<mcp::Server> server_;
  std::unique_ptr<mcp::InMemoryClient> client_;
};

TEST_F(IncidentResources, ListedWithTemplates) {
  auto r = client_->call("resources/list");
  ASSERT_TRUE(r.ok());
  bool found = false;
  for (const auto& res : (*r)["resources"])
    if (res["uri"] == "dagmedic://incidents") {
      found = true;
      EXPECT_EQ(res["mimeType"], "application/json");
    }
  EXPECT_TRUE(found);
  auto t = client_->call("resources/templates/list");
  ASSERT_TRUE(t.ok());
  std::map<std::string, std::string> mime;
  for (const auto& tmpl : (*t)["resourceTemplates"])
    mime[tmpl["uriTemplate"]] = tmpl.value("mimeType", "");
  EXPECT_EQ(mime["dagmedic://incidents/{incident_id}"], "application/json");
  EXPECT_EQ(mime["dagmedic://postmortems/{incident_id}"], "text/markdown");
}

TEST_F(IncidentResources, ListIsJsonMostRecentFirstAndRedacted) {
  auto older = add("dag_old", 1000);
  auto newer = add("dag_new", 5000, "# pm");
  auto r = read("dagmedic://incidents");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const json& c = (*r)["contents"][0];
  EXPECT_EQ(c["uri"], "dagmedic://incidents");
  EXPECT_EQ(c["mimeType"], "application/json");
  json doc = json::parse(c["text"].get<std::string>());
  EXPECT_EQ(doc["count"], 2);
  ASSERT_EQ(doc["incidents"].size(), 2u);
  EXPECT_EQ(doc["incidents"][0]["id"], newer.id);
  EXPECT_EQ(doc["incidents"][1]["id"], older.id);
  EXPECT_EQ(doc["incidents"][0]["postmortem_uri"], "dagmedic://postmortems/" + newer.id);
  EXPECT_EQ(doc["incidents"][1]["has_postmortem"], false);
  EXPECT_EQ(doc["incidents"][1]["kind"], "dag_run") << "a failed run's incident, as the tools open";
  EXPECT_EQ(doc["incidents"][0]["uri"], "dagmedic://incidents/" + newer.id);
  EXPECT_EQ(r->dump().find(kSecret), std::string::npos);
}

TEST_F(IncidentResources, EmptyListIsAnEmptyArray) {
  auto r = read("dagmedic://incidents");
  ASSERT_TRUE(r.ok()) << r.error().message;
  json doc = json::parse((*r)["contents"][0]["text"].get<std::string>());
  EXPECT_EQ(doc["count"], 0);
  EXPECT_TRUE(doc["incidents"].empty());
}

TEST_F(IncidentResources, ReadOneIncident) {
  auto inc = add("sales_etl", 1000);
  auto r = read("dagmedic://incidents/" + inc.id);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const json& c = (*r)["contents"][0];
  EXPECT_EQ(c["mimeType"], "application/json");
  json doc = json::parse(c["text"].get<std::string>());
  EXPECT_EQ(doc["id"], inc.id);
  EXPECT_EQ(doc["dag_id"], "sales_etl");
  EXPECT_EQ(doc["signature"], "0123456789ab");
  EXPECT_EQ(doc["summary"]["severity"], "sev2");
  EXPECT_NE(doc["error"].get<std::string>().find("AccessDenied"), std::string::npos);
  EXPECT_EQ(r->dump().find(kSecret), std::string::npos);
}

TEST_F(IncidentResources, IncidentShowsWhenItWasFirstDiagnosed) {
  store::Incident open;
  open.id = store::incident_id_for("prod", "sales_etl", "run2");
  open.env = "prod";
  open.dag_id = "sales_etl";
  open.run_id = "run2";
  open.opened_at_ms = 1000;
  open.updated_at_ms = 1000;
  ASSERT_TRUE(store_->upsert_incident(open).ok());
  auto doc_of = [&](const std::string& uri) {
    auto r = read(uri);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? json::parse((*r)["contents"][0]["text"].get<std::string>()) : json::object();
  };
  EXPECT_EQ(doc_of("dagmedic://incidents/" + open.id)["diagnosed_at"], "");
  store::Incident diag = open;
  diag.signature = "0123456789ab";
  diag.updated_at_ms = 61000;
  ASSERT_TRUE(store_->upsert_incident(diag).ok());
  diag.signature = "ba9876543210";  // a later re-diagnosis keeps the first time
  diag.updated_at_ms = 121000;
  ASSERT_TRUE(store_->upsert_incident(diag).ok());
  EXPECT_EQ(doc_of("dagmedic://incidents/" + open.id)["diagnosed_at"], "1970-01-01T00:01:01Z");
  EXPECT_EQ(doc_of("dagmedic://incidents")["incidents"][0]["diagnosed_at"], "1970-01-01T00:01:01Z");
}

TEST_F(IncidentResources, ReadPostmortemAsRedactedMarkdown) {
  auto inc = add("sales_etl", 1000, std::string("# Postmortem\n\nleaked ") + kSecretUri + "\n");
  auto r = read("dagmedic://postmortems/" + inc.id);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const json& c = (*r)["contents"][0];
  EXPECT_EQ(c["mimeType"], "text/markdown");
  EXPECT_EQ(c["uri"], "dagmedic://postmortems/" + inc.id);
  EXPECT_NE(c["text"].get<std::string>().find("# Postmortem"), std::string::npos);
  EXPECT_EQ(r->dump().find(kSecret), std::string::npos);
}

TEST_F(IncidentResources, ClearErrors) {
  auto inc = add("sales_etl", 1000);
  // No postmortem yet: not found, and the message says how to make one.
  auto r = read("dagmedic://postmortems/" + inc.id);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(client_->last_error_code(), -32002);
  EXPECT_NE(r.error().message.find("generate_postmortem"), std::string::npos);
  // Unknown (well-formed) incident.
  r = read("dagmedic://incidents/inc-0000000000000000");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(client_->last_error_code(), -32002);
  EXPECT_NE(r.error().message.find("no incident"), std::string::npos);
  // Malformed id.
  r = read("dagmedic://incidents/..%2Fetc");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(client_->last_error_code(), -32602);
  EXPECT_NE(r.error().message.find("inc-"), std::string::npos);
}

}  // namespace
}  // namespace dm::runbook
