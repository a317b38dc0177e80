#include "mcp/stdio_transport.h"

#include <gtest/gtest.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <csignal>
#include <future>
#include <thread>

#include "mcp/server.h"

namespace dm::mcp {
namespace {

using nlohmann::json;

// Runs a StdioTransport over two pipes; the test plays the client on the other ends.
class StdioPipes : public ::testing::Test {
 protected:
  void SetUp() override {
    std::signal(SIGPIPE, SIG_IGN);
    ASSERT_EQ(::pipe(to_server_), 0);
    ASSERT_EQ(::pipe(from_server_), 0);
    ASSERT_TRUE(
        server_
            ->add_tool({.name = "upper",
                        .description = "uppercases",
                        .input_schema = {{"type", "object"},
                                         {"properties", {{"s", {{"type", "string"}}}}},
                                         {"required", {"s"}}},
                        .handler = [](const json& a, ToolContext& ctx) -> Result<ToolResult> {
                          ctx.log(LogLevel::info, "upper", "working");
                          std::string s = a["s"];
                          for (auto& ch : s) ch = static_cast<char>(std::toupper(ch));
                          return ToolResult::text(s);
                        }})
            .ok());
  }
  void TearDown() override {
    close_input();
    if (thread_.joinable()) thread_.join();
    for (int fd : {from_server_[0], from_server_[1], to_server_[1]}) {
      if (fd >= 0) ::close(fd);
    }
  }
  void start(StdioOptions o = {}) {
    o.in_fd = to_server_[0];
    o.out_fd = from_server_[1];
    transport_ = std::make_unique<StdioTransport>(server_, o);
    thread_ = std::thread([this] {
      status_ = transport_->run();
      ::close(to_server_[0]);
      ::close(from_server_[1]);  // the client sees EOF once the server is done
      from_server_[1] = -1;
    });
  }
  void write_line(const std::string& s) {
    const std::string line = s + "\n";
    ASSERT_EQ(::write(to_server_[1], line.data(), line.size()), static_cast<ssize_t>(line.size()));
  }
  void close_input() {
    if (to_server_[1] >= 0) ::close(to_server_[1]);
    to_server_[1] = -1;
  }
  // Reads every line the server writes until it closes its end.
  std::vector<json> read_all() {
    std::string buf;
    char chunk[4096];
    for (;;) {
      const ssize_t n = ::read(from_server_[0], chunk, sizeof chunk);
      if (n <= 0) break;
      buf.append(chunk, static_cast<std::size_t>(n));
    }
    std::vector<json> out;
    std::size_t start = 0, nl;
    while ((nl = buf.find('\n', start)) != std::string::npos) {
      out.push_back(json::parse(buf.substr(start, nl - start)));  // every line is one JSON message
      start = nl + 1;
    }
    EXPECT_EQ(start, buf.size()) << "output ends with a newline";
    return out;
  }
  static const json* by_id(const std::vector<json>& v, const json& id) {
    for (const auto& m : v) {
      if (m.contains("id") && m["id"] == id && !m.contains("method")) return &m;
    }
    return nullptr;
  }

  std::shared_ptr<Server> server_ = Server::create();
  std::unique_ptr<StdioTransport> transport_;
  std::thread thread_;
  Status status_;
  int to_server_[2] = {-1, -1};
  int from_server_[2] = {-1, -1};
};

TEST_F(StdioPipes, EndToEndSessionThenEof) {
  start();
  write_line(
      R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})");
  write_line(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  write_line(R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})");
  write_line("");  // blank lines are skipped
  write_line(
      R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"upper","arguments":{"s":"abc"}}})");
  write_line("{broken json");
  write_line(R"({"jsonrpc":"2.0","id":4,"method":"ping"})"
             "\r");  // CRLF tolerated
  close_input();     // EOF: answers to requests already sent still arrive
  auto msgs = read_all();
  thread_.join();
  EXPECT_TRUE(status_.ok());
  ASSERT_TRUE(by_id(msgs, 1));
  EXPECT_EQ((*by_id(msgs, 1))["result"]["protocolVersion"], "2025-06-18");
  ASSERT_TRUE(by_id(msgs, 2));
  EXPECT_EQ((*by_id(msgs, 2))["result"]["tools"][0]["name"], "upper");
  ASSERT_TRUE(by_id(msgs, 3));
  EXPECT_EQ((*by_id(msgs, 3))["result"]["content"][0]["text"], "ABC");
  ASSERT_TRUE(by_id(msgs, 4));
  ASSERT_TRUE(by_id(msgs, nullptr));
  EXPECT_EQ((*by_id(msgs, nullptr))["error"]["code"], -32700);
  bool saw_log = false;
  for (const auto& m : msgs) saw_log |= m.value("method", "") == "notifications/message";
  EXPECT_TRUE(saw_log);
}

TEST_F(StdioPipes, Modern2026RequestsAreServedWithoutInitialize) {
  start();
  const std::string meta = R"("_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",)"
                           R"("io.modelcontextprotocol/clientCapabilities":{}})";
  write_line(R"({"jsonrpc":"2.0","id":1,"method":"server/discover","params":{)" + meta + "}}");
  write_line(
      R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"upper","arguments":{"s":"abc"},)" +
      meta + "}}");
  write_line(R"({"jsonrpc":"2.0","id":3,"method":"ping","params":{)" + meta + "}}");
  write_line(R"({"jsonrpc":"2.0","id":4,"method":"tools/list"})");  // 2025-style, no initialize
  close_input();
  auto msgs = read_all();
  thread_.join();
  ASSERT_TRUE(by_id(msgs, 1));
  EXPECT_EQ((*by_id(msgs, 1))["result"]["supportedVersions"][0], "2026-07-28");
  ASSERT_TRUE(by_id(msgs, 2));
  EXPECT_EQ((*by_id(msgs, 2))["result"]["resultType"], "complete");
  EXPECT_EQ((*by_id(msgs, 2))["result"]["content"][0]["text"], "ABC");
  ASSERT_TRUE(by_id(msgs, 3));
  EXPECT_EQ((*by_id(msgs, 3))["error"]["code"], -32601);  // ping is gone in 2026-07-28
  ASSERT_TRUE(by_id(msgs, 4));
  EXPECT_EQ((*by_id(msgs, 4))["error"]["code"], -32600);
  // The tool logged, but no request asked for a log level: nothing was sent.
  for (const auto& m : msgs) EXPECT_NE(m.value("method", ""), "notifications/message");
}

TEST_F(StdioPipes, OversizeLineRejectedAndSkipped) {
  start({.max_line_bytes = 256});
  write_line(R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":")" +
             std::string(100000, 'x') + "\"}}");
  write_line(R"({"jsonrpc":"2.0","id":2,"method":"ping"})");
  close_input();
  auto msgs = read_all();
  ASSERT_TRUE(by_id(msgs, nullptr));
  EXPECT_EQ((*by_id(msgs, nullptr))["error"]["code"], -32600);
  EXPECT_FALSE(by_id(msgs, 1));
  ASSERT_TRUE(by_id(msgs, 2));
}

TEST_F(StdioPipes, UnterminatedLastLineHandledAtEof) {
  start();
  const std::string s = R"({"jsonrpc":"2.0","id":9,"method":"ping"})";
  ASSERT_EQ(::write(to_server_[1], s.data(), s.size()), static_cast<ssize_t>(s.size()));
  close_input();
  auto msgs = read_all();
  EXPECT_TRUE(by_id(msgs, 9));
}

TEST_F(StdioPipes, StopEndsRunWithoutEof) {
  start();
  write_line(R"({"jsonrpc":"2.0","id":1,"method":"ping"})");
  // Read the answer, then stop from another thread while stdin stays open.
  std::string got;
  char c;
  while (::read(from_server_[0], &c, 1) == 1 && c != '\n') got.push_back(c);
  EXPECT_EQ(json::parse(got)["id"], 1);
  transport_->stop();
  thread_.join();
  EXPECT_TRUE(status_.ok());
}

TEST_F(StdioPipes, ClientGoneMidStreamEndsCleanly) {
  start();
  write_line(
      R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{}}})");
  ::close(from_server_[0]);  // the reader vanished: writes fail with EPIPE
  from_server_[0] = -1;
  for (int i = 0; i < 50; ++i) write_line(R"({"jsonrpc":"2.0","id":2,"method":"ping"})");
  close_input();
  thread_.join();
  EXPECT_FALSE(status_.ok());
  EXPECT_EQ(status_.error().code, Errc::unavailable);
}

constexpr const char* kInit =
    R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})";
constexpr const char* kInitialized = R"({"jsonrpc":"2.0","method":"notifications/initialized"})";

// No timed assertion: with a one-hour drain timeout, a run() that waited out the timeout although
// nothing is in flight would hang this test until the ctest timeout fails it.
TEST_F(StdioPipes, EofWithNothingInFlightReturnsWithoutWaitingForDrainTimeout) {
  start({.drain_timeout = std::chrono::hours(1)});
  write_line(kInit);
  write_line(kInitialized);
  write_line(
      R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"upper","arguments":{"s":"eof"}}})");
  close_input();
  auto msgs = read_all();  // returns once run() returned and the thread closed the output
  thread_.join();
  EXPECT_TRUE(status_.ok());
  ASSERT_TRUE(by_id(msgs, 1));
  ASSERT_TRUE(by_id(msgs, 2));
  EXPECT_EQ((*by_id(msgs, 2))["result"]["content"][0]["text"], "EOF");
}

// A request still running at EOF is waited for (one-hour drain timeout, so not cut short), and its
// answer is written before run() returns: the output end is closed only after run() returned.
TEST_F(StdioPipes, EofWaitsForInFlightRequestAndWritesItsAnswer) {
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::promise<void> entered;
  ASSERT_TRUE(
      server_
          ->add_tool({.name = "gated",
                      .description = "waits for the test",
                      .input_schema = {{"type", "object"}},
                      .handler = [gate, &entered](const json&, ToolContext&) -> Result<ToolResult> {
                        entered.set_value();
                        gate.wait();
                        return ToolResult::text("released");
                      }})
          .ok());
  start({.drain_timeout = std::chrono::hours(1)});
  write_line(kInit);
  write_line(kInitialized);
  write_line(
      R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"gated","arguments":{}}})");
  entered.get_future().wait();  // the handler is running: the request is in flight
  close_input();
  // Let the transport consume everything before the handler may finish, so the EOF is reached
  // while the request is still in flight.
  int unread = 1;
  while (::ioctl(to_server_[0], FIONREAD, &unread) == 0 && unread > 0) std::this_thread::yield();
  release.set_value();
  auto msgs = read_all();
  thread_.join();
  EXPECT_TRUE(status_.ok());
  ASSERT_TRUE(by_id(msgs, 7));
  EXPECT_EQ((*by_id(msgs, 7))["result"]["content"][0]["text"], "released");
}

}  // namespace
}  // namespace dm::mcp
