// The distributed gateway's logic against fakes of netlink, OVS, OpenFlow and the firewall
// (the real ones: netlink_test, host_firewall_test, switch_test's OpenFlow tests, e2e.gateway).
#include "netdrv/gateway.h"

#include <gtest/gtest.h>

#include "netdrv/naming.h"
#include "tests/netdrv/fakes.h"

namespace ovsplane::netdrv {
namespace {

using testing::FakeNetlink;
using testing::FakeSwitch;

class FakeFlows final : public GatewayFlowControl, public testing::FailureSwitch {
 public:
  std::map<std::string, ovsdb::GatewayFlowSpec> installed;  // by bridge
  std::vector<std::string> removed;
  Result<bool> ensure(const ovsdb::GatewayFlowSpec& spec) override {
    if (fails("ensure")) return failure("ensure");
    const bool fresh = !installed.contains(spec.bridge);
    installed[spec.bridge] = spec;
    return fresh;
  }
  Result<void> remove(const std::string& bridge, uint32_t) override {
    installed.erase(bridge);
    removed.push_back(bridge);
    return {};
  }
};

class FakeFirewall final : public HostFirewall {
 public:
  std::vector<FirewallPlan> plans;
  Result<bool> apply(const FirewallPlan& plan) override {
    const bool changed = plans.empty() || !(plans.back() == plan);
    plans.push_back(plan);
    return changed;
  }
};

NetworkInfo network(const char* cidr, uint32_t vni, bool nat = true) {
  return NetworkInfo{*ipam::Subnet::parse(cidr), vni, nat};
}

class GatewaysTest : public ::testing::Test {
 protected:
  std::shared_ptr<FakeNetlink> netlink_ = std::make_shared<FakeNetlink>();
  std::shared_ptr<FakeSwitch> ovs_ = std::make_shared<FakeSwitch>();
  std::shared_ptr<FakeFlows> flows_ = std::make_shared<FakeFlows>();
  std::shared_ptr<FakeFirewall> firewall_ = std::make_shared<FakeFirewall>();
  Gateways gateways_{
      GatewayConfig{.isolateNetworks = true, .mtu = 1400, .datapath = ovsdb::DatapathType::Netdev},
      GatewayDependencies{netlink_, ovs_, flows_, firewall_}};

  /** ovs-vswitchd made bridge `vni`'s LOCAL port with MAC `mac` (the gateway's by default). */
  void bridgeUp(uint32_t vni, std::optional<std::array<uint8_t, 6>> mac = std::nullopt) {
    netlink_->gatewayMacs[bridgeName(vni)] = mac.value_or(gatewayMac(vni));
    netlink_->linkMtus[bridgeName(vni)] = 1400;
  }
};

TEST_F(GatewaysTest, ANatNetworkGetsItsAddressFlowsAndEgressOnceThenNothingChanges) {
  bridgeUp(4096);
  auto report = gateways_.reconcile({network("10.0.6.1/24", 4096)});
  EXPECT_TRUE(report.failures.empty()) << report.failures.front();
  EXPECT_EQ(netlink_->addresses["ovpbr4096"], "10.0.6.1/24");
  ASSERT_TRUE(flows_->installed.contains("ovpbr4096"));
  EXPECT_EQ(flows_->installed["ovpbr4096"].mac, gatewayMac(4096));
  EXPECT_EQ(flows_->installed["ovpbr4096"].ip.toString(), "10.0.6.1");
  ASSERT_EQ(firewall_->plans.size(), 1U);
  ASSERT_EQ(firewall_->plans[0].natNetworks.size(), 1U);
  EXPECT_EQ(firewall_->plans[0].natNetworks[0].toString(), "10.0.6.0/24");
  EXPECT_TRUE(firewall_->plans[0].isolate);
  EXPECT_EQ(report.changes.size(), 3U);  // flows, address, firewall

  auto again = gateways_.reconcile({network("10.0.6.1/24", 4096)});
  EXPECT_TRUE(again.changes.empty()) << again.changes.front();
  EXPECT_TRUE(again.failures.empty());
}

TEST_F(GatewaysTest, ASealedNetworkHasFlowsButNoAddressAndNoNat) {
  bridgeUp(4097);
  netlink_->addresses["ovpbr4097"] = "10.0.7.1/24";  // from when it was not sealed
  auto report = gateways_.reconcile({network("10.0.7.1/24", 4097, /*nat=*/false)});
  EXPECT_TRUE(report.failures.empty());
  EXPECT_FALSE(netlink_->addresses.contains("ovpbr4097"));
  EXPECT_TRUE(flows_->installed.contains("ovpbr4097"));
  ASSERT_EQ(firewall_->plans.size(), 1U);
  EXPECT_TRUE(firewall_->plans[0].natNetworks.empty());
  EXPECT_TRUE(firewall_->plans[0].gatewayNetworks.empty());
}

TEST_F(GatewaysTest, ANetworkGoneFromThisHostLosesItsGateway) {
  bridgeUp(4096);
  bridgeUp(4097);
  gateways_.reconcile({network("10.0.6.1/24", 4096), network("10.0.7.1/24", 4097)});
  EXPECT_EQ(firewall_->plans.back().gatewayNetworks.size(), 2U);
  netlink_->links["ovpbr4097"] = {};  // linkExists() sees the bridge's port
  auto report = gateways_.reconcile({network("10.0.6.1/24", 4096)});
  EXPECT_TRUE(report.failures.empty());
  EXPECT_FALSE(netlink_->addresses.contains("ovpbr4097"));
  EXPECT_EQ(netlink_->addresses["ovpbr4096"], "10.0.6.1/24");
  EXPECT_EQ(flows_->removed, std::vector<std::string>{"ovpbr4097"});
  ASSERT_EQ(firewall_->plans.back().natNetworks.size(), 1U);
  EXPECT_EQ(firewall_->plans.back().natNetworks[0].toString(), "10.0.6.0/24");

  gateways_.reconcile({});
  const FirewallPlan empty{.natNetworks = {}, .gatewayNetworks = {}, .isolate = true};
  EXPECT_TRUE(firewall_->plans.back() == empty) << "no network: the firewall table goes";
}

TEST_F(GatewaysTest, ABridgeNotMadeYetIsLeftForTheNextPass) {
  auto report = gateways_.reconcile({network("10.0.6.1/24", 4096)});
  EXPECT_TRUE(report.failures.empty());
  EXPECT_TRUE(flows_->installed.empty());
  EXPECT_TRUE(netlink_->addresses.empty());
}

TEST_F(GatewaysTest, ABridgeWithAnotherMacIsGivenTheGatewaysFirst) {
  bridgeUp(4096, std::array<uint8_t, 6>{0x02, 0x11, 0x22, 0x33, 0x44, 0x55});
  auto report = gateways_.reconcile({network("10.0.6.1/24", 4096)});
  EXPECT_TRUE(report.failures.empty());
  ASSERT_TRUE(ovs_->bridgeSpecs.contains("ovpbr4096"));
  const auto& spec = ovs_->bridgeSpecs["ovpbr4096"];
  EXPECT_EQ(spec.hwaddr, "02:6f:76:00:10:00");
  EXPECT_EQ(spec.localMtu, 1400U);
  EXPECT_TRUE(spec.localProtected);
  EXPECT_EQ(spec.datapath, ovsdb::DatapathType::Netdev);
  EXPECT_EQ(spec.externalIds.at("ovsplane-vni"), "4096");
  EXPECT_TRUE(netlink_->addresses.empty()) << "the address waits until the MAC is the gateway's";
}

TEST_F(GatewaysTest, ANewOverlayMtuReachesTheGatewayPort) {
  bridgeUp(4096);
  gateways_.reconcile({network("10.0.6.1/24", 4096)});
  EXPECT_FALSE(ovs_->bridgeSpecs.contains("ovpbr4096")) << "MAC and MTU right: nothing to ask";
  gateways_.setMtu(1350);
  auto report = gateways_.reconcile({network("10.0.6.1/24", 4096)});
  ASSERT_TRUE(ovs_->bridgeSpecs.contains("ovpbr4096"));
  EXPECT_EQ(ovs_->bridgeSpecs["ovpbr4096"].localMtu, 1350U);
  EXPECT_EQ(netlink_->addresses["ovpbr4096"], "10.0.6.1/24") << "the MAC is right: no wait";
}

TEST_F(GatewaysTest, OneFailingStepIsReportedAndTheRestStillHappens) {
  bridgeUp(4096);
  bridgeUp(4097);
  flows_->failOn("ensure");
  auto report = gateways_.reconcile({network("10.0.6.1/24", 4096), network("10.0.7.1/24", 4097)});
  ASSERT_EQ(report.failures.size(), 2U);
  EXPECT_NE(report.failures[0].find("ovpbr4096"), std::string::npos) << report.failures[0];
  EXPECT_NE(report.failures[0].find("OpenFlow"), std::string::npos) << report.failures[0];
  EXPECT_EQ(netlink_->addresses["ovpbr4096"], "10.0.6.1/24");
  EXPECT_EQ(netlink_->addresses["ovpbr4097"], "10.0.7.1/24");
  EXPECT_EQ(firewall_->plans.back().natNetworks.size(), 2U);
}

}  // namespace
}  // namespace ovsplane::netdrv
