// ovsdb-labelled: Open_vSwitch operations against a private ovsdb-server, verified independently
// with ovs-vsctl. The vswitchd tests need root (a private network namespace) and skip otherwise.
#include "ovsdb/switch.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "tests/support/ovsdb_server.h"

namespace ovsplane::ovsdb {
namespace {

using namespace std::chrono_literals;
using testing::CommandResult;
using testing::OvsdbServer;
using testing::runCommand;

class SwitchTest : public ::testing::Test {
 protected:
  OvsdbServer server_{testing::vswitchSchemaPath()};
  Switch switch_{ClientOptions{.remote = server_.remote(), .leaderOnly = false, .timeout = 5s}};

  /** ovs-vsctl against the private server; trims the trailing newline. */
  std::string vsctl(std::vector<std::string> args) {
    args.insert(args.begin(),
                {"ovs-vsctl", "--db=" + server_.remote(), "--no-wait", "--timeout=5"});
    const CommandResult result = runCommand(args);
    EXPECT_EQ(result.exitCode, 0) << result.output;
    std::string out = result.output;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }
  int64_t nextCfg() { return std::stoll(vsctl({"get", "Open_vSwitch", ".", "next_cfg"})); }
};

SwitchChanges attachChanges(const std::string& port) {
  SwitchChanges changes;
  changes
      .ensureBridge({.name = "ovpbr42",
                     .datapath = DatapathType::Netdev,
                     .externalIds = {{"ovsplane-network", "10.0.6.0/24"}, {"ovsplane-vni", "42"}},
                     .hwaddr = "02:6f:76:00:00:2a",
                     .localMtu = 1450,
                     .localProtected = true})
      .ensurePort(
          {.bridge = "ovpbr42",
           .name = port,
           .type = "",
           .options = {},
           .externalIds = {{"ovsplane-container", "c-" + port}, {"ovsplane-ip", "10.0.6.2"}},
           .isProtected = false})
      .ensureVxlanPort("ovpbr42", "ovx42-2", "192.168.77.2", 42);
  return changes;
}

TEST_F(SwitchTest, AttachCreatesBridgeAccessAndVxlanPortsInOneTransaction) {
  auto cfg = switch_.apply(attachChanges("ovhaaaa"));
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
  EXPECT_EQ(nextCfg(), *cfg);
  EXPECT_EQ(*cfg, 1);  // one transaction: next_cfg went up once

  EXPECT_EQ(vsctl({"list-br"}), "ovpbr42");
  EXPECT_EQ(vsctl({"get", "Bridge", "ovpbr42", "datapath_type"}), "netdev");
  EXPECT_EQ(vsctl({"get", "Bridge", "ovpbr42", "external_ids:ovsplane-vni"}), "\"42\"");
  EXPECT_EQ(vsctl({"get", "Bridge", "ovpbr42", "external_ids:ovsplane-owned"}), "\"true\"");
  // The LOCAL port is the network's gateway: its MAC and the overlay MTU.
  EXPECT_EQ(vsctl({"get", "Bridge", "ovpbr42", "other_config:hwaddr"}), "\"02:6f:76:00:00:2a\"");
  EXPECT_EQ(vsctl({"get", "Interface", "ovpbr42", "mtu_request"}), "1450");
  EXPECT_EQ(vsctl({"get", "Port", "ovpbr42", "protected"}), "true");
  EXPECT_EQ(vsctl({"list-ports", "ovpbr42"}), "ovhaaaa\novx42-2");
  EXPECT_EQ(vsctl({"get", "Interface", "ovhaaaa", "type"}), "\"\"");
  EXPECT_EQ(vsctl({"get", "Port", "ovhaaaa", "external_ids:ovsplane-container"}), "c-ovhaaaa");
  EXPECT_EQ(vsctl({"get", "Port", "ovhaaaa", "protected"}), "false");
  EXPECT_EQ(vsctl({"get", "Interface", "ovx42-2", "type"}), "vxlan");
  EXPECT_EQ(vsctl({"get", "Interface", "ovx42-2", "options:remote_ip"}), "\"192.168.77.2\"");
  EXPECT_EQ(vsctl({"get", "Interface", "ovx42-2", "options:key"}), "\"42\"");
  EXPECT_EQ(vsctl({"get", "Port", "ovx42-2", "protected"}), "true");
  // The bridge's own internal port exists, as ovs-vsctl add-br would make it.
  EXPECT_EQ(vsctl({"get", "Interface", "ovpbr42", "type"}), "internal");
}

TEST_F(SwitchTest, ApplyingTheSameChangesAgainChangesNothing) {
  auto first = switch_.apply(attachChanges("ovhaaaa"));
  ASSERT_TRUE(first.has_value());
  const std::string before = vsctl({"show"});
  auto again = switch_.apply(attachChanges("ovhaaaa"));
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ(vsctl({"show"}), before);
  // Nothing to change: no transaction was sent, and the current config is reported.
  EXPECT_EQ(nextCfg(), *first);
  EXPECT_EQ(*again, *first);
}

TEST_F(SwitchTest, EnsureUpdatesChangedSettingsInPlace) {
  ASSERT_TRUE(switch_.apply(attachChanges("ovhaaaa")).has_value());
  SwitchChanges moved;
  moved.ensureVxlanPort("ovpbr42", "ovx42-2", "192.168.77.9", 42);
  ASSERT_TRUE(switch_.apply(moved).has_value());
  EXPECT_EQ(vsctl({"get", "Interface", "ovx42-2", "options:remote_ip"}), "\"192.168.77.9\"");
  SwitchChanges system;
  system.ensureBridge({.name = "ovpbr42",
                       .datapath = DatapathType::System,
                       .externalIds = {},
                       .hwaddr = "",
                       .localMtu = 0,
                       .localProtected = false});
  ASSERT_TRUE(switch_.apply(system).has_value());
  EXPECT_EQ(vsctl({"get", "Bridge", "ovpbr42", "datapath_type"}), "system");
}

TEST_F(SwitchTest, DeletesAreIdempotent) {
  ASSERT_TRUE(switch_.apply(attachChanges("ovhaaaa")).has_value());
  SwitchChanges detach;
  detach.deletePort("ovhaaaa").deletePort("ovhaaaa").deletePort("never-was");
  ASSERT_TRUE(switch_.apply(detach).has_value());
  EXPECT_EQ(vsctl({"list-ports", "ovpbr42"}), "ovx42-2");
  EXPECT_EQ(vsctl({"--bare", "--columns=name", "find", "Interface", "name=ovhaaaa"}), "");
  ASSERT_TRUE(switch_.apply(detach).has_value());

  SwitchChanges drop;
  drop.deleteBridge("ovpbr42").deleteBridge("ovpbr42");
  ASSERT_TRUE(switch_.apply(drop).has_value());
  EXPECT_EQ(vsctl({"list-br"}), "");
  EXPECT_EQ(vsctl({"--bare", "--columns=name", "list", "Port"}), "");  // collected with it
  ASSERT_TRUE(switch_.apply(drop).has_value());
}

TEST_F(SwitchTest, PortOnAnotherBridgeOrMissingBridgeIsRefused) {
  ASSERT_TRUE(switch_.apply(attachChanges("ovhaaaa")).has_value());
  vsctl({"add-br", "other"});
  const int64_t cfgBefore = nextCfg();

  SwitchChanges wrongBridge;
  wrongBridge.ensurePort({.bridge = "other",
                          .name = "ovhaaaa",
                          .type = "",
                          .options = {},
                          .externalIds = {},
                          .isProtected = false});
  auto conflict = switch_.apply(wrongBridge);
  ASSERT_FALSE(conflict.has_value());
  EXPECT_EQ(conflict.error().code, ErrorCode::Conflict);
  EXPECT_NE(conflict.error().message.find("already exists on bridge ovpbr42"), std::string::npos)
      << conflict.error().message;

  SwitchChanges noBridge;
  noBridge.ensurePort({.bridge = "nosuchbr",
                       .name = "ovhbbbb",
                       .type = "",
                       .options = {},
                       .externalIds = {},
                       .isProtected = false});
  auto missing = switch_.apply(noBridge);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::NotFound);
  EXPECT_EQ(nextCfg(), cfgBefore);  // nothing was committed
}

TEST_F(SwitchTest, NamesAreValidatedBeforeAnyTransaction) {
  for (const char* bad : {"", "sixteen-chars-xx", "has space", "a/b", ".", "..", "ünï"}) {
    SwitchChanges changes;
    changes.ensureBridge({.name = bad,
                          .datapath = DatapathType::Netdev,
                          .externalIds = {},
                          .hwaddr = "",
                          .localMtu = 0,
                          .localProtected = false});
    auto result = switch_.apply(changes);
    ASSERT_FALSE(result.has_value()) << bad;
    EXPECT_EQ(result.error().code, ErrorCode::InvalidArgument) << bad;
  }
  SwitchChanges badPort;
  badPort
      .ensureBridge({.name = "ok",
                     .datapath = DatapathType::Netdev,
                     .externalIds = {},
                     .hwaddr = "",
                     .localMtu = 0,
                     .localProtected = false})
      .ensurePort({.bridge = "ok",
                   .name = "way-too-long-name",
                   .type = "",
                   .options = {},
                   .externalIds = {},
                   .isProtected = false});
  EXPECT_FALSE(switch_.apply(badPort).has_value());
  EXPECT_EQ(vsctl({"list-br"}), "");  // the valid bridge was not created either
  EXPECT_TRUE(validateInterfaceName("fifteen-chars-x").has_value());
}

TEST_F(SwitchTest, APortNamedTwiceInOneBatchIsRefusedAndTwoBatchesReplaceIt) {
  ASSERT_TRUE(switch_.apply(attachChanges("ovpv1")).has_value());
  const PortSpec again{.bridge = "ovpbr42",
                       .name = "ovpv1",
                       .type = "",
                       .options = {},
                       .externalIds = {{"ovsplane-ip", "10.0.6.3"}},
                       .isProtected = false};
  SwitchChanges both;
  both.deletePort("ovpv1").ensurePort(again);
  auto refused = switch_.apply(both);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(refused.error().message.find("ovpv1"), std::string::npos) << refused.error().message;
  EXPECT_EQ(vsctl({"get", "Port", "ovpv1", "external_ids:ovsplane-ip"}), "\"10.0.6.2\"");

  SwitchChanges removal;
  removal.deletePort("ovpv1");
  ASSERT_TRUE(switch_.apply(removal).has_value());
  SwitchChanges addition;
  addition.ensurePort(again);
  ASSERT_TRUE(switch_.apply(addition).has_value());
  EXPECT_EQ(vsctl({"get", "Port", "ovpv1", "external_ids:ovsplane-ip"}), "\"10.0.6.3\"");
  EXPECT_EQ(vsctl({"port-to-br", "ovpv1"}), "ovpbr42");
}

TEST_F(SwitchTest, ListOwnedSeesOnlyOvsplaneRows) {
  ASSERT_TRUE(switch_.apply(attachChanges("ovhaaaa")).has_value());
  vsctl({"add-br", "br-foreign", "--", "add-port", "ovpbr42", "foreign0"});
  auto owned = switch_.listOwned();
  ASSERT_TRUE(owned.has_value()) << owned.error().message;
  ASSERT_EQ(owned->bridges.size(), 1U);
  EXPECT_EQ(owned->bridges[0].name, "ovpbr42");
  EXPECT_EQ(owned->bridges[0].datapathType, "netdev");
  std::vector<std::string> ports;
  for (const auto& port : owned->ports) ports.push_back(port.bridge + "/" + port.name);
  std::sort(ports.begin(), ports.end());
  EXPECT_EQ(ports, (std::vector<std::string>{"ovpbr42/ovhaaaa", "ovpbr42/ovx42-2"}));
  auto all = switch_.snapshot();
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(all->bridges.size(), 2U);
  EXPECT_EQ(all->ports.size(), 5U);  // 2 internal + ovhaaaa + ovx42-2 + foreign0
}

TEST_F(SwitchTest, ConcurrentWritersNeverLoseAPort) {
  ASSERT_TRUE(switch_.apply(attachChanges("ovh0")).has_value());
  constexpr int kThreads = 4;
  constexpr int kPortsEach = 15;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  std::mutex errorsMutex;
  std::string errors;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPortsEach; ++i) {
        SwitchChanges changes;
        changes.ensurePort({.bridge = "ovpbr42",
                            .name = "p" + std::to_string(t) + "-" + std::to_string(i),
                            .type = "",
                            .options = {},
                            .externalIds = {},
                            .isProtected = false});
        if (auto applied = switch_.apply(changes); !applied) {
          ++failures;
          std::scoped_lock lock(errorsMutex);
          errors += applied.error().message + "\n";
        }
        if (i % 3 != 0) continue;
        // Every third port leaves again, while the others still arrive.
        SwitchChanges removal;
        removal.deletePort("p" + std::to_string(t) + "-" + std::to_string(i));
        if (auto applied = switch_.apply(removal); !applied) {
          ++failures;
          std::scoped_lock lock(errorsMutex);
          errors += applied.error().message + "\n";
        }
      }
    });
  }
  // A second, independent writer (ovs-vsctl, which verifies and rewrites the whole set) races
  // with the IDL's one-port mutations.
  for (int i = 0; i < 10; ++i) vsctl({"add-port", "ovpbr42", "ext" + std::to_string(i)});
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0) << errors;
  const std::string ports = vsctl({"list-ports", "ovpbr42"});
  const auto count = std::count(ports.begin(), ports.end(), '\n') + 1;
  EXPECT_EQ(count, 2 + kThreads * (kPortsEach - 5) + 10) << ports;
  EXPECT_EQ(ports.find("p0-3\n"), std::string::npos) << ports;
  EXPECT_NE(ports.find("p0-4\n"), std::string::npos) << ports;
  // The removed ports' rows are gone with them (the server collects what no bridge holds).
  const std::string interfaces = vsctl({"--columns=name", "list", "Interface"});
  EXPECT_EQ(interfaces.find("\"p0-3\""), std::string::npos) << interfaces;
  EXPECT_EQ(interfaces.find("p0-3\n"), std::string::npos) << interfaces;
}

TEST_F(SwitchTest, ServerRestartIsTransparent) {
  ASSERT_TRUE(switch_.apply(attachChanges("ovhaaaa")).has_value());
  server_.stop();
  server_.start();
  SwitchChanges more;
  more.ensurePort({.bridge = "ovpbr42",
                   .name = "ovhbbbb",
                   .type = "",
                   .options = {},
                   .externalIds = {},
                   .isProtected = false});
  auto result = switch_.apply(more);
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(vsctl({"list-ports", "ovpbr42"}), "ovhaaaa\novhbbbb\novx42-2");
}

TEST_F(SwitchTest, WaitAppliedWithoutVswitchdTimesOutClearly) {
  auto cfg = switch_.apply(attachChanges("ovhaaaa"));
  ASSERT_TRUE(cfg.has_value());
  const auto start = std::chrono::steady_clock::now();
  auto waited = switch_.waitApplied(*cfg, 300ms);
  ASSERT_FALSE(waited.has_value());
  EXPECT_EQ(waited.error().code, ErrorCode::Timeout);
  EXPECT_NE(waited.error().message.find("ovs-vswitchd"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST(SwitchUnreachable, FailsWithinTheTimeoutNamingTheRemote) {
  testing::TempDir dir;
  const std::string remote = "unix:" + (dir.path() / "absent.sock").string();
  Switch unreachable(ClientOptions{.remote = remote, .leaderOnly = false, .timeout = 400ms});
  const auto start = std::chrono::steady_clock::now();
  auto result = unreachable.apply(attachChanges("ovhaaaa"));
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::Timeout);
  EXPECT_NE(result.error().message.find(remote), std::string::npos) << result.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

}  // namespace
}  // namespace ovsplane::ovsdb

namespace ovsplane::ovsdb {
namespace {

TEST(SwitchWithVswitchd, WaitAppliedSeesTheDatapathConfigured) {
  if (!testing::isRoot()) GTEST_SKIP() << "needs root: ovs-vswitchd in a private network namespace";
  OvsdbServer server(testing::vswitchSchemaPath());
  testing::OvsVswitchd vswitchd(server);
  Switch sw(ClientOptions{.remote = server.remote(), .leaderOnly = false, .timeout = 10s});
  SwitchChanges changes;
  changes
      .ensureBridge({.name = "ovpbr7",
                     .datapath = DatapathType::Netdev,
                     .externalIds = {},
                     .hwaddr = "",
                     .localMtu = 0,
                     .localProtected = false})
      .ensurePort({.bridge = "ovpbr7",
                   .name = "ovgw7",
                   .type = "internal",
                   .options = {},
                   .externalIds = {},
                   .isProtected = false});
  auto cfg = sw.apply(changes);
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
  auto applied = sw.waitApplied(*cfg, 10s);
  ASSERT_TRUE(applied.has_value()) << applied.error().message;
  // ovs-vswitchd made the userspace bridge's tap devices inside its namespace.
  auto links = vswitchd.netns().run({"ip", "-o", "link", "show"});
  EXPECT_NE(links.output.find("ovpbr7"), std::string::npos) << links.output;
  EXPECT_NE(links.output.find("ovgw7"), std::string::npos) << links.output;
  auto state = sw.listOwned();
  ASSERT_TRUE(state.has_value());
  bool sawOfport = false;
  for (const auto& port : state->ports) sawOfport |= port.name == "ovgw7" && port.ofport > 0;
  EXPECT_TRUE(sawOfport) << "ovs-vswitchd assigned no OpenFlow port number";
}

}  // namespace
}  // namespace ovsplane::ovsdb

#include "ovsdb/openflow.h"

namespace ovsplane::ovsdb {
namespace {

/** `ovs-ofctl dump-flows` of the gateway cookie, one flow a line (independent of the code). */
std::string dumpGatewayFlows(const OpenFlow& openflow, const std::string& bridge, uint32_t vni) {
  auto dump = runCommand({"ovs-ofctl", "-O", "OpenFlow13", "--no-stats", "dump-flows",
                          openflow.target(bridge),
                          fmt::format("cookie={:#x}/-1", OpenFlow::gatewayCookie(vni))});
  EXPECT_EQ(dump.exitCode, 0) << dump.output;
  return dump.output;
}

TEST(OpenFlowWithVswitchd, GatewayFlowsAreInstalledOnceAndRestoredWhenLost) {
  if (!testing::isRoot()) GTEST_SKIP() << "needs root: ovs-vswitchd in a private network namespace";
  OvsdbServer server(testing::vswitchSchemaPath());
  testing::OvsVswitchd vswitchd(server);
  Switch sw(ClientOptions{.remote = server.remote(), .leaderOnly = false, .timeout = 10s});
  SwitchChanges changes;
  changes.ensureBridge({.name = "ovpbr9",
                        .datapath = DatapathType::Netdev,
                        .externalIds = {},
                        .hwaddr = "02:6f:76:00:00:09",
                        .localMtu = 1450,
                        .localProtected = true});
  auto cfg = sw.apply(changes);
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
  ASSERT_TRUE(sw.waitApplied(*cfg, 10s).has_value());

  OpenFlow openflow(server.directory().string());
  const GatewayFlowSpec spec{.bridge = "ovpbr9",
                             .vni = 9,
                             .mac = {0x02, 0x6f, 0x76, 0x00, 0x00, 0x09},
                             .ip = *ipam::Ipv4Address::parse("10.9.0.1")};
  auto first = openflow.ensureGatewayFlows(spec);
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_TRUE(*first);
  const std::string flows = dumpGatewayFlows(openflow, "ovpbr9", 9);
  for (const char* wanted :
       {"priority=300,in_port=LOCAL,dl_src=02:6f:76:00:00:09 actions=NORMAL",
        "priority=290,dl_src=02:6f:76:00:00:09 actions=drop",
        "priority=280,arp,arp_tpa=10.9.0.1 actions=LOCAL",
        "priority=270,dl_dst=02:6f:76:00:00:09 actions=LOCAL", "priority=0 actions=NORMAL"}) {
    EXPECT_NE(flows.find(wanted), std::string::npos) << wanted << " in\n" << flows;
  }
  // The bridge's own default flow was replaced, not doubled: five flows in all.
  auto all = runCommand(
      {"ovs-ofctl", "-O", "OpenFlow13", "--no-stats", "dump-flows", openflow.target("ovpbr9")});
  EXPECT_EQ(std::count(all.output.begin(), all.output.end(), '\n'), 5) << all.output;

  auto again = openflow.ensureGatewayFlows(spec);
  ASSERT_TRUE(again.has_value());
  EXPECT_FALSE(*again) << "all five were there: nothing to send";

  // Someone (or a restarted ovs-vswitchd) lost them: they come back.
  ASSERT_EQ(runCommand({"ovs-ofctl", "-O", "OpenFlow13", "del-flows", openflow.target("ovpbr9")})
                .exitCode,
            0);
  EXPECT_EQ(*openflow.countGatewayFlows("ovpbr9", 9), 0U);
  auto restored = openflow.ensureGatewayFlows(spec);
  ASSERT_TRUE(restored.has_value());
  EXPECT_TRUE(*restored);
  EXPECT_EQ(*openflow.countGatewayFlows("ovpbr9", 9), 5U);

  ASSERT_TRUE(openflow.removeGatewayFlows("ovpbr9", 9).has_value());
  EXPECT_EQ(*openflow.countGatewayFlows("ovpbr9", 9), 0U);
}

TEST(OpenFlowWithVswitchd, AMissingBridgeIsATimeoutNamingItsSocket) {
  OpenFlow openflow("/nonexistent-ovs-rundir", 200ms);
  auto result = openflow.ensureGatewayFlows({.bridge = "ovpbr1", .vni = 1, .mac = {}, .ip = {}});
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::Timeout);
  EXPECT_NE(result.error().message.find("/nonexistent-ovs-rundir/ovpbr1.mgmt"), std::string::npos)
      << result.error().message;
}

}  // namespace
}  // namespace ovsplane::ovsdb
