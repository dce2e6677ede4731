// unit: the proxy's behaviour around a stand-in for dockerd's socket (the module seam), over
// real unix sockets: clear errors when dockerd is unreachable or hangs up mid-answer, and
// clients that stall (half a request, or a large answer not read) do not stall others.
#include "adapter/proxy.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include <fmt/format.h>

#include "netdrv/docker_client.h"
#include "tests/adapter/raw_http.h"
#include "tests/support/process.h"

namespace ovsplane::adapter {
namespace {

using namespace std::chrono_literals;

/** A listening unix socket at `socketPath` (-1 on failure): for stand-ins for dockerd that
 *  answer raw bytes. The caller closes it. */
int listenUnix(const std::string& socketPath) {
  const int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socketPath.c_str());
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listener, 4) != 0) {
    close(listener);
    return -1;
  }
  return listener;
}

class ProxyTest : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const { return (dir_.path() / name).string(); }

  void startProxy(std::string upstream = "", std::vector<HookRule> rules = {},
                  const std::function<void(ProxyOptions&)>& tune = {}) {
    ProxyOptions options{.listen = {*parseListenAddress("unix:" + path("proxy.sock"))},
                         .upstream = upstream.empty() ? path("docker.sock") : upstream};
    if (tune) tune(options);
    proxy_ = std::make_unique<DockerProxy>(std::move(options), std::move(rules));
    ASSERT_TRUE(proxy_->start().has_value());
  }
  void startDocker(size_t bodySize, std::string listen = "") {
    docker_ = std::make_unique<HttpServer>(
        HttpServerOptions{.listen = {*parseListenAddress(
                              listen.empty() ? "unix:" + path("docker.sock") : listen)},
                          .bodyLimit = 1024,
                          .ioTimeout = 30000ms,
                          .ioThreads = 2,
                          .handlerThreads = 4,
                          .unixSocketMode = 0600},
        [bodySize](const HttpRequestView& request) {
          if (request.target == "/big")
            return HttpAnswer{200, "text/plain", std::string(bodySize, 'x')};
          return HttpAnswer{200, "text/plain", "OK"};
        });
    ASSERT_TRUE(docker_->start().has_value());
  }
  std::string get(const std::string& target) {
    return roundTrip(proxy_->addresses().at(0),
                     "GET " + target + " HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n");
  }

  testing::TempDir dir_;
  std::unique_ptr<HttpServer> docker_;
  std::unique_ptr<DockerProxy> proxy_;
};

TEST_F(ProxyTest, DockerUnreachableIsABadGatewayNamingTheSocket) {
  startProxy();
  const std::string answer = get("/_ping");
  EXPECT_NE(answer.find("HTTP/1.1 502"), std::string::npos) << answer;
  EXPECT_NE(answer.find("cannot reach dockerd at " + path("docker.sock")), std::string::npos)
      << answer;
}

TEST_F(ProxyTest, DockerOverTcpDockerHostStyle) {
  startDocker(16, "tcp:127.0.0.1:0");
  const std::string upstream = "tcp://127.0.0.1:" + std::to_string(docker_->addresses().at(0).port);
  startProxy(upstream);
  const std::string answer = get("/_ping");
  EXPECT_NE(answer.find("HTTP/1.1 200"), std::string::npos) << answer;
  EXPECT_NE(answer.find("\r\n\r\nOK"), std::string::npos) << answer;
  // The adapter's own Docker client speaks TCP too, and names the address in its errors.
  netdrv::DockerClient client(netdrv::DockerClientOptions{
      .socketPath = upstream, .apiVersion = "1.41", .timeout = std::chrono::seconds(5)});
  EXPECT_TRUE(client.ping().has_value());
  docker_->stop();
  auto refused = client.ping();
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find(upstream), std::string::npos) << refused.error().message;
}

TEST_F(ProxyTest, ADockerdThatDoesNotAcceptIsA502WithinTheConnectTimeout) {
  // A unix listener nobody accepts on, its backlog full: connecting would wait for ever.
  const int listener = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string socketPath = path("docker.sock");
  socketPath.copy(address.sun_path, sizeof address.sun_path - 1);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(listen(listener, 0), 0);
  std::vector<int> queued;
  for (int i = 0; i < 4; ++i) {
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      close(fd);
      break;  // the backlog is full
    }
    queued.push_back(fd);
  }
  startProxy("", {}, [](ProxyOptions& options) { options.connectTimeout = 300ms; });
  const auto start = std::chrono::steady_clock::now();
  const std::string answer = get("/_ping");
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_NE(answer.find("HTTP/1.1 502"), std::string::npos) << answer;
  EXPECT_NE(answer.find("timed out"), std::string::npos) << answer;
  EXPECT_LT(took, 3s);
  for (int fd : queued) close(fd);
  close(listener);
}

TEST_F(ProxyTest, AHungDockerdIsA504ForHookedRequestsWhileStreamsMayWait) {
  docker_ = std::make_unique<HttpServer>(
      HttpServerOptions{.listen = {*parseListenAddress("unix:" + path("docker.sock"))}},
      [](const HttpRequestView&) {
        std::this_thread::sleep_for(900ms);  // a daemon that takes its time
        return HttpAnswer{201, "application/json", R"({"Id":"abc"})"};
      });
  ASSERT_TRUE(docker_->start().has_value());
  std::atomic<int> postHooks{0};
  const HookCall passThrough = [&postHooks](const std::string&) {
    ++postHooks;
    return HttpAnswer{200, "application/json",
                      R"({"PowerstripProtocolVersion":1,"ModifiedServerResponse":{}})"};
  };
  startProxy("", {HookRule{"POST /containers/create", {}, {passThrough}}},
             [](ProxyOptions& options) { options.hookedAnswerTimeout = 300ms; });
  const auto start = std::chrono::steady_clock::now();
  const std::string hooked =
      roundTrip(proxy_->addresses().at(0), post("/containers/create", R"({"Image":"x"})"));
  EXPECT_NE(hooked.find("HTTP/1.1 504"), std::string::npos) << hooked;
  EXPECT_NE(hooked.find("dockerd did not answer within 300 ms"), std::string::npos) << hooked;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 850ms);
  // The attach is left to the reconciler (Docker may still create it): no post-hook guessed.
  EXPECT_EQ(postHooks, 0);
  // A request without hooks streams: however long dockerd takes, it is not cut.
  const std::string streamed = get("/containers/abc/wait");
  EXPECT_NE(streamed.find("HTTP/1.1 201"), std::string::npos) << streamed;
}

TEST_F(ProxyTest, AHookedBodyPastTheLimitIs413AndNeverReachesTheHooks) {
  startDocker(200 * 1024);
  std::atomic<int> preHooks{0};
  const HookCall count = [&preHooks](const std::string&) {
    ++preHooks;
    return HttpAnswer{200, "application/json",
                      R"({"PowerstripProtocolVersion":1,"ModifiedClientRequest":{}})"};
  };
  startProxy("",
             {HookRule{"POST /containers/create", {count}, {}}, HookRule{"GET /big", {}, {count}}},
             [](ProxyOptions& options) { options.hookBodyLimit = 64 * 1024; });
  for (const bool declared : {true, false}) {
    // Declared by Content-Length, or only found out while reading a chunked body.
    const std::string body(200 * 1024, ' ');
    const std::string request =
        declared ? post("/containers/create", body)
                 : "POST /containers/create HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                   "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
                       fmt::format("{:x}\r\n", body.size()) + body + "\r\n0\r\n\r\n";
    const int fd = connectTo(proxy_->addresses().at(0));
    std::thread writer([fd, &request] { sendAll(fd, request); });
    const std::string answer = readUntilClosed(fd);
    writer.join();
    close(fd);
    EXPECT_NE(answer.find("HTTP/1.1 413"), std::string::npos) << declared << ": " << answer;
    EXPECT_NE(answer.find("request body larger than 65536 bytes"), std::string::npos) << answer;
  }
  // Docker's answer to a hooked request is bounded the same way.
  const std::string big = get("/big");
  EXPECT_NE(big.find("HTTP/1.1 502"), std::string::npos) << big.substr(0, 300);
  EXPECT_EQ(preHooks, 0);
}

TEST(DockerAddress, DockerHostForms) {
  EXPECT_EQ(netdrv::parseDockerAddress("/var/run/docker.sock").display(),
            "unix:///var/run/docker.sock");
  EXPECT_EQ(netdrv::parseDockerAddress("unix:///run/d.sock").path, "/run/d.sock");
  const auto tcp = netdrv::parseDockerAddress("tcp://10.0.0.5:2376");
  EXPECT_TRUE(tcp.tcp);
  EXPECT_EQ(tcp.host, "10.0.0.5");
  EXPECT_EQ(tcp.port, 2376);
  EXPECT_EQ(netdrv::parseDockerAddress("tcp://dockerhost").port, 2375);
  EXPECT_EQ(netdrv::parseDockerAddress("tcp://dockerhost:99999").port, 0);
  EXPECT_EQ(netdrv::parseDockerAddress("tcp://dockerhost:2x").port, 0);
  const auto v6 = netdrv::parseDockerAddress("tcp://[fd00::1]:2376");
  EXPECT_EQ(v6.host, "fd00::1");
  EXPECT_EQ(v6.port, 2376);
  EXPECT_EQ(netdrv::parseDockerAddress("tcp://[fd00::1]").port, 2375);
}

TEST_F(ProxyTest, HostileBytesAndImpossibleAdapterAnswersDoNotTakeItDown) {
  startDocker(16);
  // Pre: pass the body through; post: claim 204 while keeping a body (Beast cannot frame it).
  HookCall pre = [](const std::string& hook) {
    auto json = nlohmann::json::parse(hook);
    return HttpAnswer{200, "application/json",
                      dumpJson({{"ModifiedClientRequest", json["ClientRequest"]}})};
  };
  HookCall postHook = [](const std::string& hook) {
    auto json = nlohmann::json::parse(hook);
    auto response = json["ServerResponse"];
    response["Code"] = 204;
    return HttpAnswer{200, "application/json", dumpJson({{"ModifiedServerResponse", response}})};
  };
  startProxy("", {HookRule{"POST /x", {pre}, {postHook}}});
  // Not UTF-8, declared JSON: the hook JSON must still be written.
  const std::string answer =
      roundTrip(proxy_->addresses().at(0), post("/x", "{\"a\":\"\xff\xfe\"}"));
  EXPECT_NE(answer.find("HTTP/1.1 204"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("OK"), std::string::npos) << answer;       // no body on a 204
  EXPECT_NE(get("/_ping").find("\r\n\r\nOK"), std::string::npos);  // still serving
}

/** A dockerd stand-in that answers with the target it was asked for. */
std::unique_ptr<HttpServer> echoingDocker(const std::string& socket) {
  auto docker = std::make_unique<HttpServer>(
      HttpServerOptions{.listen = {*parseListenAddress("unix:" + socket)},
                        .bodyLimit = 1024,
                        .ioTimeout = 30000ms,
                        .ioThreads = 1,
                        .handlerThreads = 2,
                        .unixSocketMode = 0600,
                        .headerLimit = 1024 * 1024},
      [](const HttpRequestView& request) {
        return HttpAnswer{201, "text/plain", std::string(request.target)};
      });
  EXPECT_TRUE(docker->start().has_value());
  return docker;
}

TEST_F(ProxyTest, HooksAndDockerSeeTheTargetDockerWouldRoute) {
  docker_ = echoingDocker(path("docker.sock"));
  std::atomic<int> hooked{0};
  HookCall pre = [&](const std::string& hook) {
    ++hooked;
    const auto json = nlohmann::json::parse(hook);
    return HttpAnswer{200, "application/json",
                      nlohmann::json{{"PowerstripProtocolVersion", 1},
                                     {"ModifiedClientRequest", json["ClientRequest"]}}
                          .dump()};
  };
  startProxy("", {HookRule{"POST /*/containers/create", {pre}, {}}});
  for (const std::string target :
       {"/v1.41/containers/%63reate", "http://docker/v1.41/containers/create",
        "/v1.41/containers/./create", "/v1.41/x/../containers//create"}) {
    const int before = hooked;
    const std::string answer = roundTrip(proxy_->addresses().at(0), post(target, "{}"));
    EXPECT_EQ(hooked, before + 1) << target;
    EXPECT_NE(answer.find("\r\n\r\n/v1.41/containers/create"), std::string::npos)
        << target << ": " << answer;
  }
  EXPECT_NE(roundTrip(proxy_->addresses().at(0), post("/v1.41/containers/%zz", "{}"))
                .find("HTTP/1.1 400"),
            std::string::npos);
  EXPECT_NE(roundTrip(proxy_->addresses().at(0), post("*", "{}")).find("HTTP/1.1 400"),
            std::string::npos);
}

TEST_F(ProxyTest, ExpectContinueIsAnsweredHereAndLargeHeadsPass) {
  docker_ = echoingDocker(path("docker.sock"));
  std::atomic<int> posted{0};
  HookCall post = [&](const std::string& hook) {
    ++posted;
    const auto json = nlohmann::json::parse(hook);
    EXPECT_EQ(json["ServerResponse"]["Code"], 201);  // never a 1xx
    return HttpAnswer{200, "application/json",
                      nlohmann::json{{"PowerstripProtocolVersion", 1},
                                     {"ModifiedServerResponse", json["ServerResponse"]}}
                          .dump()};
  };
  startProxy("", {HookRule{"POST /*/containers/create", {}, {post}}});
  const int fd = connectTo(proxy_->addresses().at(0));
  ASSERT_GE(fd, 0);
  sendAll(fd,
          "POST /v1.41/containers/create HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
          "Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
  char interim[64] = {};
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  const ssize_t n = recv(fd, interim, sizeof interim - 1, 0);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(interim, static_cast<size_t>(n)), "HTTP/1.1 100 Continue\r\n\r\n");
  sendAll(fd, "{}");
  const std::string answer = readUntilClosed(fd);
  close(fd);
  EXPECT_NE(answer.find("HTTP/1.1 201"), std::string::npos) << answer;
  EXPECT_EQ(posted, 1);

  // A 100 KiB header passes (dockerd takes up to 1 MiB); past 1 MiB: 431, not a dropped line.
  // (The stand-in's own limit is the same shared one.)
  auto withHeader = [](size_t size) {
    std::string head = "GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n";
    for (size_t i = 0; i * 40000 < size; ++i) {
      head += "X-Big-" + std::to_string(i) + ": " +
              std::string(std::min<size_t>(40000, size - i * 40000), 'a') + "\r\n";
    }
    return head + "\r\n";
  };
  const std::string large = roundTrip(proxy_->addresses().at(0), withHeader(100 * 1024));
  EXPECT_NE(large.find("HTTP/1.1 201"), std::string::npos) << large.substr(0, 300);
  EXPECT_NE(roundTrip(proxy_->addresses().at(0), withHeader(2 * 1024 * 1024)).find("HTTP/1.1 431"),
            std::string::npos);
  // One field past Beast's 64 KiB: a 431 too, and the proxy keeps serving.
  const std::string oneField =
      "GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-One: " + std::string(70000, 'a') +
      "\r\n\r\n";
  EXPECT_NE(roundTrip(proxy_->addresses().at(0), oneField).find("HTTP/1.1 431"), std::string::npos);
  EXPECT_NE(get("/_ping").find("HTTP/1.1 201"), std::string::npos);
}

TEST_F(ProxyTest, SlowAndSilentClientsAreClosed) {
  startDocker(16);
  startProxy("", {}, [](ProxyOptions& options) { options.headerTimeout = 300ms; });
  // A slowloris client: half a head, then nothing. Closed after the header timeout.
  const int slow = connectTo(proxy_->addresses().at(0));
  ASSERT_GE(slow, 0);
  sendAll(slow, "GET /_ping HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  const auto before = std::chrono::steady_clock::now();
  EXPECT_EQ(readUntilClosed(slow), "");
  const auto took = std::chrono::steady_clock::now() - before;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 3s);
  close(slow);
  EXPECT_NE(get("/_ping").find("HTTP/1.1 200"), std::string::npos);  // others are served
}

TEST_F(ProxyTest, TheConnectionCapAnswers503) {
  startDocker(16);
  startProxy("", {}, [](ProxyOptions& options) { options.maxConnections = 3; });
  // Three idle connections fill the cap: another is answered 503 at once (polled: under load
  // the proxy may take a moment to accept the three).
  std::vector<int> idle;
  for (int i = 0; i < 3; ++i) idle.push_back(connectTo(proxy_->addresses().at(0)));
  std::string refused;
  for (int i = 0; i < 100 && refused.find("HTTP/1.1 503") == std::string::npos; ++i) {
    std::this_thread::sleep_for(20ms);
    refused = get("/_ping");
  }
  EXPECT_NE(refused.find("HTTP/1.1 503"), std::string::npos) << refused;
  EXPECT_NE(refused.find("too many connections (3)"), std::string::npos) << refused;
  for (int fd : idle) close(fd);
  // Once they are gone, clients are served again.
  std::string answer;
  for (int i = 0; i < 100 && answer.find("HTTP/1.1 200") == std::string::npos; ++i) {
    std::this_thread::sleep_for(20ms);
    answer = get("/_ping");
  }
  EXPECT_NE(answer.find("HTTP/1.1 200"), std::string::npos) << answer;
}

TEST_F(ProxyTest, SmugglingAndGarbageAreAnswered400AndNeverReachDocker) {
  std::atomic<int> reached{0};
  docker_ = std::make_unique<HttpServer>(
      HttpServerOptions{.listen = {*parseListenAddress("unix:" + path("docker.sock"))},
                        .bodyLimit = 1024,
                        .ioTimeout = 30000ms,
                        .ioThreads = 1,
                        .handlerThreads = 2,
                        .unixSocketMode = 0600},
      [&](const HttpRequestView&) {
        ++reached;
        return HttpAnswer{200, "text/plain", "OK"};
      });
  ASSERT_TRUE(docker_->start().has_value());
  startProxy();
  for (const std::string& request : {
           // Content-Length and Transfer-Encoding together (request smuggling).
           std::string("POST /v1.41/containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /_ping HTTP/1.1\r\n\r\n"),
           std::string(
               "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n"),
           std::string("GARBAGE\r\n\r\n"),
           std::string("GET /_ping HTTP/1.1\r\nBad Header\r\n\r\n"),
       }) {
    const std::string answer = roundTrip(proxy_->addresses().at(0), request);
    EXPECT_NE(answer.find("HTTP/1.1 400"), std::string::npos) << request << " -> " << answer;
  }
  EXPECT_EQ(reached, 0);
  EXPECT_NE(get("/_ping").find("HTTP/1.1 200"), std::string::npos);  // still serving
}

TEST_F(ProxyTest, StalledClientsDoNotStallOthers) {
  startDocker(8 * 1024 * 1024);
  startProxy();
  // One client sends half a request head and stalls; another asks for 8 MiB and reads nothing.
  const int half = connectTo(proxy_->addresses().at(0));
  ASSERT_GE(half, 0);
  sendAll(half, "GET /_ping HTTP/1.1\r\nHo");
  const int unread = connectTo(proxy_->addresses().at(0));
  ASSERT_GE(unread, 0);
  sendAll(unread, "GET /big HTTP/1.1\r\nHost: d\r\n\r\n");
  std::this_thread::sleep_for(200ms);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) {
    const std::string answer = get("/_ping");
    ASSERT_NE(answer.find("HTTP/1.1 200"), std::string::npos) << answer;
    ASSERT_NE(answer.find("\r\n\r\nOK"), std::string::npos) << answer;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  close(half);
  close(unread);
}

TEST_F(ProxyTest, DockerHangingUpMidAnswerEndsTheClientConnection) {
  // A stand-in that promises 1,000 bytes, sends 10 and hangs up.
  const int listener = listenUnix(path("docker.sock"));
  ASSERT_GE(listener, 0);
  std::thread docker([listener] {
    const int fd = accept(listener, nullptr, nullptr);
    char buffer[4096];
    (void)read(fd, buffer, sizeof buffer);
    sendAll(
        fd,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n0123456789");
    std::this_thread::sleep_for(100ms);
    close(fd);
  });
  startProxy();
  const auto start = std::chrono::steady_clock::now();
  const std::string answer = get("/logs");
  docker.join();
  close(listener);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);  // not left hanging
  EXPECT_NE(answer.find("HTTP/1.1 200"), std::string::npos) << answer;
  EXPECT_NE(answer.find("0123456789"), std::string::npos) << answer;
  EXPECT_LT(answer.size(), answer.find("\r\n\r\n") + 4 + 1000);  // short: the client can tell
}

/** A stand-in for dockerd that answers `head` (maybe nothing) to the first request and then waits:
 *  `sawEof` is set when the proxy closes the connection (the request cancelled). */
class WaitingDocker {
 public:
  WaitingDocker(const std::string& socketPath, std::string head)
      : listener_(listenUnix(socketPath)) {
    EXPECT_GE(listener_, 0);
    thread_ = std::thread([this, head = std::move(head)] {
      const int fd = accept(listener_, nullptr, nullptr);
      char buffer[4096];
      (void)read(fd, buffer, sizeof buffer);
      if (!head.empty()) sendAll(fd, head);
      timeval tv{.tv_sec = 5, .tv_usec = 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      sawEof = read(fd, buffer, sizeof buffer) == 0;
      close(fd);
    });
  }
  ~WaitingDocker() {
    if (thread_.joinable()) thread_.join();
    close(listener_);
  }
  void join() { thread_.join(); }
  std::atomic<bool> sawEof{false};

 private:
  int listener_ = -1;
  std::thread thread_;
};

TEST_F(ProxyTest, AClientThatLeavesCancelsItsWaitAtDockerd) {
  // `docker run -d` opens POST /containers/ID/wait (answered at the container's exit) and exits:
  // the proxy must not keep a thread and two sockets for it until then. Both while dockerd has
  // sent only the answer's head (Docker flushes it at once) and before it has sent anything,
  // and for a client on the unix socket and on TCP (whose close shows only as an EOF).
  for (const std::string& listen : {"unix:" + path("proxy.sock"), std::string("tcp:127.0.0.1:0")}) {
    for (const std::string& head :
         {std::string("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n"),
          std::string()}) {
      SCOPED_TRACE(listen + (head.empty() ? ", no head yet" : ", head sent"));
      ::unlink(path("docker.sock").c_str());
      ::unlink(path("proxy.sock").c_str());
      WaitingDocker docker(path("docker.sock"), head);
      startProxy("", {},
                 [&](ProxyOptions& options) { options.listen = {*parseListenAddress(listen)}; });
      const int fd = connectTo(proxy_->addresses().at(0));
      ASSERT_GE(fd, 0);
      sendAll(fd,
              "POST /v1.41/containers/abc/wait?condition=next-exit HTTP/1.1\r\nHost: d\r\n"
              "Content-Length: 0\r\n\r\n");
      if (!head.empty()) {
        char buffer[1024];
        ASSERT_GT(read(fd, buffer, sizeof buffer), 0);  // the head came through at once
      }
      const auto leftAt = std::chrono::steady_clock::now();
      close(fd);
      docker.join();
      EXPECT_TRUE(docker.sawEof) << "the proxy kept dockerd's connection open";
      EXPECT_LT(std::chrono::steady_clock::now() - leftAt, 2s);
      proxy_.reset();
    }
  }
}

TEST_F(ProxyTest, AClientThatOnlyHalfClosesStillGetsItsAnswer) {
  // `printf 'GET …' | socat - UNIX-CONNECT:…` shuts its sending side down after the request and
  // reads the answer: that is not a client that left.
  const int listener = listenUnix(path("docker.sock"));
  ASSERT_GE(listener, 0);
  std::thread docker([listener] {
    const int fd = accept(listener, nullptr, nullptr);
    char buffer[4096];
    (void)read(fd, buffer, sizeof buffer);
    std::this_thread::sleep_for(200ms);  // the half-close reaches the proxy first
    sendAll(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nOK");
    std::this_thread::sleep_for(100ms);
    close(fd);
  });
  startProxy();
  const int fd = connectTo(proxy_->addresses().at(0));
  ASSERT_GE(fd, 0);
  sendAll(fd, "GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n");
  ::shutdown(fd, SHUT_WR);
  const std::string answer = readUntilClosed(fd);
  close(fd);
  docker.join();
  close(listener);
  EXPECT_NE(answer.find("HTTP/1.1 200"), std::string::npos) << answer;
  EXPECT_NE(answer.find("\r\n\r\nOK"), std::string::npos) << answer;
}

}  // namespace
}  // namespace ovsplane::adapter
