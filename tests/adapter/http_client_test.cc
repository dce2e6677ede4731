// unit: adapter/http's client side and the one host:port parser, over real sockets: a call
// answered, a silent server timed out, an unreachable one named.
#include "adapter/http/client.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <thread>

#include "adapter/http/server.h"
#include "common/host_port.h"
#include "tests/support/process.h"

namespace ovsplane::adapter {
namespace {

using namespace std::chrono_literals;

TEST(HostPort, OneParserForEveryAddress) {
  EXPECT_EQ(parseHostPort("10.0.0.5:2376")->port, 2376);
  EXPECT_EQ(parseHostPort("10.0.0.5:2376")->host, "10.0.0.5");
  EXPECT_EQ(parseHostPort("[fd00::1]:6641")->host, "fd00::1");
  EXPECT_EQ(parseHostPort("[fd00::1]", 80)->port, 80);
  EXPECT_EQ(parseHostPort("dockerhost", 2375)->port, 2375);
  EXPECT_EQ(parseHostPort("127.0.0.1:0", 0, true)->port, 0);
  for (const char* bad : {"dockerhost", "h:0", "h:65536", "h:2x", ":80", "fd00::1:80", "h:"}) {
    EXPECT_FALSE(parseHostPort(bad).has_value()) << bad;
  }
  EXPECT_EQ(formatHostPort("fd00::1", 6641), "[fd00::1]:6641");
  EXPECT_EQ(formatHostPort("10.0.0.5", 80), "10.0.0.5:80");
}

class HttpClientTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  std::string socketPath() const { return (dir_.path() / "s.sock").string(); }
  StreamAddress unixAddress() const {
    StreamAddress address;
    address.path = socketPath();
    return address;
  }
};

TEST_F(HttpClientTest, ACallIsAnswered) {
  HttpServer server(HttpServerOptions{.listen = {*parseListenAddress("unix:" + socketPath())}},
                    [](const HttpRequestView& request) {
                      return HttpAnswer{201, "text/plain",
                                        std::string(request.method) + " " +
                                            std::string(request.target) + " " +
                                            std::string(request.body)};
                    });
  ASSERT_TRUE(server.start().has_value());
  HttpCall call;
  call.target = "/adapter";
  call.body = "{}";
  auto reply = httpCall(unixAddress(), call, 5s);
  ASSERT_TRUE(reply.has_value()) << reply.error().message;
  EXPECT_EQ(reply->status, 201U);
  EXPECT_EQ(reply->contentType, "text/plain");
  EXPECT_EQ(reply->body, "POST /adapter {}");
}

TEST_F(HttpClientTest, ASilentServerTimesOutAndAMissingOneIsNamed) {
  auto missing = httpCall(unixAddress(), HttpCall{}, 2s);
  ASSERT_FALSE(missing.has_value());
  EXPECT_FALSE(missing.error().timedOut);
  EXPECT_NE(missing.error().message.find("connect"), std::string::npos);

  // Accepted (by the kernel) and never answered.
  const int listener = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  socketPath().copy(address.sun_path, sizeof address.sun_path - 1);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(listen(listener, 8), 0);
  const auto start = std::chrono::steady_clock::now();
  auto silent = httpCall(unixAddress(), HttpCall{}, 300ms);
  ASSERT_FALSE(silent.has_value());
  EXPECT_TRUE(silent.error().timedOut) << silent.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  close(listener);
}

}  // namespace
}  // namespace ovsplane::adapter
