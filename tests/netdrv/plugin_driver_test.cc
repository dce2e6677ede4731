// unit: the plugin path's driver (Docker's IPAM and network-driver calls, typed) over the same
// test doubles as the Powerstrip driver, with the real allocator over a MemoryStore.
#include "netdrv/plugin_driver.h"

#include <gtest/gtest.h>

#include "common/wall_clock.h"
#include "ipam/memory_store.h"
#include "netdrv/naming.h"
#include "tests/netdrv/fakes.h"

namespace ovsplane::netdrv {
namespace {

using testing::FakeCatalog;
using testing::FakeNetlink;
using testing::FakeRuntime;
using testing::FakeSwitch;

ipam::Subnet subnet(const char* text) { return *ipam::Subnet::parse(text); }
ipam::Ipv4Address address(const char* text) { return *ipam::Ipv4Address::parse(text); }

class PluginDriverTest : public ::testing::Test {
 protected:
  std::shared_ptr<ipam::MemoryStore> store_ = std::make_shared<ipam::MemoryStore>();
  std::shared_ptr<FakeCatalog> catalog_ = std::make_shared<FakeCatalog>();
  std::shared_ptr<FakeSwitch> ovs_ = std::make_shared<FakeSwitch>();
  std::shared_ptr<FakeRuntime> runtime_ = std::make_shared<FakeRuntime>();
  std::shared_ptr<FakeNetlink> netlink_ = std::make_shared<FakeNetlink>();
  std::shared_ptr<Driver> driver_ = std::make_shared<Driver>(
      DriverConfig{.hostName = "h1", .datapath = ovsdb::DatapathType::Netdev, .overlayMtu = 1450},
      DriverDependencies{store_, catalog_, ovs_, runtime_, netlink_});
  PluginDriver plugin_{driver_};

  /** Docker's order for `docker network create`: pool, gateway, network. */
  void createNetwork(const char* id, const char* pool, bool internal = false,
                     std::optional<uint32_t> mtu = std::nullopt) {
    auto granted = plugin_.requestPool(pool, "", false);
    ASSERT_TRUE(granted) << granted.error().message;
    auto gateway = plugin_.requestGateway(*granted, std::nullopt);
    ASSERT_TRUE(gateway) << gateway.error().message;
    auto created = plugin_.createNetwork(
        DockerNetworkSpec{.networkId = id,
                          .subnet = *ipam::Subnet::parse(gateway->toString() + "/" +
                                                         std::to_string(granted->prefixLength())),
                          .internal = internal,
                          .mtu = mtu});
    ASSERT_TRUE(created) << created.error().message;
  }
  std::vector<ipam::Lease> leases(const char* cidr) { return store_->leases(subnet(cidr)).value(); }
};

TEST_F(PluginDriverTest, PoolsAreRefusedWithReasonsUsersCanActOn) {
  auto v6 = plugin_.requestPool("fd00::/64", "", true);
  ASSERT_FALSE(v6);
  EXPECT_EQ(v6.error().code, ErrorCode::InvalidRequest);
  EXPECT_NE(v6.error().message.find("IPv6"), std::string::npos);
  auto none = plugin_.requestPool("", "", false);
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("--subnet"), std::string::npos);
  auto range = plugin_.requestPool("10.0.7.0/24", "10.0.7.0/25", false);
  ASSERT_FALSE(range);
  EXPECT_NE(range.error().message.find("--ip-range"), std::string::npos);
  auto garbage = plugin_.requestPool("10.0.7.0/33", "", false);
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().code, ErrorCode::InvalidRequest);

  createNetwork("n1", "10.0.7.0/24");
  auto overlapping = plugin_.requestPool("10.0.0.0/16", "", false);
  ASSERT_FALSE(overlapping);
  EXPECT_NE(overlapping.error().message.find("overlaps ovsplane network 10.0.7.0/24"),
            std::string::npos);
}

TEST_F(PluginDriverTest, AnExistingNetworkKeepsItsGateway) {
  // Made through OVSPLANE_CIDR=10.0.7.254/24 (the Powerstrip path) first.
  ASSERT_TRUE(catalog_->ensureNetwork(subnet("10.0.7.254/24"), NetworkOptions{}));
  auto pool = plugin_.requestPool("10.0.7.0/24", "", false);
  ASSERT_TRUE(pool);
  EXPECT_EQ(pool->gateway(), address("10.0.7.254"));
  EXPECT_EQ(*plugin_.requestGateway(*pool, std::nullopt), address("10.0.7.254"));
  auto other = plugin_.requestGateway(*pool, address("10.0.7.1"));
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().message.find("has gateway 10.0.7.254"), std::string::npos);
  // A new network: the asked gateway, or the first host.
  EXPECT_EQ(*plugin_.requestGateway(subnet("10.0.8.0/24"), address("10.0.8.9")),
            address("10.0.8.9"));
  EXPECT_EQ(*plugin_.requestGateway(subnet("10.0.8.0/24"), std::nullopt), address("10.0.8.1"));
  EXPECT_FALSE(plugin_.requestGateway(subnet("10.0.8.0/24"), address("10.0.9.1")));
}

TEST_F(PluginDriverTest, AddressesAreDockerOwnedAndShareTheAllocatorWithThePowerstripPath) {
  createNetwork("n1", "10.0.7.0/24");
  auto first = plugin_.requestAddress(subnet("10.0.7.0/24"), std::nullopt);
  auto second = plugin_.requestAddress(subnet("10.0.7.0/24"), std::nullopt);
  ASSERT_TRUE(first && second);
  EXPECT_NE(*first, *second);
  EXPECT_NE(*first, address("10.0.7.1"));  // never the gateway
  for (const auto& lease : leases("10.0.7.0/24")) {
    EXPECT_TRUE(lease.owner.starts_with("docker:h1:")) << lease.owner;
  }
  // An address a Powerstrip endpoint holds is refused, naming the holder.
  ASSERT_TRUE(ipam::Allocator(store_).allocate(subnet("10.0.7.1/24"), "powerstrip-endpoint",
                                               address("10.0.7.40")));
  auto taken = plugin_.requestAddress(subnet("10.0.7.0/24"), address("10.0.7.40"));
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().code, ErrorCode::Conflict);
  EXPECT_NE(taken.error().message.find("powerstrip-endpoint"), std::string::npos);
  // Docker's release frees its own addresses only.
  ASSERT_TRUE(plugin_.releaseAddress(subnet("10.0.7.0/24"), address("10.0.7.40")));
  ASSERT_TRUE(plugin_.releaseAddress(subnet("10.0.7.0/24"), *first));
  ASSERT_TRUE(plugin_.releaseAddress(subnet("10.0.7.0/24"), address("10.0.7.1")));   // gateway
  ASSERT_TRUE(plugin_.releaseAddress(subnet("10.0.7.0/24"), address("10.0.7.99")));  // free
  auto left = leases("10.0.7.0/24");
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].address, *second);
  EXPECT_EQ(left[1].owner, "powerstrip-endpoint");
}

TEST_F(PluginDriverTest, ExhaustionIsAConflictNamingTheNetwork) {
  createNetwork("n1", "10.0.9.0/29");
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(plugin_.requestAddress(subnet("10.0.9.0/29"), std::nullopt));
  auto full = plugin_.requestAddress(subnet("10.0.9.0/29"), std::nullopt);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, ErrorCode::Conflict);
  EXPECT_NE(full.error().message.find("10.0.9.1/29 is exhausted"), std::string::npos);
}

TEST_F(PluginDriverTest, InternalNetworksAreSealedAndCannotTurnAnExistingOne) {
  createNetwork("sealed", "10.0.7.0/24", /*internal=*/true);
  EXPECT_FALSE(catalog_->created.at("10.0.7.0/24").nat);
  auto open = plugin_.createNetwork(DockerNetworkSpec{
      .networkId = "n2", .subnet = subnet("10.0.7.1/24"), .internal = false, .mtu = std::nullopt});
  ASSERT_FALSE(open);
  EXPECT_NE(open.error().message.find("sealed (no gateway, no NAT)"), std::string::npos);
  auto jumbo = plugin_.createNetwork(DockerNetworkSpec{
      .networkId = "n3", .subnet = subnet("10.0.8.1/24"), .internal = false, .mtu = 9000});
  ASSERT_FALSE(jumbo);
  EXPECT_NE(jumbo.error().message.find("MTU 9000 is above the overlay's 1450"), std::string::npos);
}

TEST_F(PluginDriverTest, AnEndpointIsAVethPluggedIntoTheBridgeAndFoundAgainFromOvs) {
  createNetwork("n1", "10.0.7.0/24", false, 1300);
  auto ip = plugin_.requestAddress(subnet("10.0.7.0/24"), std::nullopt);
  ASSERT_TRUE(ip);
  auto endpoint = plugin_.createEndpoint(DockerEndpointRequest{
      .networkId = "n1", .endpointId = "e1", .ip = *ip, .prefixLength = 24, .mac = std::nullopt});
  ASSERT_TRUE(endpoint) << endpoint.error().message;
  const DockerVethNames names = dockerVethNames("e1");
  EXPECT_EQ(endpoint->hostVeth, names.hostVeth);
  EXPECT_TRUE(names.hostVeth.starts_with("ovd"));
  EXPECT_TRUE(names.containerVeth.starts_with("ovq"));
  EXPECT_LE(names.hostVeth.size(), kMaxInterfaceName);
  ASSERT_TRUE(netlink_->links.contains(names.hostVeth));
  const VethSpec& veth = netlink_->links.at(names.hostVeth).first;
  EXPECT_EQ(veth.peerName, names.containerVeth);
  EXPECT_EQ(veth.mtu, 1300u);           // the network's -o com.docker.network.driver.mtu
  EXPECT_TRUE(veth.disableTxChecksum);  // netdev datapath
  EXPECT_EQ(veth.mac, endpointNames("e1").mac);
  ASSERT_TRUE(ovs_->ports.contains(names.hostVeth));
  const auto& port = ovs_->ports.at(names.hostVeth);
  EXPECT_EQ(port.externalIds.at(kDockerEndpointKey), "e1");
  EXPECT_EQ(port.externalIds.at("ovsplane-docker-network"), "n1");
  EXPECT_FALSE(port.externalIds.contains("ovsplane-endpoint"));  // not the reconciler's
  EXPECT_EQ(port.bridge, bridgeName(endpoint->vni));

  // Join finds it from OVS (a restarted ovsplane too), with the gateway.
  PluginDriver restarted(driver_);
  auto joined = restarted.endpoint("e1");
  ASSERT_TRUE(joined) << joined.error().message;
  EXPECT_EQ(joined->containerVeth, names.containerVeth);
  EXPECT_EQ(joined->ip, *ip);
  EXPECT_EQ(joined->mtu, 1300u);
  ASSERT_TRUE(joined->gateway);
  EXPECT_EQ(*joined->gateway, address("10.0.7.1"));
  // The host serves the network's gateway and tunnels for it.
  auto local = driver_->localNetworks();
  ASSERT_TRUE(local);
  ASSERT_EQ(local->size(), 1u);
  EXPECT_EQ(local->front().vni, endpoint->vni);

  ASSERT_TRUE(restarted.deleteEndpoint("e1"));
  EXPECT_FALSE(ovs_->ports.contains(names.hostVeth));
  EXPECT_FALSE(netlink_->links.contains(names.hostVeth));
  EXPECT_TRUE(restarted.deleteEndpoint("e1"));  // idempotent
  EXPECT_EQ(restarted.endpoint("e1").error().code, ErrorCode::NotFound);
}

TEST_F(PluginDriverTest, AGivenMacIsKeptAndSealedNetworksGetNoGateway) {
  createNetwork("sealed", "10.0.7.0/24", /*internal=*/true);
  auto endpoint = plugin_.createEndpoint(DockerEndpointRequest{.networkId = "sealed",
                                                               .endpointId = "e2",
                                                               .ip = address("10.0.7.5"),
                                                               .prefixLength = 24,
                                                               .mac = "02:42:0a:00:07:05"});
  ASSERT_TRUE(endpoint) << endpoint.error().message;
  EXPECT_EQ(endpoint->mac, "02:42:0a:00:07:05");
  EXPECT_FALSE(endpoint->gateway);
  EXPECT_FALSE(plugin_.endpoint("e2")->gateway);
  EXPECT_EQ(endpoint->mtu, 1450u);  // the overlay's
}

TEST_F(PluginDriverTest, AnAddressOfNoOvsplaneNetworkOrAFailedPlugLeavesNothing) {
  auto foreign = plugin_.createEndpoint(DockerEndpointRequest{.networkId = "n9",
                                                              .endpointId = "e9",
                                                              .ip = address("172.18.0.2"),
                                                              .prefixLength = 16,
                                                              .mac = std::nullopt});
  ASSERT_FALSE(foreign);
  EXPECT_NE(foreign.error().message.find("--ipam-driver ovsplane"), std::string::npos);

  createNetwork("n1", "10.0.7.0/24");
  ovs_->failOn("apply");
  auto failed = plugin_.createEndpoint(DockerEndpointRequest{.networkId = "n1",
                                                             .endpointId = "e3",
                                                             .ip = address("10.0.7.3"),
                                                             .prefixLength = 24,
                                                             .mac = std::nullopt});
  ASSERT_FALSE(failed);
  EXPECT_TRUE(netlink_->links.empty());
  ovs_->clear();
  EXPECT_TRUE(ovs_->ports.empty());
}

TEST_F(PluginDriverTest, ARestartedOvsplaneLearnsNetworkMtusFromDocker) {
  createNetwork("n1", "10.0.7.0/24");
  runtime_->networks = {RuntimeNetwork{.id = "n1",
                                       .name = "blue",
                                       .driver = "ovsplane",
                                       .internal = false,
                                       .options = {{"com.docker.network.driver.mtu", "1280"}},
                                       .endpoints = {}},
                        RuntimeNetwork{.id = "other",
                                       .name = "b",
                                       .driver = "bridge",
                                       .internal = false,
                                       .options = {},
                                       .endpoints = {}}};
  PluginDriver restarted(driver_);
  auto learned = restarted.learnNetworks();
  ASSERT_TRUE(learned);
  EXPECT_EQ(*learned, 1u);
  auto endpoint = restarted.createEndpoint(DockerEndpointRequest{.networkId = "n1",
                                                                 .endpointId = "e4",
                                                                 .ip = address("10.0.7.4"),
                                                                 .prefixLength = 24,
                                                                 .mac = std::nullopt});
  ASSERT_TRUE(endpoint);
  EXPECT_EQ(endpoint->mtu, 1280u);
}

TEST_F(PluginDriverTest, LeftoversDockerDoesNotKnowAreCollectedAfterTheGrace) {
  createNetwork("n1", "10.0.7.0/24");
  // Two endpoints: Docker knows e1; e2 was left by a crash between Docker's calls, and so was an
  // address no endpoint holds and a veth whose port never came.
  auto ip1 = plugin_.requestAddress(subnet("10.0.7.0/24"), std::nullopt);
  auto ip2 = plugin_.requestAddress(subnet("10.0.7.0/24"), std::nullopt);
  auto ip3 = plugin_.requestAddress(subnet("10.0.7.0/24"), std::nullopt);
  ASSERT_TRUE(ip1 && ip2 && ip3);
  for (auto [id, ip] : {std::pair{"e1", *ip1}, std::pair{"e2", *ip2}}) {
    ASSERT_TRUE(plugin_.createEndpoint(DockerEndpointRequest{
        .networkId = "n1", .endpointId = id, .ip = ip, .prefixLength = 24, .mac = std::nullopt}));
  }
  VethSpec stray;
  stray.hostName = "ovd00000000beef";
  stray.peerName = "ovq00000000beef";
  ASSERT_TRUE(netlink_->createVeth(stray));
  runtime_->networks = {RuntimeNetwork{.id = "n1",
                                       .name = "blue",
                                       .driver = "ovsplane",
                                       .internal = false,
                                       .options = {},
                                       .endpoints = {{"e1", ip1->toString()}}}};
  catalog_->addressesOfHost = [&] {
    std::vector<HostAddress> out;
    for (const auto& lease : leases("10.0.7.0/24")) {
      out.push_back(
          HostAddress{subnet("10.0.7.1/24"), lease.address, lease.owner, wallClockMs() - 1000});
    }
    return out;
  };
  std::vector<std::string> found;
  auto pass = [&](std::chrono::milliseconds grace, bool fix) {
    found.clear();
    auto collected = plugin_.collect(grace, [&](std::string what, const auto& change) {
      found.push_back(what);
      if (fix) {
        ASSERT_TRUE(change());
      }
    });
    ASSERT_TRUE(collected) << collected.error().message;
  };
  pass(std::chrono::hours(1), true);  // young: left alone
  EXPECT_TRUE(found.empty());
  EXPECT_EQ(ovs_->ports.size(), 2u);
  pass(std::chrono::milliseconds(0), true);
  ASSERT_EQ(found.size(), 4u) << ::testing::PrintToString(
      found);  // e2's port, the veth, 2 addresses
  EXPECT_EQ(ovs_->ports.size(), 1u);
  EXPECT_TRUE(ovs_->ports.contains(dockerVethNames("e1").hostVeth));
  EXPECT_FALSE(netlink_->links.contains("ovd00000000beef"));
  auto left = leases("10.0.7.0/24");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].address, *ip1);
  pass(std::chrono::milliseconds(0), true);  // converged
  EXPECT_TRUE(found.empty()) << ::testing::PrintToString(found);
  // Docker cannot be asked: nothing is judged.
  runtime_->failOn("listNetworks");
  EXPECT_FALSE(plugin_.collect(std::chrono::milliseconds(0), [](std::string, const auto&) {}));
}

}  // namespace
}  // namespace ovsplane::netdrv
