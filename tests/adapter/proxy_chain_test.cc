// unit: the proxy's hook chaining with adapters.yml over real sockets. Two external test
// adapters (one on loopback TCP, one on a unix socket) and a stand-in for dockerd's socket (the
// module seam: it records what it received). Checks the documented Powerstrip semantics: order,
// each hook seeing the previous one's output, Code/ContentType honoured, and the failure paths
// (non-2xx, invalid JSON, timeout, unreachable) answering the client with a Docker-style error
// without calling Docker.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "adapter/proxy.h"
#include "adapter/proxy_config.h"
#include "tests/adapter/raw_http.h"
#include "tests/support/process.h"

namespace ovsplane::adapter {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;

/** A pre-hook answer with `env` appended to the create body's Env. */
HttpAnswer appendEnv(const Json& hook, const std::string& env) {
  Json request = hook["ClientRequest"];
  Json body = Json::parse(request["Body"].get<std::string>());
  body["Env"].push_back(env);
  request["Body"] = body.dump();
  return HttpAnswer{
      200, "application/json",
      Json{{"PowerstripProtocolVersion", 1}, {"ModifiedClientRequest", request}}.dump()};
}

/** A post-hook answer with `mark` appended to Docker's answer's Warnings. */
HttpAnswer appendWarning(const Json& hook, const std::string& mark, unsigned code) {
  Json response = hook["ServerResponse"];
  Json body = Json::parse(response["Body"].get<std::string>());
  body["Warnings"].push_back(mark);
  response["Body"] = body.dump();
  response["Code"] = code;
  response["ContentType"] = "application/json";
  return HttpAnswer{
      200, "application/json",
      Json{{"PowerstripProtocolVersion", 1}, {"ModifiedServerResponse", response}}.dump()};
}

class ProxyChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    docker_ = std::make_unique<HttpServer>(
        HttpServerOptions{.listen = {*parseListenAddress("unix:" + path("docker.sock"))}},
        [this](const HttpRequestView& request) {
          std::scoped_lock lock(mutex_);
          dockerSaw_.push_back(std::string(request.body));
          return HttpAnswer{201, "application/json", R"({"Id":"c0ffee","Warnings":[]})"};
        });
    ASSERT_TRUE(docker_->start().has_value());
    adapterA_ = startAdapter("tcp:127.0.0.1:0", "A");
    adapterB_ = startAdapter("unix:" + path("b.sock"), "B");
  }
  void TearDown() override {
    if (proxy_) proxy_->stop();
  }

  std::string path(const std::string& name) const { return (dir_.path() / name).string(); }

  /** A test adapter: pre-hooks append NAME to Env; post-hooks append NAME to Warnings (A also
   *  changes the status to 202); `behaviour_[NAME]` turns it into a failing one. */
  std::unique_ptr<HttpServer> startAdapter(const std::string& listen, const std::string& name) {
    auto server = std::make_unique<HttpServer>(
        HttpServerOptions{.listen = {*parseListenAddress(listen)}},
        [this, name](const HttpRequestView& request) {
          const Json hook = Json::parse(request.body);
          std::string behaviour;
          {
            std::scoped_lock lock(mutex_);
            calls_.push_back(name + " " + hook["Type"].get<std::string>());
            if (hook["Type"] == "post-hook") {
              postCodes_.push_back(hook["ServerResponse"]["Code"].get<unsigned>());
            }
            behaviour = behaviour_[name];
          }
          if (behaviour == "refuse") {
            return HttpAnswer{403, "application/json", R"({"message":"policy says no"})"};
          }
          if (behaviour == "garbage") return HttpAnswer{200, "text/plain", "not json"};
          if (behaviour == "slow") std::this_thread::sleep_for(1500ms);
          if (hook["Type"] == "pre-hook") return appendEnv(hook, name);
          return appendWarning(hook, name, name == "A" ? 202 : 201);
        });
    EXPECT_TRUE(server->start().has_value());
    return server;
  }

  void startProxy(const std::string& yaml, std::chrono::milliseconds timeout = 1000ms) {
    auto file = parseAdaptersYaml(yaml, "test.yml");
    ASSERT_TRUE(file.has_value()) << file.error();
    HookCall builtin = [](const std::string&) { return HttpAnswer{500, "", ""}; };
    proxy_ = std::make_unique<DockerProxy>(
        ProxyOptions{.listen = {*parseListenAddress("unix:" + path("proxy.sock"))},
                     .upstream = path("docker.sock")},
        rulesFromConfig(*file, builtin, timeout));
    ASSERT_TRUE(proxy_->start().has_value());
  }

  std::string adapterUrls() const {
    const auto a = adapterA_->addresses().at(0);
    return "adapters:\n  a: http://127.0.0.1:" + std::to_string(a.port) +
           "/hook\n  b: http+unix://" + percentEncoded(path("b.sock")) + "/hook\n";
  }
  static std::string percentEncoded(const std::string& text) {
    std::string out;
    for (char c : text) out += c == '/' ? std::string("%2F") : std::string(1, c);
    return out;
  }

  std::string create() {
    return roundTrip(proxy_->addresses().at(0),
                     post("/v1.41/containers/create?name=x", R"({"Image":"i","Env":["X=1"]})"));
  }

  testing::TempDir dir_;
  std::mutex mutex_;
  std::vector<std::string> dockerSaw_;
  std::vector<std::string> calls_;
  std::vector<unsigned> postCodes_;
  std::map<std::string, std::string> behaviour_;
  std::unique_ptr<HttpServer> docker_;
  std::unique_ptr<HttpServer> adapterA_;
  std::unique_ptr<HttpServer> adapterB_;
  std::unique_ptr<DockerProxy> proxy_;
};

TEST_F(ProxyChainTest, PreHooksChainInOrderAndPostHooksSeeThePreviousOutput) {
  startProxy("endpoints:\n  \"POST /*/containers/create\":\n    pre: [a, b]\n    post: [b, a]\n" +
             adapterUrls());
  const std::string answer = create();
  EXPECT_NE(answer.find("HTTP/1.1 202"), std::string::npos) << answer;  // A's Code honoured
  EXPECT_NE(answer.find(R"("Warnings":["B","A"])"), std::string::npos) << answer;
  ASSERT_EQ(dockerSaw_.size(), 1U);
  EXPECT_EQ(Json::parse(dockerSaw_[0])["Env"], (Json{"X=1", "A", "B"}));
  EXPECT_EQ(calls_,
            (std::vector<std::string>{"A pre-hook", "B pre-hook", "B post-hook", "A post-hook"}));
}

TEST_F(ProxyChainTest, AnAdapterRefusingAbortsWithItsStatusDockerIsNotCalledPostHooksAreTold) {
  behaviour_["B"] = "refuse";
  startProxy("endpoints:\n  \"POST /*/containers/create\": {pre: [a, b], post: [a]}\n" +
             adapterUrls());
  const std::string answer = create();
  EXPECT_NE(answer.find("HTTP/1.1 403"), std::string::npos) << answer;
  EXPECT_NE(answer.find(R"({"message":"ovsplane: adapter b: policy says no"})"), std::string::npos)
      << answer;
  EXPECT_TRUE(dockerSaw_.empty());
  // A acted in its pre-hook: its post-hook learns that the request failed (it can undo).
  EXPECT_EQ(calls_, (std::vector<std::string>{"A pre-hook", "B pre-hook", "A post-hook"}));
  EXPECT_EQ(postCodes_, std::vector<unsigned>{403});
}

TEST_F(ProxyChainTest, InvalidJsonFromAnAdapterIsABadGateway) {
  behaviour_["A"] = "garbage";
  startProxy("endpoints:\n  \"POST /*/containers/create\": {pre: [a]}\n" + adapterUrls());
  const std::string answer = create();
  EXPECT_NE(answer.find("HTTP/1.1 502"), std::string::npos) << answer;
  EXPECT_NE(answer.find("without ModifiedClientRequest"), std::string::npos) << answer;
  EXPECT_TRUE(dockerSaw_.empty());
}

TEST_F(ProxyChainTest, ASlowAdapterTimesOutWithAGatewayTimeoutNamingIt) {
  behaviour_["B"] = "slow";
  startProxy("endpoints:\n  \"POST /*/containers/create\": {pre: [a, b]}\n" + adapterUrls(), 300ms);
  const auto start = std::chrono::steady_clock::now();
  const std::string answer = create();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1400ms);  // well before B would answer
  EXPECT_NE(answer.find("HTTP/1.1 504"), std::string::npos) << answer;
  EXPECT_NE(answer.find("adapter b ("), std::string::npos) << answer;
  EXPECT_NE(answer.find("did not answer within 300 ms"), std::string::npos) << answer;
  EXPECT_TRUE(dockerSaw_.empty());
}

TEST_F(ProxyChainTest, AnUnreachableAdapterIsABadGatewayNamingIt) {
  startProxy(
      "endpoints:\n  \"POST /*/containers/create\": {pre: [gone]}\nadapters:\n  gone: "
      "unix://" +
      path("nobody.sock") + "\n");
  const std::string answer = create();
  EXPECT_NE(answer.find("HTTP/1.1 502"), std::string::npos) << answer;
  EXPECT_NE(answer.find("adapter gone ("), std::string::npos) << answer;
  EXPECT_TRUE(dockerSaw_.empty());
}

TEST_F(ProxyChainTest, UnversionedPathsMatchVersionedPatterns) {
  startProxy("endpoints:\n  \"POST /*/containers/create\": {pre: [a]}\n" + adapterUrls());
  roundTrip(proxy_->addresses().at(0), post("/containers/create", R"({"Image":"i","Env":[]})"));
  ASSERT_EQ(dockerSaw_.size(), 1U);
  EXPECT_EQ(Json::parse(dockerSaw_[0])["Env"], (Json{"A"}));
}

}  // namespace
}  // namespace ovsplane::adapter
