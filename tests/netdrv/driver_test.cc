// unit: the driver's orchestration and rollback, with test doubles at its seams (Docker,
// netlink, OVS, the catalog) and the real allocator over a MemoryStore.
#include "netdrv/driver.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "adapter/create_body.h"
#include "ipam/memory_store.h"
#include "netdrv/naming.h"
#include "tests/netdrv/fakes.h"

namespace ovsplane::netdrv {
namespace {

using testing::FakeCatalog;
using testing::FakeNetlink;
using testing::FakeRuntime;
using testing::FakeSwitch;

/** The create body the docker CLI 28 sent through the original Powerstrip (fixture 001). */
nlohmann::json capturedCreateBody() {
  std::ifstream in(std::string(OVSPLANE_TEST_FIXTURES) +
                   "/powerstrip/001-pre-hook-POST-v1.41-containers-create.json");
  const auto hook = nlohmann::json::parse(in);
  return nlohmann::json::parse(hook.at("ClientRequest").at("Body").get<std::string>());
}

nlohmann::json bodyWithEnv(std::vector<std::string> env) {
  return {{"Image", "busybox"},
          {"Env", env},
          {"Cmd", {"sleep", "1d"}},
          {"HostConfig", nlohmann::json::object()}};
}

class DriverTest : public ::testing::Test {
 protected:
  std::shared_ptr<ipam::MemoryStore> store_ = std::make_shared<ipam::MemoryStore>();
  std::shared_ptr<FakeCatalog> catalog_ = std::make_shared<FakeCatalog>();
  std::shared_ptr<FakeSwitch> ovs_ = std::make_shared<FakeSwitch>();
  std::shared_ptr<FakeRuntime> runtime_ = std::make_shared<FakeRuntime>();
  std::shared_ptr<FakeNetlink> netlink_ = std::make_shared<FakeNetlink>();
  DriverConfig config_{.hostName = "h1",
                       .datapath = ovsdb::DatapathType::Netdev,
                       .overlayMtu = 1450,
                       .applyTimeout = std::chrono::milliseconds(1000),
                       .networkContainerPrefix = "ovsplane-net-"};
  std::unique_ptr<Driver> driver_ = makeDriver();

  std::unique_ptr<Driver> makeDriver() {
    return std::make_unique<Driver>(config_,
                                    DriverDependencies{store_, catalog_, ovs_, runtime_, netlink_});
  }
  size_t leases(const char* cidr) {
    return store_->leases(*ipam::Subnet::parse(cidr)).value().size();
  }
  /** Nothing of an attach is left anywhere. */
  void expectNothingLeft(const char* cidr) {
    EXPECT_EQ(leases(cidr), 0U);
    EXPECT_TRUE(runtime_->containers.empty());
    EXPECT_TRUE(netlink_->links.empty());
    EXPECT_EQ(ovs_->accessPorts(), 0U);
    EXPECT_TRUE(driver_->endpoints().empty());
  }
};

TEST_F(DriverTest, AttachWiresANetworkOnlyContainerAndRewritesTheBody) {
  catalog_->peerHosts = {{"h2", "192.168.77.2"}, {"h3", "192.168.77.3"}};
  const nlohmann::json original = capturedCreateBody();
  auto attached = adapter::attachCreate(*driver_, original, "ps-a");
  ASSERT_TRUE(attached.has_value()) << attached.error().message;
  ASSERT_TRUE(attached->has_value());
  const auto& body = (*attached)->body;

  // One network-only container, running the pause image, labelled, named after the app.
  ASSERT_EQ(runtime_->containers.size(), 1U);
  const auto& [netId, net] = *runtime_->containers.begin();
  EXPECT_EQ(net.info.name, "ovsplane-net-ps-a");
  EXPECT_TRUE(net.info.running);
  EXPECT_EQ(net.body["Image"], "ovsplane/pause:1");
  EXPECT_EQ(net.body["HostConfig"]["NetworkMode"], "none");
  EXPECT_EQ(net.info.labels.at(labels::kRole), "network");
  EXPECT_EQ(net.info.labels.at(labels::kNetwork), "10.0.6.1/24");
  EXPECT_EQ(net.info.labels.at(labels::kIp), "10.0.6.2");
  EXPECT_EQ(net.info.labels.at(labels::kApp), "ps-a");

  // The app body: container networking, our label, every other field as it was.
  EXPECT_EQ(body["HostConfig"]["NetworkMode"], "container:" + netId);
  EXPECT_EQ(body["Labels"][labels::kEndpoint], (*attached)->endpointId);
  EXPECT_EQ(body["Labels"]["ps-peer"], "1");
  EXPECT_FALSE(body.contains("Hostname"));
  EXPECT_FALSE(body.contains("NetworkingConfig"));
  EXPECT_FALSE(body["HostConfig"].contains("PortBindings"));
  for (const char* key : {"Env", "Cmd", "Image", "AttachStdout", "Volumes", "Entrypoint"}) {
    EXPECT_EQ(body[key], original[key]) << key;
  }
  for (const char* key : {"RestartPolicy", "LogConfig", "ShmSize", "MemorySwappiness", "Devices"}) {
    EXPECT_EQ(body["HostConfig"][key], original["HostConfig"][key]) << key;
  }

  // The veth into the pause process's namespace, configured for the userspace datapath.
  ASSERT_EQ(netlink_->links.size(), 1U);
  const auto& [veth, wired] = *netlink_->links.begin();
  EXPECT_EQ(wired.second, "/proc/" + std::to_string(net.info.pid) + "/ns/net");
  EXPECT_EQ(wired.first.address.toString(), "10.0.6.2");
  EXPECT_EQ(wired.first.prefixLength, 24);
  EXPECT_EQ(wired.first.gateway->toString(), "10.0.6.1");
  EXPECT_EQ(wired.first.mtu, 1450U);
  EXPECT_TRUE(wired.first.disableTxChecksum);

  // One OVS transaction: the network's bridge, a tunnel per peer, the access port.
  EXPECT_EQ(ovs_->transactions, 1);
  EXPECT_TRUE(ovs_->bridges.contains("ovpbr4096"));
  ASSERT_TRUE(ovs_->ports.contains(veth));
  EXPECT_EQ(ovs_->ports.at(veth).externalIds.at("ovsplane-ip"), "10.0.6.2");
  const auto tunnel = ovs_->ports.at(tunnelPortName(4096, "192.168.77.2"));
  EXPECT_EQ(tunnel.type, "vxlan");
  EXPECT_TRUE(tunnel.isProtected);
  EXPECT_EQ(tunnel.options.at("key"), "4096");
  EXPECT_EQ(ovs_->ports.size(), 3U);
  EXPECT_EQ(leases("10.0.6.0/24"), 1U);
}

TEST_F(DriverTest, BodiesWithoutACidrPassThrough) {
  auto attached = adapter::attachCreate(*driver_, bodyWithEnv({"PATH=/bin", "FOO=bar"}), "x");
  ASSERT_TRUE(attached.has_value());
  EXPECT_FALSE(attached->has_value());
  auto noEnv = adapter::attachCreate(*driver_, nlohmann::json{{"Image", "busybox"}}, "");
  ASSERT_TRUE(noEnv.has_value());
  EXPECT_FALSE(noEnv->has_value());
  expectNothingLeft("10.0.6.0/24");
}

TEST_F(DriverTest, LegacyVariableRequestedIpMacAndMovedSettings) {
  auto body = bodyWithEnv({"SOCKETPLANE_CIDR=10.0.7.1/24", "OVSPLANE_IP=10.0.7.42"});
  body["Hostname"] = "web";
  body["Domainname"] = "example.test";
  body["MacAddress"] = "02:42:0a:00:07:2a";
  body["HostConfig"]["Dns"] = {"10.0.7.53"};
  body["HostConfig"]["DnsSearch"] = {"example.test"};
  body["HostConfig"]["ExtraHosts"] = {"db:10.0.7.9"};
  auto attached = adapter::attachCreate(*driver_, body, "");
  ASSERT_TRUE(attached.has_value()) << attached.error().message;
  const auto& net = runtime_->containers.begin()->second;
  EXPECT_EQ(net.body["Hostname"], "web");
  EXPECT_EQ(net.body["Domainname"], "example.test");
  EXPECT_EQ(net.body["HostConfig"]["Dns"], nlohmann::json({"10.0.7.53"}));
  EXPECT_EQ(net.body["HostConfig"]["DnsSearch"], nlohmann::json({"example.test"}));
  EXPECT_EQ(net.body["HostConfig"]["ExtraHosts"], nlohmann::json({"db:10.0.7.9"}));
  EXPECT_TRUE(net.info.name.starts_with("ovsplane-net-"));  // unnamed app: endpoint id
  const auto& app = (*attached)->body;
  for (const char* key : {"Hostname", "Domainname", "MacAddress"}) EXPECT_FALSE(app.contains(key));
  for (const char* key : {"Dns", "DnsSearch", "ExtraHosts"}) {
    EXPECT_FALSE(app["HostConfig"].contains(key));
  }
  const auto& spec = netlink_->links.begin()->second.first;
  EXPECT_EQ(spec.address.toString(), "10.0.7.42");
  EXPECT_EQ(endpointNames("x").macString().size(), 17U);
  EXPECT_EQ(spec.mac, parseMac("02:42:0a:00:07:2a").value());
}

TEST_F(DriverTest, UserErrorsAreClearAndAllocateNothing) {
  struct Case {
    nlohmann::json body;
    ErrorCode code;
    std::string part;
  };
  auto withPorts = bodyWithEnv({"OVSPLANE_CIDR=10.0.6.1/24"});
  withPorts["HostConfig"]["PortBindings"] = {{"80/tcp", {{{"HostPort", "8080"}}}}};
  withPorts["ExposedPorts"] = {{"80/tcp", nlohmann::json::object()}};
  auto withLinks = bodyWithEnv({"OVSPLANE_CIDR=10.0.6.1/24"});
  withLinks["HostConfig"]["Links"] = {"db:db"};
  auto withNet = bodyWithEnv({"OVSPLANE_CIDR=10.0.6.1/24"});
  withNet["HostConfig"]["NetworkMode"] = "host";
  auto badMac = bodyWithEnv({"OVSPLANE_CIDR=10.0.6.1/24"});
  badMac["MacAddress"] = "01:00:5e:00:00:01";
  // Members ovsplane reads or rewrites, of types Docker would refuse: refused before allocating.
  auto modeNumber = bodyWithEnv({"OVSPLANE_CIDR=10.0.6.1/24"});
  modeNumber["HostConfig"]["NetworkMode"] = 7;
  auto labelsNumber = bodyWithEnv({"OVSPLANE_CIDR=10.0.6.1/24"});
  labelsNumber["Labels"] = 7;
  auto hostConfigList = bodyWithEnv({"OVSPLANE_CIDR=10.0.6.1/24"});
  hostConfigList["HostConfig"] = nlohmann::json::array();
  auto envMixed = bodyWithEnv({"OVSPLANE_CIDR=10.0.6.1/24"});
  envMixed["Env"].push_back(5);
  auto hostnameObject = bodyWithEnv({"OVSPLANE_CIDR=10.0.6.1/24"});
  hostnameObject["Hostname"] = nlohmann::json::object();
  auto gatewayMac = bodyWithEnv({"OVSPLANE_CIDR=10.0.6.1/24"});
  gatewayMac["MacAddress"] = "02:6F:76:00:10:00";
  const std::vector<Case> cases = {
      {modeNumber, ErrorCode::InvalidRequest, "HostConfig.NetworkMode must be a string"},
      {labelsNumber, ErrorCode::InvalidRequest, "Labels must be an object"},
      {hostConfigList, ErrorCode::InvalidRequest, "HostConfig must be an object"},
      {envMixed, ErrorCode::InvalidRequest, "Env must be a list of strings"},
      {hostnameObject, ErrorCode::InvalidRequest, "Hostname must be a string"},
      {bodyWithEnv({"OVSPLANE_CIDR=10.0.6.300/24"}), ErrorCode::InvalidRequest, "OVSPLANE_CIDR"},
      {bodyWithEnv({"OVSPLANE_CIDR=fd00::/64"}), ErrorCode::InvalidRequest, "IPv6"},
      {bodyWithEnv({"OVSPLANE_CIDR=10.0.6.1/24", "SOCKETPLANE_CIDR=10.0.9.1/24"}),
       ErrorCode::InvalidRequest, "different networks"},
      {bodyWithEnv({"OVSPLANE_IP=10.0.6.9"}), ErrorCode::InvalidRequest, "OVSPLANE_CIDR"},
      {bodyWithEnv({"OVSPLANE_CIDR=10.0.6.1/24", "OVSPLANE_IP=10.0.9.9"}),
       ErrorCode::InvalidRequest, "outside"},
      {bodyWithEnv({"OVSPLANE_CIDR=10.0.6.1/24", "OVSPLANE_IP=10.0.6.1"}),
       ErrorCode::InvalidRequest, "gateway"},
      {withPorts, ErrorCode::InvalidRequest, "port publishing"},
      {withLinks, ErrorCode::InvalidRequest, "--link"},
      {withNet, ErrorCode::InvalidRequest, "--network=host"},
      {badMac, ErrorCode::InvalidRequest, "unicast"},
      {gatewayMac, ErrorCode::InvalidRequest, "reserved for ovsplane's gateways"},
      {bodyWithEnv({"OVSPLANE_CIDR=10.0.6.1/24", "OVSPLANE_NAT=maybe"}), ErrorCode::InvalidRequest,
       "OVSPLANE_NAT=maybe is neither"},
  };
  for (const Case& c : cases) {
    auto attached = adapter::attachCreate(*driver_, c.body, "x");
    ASSERT_FALSE(attached.has_value()) << c.body.dump();
    EXPECT_EQ(attached.error().code, c.code) << attached.error().message;
    EXPECT_NE(attached.error().message.find(c.part), std::string::npos) << attached.error().message;
    expectNothingLeft("10.0.6.0/24");
  }
}

TEST_F(DriverTest, TakenAndExhaustedAddressesAreConflicts) {
  auto first = adapter::attachCreate(
      *driver_, bodyWithEnv({"OVSPLANE_CIDR=10.0.8.1/30", "OVSPLANE_IP=10.0.8.2"}), "a");
  ASSERT_TRUE(first.has_value()) << first.error().message;
  auto taken = adapter::attachCreate(
      *driver_, bodyWithEnv({"OVSPLANE_CIDR=10.0.8.1/30", "OVSPLANE_IP=10.0.8.2"}), "b");
  ASSERT_FALSE(taken.has_value());
  EXPECT_EQ(taken.error().code, ErrorCode::Conflict);
  EXPECT_NE(taken.error().message.find("taken"), std::string::npos);
  auto full = adapter::attachCreate(*driver_, bodyWithEnv({"OVSPLANE_CIDR=10.0.8.1/30"}), "c");
  ASSERT_FALSE(full.has_value());
  EXPECT_EQ(full.error().code, ErrorCode::Conflict);
  EXPECT_NE(full.error().message.find("exhausted"), std::string::npos);
  EXPECT_EQ(runtime_->containers.size(), 1U);  // only the first one's
}

TEST_F(DriverTest, EveryFailingStepRollsBackEverything) {
  catalog_->peerHosts = {{"h2", "192.168.77.2"}};
  for (const char* step : {"ensureNetwork", "ensurePauseImage", "create", "start", "inspect",
                           "wire", "peers", "apply"}) {
    SCOPED_TRACE(step);
    for (auto* fakes : std::initializer_list<testing::FailureSwitch*>{
             runtime_.get(), netlink_.get(), ovs_.get(), catalog_.get()}) {
      fakes->clear();
      fakes->failOn(step);
    }
    auto attached =
        adapter::attachCreate(*driver_, bodyWithEnv({"OVSPLANE_CIDR=10.0.6.1/24"}), "app");
    ASSERT_FALSE(attached.has_value());
    EXPECT_EQ(attached.error().code, ErrorCode::Unavailable);
    EXPECT_NE(attached.error().message.find(step), std::string::npos) << attached.error().message;
    for (auto* fakes : std::initializer_list<testing::FailureSwitch*>{
             runtime_.get(), netlink_.get(), ovs_.get(), catalog_.get()}) {
      fakes->clear();
    }
    expectNothingLeft("10.0.6.0/24");
  }
  // And the same request works once nothing fails.
  EXPECT_TRUE(adapter::attachCreate(*driver_, bodyWithEnv({"OVSPLANE_CIDR=10.0.6.1/24"}), "app")
                  .has_value());
}

TEST_F(DriverTest, TheFirstAttachChoosesNatAndLaterOnesKeepIt) {
  auto sealed = adapter::attachCreate(
      *driver_, bodyWithEnv({"OVSPLANE_CIDR=10.0.9.1/24", "OVSPLANE_NAT=0"}), "a");
  ASSERT_TRUE(sealed.has_value() && sealed->has_value()) << sealed.error().message;
  auto later = adapter::attachCreate(
      *driver_, bodyWithEnv({"OVSPLANE_CIDR=10.0.9.1/24", "OVSPLANE_NAT=1"}), "b");
  ASSERT_TRUE(later.has_value() && later->has_value());
  auto open = adapter::attachCreate(*driver_, bodyWithEnv({"OVSPLANE_CIDR=10.0.10.1/24"}), "c");
  ASSERT_TRUE(open.has_value() && open->has_value());
  auto networks = catalog_->networks();
  ASSERT_TRUE(networks.has_value());
  std::map<std::string, bool> nat;
  for (const auto& network : *networks) nat[network.subnet.toString()] = network.nat;
  EXPECT_FALSE(nat.at("10.0.9.0/24")) << "OVSPLANE_NAT=0 on the first attach seals it";
  EXPECT_TRUE(nat.at("10.0.10.0/24")) << "NAT is on by default";
  // Every bridge's LOCAL port is its network's gateway: the gateway MAC, protected, overlay MTU.
  const auto& spec = ovs_->bridgeSpecs.at(bridgeName(4096));
  EXPECT_EQ(spec.hwaddr, gatewayMacString(4096));
  EXPECT_TRUE(spec.localProtected);
  EXPECT_EQ(spec.localMtu, 1450U);
}

TEST_F(DriverTest, ANewOverlayMtuReachesWiredEndpointsAndNewOnes) {
  auto first = adapter::attachCreate(*driver_, bodyWithEnv({"OVSPLANE_CIDR=10.0.6.1/24"}), "a");
  ASSERT_TRUE(first.has_value() && first->has_value());
  const Endpoint wired = driver_->endpoints().front();
  ASSERT_NE(wired.wiredPid, 0);
  EXPECT_TRUE(driver_->changeOverlayMtu(1350).empty());
  EXPECT_EQ(driver_->overlayMtu(), 1350U);
  EXPECT_EQ(netlink_->mtus.at("host/" + wired.hostVeth), 1350U);
  EXPECT_EQ(netlink_->mtus.at(NamespaceRef::ofPid(wired.wiredPid).path() + "/eth0"), 1350U);
  auto second = adapter::attachCreate(*driver_, bodyWithEnv({"OVSPLANE_CIDR=10.0.6.1/24"}), "b");
  ASSERT_TRUE(second.has_value() && second->has_value());
  for (const auto& [name, link] : netlink_->links)
    EXPECT_EQ(link.first.mtu, name == wired.hostVeth ? 1450U : 1350U);
  EXPECT_EQ(ovs_->bridgeSpecs.at(bridgeName(4096)).localMtu, 1350U);
}

TEST_F(DriverTest, RollbackAfterDockerRefusedTheCreate) {
  auto attached =
      adapter::attachCreate(*driver_, bodyWithEnv({"OVSPLANE_CIDR=10.0.6.1/24"}), "app");
  ASSERT_TRUE(attached.has_value());
  ASSERT_TRUE(driver_->rollback((*attached)->endpointId).has_value());
  expectNothingLeft("10.0.6.0/24");
  EXPECT_TRUE(driver_->rollback((*attached)->endpointId).has_value());  // idempotent
  EXPECT_FALSE(driver_->commit((*attached)->endpointId, "abc").has_value());
}

TEST_F(DriverTest, CommitThenDetachByNameOrIdReleasesEverything) {
  for (const std::string ref : {"app", "abcdef012345"}) {
    auto attached =
        adapter::attachCreate(*driver_, bodyWithEnv({"OVSPLANE_CIDR=10.0.6.1/24"}), "app");
    ASSERT_TRUE(attached.has_value()) << attached.error().message;
    ASSERT_TRUE(driver_->commit((*attached)->endpointId, "abcdef0123456789").has_value());
    ASSERT_TRUE(driver_->detach(ref).has_value());
    expectNothingLeft("10.0.6.0/24");
    EXPECT_TRUE(driver_->detach(ref).has_value());  // idempotent
  }
  EXPECT_TRUE(driver_->detach("never-heard-of-it").has_value());
}

TEST_F(DriverTest, EmptyBridgesGoWithTheirLastEndpointWhenConfigured) {
  config_.deleteEmptyBridges = true;
  driver_ = makeDriver();
  auto first = adapter::attachCreate(*driver_, bodyWithEnv({"OVSPLANE_CIDR=10.0.6.1/24"}), "one");
  auto second = adapter::attachCreate(*driver_, bodyWithEnv({"OVSPLANE_CIDR=10.0.6.1/24"}), "two");
  auto other = adapter::attachCreate(*driver_, bodyWithEnv({"OVSPLANE_CIDR=10.0.9.1/24"}), "three");
  ASSERT_TRUE(first && second && other);
  ASSERT_TRUE(driver_->rollback((*first)->endpointId).has_value());
  EXPECT_TRUE(ovs_->bridges.contains("ovpbr4096"));  // "two" still uses it
  ASSERT_TRUE(driver_->rollback((*second)->endpointId).has_value());
  EXPECT_FALSE(ovs_->bridges.contains("ovpbr4096"));
  EXPECT_TRUE(ovs_->bridges.contains("ovpbr4097"));  // another network's bridge stays
}

TEST_F(DriverTest, BridgesStayByDefault) {
  auto first = adapter::attachCreate(*driver_, bodyWithEnv({"OVSPLANE_CIDR=10.0.6.1/24"}), "one");
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(driver_->rollback((*first)->endpointId).has_value());
  EXPECT_TRUE(ovs_->bridges.contains("ovpbr4096"));
}

TEST_F(DriverTest, DetachAfterARestartFindsTheNetworkContainerByLabel) {
  auto attached =
      adapter::attachCreate(*driver_, bodyWithEnv({"OVSPLANE_CIDR=10.0.6.1/24"}), "app");
  ASSERT_TRUE(attached.has_value());
  driver_ = makeDriver();  // ovsplane restarted: the driver remembers nothing
  ASSERT_TRUE(driver_->detach("app").has_value());
  expectNothingLeft("10.0.6.0/24");
}

TEST_F(DriverTest, EnsureWiredRewiresAfterTheNetworkContainerRestarted) {
  auto attached =
      adapter::attachCreate(*driver_, bodyWithEnv({"OVSPLANE_CIDR=10.0.6.1/24"}), "app");
  ASSERT_TRUE(attached.has_value());
  const std::string netId = runtime_->containers.begin()->first;
  auto appId = runtime_->create((*attached)->body, "app");  // Docker creates the app
  ASSERT_TRUE(appId.has_value());
  ASSERT_TRUE(driver_->commitCreated(*appId, "").has_value());  // by its label
  EXPECT_EQ(driver_->endpoints().front().appId, *appId);
  EXPECT_EQ(driver_->endpoints().front().state, EndpointState::Committed);
  EXPECT_EQ(netlink_->wireCalls, 1);
  ASSERT_TRUE(driver_->ensureWired("app").has_value());
  EXPECT_EQ(netlink_->wireCalls, 1);  // same namespace: nothing to do

  runtime_->stop(netId);  // e.g. dockerd restarted: the app's start would fail without it
  ASSERT_TRUE(driver_->ensureWired(appId->substr(0, 6)).has_value());
  EXPECT_EQ(netlink_->wireCalls, 2);
  const auto pid = runtime_->containers.at(netId).info.pid;
  EXPECT_GT(pid, 0);
  EXPECT_TRUE(runtime_->containers.at(netId).info.running);
  EXPECT_EQ(netlink_->links.begin()->second.second, "/proc/" + std::to_string(pid) + "/ns/net");
  EXPECT_EQ(leases("10.0.6.0/24"), 1U);  // the same address
  EXPECT_TRUE(driver_->ensureWired("unknown-container").has_value());

  runtime_->containers.erase(netId);  // the network-only container removed by hand
  auto refused = driver_->ensureWired("app");
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("remove app and create it again"), std::string::npos)
      << refused.error().message;
}

TEST_F(DriverTest, TheAppsStartNotItsCreateWaitsForOvsVswitchd) {
  auto attached =
      adapter::attachCreate(*driver_, bodyWithEnv({"OVSPLANE_CIDR=10.0.6.1/24"}), "app");
  ASSERT_TRUE(attached.has_value() && attached->has_value());
  EXPECT_EQ(ovs_->waitCalls, 0);  // the create's answer did not wait for ovs-vswitchd
  auto appId = runtime_->create((*attached)->body, "app");
  ASSERT_TRUE(appId.has_value());
  ASSERT_TRUE(driver_->commitCreated(*appId, "").has_value());
  ovs_->failOn("waitApplied");  // ovs-vswitchd away
  auto refused = driver_->ensureWired("app");
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("not in place yet"), std::string::npos)
      << refused.error().message;
  ovs_->clear();
  EXPECT_EQ(leases("10.0.6.0/24"), 1U);  // the attach stands: a later start just works
  ASSERT_TRUE(driver_->ensureWired("app").has_value());
  EXPECT_EQ(ovs_->waitCalls, 2);
  ASSERT_TRUE(driver_->ensureWired("app").has_value());
  EXPECT_EQ(ovs_->waitCalls, 2);  // seen applied once: no more waiting
}

TEST_F(DriverTest, DetachActsOnlyOnAppsDockerNoLongerKnows) {
  // Two apps whose names share a prefix: removing "web" must not touch "web2", and a prefix
  // that still matches a live container touches nothing.
  std::vector<std::string> ids;
  for (const char* name : {"web", "web2"}) {
    auto attached =
        adapter::attachCreate(*driver_, bodyWithEnv({"OVSPLANE_CIDR=10.0.6.1/24"}), name);
    ASSERT_TRUE(attached.has_value());
    auto id = runtime_->create((*attached)->body, name);
    ASSERT_TRUE(id.has_value());
    ASSERT_TRUE(driver_->commit((*attached)->endpointId, *id).has_value());
    ids.push_back(*id);
  }
  ASSERT_TRUE(driver_->detach("web").has_value());  // Docker still has both
  EXPECT_EQ(driver_->endpoints().size(), 2U);
  runtime_->containers.erase(ids[0]);  // Docker removed "web"
  ASSERT_TRUE(driver_->detach("web").has_value());
  ASSERT_EQ(driver_->endpoints().size(), 1U);
  EXPECT_EQ(driver_->endpoints().front().appName, "web2");
  EXPECT_EQ(leases("10.0.6.0/24"), 1U);
}

TEST_F(DriverTest, ARollbackNeverUndoesAnEndpointDockerCreated) {
  auto attached = adapter::attachCreate(*driver_, bodyWithEnv({"OVSPLANE_CIDR=10.0.6.1/24"}), "");
  ASSERT_TRUE(attached.has_value());
  auto id = runtime_->create((*attached)->body, "");  // Docker did create it
  ASSERT_TRUE(id.has_value());
  ASSERT_TRUE(driver_->rollback((*attached)->endpointId).has_value());  // a crossed refusal
  ASSERT_EQ(driver_->endpoints().size(), 1U);
  EXPECT_EQ(driver_->endpoints().front().appId, *id);
  EXPECT_EQ(leases("10.0.6.0/24"), 1U);
}

TEST_F(DriverTest, ARemovedNetworkContainerLeavesItsAppBrokenWithItsAddress) {
  auto attached =
      adapter::attachCreate(*driver_, bodyWithEnv({"OVSPLANE_CIDR=10.0.6.1/24"}), "app");
  ASSERT_TRUE(attached.has_value());
  const std::string netId = runtime_->containers.begin()->first;
  auto id = runtime_->create((*attached)->body, "app");
  ASSERT_TRUE(driver_->commit((*attached)->endpointId, *id).has_value());
  runtime_->containers.erase(netId);
  ASSERT_TRUE(driver_->containerRemoved(netId).has_value());
  EXPECT_EQ(driver_->endpoints().front().state, EndpointState::Broken);
  EXPECT_EQ(leases("10.0.6.0/24"), 1U);  // the app still holds the namespace and the address
  runtime_->containers.erase(*id);
  ASSERT_TRUE(driver_->containerRemoved(*id).has_value());
  expectNothingLeft("10.0.6.0/24");
}

TEST_F(DriverTest, TunnelsFollowTheClusterMembership) {
  catalog_->peerHosts = {{"h2", "192.168.77.2"}};
  ASSERT_TRUE(
      adapter::attachCreate(*driver_, bodyWithEnv({"OVSPLANE_CIDR=10.0.6.1/24"}), "a").has_value());
  EXPECT_EQ(driver_->reconcileTunnels().value(), 0U);  // attach made the tunnel already
  const int before = ovs_->transactions;
  EXPECT_EQ(driver_->reconcileTunnels().value(), 0U);
  EXPECT_EQ(ovs_->transactions, before);  // nothing to change: no transaction

  catalog_->peerHosts.push_back({"h3", "192.168.77.3"});  // a host joins
  EXPECT_EQ(driver_->reconcileTunnels().value(), 1U);
  EXPECT_TRUE(ovs_->ports.contains(tunnelPortName(4096, "192.168.77.3")));
  EXPECT_TRUE(ovs_->ports.at(tunnelPortName(4096, "192.168.77.3")).isProtected);

  catalog_->peerHosts.erase(catalog_->peerHosts.begin());  // h2 leaves
  EXPECT_EQ(driver_->reconcileTunnels().value(), 1U);
  EXPECT_FALSE(ovs_->ports.contains(tunnelPortName(4096, "192.168.77.2")));
  EXPECT_TRUE(ovs_->ports.contains(tunnelPortName(4096, "192.168.77.3")));
  EXPECT_EQ(ovs_->accessPorts(), 1U);  // the endpoint's port is untouched

  // After a restart the driver remembers nothing: OVS's access ports keep the tunnels wanted.
  driver_ = makeDriver();
  EXPECT_EQ(driver_->reconcileTunnels().value(), 0U);
  EXPECT_TRUE(ovs_->ports.contains(tunnelPortName(4096, "192.168.77.3")));

  catalog_->failOn("peers");
  EXPECT_FALSE(driver_->reconcileTunnels().has_value());
}

TEST_F(DriverTest, ConcurrentAttachesGetDistinctAddresses) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        auto attached = adapter::attachCreate(*driver_, bodyWithEnv({"OVSPLANE_CIDR=10.0.6.1/24"}),
                                              "app" + std::to_string(t) + "-" + std::to_string(i));
        if (!attached) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(leases("10.0.6.0/24"), 100U);
  EXPECT_EQ(netlink_->links.size(), 100U);
  EXPECT_EQ(ovs_->accessPorts(), 100U);
}

}  // namespace
}  // namespace ovsplane::netdrv
