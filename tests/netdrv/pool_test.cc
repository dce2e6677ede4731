// unit: the pool of started network-only containers (netdrv/pool.h) and the driver's pooled
// attach, with test doubles at the driver's seams and the real allocator over a MemoryStore.
#include "netdrv/pool.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <map>

#include <thread>

#include "adapter/create_body.h"
#include "ipam/memory_store.h"
#include "netdrv/driver.h"
#include "netdrv/naming.h"
#include "netdrv/reconciler.h"
#include "tests/netdrv/fakes.h"

namespace ovsplane::netdrv {
namespace {

using testing::FakeCatalog;
using testing::FakeNetlink;
using testing::FakeRuntime;
using testing::FakeSwitch;

constexpr const char* kCidr = "10.0.6.1/24";

nlohmann::json bodyWithEnv(std::vector<std::string> env) {
  return {{"Image", "busybox"},
          {"Env", env},
          {"Cmd", {"sleep", "1d"}},
          {"HostConfig", nlohmann::json::object()}};
}

class PoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    catalog_->addressesOfHost = [this] {
      std::vector<HostAddress> out;
      const auto subnet = *ipam::Subnet::parse(kCidr);
      const auto leases = store_->leases(subnet).value();
      for (const auto& lease : leases) {
        out.push_back(HostAddress{subnet, lease.address, lease.owner, 0});
      }
      return out;
    };
  }
  std::shared_ptr<ipam::MemoryStore> store_ = std::make_shared<ipam::MemoryStore>();
  std::shared_ptr<FakeCatalog> catalog_ = std::make_shared<FakeCatalog>();
  std::shared_ptr<FakeSwitch> ovs_ = std::make_shared<FakeSwitch>();
  std::shared_ptr<FakeRuntime> runtime_ = std::make_shared<FakeRuntime>();
  std::shared_ptr<FakeNetlink> netlink_ = std::make_shared<FakeNetlink>();
  DriverConfig config_{.hostName = "h1",
                       .datapath = ovsdb::DatapathType::Netdev,
                       .overlayMtu = 1450,
                       .applyTimeout = std::chrono::milliseconds(1000),
                       .networkContainerPrefix = "ovsplane-net-",
                       .poolSize = 2};
  std::unique_ptr<Driver> driver_ = makeDriver();

  /** A single host's reconciler that collects without a grace (nothing is in flight). */
  static ReconcilerConfig collectAtOnce() {
    return ReconcilerConfig{.grace = std::chrono::milliseconds(0),
                            .interval = std::chrono::seconds(30),
                            .tunnelInterval = std::chrono::seconds(1),
                            .hostRefresh = std::chrono::seconds(5),
                            .vtepIp = "",
                            .overlayMtuSource = {}};
  }
  std::unique_ptr<Driver> makeDriver() {
    return std::make_unique<Driver>(config_,
                                    DriverDependencies{store_, catalog_, ovs_, runtime_, netlink_});
  }
  size_t leases() { return store_->leases(*ipam::Subnet::parse(kCidr)).value().size(); }
  std::vector<RuntimeContainer> pooled() { return runtime_->list({{labels::kPool, "1"}}).value(); }
  Result<std::optional<adapter::AttachedCreate>> attach(const std::string& app,
                                                        std::vector<std::string> env = {}) {
    env.push_back(std::string("OVSPLANE_CIDR=") + kCidr);
    return adapter::attachCreate(*driver_, bodyWithEnv(env), app);
  }
  /** Docker creates the app container from the rewritten body. */
  std::string createApp(const adapter::AttachedCreate& attached, const std::string& name) {
    auto id = runtime_->create(attached.body, name);
    EXPECT_TRUE(id.has_value());
    EXPECT_TRUE(runtime_->start(*id).has_value());
    return *id;
  }
};

TEST_F(PoolTest, RefillStartsLabelledContainersWithoutANetwork) {
  ASSERT_TRUE(driver_->pool()->refillOnce());
  EXPECT_EQ(driver_->pool()->ready(), 2U);
  ASSERT_EQ(pooled().size(), 2U);
  for (const auto& container : pooled()) {
    EXPECT_TRUE(container.running);
    EXPECT_EQ(labelOf(container, labels::kRole), "network");
    EXPECT_EQ(container.name, "ovsplane-net-" + labelOf(container, labels::kEndpoint));
    EXPECT_EQ(labelOf(container, labels::kNetwork), "");
    EXPECT_EQ(runtime_->containers.at(container.id).body["HostConfig"]["NetworkMode"], "none");
  }
  EXPECT_TRUE(driver_->pool()->refillOnce());  // full: nothing more
  EXPECT_EQ(runtime_->containers.size(), 2U);
  EXPECT_EQ(leases(), 0U);  // a pooled container holds no address
}

TEST_F(PoolTest, AnAttachClaimsAReadyContainerRenamesItAndLabelsTheApp) {
  ASSERT_TRUE(driver_->pool()->refillOnce());
  auto attached = attach("web");
  ASSERT_TRUE(attached.has_value()) << attached.error().message;
  ASSERT_TRUE(attached->has_value());
  EXPECT_TRUE((*attached)->timings.pooled);
  EXPECT_EQ(runtime_->containers.size(), 2U);  // none created
  EXPECT_EQ(driver_->pool()->ready(), 1U);
  const auto endpoints = driver_->endpoints();
  ASSERT_EQ(endpoints.size(), 1U);
  const Endpoint& endpoint = endpoints.front();
  const auto& net = runtime_->containers.at(endpoint.networkContainerId);
  // Named after the app by the refill thread, off the attach's path.
  EXPECT_EQ(net.info.name, "ovsplane-net-" + endpoint.id);
  const int renamesBefore = runtime_->renameCalls.load();
  ASSERT_TRUE(driver_->pool()->refillOnce());
  EXPECT_EQ(runtime_->renameCalls.load(), renamesBefore + 1);
  EXPECT_EQ(net.info.name, "ovsplane-net-web");
  EXPECT_EQ(labelOf(net.info, labels::kEndpoint), endpoint.id);
  const auto& body = (*attached)->body;
  EXPECT_EQ(body["HostConfig"]["NetworkMode"], "container:" + endpoint.networkContainerId);
  EXPECT_EQ(body["Labels"][labels::kEndpoint], endpoint.id);
  EXPECT_EQ(body["Labels"][labels::kNetwork], kCidr);
  EXPECT_EQ(body["Labels"][labels::kIp], endpoint.ip.toString());
  EXPECT_EQ(body["Labels"][labels::kMac], endpointNames(endpoint.id).macString());
  // Wired into the pooled container's namespace.
  ASSERT_EQ(netlink_->links.count(endpoint.hostVeth), 1U);
  EXPECT_EQ(netlink_->links.at(endpoint.hostVeth).second,
            "/proc/" + std::to_string(net.info.pid) + "/ns/net");
  EXPECT_EQ(ovs_->accessPorts(), 1U);
  EXPECT_EQ(leases(), 1U);
  // The refill replaces it.
  ASSERT_TRUE(driver_->pool()->refillOnce());
  EXPECT_EQ(driver_->pool()->ready(), 2U);
  EXPECT_EQ(runtime_->containers.size(), 3U);
}

TEST_F(PoolTest, MovedSettingsOrAMacBypassThePool) {
  ASSERT_TRUE(driver_->pool()->refillOnce());
  auto body = bodyWithEnv({std::string("OVSPLANE_CIDR=") + kCidr});
  body["Hostname"] = "db1";
  auto named = adapter::attachCreate(*driver_, body, "db");
  ASSERT_TRUE(named.has_value()) << named.error().message;
  EXPECT_FALSE((*named)->timings.pooled);
  auto withMac = bodyWithEnv({std::string("OVSPLANE_CIDR=") + kCidr});
  withMac["MacAddress"] = "02:42:0a:00:06:99";
  auto mac = adapter::attachCreate(*driver_, withMac, "m");
  ASSERT_TRUE(mac.has_value()) << mac.error().message;
  EXPECT_FALSE((*mac)->timings.pooled);
  EXPECT_EQ(driver_->pool()->ready(), 2U);
  EXPECT_EQ(runtime_->containers.size(), 4U);
}

TEST_F(PoolTest, AFailureBeforeTheClaimIsUsedGivesItBackAndLaterOnesRemoveIt) {
  ASSERT_TRUE(driver_->pool()->refillOnce());
  catalog_->failOn("ensureNetwork");
  ASSERT_FALSE(attach("a1").has_value());
  catalog_->clear();
  EXPECT_EQ(driver_->pool()->ready(), 2U);  // given back untouched
  EXPECT_EQ(runtime_->containers.size(), 2U);
  for (const char* step : {"wire", "apply"}) {
    SCOPED_TRACE(step);
    runtime_->failOn(step);
    netlink_->failOn(step);
    ovs_->failOn(step);
    auto attached = attach("a2");
    ASSERT_FALSE(attached.has_value());
    EXPECT_NE(attached.error().message.find(step), std::string::npos) << attached.error().message;
    runtime_->clear();
    netlink_->clear();
    ovs_->clear();
    // Wired: removed, never reused. Nothing else is left.
    EXPECT_EQ(driver_->pool()->ready(), 1U);
    EXPECT_EQ(runtime_->containers.size(), 1U);
    EXPECT_EQ(leases(), 0U);
    EXPECT_TRUE(netlink_->links.empty());
    EXPECT_EQ(ovs_->accessPorts(), 0U);
    EXPECT_TRUE(driver_->endpoints().empty());
    ASSERT_TRUE(driver_->pool()->refillOnce());
  }
}

TEST_F(PoolTest, AStoppedOrRemovedPooledContainerIsDroppedAndTheAttachCreatesItsOwn) {
  ASSERT_TRUE(driver_->pool()->refillOnce());
  const auto ready = pooled();
  runtime_->stop(ready[0].id);
  ASSERT_TRUE(runtime_->remove(ready[1].id).has_value());
  auto attached = attach("web");
  ASSERT_TRUE(attached.has_value()) << attached.error().message;
  EXPECT_FALSE((*attached)->timings.pooled);
  EXPECT_EQ(driver_->pool()->ready(), 0U);
  ASSERT_TRUE(driver_->pool()->refillOnce());
  EXPECT_FALSE(runtime_->containers.contains(ready[0].id));  // removed
  EXPECT_EQ(driver_->pool()->ready(), 2U);
  for (const auto& container : pooled()) EXPECT_TRUE(container.running);
}

TEST_F(PoolTest, ARestartedDriverRecoversAPooledEndpointFromItsAppsLabels) {
  ASSERT_TRUE(driver_->pool()->refillOnce());
  auto attached = attach("web");
  ASSERT_TRUE(attached.has_value()) << attached.error().message;
  const std::string appId = createApp(**attached, "web");
  const Endpoint before = driver_->endpoints().front();
  driver_ = makeDriver();  // ovsplane restarted: it remembers nothing
  ASSERT_TRUE(driver_->ensureWired("web").has_value());
  const auto endpoints = driver_->endpoints();
  ASSERT_EQ(endpoints.size(), 1U);
  EXPECT_EQ(endpoints.front().id, before.id);
  EXPECT_EQ(endpoints.front().ip, before.ip);
  EXPECT_EQ(endpoints.front().subnet, before.subnet);
  EXPECT_EQ(endpoints.front().networkContainerId, before.networkContainerId);
  EXPECT_EQ(endpoints.front().appId, appId);
  // Adoption leaves the claimed one alone; the other goes back into the pool.
  ASSERT_TRUE(driver_->pool()->refillOnce());
  EXPECT_TRUE(runtime_->containers.contains(before.networkContainerId));
  EXPECT_EQ(driver_->pool()->ready(), 2U);
  EXPECT_EQ(runtime_->containers.size(), 4U);  // app, claimed, adopted, a new one
  EXPECT_EQ(leases(), 1U);
  // The app's removal tears down the pooled endpoint like any other.
  ASSERT_TRUE(runtime_->remove(appId).has_value());
  ASSERT_TRUE(driver_->detach("web").has_value());
  EXPECT_FALSE(runtime_->containers.contains(before.networkContainerId));
  EXPECT_EQ(leases(), 0U);
}

TEST_F(PoolTest, AClaimACrashCutShortIsTheReconcilersAndTheUnclaimedAreAdopted) {
  ASSERT_TRUE(driver_->pool()->refillOnce());
  auto attached = attach("web");  // claimed and wired; the crash comes before Docker's create
  ASSERT_TRUE(attached.has_value()) << attached.error().message;
  const Endpoint halfClaimed = driver_->endpoints().front();
  ASSERT_EQ(leases(), 1U);
  catalog_->failOn("hostAddresses");  // the state database away at the next start
  driver_ = makeDriver();
  EXPECT_FALSE(driver_->pool()->refillOnce());
  EXPECT_EQ(driver_->pool()->ready(), 0U);
  EXPECT_EQ(runtime_->containers.size(), 2U);  // nothing judged, nothing made
  catalog_->clear();
  ASSERT_TRUE(driver_->pool()->refillOnce());
  EXPECT_EQ(driver_->pool()->ready(), 2U);  // the unclaimed one and a new one
  EXPECT_TRUE(runtime_->containers.contains(halfClaimed.networkContainerId));  // not the pool's
  EXPECT_EQ(leases(), 1U);
  // The reconciler learns it from the address its endpoint holds and collects it (grace 0).
  auto shared = std::shared_ptr<Driver>(std::move(driver_));
  Reconciler reconciler(collectAtOnce(), shared);
  auto report = reconciler.reconcile();
  ASSERT_TRUE(report.has_value()) << report.error().message;
  EXPECT_TRUE(report->failures.empty()) << report->failures.front();
  EXPECT_EQ(leases(), 0U);
  EXPECT_FALSE(runtime_->containers.contains(halfClaimed.networkContainerId));
  EXPECT_TRUE(netlink_->links.empty());
  EXPECT_EQ(ovs_->accessPorts(), 0U);
  EXPECT_EQ(pooled().size(), 2U);  // the ready ones stay
  EXPECT_EQ(shared->pool()->ready(), 2U);
  EXPECT_TRUE(shared->endpoints().empty());
}

TEST_F(PoolTest, ASmallerPoolRemovesTheExtraAndSizeZeroHasNone) {
  ASSERT_TRUE(driver_->pool()->refillOnce());
  config_.poolSize = 1;
  driver_ = makeDriver();
  ASSERT_TRUE(driver_->pool()->refillOnce());
  EXPECT_EQ(pooled().size(), 1U);
  config_.poolSize = 0;
  driver_ = makeDriver();
  EXPECT_EQ(driver_->pool(), nullptr);
  EXPECT_EQ(driver_->poolReady(), -1);
  auto attached = attach("web");
  ASSERT_TRUE(attached.has_value());
  EXPECT_FALSE((*attached)->timings.pooled);
}

TEST_F(PoolTest, TheReconcilerLearnsPooledEndpointsAndLeavesReadyContainersAlone) {
  ASSERT_TRUE(driver_->pool()->refillOnce());
  auto attached = attach("web");
  ASSERT_TRUE(attached.has_value()) << attached.error().message;
  createApp(**attached, "web");
  const Endpoint before = driver_->endpoints().front();
  auto restarted = std::shared_ptr<Driver>(makeDriver());  // remembers nothing
  Reconciler reconciler(collectAtOnce(), restarted);
  for (int pass = 0; pass < 2; ++pass) {
    auto report = reconciler.reconcile();
    ASSERT_TRUE(report.has_value()) << report.error().message;
    EXPECT_TRUE(report->failures.empty()) << report->failures.front();
    for (const auto& change : report->changes) ADD_FAILURE() << "pass " << pass << ": " << change;
  }
  const auto endpoints = restarted->endpoints();
  ASSERT_EQ(endpoints.size(), 1U);
  EXPECT_EQ(endpoints.front().id, before.id);
  EXPECT_EQ(endpoints.front().ip, before.ip);
  EXPECT_EQ(endpoints.front().state, EndpointState::Committed);
  EXPECT_EQ(pooled().size(), 2U);  // the claimed one and the ready one, both kept
  EXPECT_EQ(leases(), 1U);
  EXPECT_EQ(netlink_->links.size(), 1U);
}

TEST_F(PoolTest, AnAdoptionCutShortTakesNothingTwice) {
  ASSERT_TRUE(driver_->pool()->refillOnce());
  driver_ = makeDriver();
  // The state database answers the first leftover's question, then goes away.
  auto addresses = catalog_->addressesOfHost;
  catalog_->addressesOfHost = [&, this] {
    catalog_->failOn("hostAddresses");
    return addresses();
  };
  EXPECT_FALSE(driver_->pool()->refillOnce());
  EXPECT_EQ(driver_->pool()->ready(), 0U);
  catalog_->clear();
  catalog_->addressesOfHost = addresses;
  ASSERT_TRUE(driver_->pool()->refillOnce());
  EXPECT_EQ(driver_->pool()->ready(), 2U);
  auto first = driver_->pool()->claim();
  auto second = driver_->pool()->claim();
  ASSERT_TRUE(first && second);
  EXPECT_NE(first->containerId, second->containerId);
  EXPECT_EQ(runtime_->containers.size(), 2U);  // both adopted, none made
}

TEST_F(PoolTest, ARenamedLeftoverIsNotTakenForAReadyOne) {
  ASSERT_TRUE(driver_->pool()->refillOnce());
  const std::string renamed = pooled().front().id;
  ASSERT_TRUE(runtime_->rename(renamed, "ovsplane-net-web").has_value());  // a claim's, kept
  driver_ = makeDriver();
  ASSERT_TRUE(driver_->pool()->refillOnce());
  EXPECT_FALSE(runtime_->containers.contains(renamed));
  EXPECT_EQ(driver_->pool()->ready(), 2U);
}

TEST_F(PoolTest, ATeardownThatCannotRemoveTheContainerKeepsItsAddress) {
  ASSERT_TRUE(driver_->pool()->refillOnce());
  auto attached = attach("web");
  ASSERT_TRUE(attached.has_value()) << attached.error().message;
  const Endpoint endpoint = driver_->endpoints().front();
  runtime_->failOn("remove");
  EXPECT_FALSE(driver_->teardown(endpoint).has_value());
  EXPECT_EQ(leases(), 1U);  // with its container, for the retry
  runtime_->clear();
  ASSERT_TRUE(driver_->teardown(endpoint).has_value());
  EXPECT_EQ(leases(), 0U);
  EXPECT_FALSE(runtime_->containers.contains(endpoint.networkContainerId));
}

TEST_F(PoolTest, AFailingRefillWaitsItsRetryInsteadOfSpinning) {
  runtime_->failOn("create");
  NetworkContainerPool pool(PoolConfig{.size = 2,
                                       .namePrefix = "ovsplane-net-",
                                       .retry = std::chrono::milliseconds(100),
                                       .healthCheck = std::chrono::seconds(10),
                                       .stillRuns = processInContainer},
                            runtime_, [](const std::string&) -> Result<bool> { return false; });
  pool.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(550));
  pool.stop();
  EXPECT_GE(runtime_->createCalls.load(), 2);
  EXPECT_LE(runtime_->createCalls.load(), 8);  // one try per retry period
  EXPECT_EQ(pool.ready(), 0U);
}

TEST_F(PoolTest, AFailedRenameLeavesTheAttachStanding) {
  ASSERT_TRUE(driver_->pool()->refillOnce());
  auto attached = attach("web");
  ASSERT_TRUE(attached.has_value()) << attached.error().message;
  runtime_->failOn("rename");  // the name taken by a leftover, say
  EXPECT_TRUE(driver_->pool()->refillOnce());
  runtime_->clear();
  const auto endpoints = driver_->endpoints();
  ASSERT_EQ(endpoints.size(), 1U);
  EXPECT_EQ(runtime_->containers.at(endpoints.front().networkContainerId).info.name,
            "ovsplane-net-" + endpoints.front().id);
  EXPECT_EQ(leases(), 1U);
  EXPECT_EQ(ovs_->accessPorts(), 1U);
  ASSERT_TRUE(driver_->pool()->refillOnce());  // not retried: the name is for people
  EXPECT_EQ(runtime_->containers.at(endpoints.front().networkContainerId).info.name,
            "ovsplane-net-" + endpoints.front().id);
}

TEST_F(PoolTest, AClaimAsksDockerNothingWhileTheStartedPidStillRunsInTheContainer) {
  std::map<pid_t, std::string> running;  // what /proc would say
  NetworkContainerPool pool(PoolConfig{.size = 2,
                                       .namePrefix = "ovsplane-net-",
                                       .retry = std::chrono::milliseconds(100),
                                       .healthCheck = std::chrono::seconds(10),
                                       .stillRuns =
                                           [&](pid_t pid, const std::string& id) {
                                             return running.contains(pid) && running.at(pid) == id;
                                           }},
                            runtime_, [](const std::string&) -> Result<bool> { return false; });
  ASSERT_TRUE(pool.refillOnce());
  ASSERT_EQ(pool.ready(), 2U);
  for (const auto& [id, container] : runtime_->containers) running[container.info.pid] = id;
  const int inspectsBefore = runtime_->inspectCalls.load();
  auto first = pool.claim();
  ASSERT_TRUE(first.has_value());
  EXPECT_GT(first->pid, 0);
  EXPECT_EQ(running.at(first->pid), first->containerId);
  EXPECT_EQ(runtime_->inspectCalls.load(), inspectsBefore);  // the fast path
  // Its pid gone (the container restarted, say): the claim inspects and takes the pid now.
  running.clear();
  auto second = pool.claim();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(runtime_->inspectCalls.load(), inspectsBefore + 1);
  EXPECT_EQ(second->pid, runtime_->containers.at(second->containerId).info.pid);
}

TEST(ProcessInContainerTest, TheCgroupMustNameTheWholeIdAsAPathPart) {
  const std::string id(64, 'a');
  EXPECT_TRUE(cgroupNamesContainer("0::/docker/" + id + "\n", id));                     // cgroupfs
  EXPECT_TRUE(cgroupNamesContainer("0::/system.slice/docker-" + id + ".scope\n", id));  // systemd
  EXPECT_TRUE(cgroupNamesContainer("12:pids:/docker/" + id + "\n0::/docker/" + id, id));  // v1
  EXPECT_TRUE(cgroupNamesContainer("0::/../" + id + "/init\n", id));   // a cgroup namespace's view
  EXPECT_FALSE(cgroupNamesContainer("0::/docker/" + id + "b\n", id));  // another, longer id
  EXPECT_FALSE(cgroupNamesContainer("0::/docker/b" + id + "\n", id));
  EXPECT_FALSE(cgroupNamesContainer("0::/docker/" + id + "\n", id.substr(0, 12)));  // short id
  EXPECT_FALSE(cgroupNamesContainer("0::/user.slice\n", id));
  EXPECT_FALSE(cgroupNamesContainer("", id));
  EXPECT_FALSE(processInContainer(0, id));
  EXPECT_FALSE(processInContainer(getpid(), id));  // this test runs in no container of that id
}

TEST_F(PoolTest, TheRefillThreadTopsUpAfterClaims) {
  driver_->pool()->start();
  auto readyWithin = [&](size_t n) {
    for (int i = 0; i < 200 && driver_->pool()->ready() != n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return driver_->pool()->ready() == n;
  };
  ASSERT_TRUE(readyWithin(2));
  size_t claimed = 0;
  for (const char* app : {"a1", "a2", "a3"}) {
    auto attached = attach(app);
    ASSERT_TRUE(attached.has_value()) << attached.error().message;
    claimed += (*attached)->timings.pooled ? 1 : 0;
  }
  EXPECT_GE(claimed, 1U);
  EXPECT_TRUE(readyWithin(2));
  driver_->pool()->stop();
  EXPECT_EQ(pooled().size(), claimed + 2);
}

}  // namespace
}  // namespace ovsplane::netdrv
