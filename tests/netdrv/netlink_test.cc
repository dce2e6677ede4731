// netns-labelled: the netlink code in fresh network namespaces (root), verified independently
// with `ip -j` and ethtool. The "host" side is itself a private namespace entered by a private
// thread, so nothing is created in the machine's own namespace.
#include "netdrv/netlink.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>
#include <fstream>

#include "netdrv/naming.h"
#include "tests/support/netns.h"

namespace ovsplane::netdrv {
namespace {

using testing::NetworkNamespace;
using testing::runInNamespace;

nlohmann::json ipJson(const NetworkNamespace& ns, std::vector<std::string> args) {
  args.insert(args.begin(), {"ip", "-j", "-n", ns.name()});
  auto result = testing::runCommand(args);
  EXPECT_EQ(result.exitCode, 0) << result.output;
  return result.output.empty() ? nlohmann::json::array() : nlohmann::json::parse(result.output);
}

/** The IPv4 entries of an `ip -j addr` interface (IPv6 link-local ones are there too). */
std::vector<nlohmann::json> inetAddresses(const nlohmann::json& interface) {
  std::vector<nlohmann::json> out;
  for (const auto& entry : interface.at("addr_info")) {
    if (entry.at("family") == "inet") out.push_back(entry);
  }
  return out;
}

ipam::Ipv4Address ip(const char* text) { return *ipam::Ipv4Address::parse(text); }

VethSpec specFor(const std::string& endpoint, const char* address) {
  const EndpointNames names = endpointNames(endpoint);
  VethSpec spec;
  spec.hostName = names.hostVeth;
  spec.peerName = names.containerVeth;
  spec.mac = names.mac;
  spec.mtu = 1400;
  spec.address = ip(address);
  spec.prefixLength = 24;
  spec.gateway = ip("10.20.0.1");
  spec.disableTxChecksum = true;
  return spec;
}

class NetlinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::isRoot()) GTEST_SKIP() << "needs root: network namespaces";
    host_ = std::make_unique<NetworkNamespace>();
    c1_ = std::make_unique<NetworkNamespace>();
    c2_ = std::make_unique<NetworkNamespace>();
  }
  void TearDown() override {
    c2_.reset();
    c1_.reset();
    host_.reset();
  }

  /** Calls the netlink API from the private host namespace. */
  template <typename Fn>
  auto onHost(Fn fn) {
    decltype(fn()) result{};
    runInNamespace(host_->name(), [&] { result = fn(); });
    return result;
  }

  NetlinkPtr netlink_ = makeLinuxNetlink();
  std::unique_ptr<NetworkNamespace> host_, c1_, c2_;
};

TEST_F(NetlinkTest, WiresAVethIntoANamespaceByPath) {
  const VethSpec spec = specFor("container-one", "10.20.0.2");
  auto wired = onHost([&] {
    return netlink_->wireContainer(spec, NamespaceRef::ofPath("/run/netns/" + c1_->name()));
  });
  ASSERT_TRUE(wired.has_value()) << wired.error().message;

  const auto addrs = ipJson(*c1_, {"addr", "show", "dev", "eth0"});
  ASSERT_EQ(addrs.size(), 1U);
  EXPECT_EQ(addrs[0].at("mtu"), 1400);
  EXPECT_EQ(addrs[0].at("address"), endpointNames("container-one").macString());
  EXPECT_EQ(addrs[0].at("operstate"), "UP");
  const auto v4 = inetAddresses(addrs[0]);
  ASSERT_EQ(v4.size(), 1U);
  EXPECT_EQ(v4[0].at("local"), "10.20.0.2");
  EXPECT_EQ(v4[0].at("prefixlen"), 24);
  EXPECT_EQ(v4[0].at("broadcast"), "10.20.0.255");

  const auto routes = ipJson(*c1_, {"route", "show", "default"});
  ASSERT_EQ(routes.size(), 1U);
  EXPECT_EQ(routes[0].at("gateway"), "10.20.0.1");
  EXPECT_EQ(routes[0].at("dev"), "eth0");

  const auto lo = ipJson(*c1_, {"link", "show", "lo"});
  EXPECT_NE(lo[0].at("flags").dump().find("UP"), std::string::npos);

  const auto hostEnd = ipJson(*host_, {"link", "show", spec.hostName});
  ASSERT_EQ(hostEnd.size(), 1U);
  EXPECT_EQ(hostEnd[0].at("mtu"), 1400);
  EXPECT_NE(hostEnd[0].at("flags").dump().find("UP"), std::string::npos);
  // Nothing was left under the temporary name, on either side.
  EXPECT_TRUE(ipJson(*c1_, {"link", "show"}).dump().find(spec.peerName) == std::string::npos);

  auto features = c1_->run({"ethtool", "-k", "eth0"});
  EXPECT_NE(features.output.find("tx-checksumming: off"), std::string::npos) << features.output;
}

TEST_F(NetlinkTest, WiresIntoTheNamespaceOfAProcess) {
  const pid_t sleeper =
      testing::spawnProgram({"ip", "netns", "exec", c2_->name(), "sleep", "60"}, "/dev/null");
  ASSERT_TRUE(testing::waitUntil(
      [&] {
        char buf[256] = {};
        const std::string link = "/proc/" + std::to_string(sleeper) + "/ns/net";
        ssize_t n = readlink(link.c_str(), buf, sizeof buf - 1);
        char mine[256] = {};
        ssize_t m = readlink("/proc/self/ns/net", mine, sizeof mine - 1);
        return n > 0 && m > 0 && std::string(buf, n) != std::string(mine, m);
      },
      std::chrono::seconds(5)));
  VethSpec spec = specFor("by-pid", "10.20.0.3");
  spec.disableTxChecksum = false;
  auto wired = onHost([&] { return netlink_->wireContainer(spec, NamespaceRef::ofPid(sleeper)); });
  testing::stopProgram(sleeper);
  ASSERT_TRUE(wired.has_value()) << wired.error().message;
  const auto addrs = ipJson(*c2_, {"addr", "show", "dev", "eth0"});
  ASSERT_EQ(addrs.size(), 1U);
  EXPECT_EQ(inetAddresses(addrs[0]).at(0).at("local"), "10.20.0.3");
  auto features = c2_->run({"ethtool", "-k", "eth0"});
  EXPECT_NE(features.output.find("tx-checksumming: on"), std::string::npos) << features.output;
}

TEST_F(NetlinkTest, RewiringIsIdempotentAndDeleteRemovesBothEnds) {
  const VethSpec spec = specFor("again", "10.20.0.4");
  const auto ns = NamespaceRef::ofPath("/run/netns/" + c1_->name());
  for (int i = 0; i < 2; ++i) {
    auto wired = onHost([&] { return netlink_->wireContainer(spec, ns); });
    ASSERT_TRUE(wired.has_value()) << wired.error().message;
  }
  EXPECT_EQ(ipJson(*c1_, {"link", "show", "type", "veth"}).size(), 1U);
  EXPECT_EQ(ipJson(*host_, {"link", "show", "type", "veth"}).size(), 1U);
  EXPECT_TRUE(onHost([&] { return netlink_->linkExists(spec.hostName); }).value());
  EXPECT_EQ(onHost([&] { return netlink_->linkInfo(spec.hostName); }).value().mtu, 1400U);

  for (int i = 0; i < 2; ++i) {
    auto deleted = onHost([&] { return netlink_->deleteLink(spec.hostName); });
    ASSERT_TRUE(deleted.has_value()) << deleted.error().message;
  }
  EXPECT_FALSE(onHost([&] { return netlink_->linkExists(spec.hostName); }).value());
  EXPECT_EQ(ipJson(*c1_, {"link", "show", "type", "veth"}).size(), 0U);  // the peer went too
}

TEST_F(NetlinkTest, AVanishedNamespaceFailsAndLeavesNothing) {
  const VethSpec spec = specFor("gone", "10.20.0.5");
  auto wired = onHost([&] {
    return netlink_->wireContainer(spec, NamespaceRef::ofPath("/run/netns/ovsplane-no-such-ns"));
  });
  ASSERT_FALSE(wired.has_value());
  EXPECT_EQ(wired.error().code, ErrorCode::NotFound);
  EXPECT_NE(wired.error().message.find("ovsplane-no-such-ns"), std::string::npos);
  EXPECT_EQ(ipJson(*host_, {"link", "show", "type", "veth"}).size(), 0U);
}

TEST_F(NetlinkTest, TheCallersNamespaceNeverChanges) {
  const VethSpec spec = specFor("caller-ns", "10.20.0.6");
  std::string before;
  std::string after;
  auto wired = onHost([&] {
    char link[256] = {};
    before.assign(link, readlink("/proc/thread-self/ns/net", link, sizeof link - 1));
    auto result = netlink_->wireContainer(spec, NamespaceRef::ofPath("/run/netns/" + c1_->name()));
    after.assign(link, readlink("/proc/thread-self/ns/net", link, sizeof link - 1));
    return result;
  });
  ASSERT_TRUE(wired.has_value()) << wired.error().message;
  EXPECT_FALSE(before.empty());
  EXPECT_EQ(before, after);
  // And the host end is where the caller was: in the host namespace, not the container's.
  EXPECT_EQ(ipJson(*host_, {"link", "show", spec.hostName}).size(), 1U);
}

TEST_F(NetlinkTest, TwoWiredNamespacesPingThroughABridge) {
  const VethSpec a = specFor("ping-a", "10.20.0.11");
  const VethSpec b = specFor("ping-b", "10.20.0.12");
  ASSERT_TRUE(onHost([&] {
                return netlink_->wireContainer(a,
                                               NamespaceRef::ofPath("/run/netns/" + c1_->name()));
              }).has_value());
  ASSERT_TRUE(onHost([&] {
                return netlink_->wireContainer(b,
                                               NamespaceRef::ofPath("/run/netns/" + c2_->name()));
              }).has_value());
  for (const auto& cmd :
       std::vector<std::vector<std::string>>{{"ip", "link", "add", "br0", "type", "bridge"},
                                             {"ip", "link", "set", a.hostName, "master", "br0"},
                                             {"ip", "link", "set", b.hostName, "master", "br0"},
                                             {"ip", "link", "set", "br0", "up"}}) {
    auto result = host_->run(cmd);
    ASSERT_EQ(result.exitCode, 0) << result.output;
  }
  auto ping = c1_->run({"ping", "-c", "2", "-W", "2", "10.20.0.12"});
  EXPECT_EQ(ping.exitCode, 0) << ping.output;
  auto neighbours = ipJson(*c1_, {"neigh", "show", "10.20.0.12"});
  ASSERT_EQ(neighbours.size(), 1U);
  EXPECT_EQ(neighbours[0].at("lladdr"), endpointNames("ping-b").macString());
}

TEST_F(NetlinkTest, TheHostEndAnswersNoArpForTheHostsAddresses) {
  const VethSpec spec = specFor("quiet-end", "10.20.0.21");
  ASSERT_TRUE(onHost([&] {
                return netlink_->wireContainer(spec,
                                               NamespaceRef::ofPath("/run/netns/" + c1_->name()));
              }).has_value());
  auto ignore = host_->run({"cat", "/proc/sys/net/ipv4/conf/" + spec.hostName + "/arp_ignore"});
  ASSERT_EQ(ignore.exitCode, 0) << ignore.output;
  EXPECT_EQ(ignore.output, "8\n");
}

TEST_F(NetlinkTest, AGatewayHoldsItsOneAddressIdempotently) {
  // (No dummy module on every kernel: a veth pair with its peer up stands for the gateway port.)
  ASSERT_EQ(host_
                ->run({"ip", "link", "add", "gw0", "address", "02:6f:76:00:00:07", "type", "veth",
                       "peer", "name", "gw0peer"})
                .exitCode,
            0);
  ASSERT_EQ(host_->run({"ip", "link", "set", "gw0peer", "up"}).exitCode, 0);
  auto sole = [&] {
    return onHost([&] { return netlink_->ensureSoleAddress("gw0", ip("10.30.0.1"), 24); });
  };
  auto first = sole();
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_TRUE(*first);
  auto again = sole();
  ASSERT_TRUE(again.has_value());
  EXPECT_FALSE(*again) << "already so: nothing to change";
  // An address someone else added goes; ours stays.
  ASSERT_EQ(host_->run({"ip", "addr", "add", "10.31.0.9/16", "dev", "gw0"}).exitCode, 0);
  auto cleaned = sole();
  ASSERT_TRUE(cleaned.has_value());
  EXPECT_TRUE(*cleaned);
  auto links = ipJson(*host_, {"addr", "show", "dev", "gw0"});
  ASSERT_EQ(links.size(), 1U);
  const auto inet = inetAddresses(links[0]);
  ASSERT_EQ(inet.size(), 1U) << links.dump();
  EXPECT_EQ(inet[0].at("local"), "10.30.0.1");
  EXPECT_EQ(inet[0].at("prefixlen"), 24);
  EXPECT_EQ(inet[0].at("broadcast"), "10.30.0.255");
  EXPECT_NE(links[0].at("flags").dump().find("UP"), std::string::npos) << links.dump();
  auto route = host_->run({"ip", "route", "get", "10.30.0.77"});
  EXPECT_NE(route.output.find("dev gw0"), std::string::npos) << route.output;

  auto info = onHost([&] { return netlink_->linkInfo("gw0"); });
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->mac, (std::array<uint8_t, 6>{0x02, 0x6f, 0x76, 0x00, 0x00, 0x07}));

  auto flushed = onHost([&] { return netlink_->flushAddresses("gw0"); });
  ASSERT_TRUE(flushed.has_value());
  EXPECT_TRUE(*flushed);
  EXPECT_TRUE(inetAddresses(ipJson(*host_, {"addr", "show", "dev", "gw0"})[0]).empty());
  auto none = onHost([&] { return netlink_->flushAddresses("gw0"); });
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(*none);
  auto missing =
      onHost([&] { return netlink_->ensureSoleAddress("nosuch0", ip("10.30.0.1"), 24); });
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::NotFound);
  auto missingFlush = onHost([&] { return netlink_->flushAddresses("nosuch0"); });
  EXPECT_TRUE(missingFlush.has_value());
}

}  // namespace
}  // namespace ovsplane::netdrv
