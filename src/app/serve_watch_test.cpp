// serve --watch: a cycle's incidents reach subscribed MCP sessions as resources/updated.
#include "app/serve_watch.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "mcp/test_peer.h"
#include "runbook/runbook.h"
#include "store/store.h"
#include "watch/testing/one_failure.h"

namespace dm::app {
namespace {

using nlohmann::json;

TEST(ServeWatch, IncidentUrisChangedListsTheListOnceThenEachIncidentOnce) {
  watch::CycleReport c;
  EXPECT_TRUE(incident_uris_changed(c).empty());
  auto env = [](std::string name) {
    watch::EnvReport e;
    e.env = std::move(name);
    return e;
  };
  auto run = [](std::string incident) {
    watch::HandledRun h;
    h.incident_id = std::move(incident);
    return h;
  };
  c.envs.push_back(env("dev"));
  c.envs.push_back(env("prod"));
  EXPECT_TRUE(incident_uris_changed(c).empty()) << "nothing handled, nothing changed";
  c.envs[0].handled.push_back(run("inc-a"));
  c.envs[1].handled.push_back(run("inc-b"));
  c.envs[1].handled.push_back(run("inc-a"));  // the same incident failing again
  EXPECT_EQ(incident_uris_changed(c),
            (std::vector<std::string>{"dagmedic://incidents", "dagmedic://incidents/inc-a",
                                      "dagmedic://incidents/inc-b"}));
  // A recovery changes its incident too.
  c.envs[1].recovered.push_back("inc-c");
  c.envs[1].escalated.push_back("inc-a");
  EXPECT_EQ(incident_uris_changed(c),
            (std::vector<std::string>{"dagmedic://incidents", "dagmedic://incidents/inc-a",
                                      "dagmedic://incidents/inc-b", "dagmedic://incidents/inc-c"}));
  watch::CycleReport only_recovered;
  only_recovered.envs.push_back(env("dev"));
  only_recovered.envs[0].recovered.push_back("inc-d");
  EXPECT_EQ(incident_uris_changed(only_recovered),
            (std::vector<std::string>{"dagmedic://incidents", "dagmedic://incidents/inc-d"}));
}

bool is_update_of(const mcp::OutboundMessage& m, const std::string& uri) {
  auto j = json::parse(m.json, nullptr, false);
  return j.is_object() && j.value("method", "") == "notifications/resources/updated" &&
         j["params"].value("uri", "") == uri;
}

TEST(ServeWatch, SubscribedSessionLearnsOfTheIncidentTheWatcherOpened) {
  watch::testing::OneFailure rig;
  auto server = mcp::Server::create({.name = "t", .version = "0"});
  ASSERT_TRUE(runbook::register_tools(*server, rig.deps).ok());
  mcp::testing::RawPeer peer(*server);
  auto init = peer.init("2025-11-25");
  ASSERT_TRUE(init["result"]["capabilities"]["resources"].value("subscribe", false)) << init;
  const std::string id = store::incident_id_for("prod", "etl", "r1");
  const std::string one = "dagmedic://incidents/" + id;
  int n = 0;
  for (const std::string& uri : {std::string("dagmedic://incidents"), one}) {
    const std::string rid = "sub" + std::to_string(++n);
    peer.send(json{{"jsonrpc", "2.0"},
                   {"id", rid},
                   {"method", "resources/subscribe"},
                   {"params", {{"uri", uri}}}}
                  .dump());
    auto r = peer.response(rid);
    ASSERT_TRUE(r && r->contains("result")) << (r ? r->dump() : "no answer");
  }

  auto started = start_serve_watch(rig.deps, server);  // no notify: targets, no secrets needed
  ASSERT_TRUE(started.ok()) << started.error().message;
  auto& w = *started;
  auto list = peer.wait_for([](const auto& m) { return is_update_of(m, "dagmedic://incidents"); },
                            std::chrono::seconds(30));
  auto single =
      peer.wait_for([&](const auto& m) { return is_update_of(m, one); }, std::chrono::seconds(30));
  w->stop();
  ASSERT_TRUE(list) << "no resources/updated for the incident list";
  ASSERT_TRUE(single) << "no resources/updated for " << one;

  // What the notification points at is there: the list names the incident.
  peer.send(R"({"jsonrpc":"2.0","id":"rd","method":"resources/read",)"
            R"("params":{"uri":"dagmedic://incidents"}})");
  auto rd = peer.response("rd");
  ASSERT_TRUE(rd && rd->contains("result")) << (rd ? rd->dump() : "no answer");
  auto doc = json::parse((*rd)["result"]["contents"][0]["text"].get<std::string>());
  ASSERT_EQ(doc["count"], 1) << doc;
  EXPECT_EQ(doc["incidents"][0]["id"], id);
  server->shutdown();
}

}  // namespace
}  // namespace dm::app
