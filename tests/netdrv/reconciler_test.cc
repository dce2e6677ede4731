// unit: the reconciler's pass with test doubles at the driver's seams: what a crash, a removal
// behind ovsplane's back, a dockerd restart or a wiped OVS database leaves is found and fixed,
// young objects of attaches in flight are left alone, and a dry run changes nothing.
#include "netdrv/reconciler.h"

#include "adapter/create_body.h"

#include <gtest/gtest.h>

#include "ipam/memory_store.h"
#include "netdrv/naming.h"
#include "tests/netdrv/fakes.h"

namespace ovsplane::netdrv {
namespace {

using testing::FakeCatalog;
using testing::FakeNetlink;
using testing::FakeRuntime;
using testing::FakeSwitch;

nlohmann::json bodyWithCidr() {
  return {{"Image", "busybox"},
          {"Env", {"OVSPLANE_CIDR=10.0.6.1/24"}},
          {"HostConfig", nlohmann::json::object()}};
}

class ReconcilerTest : public ::testing::Test {
 protected:
  std::shared_ptr<ipam::MemoryStore> store_ = std::make_shared<ipam::MemoryStore>();
  std::shared_ptr<FakeCatalog> catalog_ = std::make_shared<FakeCatalog>();
  std::shared_ptr<FakeSwitch> ovs_ = std::make_shared<FakeSwitch>();
  std::shared_ptr<FakeRuntime> runtime_ = std::make_shared<FakeRuntime>();
  std::shared_ptr<FakeNetlink> netlink_ = std::make_shared<FakeNetlink>();
  const ipam::Subnet subnet_ = *ipam::Subnet::parse("10.0.6.1/24");
  std::shared_ptr<Driver> driver_ = makeDriver();

  void SetUp() override {
    catalog_->addressesOfHost = [this] {
      std::vector<HostAddress> out;
      const auto leases = store_->leases(subnet_).value();
      for (const auto& lease : leases) {
        // As the state database records them: reserved a moment ago.
        const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count() -
                            1000;
        out.push_back(HostAddress{subnet_, lease.address, lease.owner, now});
      }
      return out;
    };
  }
  std::shared_ptr<Driver> makeDriver() {
    return std::make_shared<Driver>(DriverConfig{.hostName = "h1",
                                                 .datapath = ovsdb::DatapathType::Netdev,
                                                 .overlayMtu = 1450,
                                                 .applyTimeout = std::chrono::milliseconds(0),
                                                 .networkContainerPrefix = "ovsplane-net-"},
                                    DriverDependencies{store_, catalog_, ovs_, runtime_, netlink_});
  }
  Reconciler reconciler(std::chrono::milliseconds grace = std::chrono::milliseconds(0)) {
    ReconcilerConfig config;
    config.grace = grace;
    return Reconciler(config, driver_);
  }
  /** An app created and started through the driver, as the proxy does. */
  std::string runApp(const std::string& name, const std::string& restartPolicy = "") {
    auto attached = adapter::attachCreate(*driver_, bodyWithCidr(), name);
    EXPECT_TRUE(attached && *attached);
    auto id = runtime_->create((*attached)->body, name);
    EXPECT_TRUE(id.has_value());
    runtime_->containers.at(*id).info.restartPolicy = restartPolicy;
    EXPECT_TRUE(driver_->commit((*attached)->endpointId, *id).has_value());
    EXPECT_TRUE(runtime_->start(*id).has_value());
    return *id;
  }
  std::string networkContainerOf(const std::string& appId) {
    const std::string endpoint = runtime_->containers.at(appId).info.labels.at(labels::kEndpoint);
    for (const auto& [id, c] : runtime_->containers) {
      if (c.info.labels.contains(labels::kRole) &&
          c.info.labels.at(labels::kEndpoint) == endpoint) {
        return id;
      }
    }
    return "";
  }
  size_t leases() { return store_->leases(subnet_).value().size(); }
};

TEST_F(ReconcilerTest, ACleanHostNeedsNoChange) {
  runApp("a");
  runApp("b");
  driver_ = makeDriver();  // ovsplane restarted: it learns both from Docker's labels
  auto report = reconciler().reconcile();
  ASSERT_TRUE(report.has_value()) << report.error().message;
  EXPECT_TRUE(report->changes.empty()) << report->changes.front();
  ASSERT_EQ(driver_->endpoints().size(), 2U);
  for (const auto& endpoint : driver_->endpoints()) {
    EXPECT_EQ(endpoint.state, EndpointState::Committed);
    EXPECT_FALSE(endpoint.appId.empty());
    EXPECT_GT(endpoint.wiredPid, 0);  // found wired inside its namespace
    EXPECT_EQ(endpoint.vni, 4096U);
  }
}

TEST_F(ReconcilerTest, WhatACrashMidAttachLeftIsCollectedAfterTheGrace) {
  // Crash 1: after the network-only container was wired, before Docker saw the create.
  ASSERT_TRUE(adapter::attachCreate(*driver_, bodyWithCidr(), "lost").has_value());
  // Crash 2: after the address was allocated, before anything else.
  ASSERT_TRUE(store_->reserve(subnet_, *ipam::Ipv4Address::parse("10.0.6.77"), "stray-owner"));
  const std::string survivor = runApp("survivor");
  driver_ = makeDriver();

  auto young = reconciler(std::chrono::hours(1)).reconcile();
  ASSERT_TRUE(young.has_value());
  EXPECT_EQ(leases(), 3U) << "within the grace nothing is collected";

  auto report = reconciler().reconcile();
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(report->failures.empty()) << report->failures.front();
  EXPECT_EQ(report->changes.size(), 2U);
  EXPECT_EQ(leases(), 1U);
  EXPECT_EQ(runtime_->containers.size(), 2U);  // the survivor and its network-only container
  EXPECT_EQ(netlink_->links.size(), 1U);
  EXPECT_EQ(ovs_->accessPorts(), 1U);
  EXPECT_TRUE(runtime_->containers.contains(survivor));
}

TEST_F(ReconcilerTest, AnAttachInFlightIsNeverCollected) {
  // Attaching (its veth and address exist already) or pending (Docker has not answered): a pass
  // with no grace at all must leave it alone while this process knows it.
  auto attached = adapter::attachCreate(*driver_, bodyWithCidr(), "inflight");
  ASSERT_TRUE(attached.has_value());
  auto report = reconciler().reconcile();  // no grace configured: kInFlightGrace holds
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(report->changes.empty());
  EXPECT_EQ(leases(), 1U);
}

TEST_F(ReconcilerTest, AppsRemovedBehindOvsplanesBackAreDetached) {
  const std::string gone = runApp("gone");
  runApp("kept");
  runtime_->containers.erase(gone);  // docker rm straight at dockerd, the event missed
  auto report = reconciler().reconcile();
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(leases(), 1U);
  EXPECT_EQ(driver_->endpoints().size(), 1U);
  EXPECT_EQ(netlink_->links.size(), 1U);
}

TEST_F(ReconcilerTest, OrphanVethsAndPortsGo) {
  runApp("a");
  VethSpec stray;
  stray.hostName = "ovh0000deadbeef";
  ASSERT_TRUE(netlink_->wireContainer(stray, NamespaceRef::ofPid(1)));
  ASSERT_TRUE(ovs_->apply(
      ovsdb::SwitchChanges().ensurePort({.bridge = "ovpbr4096",
                                         .name = "ovh00000000beef",
                                         .type = "",
                                         .options = {},
                                         .externalIds = {{"ovsplane-endpoint", "nobody"}},
                                         .isProtected = false})));
  auto dry = reconciler().reconcile(true);
  ASSERT_TRUE(dry.has_value());
  EXPECT_EQ(dry->changes.size(), 2U);
  EXPECT_EQ(netlink_->links.size(), 2U) << "a dry run changes nothing";
  auto report = reconciler().reconcile();
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(netlink_->links.size(), 1U);
  EXPECT_EQ(ovs_->accessPorts(), 1U);
}

TEST_F(ReconcilerTest, AppsDockerCouldNotRestartAreStartedOnceWired) {
  const std::string always = runApp("always", "always");
  const std::string manual = runApp("manual", "unless-stopped");
  const std::string none = runApp("none", "");
  // dockerd restarted: everything stopped; Docker's start of "always" failed on its stopped
  // network-only container; "manual" was stopped by its user (no start error); "none" has no
  // policy.
  for (auto& [id, c] : runtime_->containers) runtime_->stop(id);
  runtime_->containers.at(always).info.startError =
      "cannot join network of a non running container: 1234";
  runtime_->containers.at(none).info.startError = "cannot join network of a non running container";
  const int wiresBefore = netlink_->wireCalls;
  driver_ = makeDriver();

  auto report = reconciler().reconcile();
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(report->failures.empty()) << report->failures.front();
  EXPECT_TRUE(runtime_->containers.at(always).info.running);
  EXPECT_TRUE(runtime_->containers.at(networkContainerOf(always)).info.running);
  EXPECT_EQ(netlink_->wireCalls, wiresBefore + 1);  // wired into its new namespace first
  EXPECT_FALSE(runtime_->containers.at(manual).info.running);
  EXPECT_FALSE(runtime_->containers.at(none).info.running);
  EXPECT_EQ(leases(), 3U);  // nobody lost an address
}

TEST_F(ReconcilerTest, PortsOvsLostAreAddedBackPerNetwork) {
  runApp("a");
  runApp("b");
  ASSERT_TRUE(reconciler().reconcile().has_value());
  {
    std::scoped_lock lock(ovs_->mutex);
    ovs_->ports.clear();  // conf.db wiped / del-br
    ovs_->bridges.clear();
  }
  auto report = reconciler().reconcile();
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(report->failures.empty()) << report->failures.front();
  EXPECT_EQ(ovs_->accessPorts(), 2U);
  EXPECT_TRUE(ovs_->bridges.contains("ovpbr4096"));
}

TEST_F(ReconcilerTest, ARestartedNetworkContainerIsRewired) {
  const std::string app = runApp("a");
  driver_ = makeDriver();
  ASSERT_TRUE(reconciler().reconcile().has_value());
  // The network-only container came back with a new namespace while ovsplane was down: the old
  // host end lingers, the namespace has no container end.
  const std::string net = networkContainerOf(app);
  runtime_->restart(net);
  netlink_->emptyNamespaces.insert(
      "/proc/" + std::to_string(runtime_->containers.at(net).info.pid) + "/ns/net");
  driver_ = makeDriver();
  const int before = netlink_->wireCalls;
  auto report = reconciler().reconcile();
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(netlink_->wireCalls, before + 1);
}

TEST_F(ReconcilerTest, AVethDeletedByHandIsWiredAgain) {
  runApp("a");
  const int before = netlink_->wireCalls;
  {
    std::scoped_lock lock(netlink_->mutex);
    netlink_->links.clear();  // ip link del ovh...
  }
  auto report = reconciler().reconcile();
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(netlink_->wireCalls, before + 1);
  EXPECT_EQ(netlink_->links.size(), 1U);
  EXPECT_EQ(ovs_->accessPorts(), 1U);
}

TEST_F(ReconcilerTest, RunFromAnotherNetworkNamespaceItChangesNoWiring) {
  // `ovsplane gc` run outside the namespace where ovs-vswitchd and the host veths live: the
  // containers' ends are there, so nothing is rewired, and it says where to run.
  runApp("a");
  runApp("b");
  driver_ = makeDriver();
  netlink_->hostEndsElsewhere = true;
  const int before = netlink_->wireCalls;
  auto report = reconciler().reconcile();
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(netlink_->wireCalls, before);
  EXPECT_EQ(netlink_->links.size(), 2U);
  EXPECT_EQ(ovs_->accessPorts(), 2U);
  ASSERT_EQ(report->failures.size(), 1U);
  EXPECT_NE(report->failures.front().find("another network namespace"), std::string::npos);
}

TEST_F(ReconcilerTest, DockerDownJudgesNothing) {
  runApp("a");
  runtime_->failOn("list");
  auto report = reconciler().reconcile();
  ASSERT_FALSE(report.has_value());
  EXPECT_NE(report.error().message.find("cannot look at Docker's containers"), std::string::npos);
  EXPECT_EQ(leases(), 1U);
  EXPECT_EQ(driver_->endpoints().size(), 1U);
}

}  // namespace
}  // namespace ovsplane::netdrv
