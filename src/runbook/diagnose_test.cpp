#include <gtest/gtest.h>

#include "mcp/memory_transport.h"
#include "runbook/runbook.h"
#include "store/sqlite_store.h"

namespace dm::runbook {
namespace {

using json = nlohmann::json;

class ExtractErrorsTool : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = mcp::Server::create({.name = "t", .version = "0"});
    auto store = store::open_sqlite_store({.path = ":memory:"});
    ASSERT_TRUE(store.ok()) << store.error().message;
    auto deps = make_deps(config::Config{}, {.store = std::move(*store)});
    ASSERT_TRUE(deps.ok()) << deps.error().message;
    ASSERT_TRUE(register_tools(*server_, *deps).ok());
    client_ = std::make_unique<mcp::InMemoryClient>(server_);
    ASSERT_TRUE(client_->initialize().ok());
  }
  json call(json args) {
    auto r = client_->call("tools/call", {{"name", "extract_errors"}, {"arguments", args}});
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : json{};
  }
  std::shared_ptr<mcp::Server> server_;
  std::unique_ptr<mcp::InMemoryClient> client_;
};

constexpr const char* kTraceback =
    "[2026-01-01, 00:00:01 UTC] {taskinstance.py:3311} ERROR - Task failed with exception\n"
    "Traceback (most recent call last):\n"
    "  File \"/opt/airflow/dags/load.py\", line 12, in load\n"
    "    conn = connect('postgresql://etl:Sup3rS3cretPw@db.internal:5432/dw')\n"
    "KeyError: 'customer_id'\n";

TEST_F(ExtractErrorsTool, ListedReadOnlyWithOutputSchema) {
  auto r = client_->call("tools/list");
  ASSERT_TRUE(r.ok());
  const json* tool = nullptr;
  for (const auto& t : (*r)["tools"]) {
    if (t["name"] == "extract_errors") tool = &t;
  }
  ASSERT_NE(tool, nullptr);
  EXPECT_EQ((*tool)["annotations"]["readOnlyHint"], true);
  EXPECT_TRUE(tool->contains("outputSchema"));
}

TEST_F(ExtractErrorsTool, ReturnsSignatureCategoryAndRedactedLines) {
  json r = call({{"log_tail", kTraceback}});
  ASSERT_FALSE(r.value("isError", false)) << r.dump();
  const json& s = r["structuredContent"];
  EXPECT_EQ(s["found"], true);
  EXPECT_EQ(s["exception_type"], "KeyError");
  EXPECT_EQ(s["signature"].get<std::string>().size(), 12u);
  EXPECT_NE(s["error"].get<std::string>().find("customer_id"), std::string::npos);
  EXPECT_FALSE(s["category"].get<std::string>().empty());
  EXPECT_FALSE(s["lines"].empty());
  // The password inside the connection URI never leaves, in any part of the result.
  EXPECT_EQ(r.dump().find("Sup3rS3cretPw"), std::string::npos);
}

TEST_F(ExtractErrorsTool, SameCauseOtherDateSameSignatureOtherColumnDifferent) {
  std::string other_date = kTraceback;
  other_date.replace(other_date.find("2026-01-01"), 10, "2026-03-09");
  std::string other_col = kTraceback;
  other_col.replace(other_col.find("customer_id"), 11, "order_total");
  auto sig = [&](const std::string& t) {
    return call({{"log_tail", t}})["structuredContent"]["signature"].get<std::string>();
  };
  EXPECT_EQ(sig(kTraceback), sig(other_date));
  EXPECT_NE(sig(kTraceback), sig(other_col));
}

TEST_F(ExtractErrorsTool, WrongArgumentTypeIsAnErrorResultNamingTheField) {
  json r = call({{"log_tail", 42}});
  EXPECT_EQ(r.value("isError", false), true);
  EXPECT_NE(r.dump().find("log_tail"), std::string::npos);
}

TEST_F(ExtractErrorsTool, OutputStaysUnderCapForHugeInput) {
  std::string big;
  for (int i = 0; i < 20000; ++i)
    big += "INFO line " + std::to_string(i) + " " + std::string(80, 'x') + "\n";
  big += kTraceback;
  json r = call({{"log_tail", big}});
  ASSERT_FALSE(r.value("isError", false));
  EXPECT_LE(r["structuredContent"].dump().size(), 16u * 1024);
  EXPECT_EQ(r["structuredContent"]["exception_type"], "KeyError");
}

}  // namespace
}  // namespace dm::runbook
