// unit: Docker's network-plugin protocol as dockerd speaks it (bodies in its shapes, in its
// order), decoded by PluginService onto the plugin driver over the netdrv test doubles.
#include "adapter/plugin_service.h"

#include <gtest/gtest.h>

#include <string>

#include "ipam/memory_store.h"
#include "tests/netdrv/fakes.h"

namespace ovsplane::adapter {
namespace {

using nlohmann::json;

class PluginServiceTest : public ::testing::Test {
 protected:
  std::shared_ptr<ipam::MemoryStore> store_ = std::make_shared<ipam::MemoryStore>();
  std::shared_ptr<netdrv::testing::FakeCatalog> catalog_ =
      std::make_shared<netdrv::testing::FakeCatalog>();
  std::shared_ptr<netdrv::testing::FakeSwitch> ovs_ =
      std::make_shared<netdrv::testing::FakeSwitch>();
  std::shared_ptr<netdrv::testing::FakeNetlink> netlink_ =
      std::make_shared<netdrv::testing::FakeNetlink>();
  std::shared_ptr<netdrv::Driver> driver_ = std::make_shared<netdrv::Driver>(
      netdrv::DriverConfig{.hostName = "h1", .overlayMtu = 1450},
      netdrv::DriverDependencies{store_, catalog_, ovs_,
                                 std::make_shared<netdrv::testing::FakeRuntime>(), netlink_});
  Metrics metrics_;
  PluginService service_{std::make_shared<netdrv::PluginDriver>(driver_), metrics_};

  HttpAnswer raw(std::string_view target, std::string_view body, std::string_view method = "POST") {
    return service_.handle(HttpRequestView{.method = method, .target = target, .body = body});
  }
  json call(std::string_view target, const json& body = json::object()) {
    const std::string text = body.dump();
    HttpAnswer answer = raw(target, text);
    EXPECT_EQ(answer.status, 200u) << target << ": " << answer.body;
    EXPECT_EQ(answer.contentType, "application/vnd.docker.plugins.v1+json");
    return json::parse(answer.body);
  }
  /** `docker network create -d ovsplane --ipam-driver ovsplane --subnet POOL [opts]`, as
   *  dockerd 20.10 calls it. Returns the pool id. */
  std::string createNetwork(const std::string& id, const std::string& pool, const json& options) {
    json granted = call("/IpamDriver.RequestPool", {{"AddressSpace", "ovsplane-local"},
                                                    {"Pool", pool},
                                                    {"SubPool", ""},
                                                    {"Options", json::object()},
                                                    {"V6", false}});
    const std::string poolId = granted.value("PoolID", "");
    json gateway = call("/IpamDriver.RequestAddress",
                        {{"PoolID", poolId},
                         {"Address", ""},
                         {"Options", {{"RequestAddressType", "com.docker.network.gateway"}}}});
    json created =
        call("/NetworkDriver.CreateNetwork", {{"NetworkID", id},
                                              {"Options", options},
                                              {"IPv4Data",
                                               {{{"AddressSpace", "ovsplane-local"},
                                                 {"Pool", pool},
                                                 {"Gateway", gateway.value("Address", "")},
                                                 {"AuxAddresses", nullptr}}}},
                                              {"IPv6Data", json::array()}});
    EXPECT_FALSE(created.contains("Err")) << created.dump();
    return poolId;
  }
};

TEST_F(PluginServiceTest, ActivatesAsNetworkAndIpamDriverWithLocalScope) {
  EXPECT_EQ(call("/Plugin.Activate")["Implements"], json({"NetworkDriver", "IpamDriver"}));
  json caps = call("/NetworkDriver.GetCapabilities");
  EXPECT_EQ(caps["Scope"], "local");
  EXPECT_EQ(caps["ConnectivityScope"], "global");
  EXPECT_EQ(call("/IpamDriver.GetCapabilities")["RequiresRequestReplay"], false);
  EXPECT_EQ(call("/IpamDriver.GetDefaultAddressSpaces")["LocalDefaultAddressSpace"],
            "ovsplane-local");
}

TEST_F(PluginServiceTest, ARunIsPoolAddressEndpointJoinAndBackWithNothingLeft) {
  const std::string pool =
      createNetwork("net1", "10.0.7.0/24",
                    {{"com.docker.network.generic", {{"com.docker.network.driver.mtu", "1400"}}}});
  EXPECT_EQ(pool, "10.0.7.0/24");
  json ip = call("/IpamDriver.RequestAddress",
                 {{"PoolID", pool}, {"Address", ""}, {"Options", json::object()}});
  const std::string address = ip.value("Address", "");
  EXPECT_EQ(address, "10.0.7.2/24");
  json created =
      call("/NetworkDriver.CreateEndpoint",
           {{"NetworkID", "net1"},
            {"EndpointID", "ep1"},
            {"Interface", {{"Address", address}, {"AddressIPv6", ""}, {"MacAddress", ""}}},
            {"Options", json::object()}});
  // Docker gave no MAC: ovsplane's comes back (and nothing Docker gave).
  ASSERT_TRUE(created["Interface"].contains("MacAddress")) << created.dump();
  EXPECT_FALSE(created["Interface"].contains("Address"));
  json joined = call("/NetworkDriver.Join", {{"NetworkID", "net1"},
                                             {"EndpointID", "ep1"},
                                             {"SandboxKey", "/var/run/docker/netns/x"},
                                             {"Options", json::object()}});
  EXPECT_EQ(joined["InterfaceName"]["DstPrefix"], "eth");
  EXPECT_TRUE(joined["InterfaceName"]["SrcName"].get<std::string>().starts_with("ovq"));
  EXPECT_EQ(joined["Gateway"], "10.0.7.1");
  EXPECT_EQ(netlink_->links.begin()->second.first.mtu, 1400u);
  EXPECT_EQ(call("/NetworkDriver.EndpointOperInfo",
                 {{"NetworkID", "net1"}, {"EndpointID", "ep1"}})["Value"]["ovsplane.ip"],
            "10.0.7.2");
  call("/NetworkDriver.Leave", {{"NetworkID", "net1"}, {"EndpointID", "ep1"}});
  call("/NetworkDriver.DeleteEndpoint", {{"NetworkID", "net1"}, {"EndpointID", "ep1"}});
  call("/IpamDriver.ReleaseAddress", {{"PoolID", pool}, {"Address", "10.0.7.2"}});
  call("/NetworkDriver.DeleteNetwork", {{"NetworkID", "net1"}});
  call("/IpamDriver.ReleaseAddress", {{"PoolID", pool}, {"Address", "10.0.7.1"}});
  call("/IpamDriver.ReleasePool", {{"PoolID", pool}});
  EXPECT_TRUE(netlink_->links.empty());
  EXPECT_TRUE(ovs_->ports.empty());
  EXPECT_TRUE(store_->leases(*ipam::Subnet::parse("10.0.7.0/24"))->empty());
  const std::string rendered = metrics_.render({});
  EXPECT_NE(
      rendered.find("ovsplane_plugin_calls_total{method=\"NetworkDriver.Join\",result=\"ok\"} 1"),
      std::string::npos)
      << rendered;
}

TEST_F(PluginServiceTest, AGivenMacIsNotAnsweredBack) {
  const std::string pool = createNetwork("net1", "10.0.7.0/24", json::object());
  json created =
      call("/NetworkDriver.CreateEndpoint",
           {{"NetworkID", "net1"},
            {"EndpointID", "ep1"},
            {"Interface", {{"Address", "10.0.7.9/24"}, {"MacAddress", "02:42:0a:00:07:09"}}}});
  EXPECT_EQ(created["Interface"], json::object());
  EXPECT_EQ(ovs_->ports.begin()->second.externalIds.at("attached-mac"), "02:42:0a:00:07:09");
}

TEST_F(PluginServiceTest, ErrorsComeBackInBothApisShapesPrefixedForTheCli) {
  json v6 = call("/IpamDriver.RequestPool", {{"Pool", "fd00::/64"}, {"V6", true}});
  EXPECT_TRUE(v6.value("Error", "").starts_with("ovsplane: IPv6")) << v6.dump();
  EXPECT_EQ(v6["Err"], v6["Error"]);
  json foreignIpam =
      call("/NetworkDriver.CreateNetwork",
           {{"NetworkID", "n"},
            {"IPv4Data", {{{"AddressSpace", "LocalDefault"}, {"Pool", "172.18.0.0/16"}}}}});
  EXPECT_NE(foreignIpam.value("Err", "").find("--ipam-driver ovsplane"), std::string::npos);
  json ports =
      call("/NetworkDriver.CreateEndpoint",
           {{"NetworkID", "n"},
            {"EndpointID", "e"},
            {"Interface", {{"Address", "10.0.7.2/24"}}},
            {"Options", {{"com.docker.network.portmap", {{{"Proto", 6}, {"Port", 80}}}}}}});
  EXPECT_NE(ports.value("Err", "").find("port publishing (-p)"), std::string::npos);
  json unknown = call("/NetworkDriver.Join", {{"EndpointID", "nope"}});
  EXPECT_NE(unknown.value("Err", "").find("no endpoint nope"), std::string::npos);
}

TEST_F(PluginServiceTest, HostileRequestsGetAnAnswerNotACrash) {
  EXPECT_EQ(raw("/NetworkDriver.Nope", "{}").status, 404u);
  EXPECT_EQ(raw("/Plugin.Activate", "", "GET").status, 405u);
  EXPECT_EQ(raw("/IpamDriver.RequestPool", "not json").status, 400u);
  EXPECT_EQ(raw("/IpamDriver.RequestPool", "[1,2]").status, 400u);
  EXPECT_EQ(raw("/IpamDriver.RequestPool", std::string(100000, '[')).status, 400u);
  // Wrong types and out-of-range values: Docker's shape of an error, never an exception.
  for (const char* body :
       {R"({"Pool": 7, "V6": "yes"})", R"({"PoolID": ["x"], "Address": {}})",
        R"({"Interface": {"Address": "10.0.7.2/99999999999"}})",
        R"({"Interface": {"Address": "10.0.7.2/"}})", R"({"Interfaces": [7]})",
        R"({"IPv4Data": [{"AddressSpace": "ovsplane-local", "Pool": 3}]})",
        R"({"IPv4Data": [{"AddressSpace": "ovsplane-local", "Pool": "10.0.0.0/8"}],
                               "Options": {"com.docker.network.generic":
                                            {"com.docker.network.driver.mtu": "99999999"}}})"}) {
    for (const char* target :
         {"/IpamDriver.RequestPool", "/IpamDriver.RequestAddress", "/IpamDriver.ReleaseAddress",
          "/NetworkDriver.CreateNetwork", "/NetworkDriver.CreateEndpoint", "/NetworkDriver.Join"}) {
      HttpAnswer answer = raw(target, body);
      EXPECT_TRUE(answer.status == 200 || answer.status == 400) << target << " " << body;
      json parsed = json::parse(answer.body, nullptr, false);
      ASSERT_TRUE(parsed.is_object()) << target << " " << body << ": " << answer.body;
    }
  }
  EXPECT_TRUE(ovs_->ports.empty());
  EXPECT_TRUE(netlink_->links.empty());
}

}  // namespace
}  // namespace ovsplane::adapter
