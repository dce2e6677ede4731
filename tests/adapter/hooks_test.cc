// unit: Powerstrip hook decoding, routing and the hook service as pure functions (JSON in, JSON
// out), from fixtures captured through the original Powerstrip.
#include "adapter/hook_service.h"
#include "common/json_limits.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <fstream>
#include <sstream>

namespace ovsplane::adapter {
namespace {

using nlohmann::json;

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(OVSPLANE_TEST_FIXTURES) + "/powerstrip/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(DecodeHook, CapturedPreHook) {
  auto hook = decodeHook(fixture("001-pre-hook-POST-v1.41-containers-create.json"));
  ASSERT_TRUE(hook.has_value()) << hook.error();
  EXPECT_EQ(hook->type, HookType::Pre);
  EXPECT_EQ(hook->client.method, "POST");
  EXPECT_EQ(hook->client.request, "/v1.41/containers/create?name=ps-a");
  ASSERT_TRUE(hook->client.body.has_value());
  EXPECT_TRUE(hook->client.body->ends_with("}\n"));
  EXPECT_FALSE(hook->server.has_value());
}

TEST(DecodeHook, CapturedPostHooks) {
  auto start = decodeHook(fixture("002-post-hook-POST-v1.41-containers-ps-a-start.json"));
  ASSERT_TRUE(start.has_value()) << start.error();
  EXPECT_EQ(start->type, HookType::Post);
  EXPECT_FALSE(start->client.body.has_value());  // null
  ASSERT_TRUE(start->server.has_value());
  EXPECT_FALSE(start->server->contentType.has_value());  // null for 204
  EXPECT_EQ(start->server->body, "");
  EXPECT_EQ(start->server->code, 204);
  auto missing =
      decodeHook(fixture("006-post-hook-POST-v1.41-containers-ps-missing-1218813118-start.json"));
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->server->code, 404);
  EXPECT_EQ(missing->server->contentType.value(), "application/json");
}

TEST(DecodeHook, RejectsWhatIsNotAVersionOneHook) {
  struct Case {
    std::string body;
    std::string part;
  };
  for (
      const Case& c : std::vector<Case>{
          {"", "not valid JSON"},
          {"{", "not valid JSON"},
          {"\xff\xfe", "not valid JSON"},
          {"[]", "not a JSON object"},
          {R"({"Type":"pre-hook"})", "PowerstripProtocolVersion is missing"},
          {R"({"PowerstripProtocolVersion":2,"Type":"pre-hook"})", "2 is not supported"},
          {R"({"PowerstripProtocolVersion":"1","Type":"pre-hook"})", "\"1\" is not supported"},
          {R"({"PowerstripProtocolVersion":1,"Type":"mid-hook"})", "mid-hook"},
          {R"({"PowerstripProtocolVersion":1,"Type":"pre-hook"})", "ClientRequest"},
          {R"({"PowerstripProtocolVersion":1,"Type":"pre-hook","ClientRequest":{"Method":1,"Request":"/"}})",
           "Method"},
          {R"({"PowerstripProtocolVersion":1,"Type":"pre-hook","ClientRequest":{"Method":"GET","Request":"/","Body":{}}})",
           "Body must be a string or null"},
          {R"({"PowerstripProtocolVersion":1,"Type":"post-hook","ClientRequest":{"Method":"GET","Request":"/"}})",
           "ServerResponse"},
          {R"({"PowerstripProtocolVersion":1,"Type":"post-hook","ClientRequest":{"Method":"GET","Request":"/"},"ServerResponse":{"Body":"","Code":"200"}})",
           "Code must be an integer"},
      }) {
    auto hook = decodeHook(c.body);
    ASSERT_FALSE(hook.has_value()) << c.body;
    EXPECT_NE(hook.error().find(c.part), std::string::npos) << hook.error();
  }
}

TEST(RouteRequest, VersionedAndUnversionedPaths) {
  struct Case {
    std::string method, target;
    Route route;
    std::string container, name;
  };
  for (const Case& c : std::vector<Case>{
           {"POST", "/v1.41/containers/create?name=ps-a", Route::CreateContainer, "", "ps-a"},
           {"POST", "/containers/create?name=ps-u", Route::CreateContainer, "", "ps-u"},
           {"POST", "/containers/create", Route::CreateContainer, "", ""},
           {"POST", "/v1.24/containers/create?platform=linux&name=a%2Db", Route::CreateContainer,
            "", "a-b"},
           {"POST", "/v1.41/containers/ps-a/start", Route::StartContainer, "ps-a", ""},
           {"POST", "/containers/0d1e2f/start?detachKeys=x", Route::StartContainer, "0d1e2f", ""},
           {"DELETE", "/v1.41/containers/ps-a?force=1", Route::DeleteContainer, "ps-a", ""},
           {"DELETE", "/containers/abc/", Route::DeleteContainer, "abc", ""},
           {"GET", "/v1.41/containers/ps-a/json", Route::Other, "", ""},
           {"POST", "/v1.41/containers/ps-a/stop", Route::Other, "", ""},
           {"DELETE", "/v1.41/images/busybox", Route::Other, "", ""},
           {"POST", "/v1.41/containers/create/extra", Route::Other, "", ""},
           {"GET", "/containers/create", Route::Other, "", ""},
           {"POST", "/_ping", Route::Other, "", ""},
           {"POST", "", Route::Other, "", ""},
       }) {
    const RoutedRequest routed = routeRequest(c.method, c.target);
    EXPECT_EQ(routed.route, c.route) << c.method << " " << c.target;
    EXPECT_EQ(routed.container, c.container) << c.target;
    EXPECT_EQ(routed.name, c.name) << c.target;
  }
}

/** A driver double recording calls (the create body is read and rewritten by the adapter). */
class RecordingDriver final : public netdrv::NetworkDriver {
 public:
  std::vector<std::string> calls;
  std::optional<netdrv::Error> failAttach;
  std::optional<netdrv::Error> failWire;
  std::mutex mutex;

  netdrv::Result<netdrv::AttachedEndpoint> attach(const netdrv::AttachRequest& request) override {
    std::scoped_lock lock(mutex);
    const std::string& name = request.appName;
    calls.push_back("attach " + name);
    if (failAttach) return std::unexpected(*failAttach);
    const int n = ++attaches[name];
    return netdrv::AttachedEndpoint{
        "ep-" + name + (n > 1 ? "-" + std::to_string(n) : std::string()),
        "net-" + name,
        request.ip.value_or(request.subnet.firstHost()),
        {},
        {}};
  }
  std::map<std::string, int> attaches;
  netdrv::Result<void> commit(const std::string& ep, const std::string& id) override {
    std::scoped_lock lock(mutex);
    calls.push_back("commit " + ep + " " + id);
    return {};
  }
  netdrv::Result<void> commitCreated(const std::string& id, const std::string& hint) override {
    std::scoped_lock lock(mutex);
    calls.push_back("commit " + hint + " " + id);
    return {};
  }
  netdrv::Result<void> rollback(const std::string& ep) override {
    std::scoped_lock lock(mutex);
    calls.push_back("rollback " + ep);
    return {};
  }
  netdrv::Result<void> ensureWired(const std::string& ref) override {
    std::scoped_lock lock(mutex);
    calls.push_back("ensureWired " + ref);
    if (failWire) return std::unexpected(*failWire);
    return {};
  }
  netdrv::Result<void> detach(const std::string& ref) override {
    std::scoped_lock lock(mutex);
    calls.push_back("detach " + ref);
    return {};
  }
  std::vector<netdrv::Endpoint> endpoints() const override { return {}; }
};

class HookServiceTest : public ::testing::Test {
 protected:
  std::shared_ptr<RecordingDriver> driver_ = std::make_shared<RecordingDriver>();
  HookService service_{driver_};

  HttpAnswer post(const std::string& body) {
    return service_.handle({.method = "POST", .target = "/adapter", .body = body});
  }
  static std::string postHookFor(const std::string& preHook, int code, const std::string& body) {
    json hook = json::parse(preHook);
    hook["Type"] = "post-hook";
    hook["ServerResponse"] = {{"ContentType", "application/json"}, {"Body", body}, {"Code", code}};
    return hook.dump();
  }
};

TEST_F(HookServiceTest, CreateWithACidrIsAttachedAndCommitted) {
  const std::string pre = fixture("001-pre-hook-POST-v1.41-containers-create.json");
  const HttpAnswer answer = post(pre);
  ASSERT_EQ(answer.status, 200U) << answer.body;
  const json reply = json::parse(answer.body);
  EXPECT_EQ(reply["PowerstripProtocolVersion"], 1);
  const auto& modified = reply["ModifiedClientRequest"];
  EXPECT_EQ(modified["Method"], "POST");
  EXPECT_EQ(modified["Request"], "/v1.41/containers/create?name=ps-a");
  const json body = json::parse(modified["Body"].get<std::string>());
  EXPECT_EQ(body["HostConfig"]["NetworkMode"], "container:net-ps-a");
  EXPECT_EQ(body["Labels"]["ps-peer"], "1");  // the rest survives

  const HttpAnswer postAnswer = post(postHookFor(pre, 201, R"({"Id":"0d1e2f","Warnings":[]})"));
  ASSERT_EQ(postAnswer.status, 200U);
  const json postReply = json::parse(postAnswer.body);
  EXPECT_EQ(postReply["ModifiedServerResponse"]["Code"], 201);
  EXPECT_EQ(postReply["ModifiedServerResponse"]["Body"], R"({"Id":"0d1e2f","Warnings":[]})");
  EXPECT_EQ(driver_->calls, (std::vector<std::string>{"attach ps-a", "commit ep-ps-a 0d1e2f"}));
}

TEST_F(HookServiceTest, RefusedCreateIsRolledBack) {
  const std::string pre = fixture("008-pre-hook-POST-containers-create.json");
  ASSERT_EQ(post(pre).status, 200U);
  const HttpAnswer answer = post(postHookFor(pre, 409, R"({"message":"Conflict. The name..."})"));
  EXPECT_EQ(json::parse(answer.body)["ModifiedServerResponse"]["Code"], 409);
  EXPECT_EQ(driver_->calls, (std::vector<std::string>{"attach ps-u", "rollback ep-ps-u"}));
}

TEST_F(HookServiceTest, AttachErrorsBecomeDockerStyleErrors) {
  driver_->failAttach =
      netdrv::Error{netdrv::ErrorCode::InvalidRequest, "OVSPLANE_CIDR: invalid CIDR \"x\""};
  const HttpAnswer answer = post(fixture("001-pre-hook-POST-v1.41-containers-create.json"));
  EXPECT_EQ(answer.status, 400U);
  EXPECT_EQ(json::parse(answer.body)["message"], "ovsplane: OVSPLANE_CIDR: invalid CIDR \"x\"");
  driver_->failAttach = netdrv::Error{netdrv::ErrorCode::Conflict, "network exhausted"};
  EXPECT_EQ(post(fixture("001-pre-hook-POST-v1.41-containers-create.json")).status, 409U);
  driver_->failAttach = netdrv::Error{netdrv::ErrorCode::Unavailable, "dockerd down"};
  EXPECT_EQ(post(fixture("001-pre-hook-POST-v1.41-containers-create.json")).status, 503U);
}

TEST_F(HookServiceTest, StartAndDeletePostHooksWireAndDetach) {
  ASSERT_EQ(post(fixture("002-post-hook-POST-v1.41-containers-ps-a-start.json")).status, 200U);
  const HttpAnswer deleted = post(fixture("003-post-hook-DELETE-v1.41-containers-ps-a.json"));
  ASSERT_EQ(deleted.status, 200U);
  const json reply = json::parse(deleted.body);
  EXPECT_EQ(reply["ModifiedServerResponse"]["Code"], 204);
  EXPECT_TRUE(reply["ModifiedServerResponse"]["ContentType"].is_null());
  // A failed start (404) does not try to wire anything.
  ASSERT_EQ(
      post(fixture("006-post-hook-POST-v1.41-containers-ps-missing-1218813118-start.json")).status,
      200U);
  EXPECT_EQ(driver_->calls, (std::vector<std::string>{"ensureWired ps-a", "detach ps-a"}));
}

TEST_F(HookServiceTest, WiringFailureOnStartIsReported) {
  driver_->failWire = netdrv::Error{netdrv::ErrorCode::Unavailable, "netlink: busy"};
  const HttpAnswer answer = post(fixture("002-post-hook-POST-v1.41-containers-ps-a-start.json"));
  EXPECT_EQ(answer.status, 503U);
  EXPECT_NE(json::parse(answer.body)["message"].get<std::string>().find("ps-a started but"),
            std::string::npos);
}

TEST_F(HookServiceTest, EverythingElsePassesThroughUnchanged) {
  const std::string preNoCidr = json{{"PowerstripProtocolVersion", 1},
                                     {"Type", "pre-hook"},
                                     {"ClientRequest",
                                      {{"Method", "POST"},
                                       {"Request", "/v1.41/containers/create"},
                                       {"Body", "{\"Image\":\"busybox\", \"Env\": [\"A=b\"]}\n"}}}}
                                    .dump();
  const json reply = json::parse(post(preNoCidr).body);
  EXPECT_EQ(reply["ModifiedClientRequest"]["Body"],
            "{\"Image\":\"busybox\", \"Env\": [\"A=b\"]}\n");
  const std::string other =
      json{
          {"PowerstripProtocolVersion", 1},
          {"Type", "post-hook"},
          {"ClientRequest", {{"Method", "GET"}, {"Request", "/v1.41/info"}, {"Body", nullptr}}},
          {"ServerResponse", {{"ContentType", "text/plain"}, {"Body", "x\n\u00e9"}, {"Code", 200}}}}
          .dump();
  const json otherReply = json::parse(post(other).body);
  EXPECT_EQ(otherReply["ModifiedServerResponse"]["Body"], "x\n\u00e9");
  EXPECT_EQ(otherReply["ModifiedServerResponse"]["ContentType"], "text/plain");
  const std::string nullBody =
      json{{"PowerstripProtocolVersion", 1},
           {"Type", "pre-hook"},
           {"ClientRequest", {{"Method", "POST"}, {"Request", "/build"}, {"Body", nullptr}}}}
          .dump();
  EXPECT_TRUE(json::parse(post(nullBody).body)["ModifiedClientRequest"]["Body"].is_null());
  // A create without a CIDR is read by the adapter and never reaches the driver.
  EXPECT_TRUE(driver_->calls.empty()) << ::testing::PrintToString(driver_->calls);
}

TEST_F(HookServiceTest, PingMetricsAndBadRequests) {
  EXPECT_EQ(service_.handle({.method = "GET", .target = "/v1/ping", .body = ""}).body, "pong");
  EXPECT_EQ(post("garbage").status, 400U);
  EXPECT_EQ(service_.handle({.method = "GET", .target = "/adapter", .body = ""}).status, 405U);
  EXPECT_EQ(service_.handle({.method = "GET", .target = "/nope", .body = ""}).status, 404U);
  post(fixture("001-pre-hook-POST-v1.41-containers-create.json"));
  const std::string metrics =
      service_.handle({.method = "GET", .target = "/metrics", .body = ""}).body;
  EXPECT_NE(
      metrics.find("ovsplane_hooks_total{type=\"invalid\",route=\"none\",result=\"error\"} 1"),
      std::string::npos)
      << metrics;
  EXPECT_NE(
      metrics.find("ovsplane_hooks_total{type=\"pre-hook\",route=\"create\",result=\"ok\"} 1"),
      std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("ovsplane_attach_seconds_count 1"), std::string::npos) << metrics;
  // The split by phase, one observation each; no pool in this driver.
  for (const char* phase : {"state_db", "docker", "netlink", "ovsdb"}) {
    EXPECT_NE(
        metrics.find(fmt::format("ovsplane_attach_phase_seconds_count{{phase=\"{}\"}} 1", phase)),
        std::string::npos)
        << metrics;
  }
  EXPECT_NE(metrics.find("ovsplane_attach_pooled_total 0"), std::string::npos) << metrics;
  EXPECT_EQ(metrics.find("ovsplane_pool_ready"), std::string::npos) << metrics;
}

TEST_F(HookServiceTest, IdenticalCreatesArePairedByTheProxysRequestId) {
  // Two identical creates at once (same target, same body): their hooks carry different
  // request ids, and the answers come back in the other order.
  json first = json::parse(fixture("001-pre-hook-POST-v1.41-containers-create.json"));
  json second = first;
  first[kRequestIdField] = "req-1";
  second[kRequestIdField] = "req-2";
  ASSERT_EQ(post(first.dump()).status, 200U);
  ASSERT_EQ(post(second.dump()).status, 200U);
  post(postHookFor(second.dump(), 409, R"({"message":"Conflict"})"));
  post(postHookFor(first.dump(), 201, R"({"Id":"0d1e2f","Warnings":[]})"));
  EXPECT_EQ(driver_->calls,
            (std::vector<std::string>{"attach ps-a", "attach ps-a", "rollback ep-ps-a-2",
                                      "commit ep-ps-a 0d1e2f"}));
}

TEST_F(HookServiceTest, ACreateIsCommittedByItsIdEvenWhenThePairingMisses) {
  // An adapter before ovsplane's rewrote the body: the post-hook's original body differs from
  // what ovsplane's pre-hook saw, so nothing pairs; the created container's label still does.
  const std::string pre = fixture("001-pre-hook-POST-v1.41-containers-create.json");
  ASSERT_EQ(post(pre).status, 200U);
  json other = json::parse(pre);
  json body = json::parse(other["ClientRequest"]["Body"].get<std::string>());
  body["Labels"]["added-by"] = "another adapter";
  other["ClientRequest"]["Body"] = body.dump();
  post(postHookFor(other.dump(), 201, R"({"Id":"0d1e2f","Warnings":[]})"));
  EXPECT_EQ(driver_->calls, (std::vector<std::string>{"attach ps-a", "commit  0d1e2f"}));
}

TEST(NormalizeTarget, WhatDockerdWouldRoute) {
  const std::vector<std::pair<std::string, std::optional<std::string>>> cases = {
      {"/v1.41/containers/create?name=a", "/v1.41/containers/create?name=a"},
      {"/v1.41/containers/%63reate", "/v1.41/containers/create"},
      {"/v1.41/containers/%2e%2e/containers/create", "/v1.41/containers/create"},
      {"HTTP://docker:2375/v1.41/containers/create?x=%41", "/v1.41/containers/create?x=%41"},
      {"http://docker", "/"},
      {"//containers///json/", "/containers/json"},
      {"/../../etc", "/etc"},
      {"/containers/my%20app/start", "/containers/my%20app/start"},
      {"/containers/a%2Fb/start", "/containers/a/b/start"},
      {"/x#frag", "/x"},
      {"*", std::nullopt},
      {"docker:2375", std::nullopt},
      {"/bad%4", std::nullopt},
      {"/nul%00", std::nullopt},
      {"", std::nullopt},
  };
  for (const auto& [in, want] : cases) EXPECT_EQ(normalizeTarget(in), want) << in;
  EXPECT_EQ(routeRequest("POST", "/v1.41/containers/%63reate?name=x").route,
            Route::CreateContainer);
  EXPECT_EQ(routeRequest("DELETE", "http://d/containers/my%20app").container, "my app");
}

TEST(JsonLimits, DepthIsCountedOutsideStringsOnly) {
  EXPECT_TRUE(jsonDepthWithin(R"({"a":[1,{"b":[]}]})", 4));
  EXPECT_FALSE(jsonDepthWithin(R"({"a":[1,{"b":[]}]})", 3));
  EXPECT_TRUE(jsonDepthWithin(R"({"s":"[[[[[[\"[[[["})", 1));  // brackets in a string, an escape
  EXPECT_TRUE(parseJsonBounded(std::string(300, '[') + std::string(300, ']')).is_discarded());
  EXPECT_FALSE(parseJsonBounded(std::string(256, '[') + std::string(256, ']')).is_discarded());
}

TEST_F(HookServiceTest, ADeeplyNestedCreateIsRefusedBeforeAnythingIsAllocated) {
  // The attack of issue 14: OVSPLANE_CIDR and a field nested 200,000 arrays deep.
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  const std::string body =
      R"({"Image":"busybox","Env":["OVSPLANE_CIDR=10.0.6.1/24"],"X":)" + deep + "}";
  const std::string pre =
      json{{"PowerstripProtocolVersion", 1},
           {"Type", "pre-hook"},
           {"ClientRequest",
            {{"Method", "POST"}, {"Request", "/v1.41/containers/create"}, {"Body", body}}}}
          .dump();
  const HttpAnswer answer = post(pre);
  EXPECT_EQ(answer.status, 400U);
  EXPECT_NE(answer.body.find("nests deeper than 256 levels"), std::string::npos) << answer.body;
  EXPECT_TRUE(driver_->calls.empty());
  // The hook itself nested that deep: a 400 too.
  EXPECT_EQ(post(R"({"PowerstripProtocolVersion":1,"Type":"pre-hook","X":)" + deep + "}").status,
            400U);
}

TEST_F(HookServiceTest, AStartIsWiredBeforeDockerStartsTheApp) {
  const std::string pre =
      json{{"PowerstripProtocolVersion", 1},
           {"Type", "pre-hook"},
           {"ClientRequest",
            {{"Method", "POST"}, {"Request", "/v1.41/containers/web/start"}, {"Body", nullptr}}}}
          .dump();
  EXPECT_EQ(post(pre).status, 200U);
  EXPECT_EQ(driver_->calls, (std::vector<std::string>{"ensureWired web"}));
  driver_->failWire =
      netdrv::Error{netdrv::ErrorCode::NotFound, "its network-only container is gone"};
  const HttpAnswer refused = post(pre);
  EXPECT_EQ(refused.status, 404U);
  EXPECT_NE(refused.body.find("cannot start web"), std::string::npos) << refused.body;
}

}  // namespace
}  // namespace ovsplane::adapter
