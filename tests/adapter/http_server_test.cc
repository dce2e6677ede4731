// unit: the hook server's HTTP sessions over real sockets (unix and loopback TCP): timeouts, the
// body limit, garbage, half-closed clients, concurrent slow handlers, graceful stop.
#include "adapter/http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "tests/adapter/raw_http.h"
#include "tests/support/process.h"

namespace ovsplane::adapter {
namespace {

using namespace std::chrono_literals;

class HttpServerTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  std::atomic<int> active_{0};
  std::atomic<int> maxActive_{0};
  std::chrono::milliseconds handlerDelay_{0};

  std::unique_ptr<HttpServer> start(HttpServerOptions options) {
    auto server =
        std::make_unique<HttpServer>(std::move(options), [this](const HttpRequestView& r) {
          const int now = ++active_;
          int seen = maxActive_.load();
          while (now > seen && !maxActive_.compare_exchange_weak(seen, now)) {
          }
          std::this_thread::sleep_for(handlerDelay_);
          --active_;
          return HttpAnswer{200, "text/plain",
                            std::string(r.method) + " " + std::string(r.target) + " " +
                                std::to_string(r.body.size())};
        });
    auto started = server->start();
    EXPECT_TRUE(started.has_value()) << started.error();
    return server;
  }
  HttpServerOptions options() {
    HttpServerOptions o;
    o.listen = {*parseListenAddress("unix:" + (dir_.path() / "hooks.sock").string()),
                *parseListenAddress("tcp:127.0.0.1:0")};
    o.bodyLimit = 1024;
    o.ioTimeout = 300ms;
    return o;
  }
};

TEST(ParseListenAddress, AcceptsUnixAndTcpAndExplainsTheRest) {
  EXPECT_EQ(parseListenAddress("unix:/run/x.sock")->path, "/run/x.sock");
  EXPECT_EQ(parseListenAddress("unix:///run/x.sock")->path, "/run/x.sock");
  auto tcp = parseListenAddress("tcp:127.0.0.1:6675");
  ASSERT_TRUE(tcp.has_value());
  EXPECT_EQ(tcp->host, "127.0.0.1");
  EXPECT_EQ(tcp->port, 6675);
  EXPECT_EQ(parseListenAddress("tcp:[::1]:80")->host, "::1");
  for (const char* bad : {"", "unix:", "unix:relative.sock", "tcp:localhost:80", "tcp:1.2.3.4",
                          "tcp:1.2.3.4:99999", "tcp:1.2.3.4:x", "http://1.2.3.4:80"}) {
    EXPECT_FALSE(parseListenAddress(bad).has_value()) << bad;
  }
}

TEST_F(HttpServerTest, ServesOnUnixAndTcp) {
  auto server = start(options());
  const auto addresses = server->addresses();
  ASSERT_EQ(addresses.size(), 2U);
  EXPECT_GT(addresses[1].port, 0);
  for (const auto& address : addresses) {
    const std::string answer = roundTrip(address, post("/adapter", "{\"a\":1}"));
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 200 OK\r\n")) << answer;
    EXPECT_TRUE(answer.ends_with("POST /adapter 7")) << answer;
  }
  struct stat info {};
  ASSERT_EQ(stat(addresses[0].path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0660U);
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  auto server = start(options());
  const int fd = connectTo(server->addresses()[0]);
  ASSERT_GE(fd, 0);
  const std::string keepAlive = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
  sendAll(fd, keepAlive + keepAlive + "GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const std::string answers = readUntilClosed(fd);
  close(fd);
  size_t count = 0;
  for (size_t at = answers.find("HTTP/1.1 200"); at != std::string::npos;
       at = answers.find("HTTP/1.1 200", at + 1)) {
    ++count;
  }
  EXPECT_EQ(count, 3U) << answers;
  EXPECT_TRUE(answers.ends_with("GET /b 0")) << answers;
}

TEST_F(HttpServerTest, OversizedBodiesGet413) {
  auto server = start(options());
  const std::string answer =
      roundTrip(server->addresses()[0], post("/adapter", std::string(2048, 'x')));
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 413")) << answer;
  EXPECT_NE(answer.find("larger than 1024 bytes"), std::string::npos);
}

TEST_F(HttpServerTest, GarbageGets400AndTheConnectionCloses) {
  auto server = start(options());
  for (const std::string& garbage : std::vector<std::string>{
           std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 15),
           std::string("NOT HTTP AT ALL\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nBad Header\r\n\r\n"),
           std::string("POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n")}) {
    const std::string answer = roundTrip(server->addresses()[1], garbage);
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 400")) << answer;
    EXPECT_NE(answer.find("bad HTTP request"), std::string::npos) << answer;
  }
  // And it still serves.
  EXPECT_TRUE(roundTrip(server->addresses()[1], post("/x", "")).starts_with("HTTP/1.1 200"));
}

TEST_F(HttpServerTest, SilentAndStalledClientsAreDisconnected) {
  auto server = start(options());
  for (const std::string& partial : std::vector<std::string>{
           std::string(), std::string("POST /adapter HTTP/1.1\r\nHost: x"),
           post("/adapter", "{\"a\":1}").substr(0, 80) + "\r\nContent-Length: 99\r\n\r\n{"}) {
    const int fd = connectTo(server->addresses()[0]);
    ASSERT_GE(fd, 0);
    sendAll(fd, partial);
    const auto before = std::chrono::steady_clock::now();
    const std::string answer = readUntilClosed(fd);  // returns when the server closes
    const auto waited = std::chrono::steady_clock::now() - before;
    close(fd);
    EXPECT_TRUE(answer.empty()) << answer;
    EXPECT_LT(waited, 4s) << "the server did not time the client out";
  }
}

TEST_F(HttpServerTest, HalfClosedClientsStillGetTheirAnswer) {
  auto server = start(options());
  const int fd = connectTo(server->addresses()[0]);
  ASSERT_GE(fd, 0);
  sendAll(fd, post("/adapter", "{}"));
  shutdown(fd, SHUT_WR);
  const std::string answer = readUntilClosed(fd);
  close(fd);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 200")) << answer;
}

TEST_F(HttpServerTest, SlowHandlersRunConcurrently) {
  handlerDelay_ = 200ms;
  auto server = start(options());
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 12; ++i) {
    clients.emplace_back([&, i] {
      if (roundTrip(server->addresses()[i % 2], post("/adapter", "{}"))
              .starts_with("HTTP/1.1 200")) {
        ++ok;
      }
    });
  }
  for (auto& client : clients) client.join();
  EXPECT_EQ(ok.load(), 12);
  EXPECT_GT(maxActive_.load(), 1);  // not one at a time
}

TEST_F(HttpServerTest, StopLetsInFlightRequestsFinish) {
  handlerDelay_ = 300ms;
  auto server = start(options());
  std::string answer;
  std::thread client([&] { answer = roundTrip(server->addresses()[0], post("/adapter", "{}")); });
  ASSERT_TRUE(testing::waitUntil([&] { return active_.load() == 1; }, 5s));
  server->stop(5s);
  client.join();
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 200")) << "[" << answer << "]";
  EXPECT_EQ(connectTo(server->addresses()[0]), -1);  // no longer listening, socket removed
}

TEST_F(HttpServerTest, AStaleSocketFileIsReplacedButABusyAddressIsAnError) {
  { auto first = start(options()); }
  auto second = start(options());  // the first removed its socket; start works again
  HttpServer third(options(), [](const HttpRequestView&) { return HttpAnswer{}; });
  HttpServerOptions busy = options();
  busy.listen = {second->addresses()[1]};  // the TCP port in use
  HttpServer fourth(busy, [](const HttpRequestView&) { return HttpAnswer{}; });
  auto started = fourth.start();
  ASSERT_FALSE(started.has_value());
  EXPECT_NE(started.error().find("listen on tcp:127.0.0.1:"), std::string::npos) << started.error();
}

}  // namespace
}  // namespace ovsplane::adapter

namespace ovsplane::adapter {
namespace {

TEST_F(HttpServerTest, TheConnectionCapAnswers503AndFreesWithTheConnections) {
  auto o = options();
  o.maxConnections = 2;
  o.ioTimeout = 30s;
  auto server = start(o);
  const auto where = server->addresses().at(0);
  std::vector<int> idle{connectTo(where), connectTo(where)};
  std::string refused;
  for (int i = 0; i < 100 && refused.find("HTTP/1.1 503") == std::string::npos; ++i) {
    std::this_thread::sleep_for(20ms);
    refused = roundTrip(where, "GET /v1/ping HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  EXPECT_NE(refused.find("HTTP/1.1 503"), std::string::npos) << refused;
  EXPECT_NE(refused.find("too many connections (2)"), std::string::npos) << refused;
  for (int fd : idle) close(fd);
  std::string answer;
  for (int i = 0; i < 100 && answer.find("HTTP/1.1 200") == std::string::npos; ++i) {
    std::this_thread::sleep_for(20ms);
    answer = roundTrip(where, "GET /v1/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  }
  EXPECT_NE(answer.find("HTTP/1.1 200"), std::string::npos) << answer;
}

}  // namespace
}  // namespace ovsplane::adapter
