// netns-labelled: ovsplane's nftables table applied through libnftables inside a fresh network
// namespace (root), checked with the nft tool.
#include "netdrv/host_firewall.h"

#include <gtest/gtest.h>

#include "tests/support/netns.h"

namespace ovsplane::netdrv {
namespace {

using testing::NetworkNamespace;
using testing::runInNamespace;

ipam::Subnet subnet(const char* text) { return *ipam::Subnet::parse(text); }

class HostFirewallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::isRoot()) GTEST_SKIP() << "needs root: network namespaces";
    ns_ = std::make_unique<NetworkNamespace>();
  }
  Result<bool> apply(const FirewallPlan& plan) {
    Result<bool> result = false;
    runInNamespace(ns_->name(), [&] { result = firewall_->apply(plan); });
    return result;
  }
  std::string nft(std::vector<std::string> args) {
    args.insert(args.begin(), "nft");
    return ns_->run(args).output;
  }

  std::shared_ptr<HostFirewall> firewall_ = makeNftablesFirewall();
  std::unique_ptr<NetworkNamespace> ns_;
};

TEST_F(HostFirewallTest, OwnTableOnlyIdempotentRestoredAndRemovedWithTheLastNetwork) {
  // Someone else's table, which must survive everything below.
  ASSERT_EQ(ns_->run({"nft", "add", "table", "inet", "theirs"}).exitCode, 0);
  const FirewallPlan plan{.natNetworks = {subnet("10.40.0.1/24"), subnet("10.41.0.1/24")},
                          .gatewayNetworks = {subnet("10.40.0.1/24"), subnet("10.41.0.1/24")},
                          .isolate = true};
  auto first = apply(plan);
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_TRUE(*first);
  const std::string table = nft({"list", "table", "ip", "ovsplane"});
  EXPECT_NE(table.find("ip saddr 10.40.0.0/24 ip daddr != 10.40.0.0/24 masquerade"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("ip saddr 10.41.0.0/24 ip daddr != 10.41.0.0/24 masquerade"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("ip saddr @networks ip daddr @networks drop"), std::string::npos) << table;
  EXPECT_EQ(ns_->run({"cat", "/proc/sys/net/ipv4/ip_forward"}).output, "1\n");

  auto again = apply(plan);
  ASSERT_TRUE(again.has_value());
  EXPECT_FALSE(*again) << "the table already says so";

  ASSERT_EQ(ns_->run({"nft", "flush", "table", "ip", "ovsplane"}).exitCode, 0);
  auto restored = apply(plan);
  ASSERT_TRUE(restored.has_value());
  EXPECT_TRUE(*restored) << "a table emptied by someone else is rewritten";
  EXPECT_EQ(nft({"list", "table", "ip", "ovsplane"}), table);

  const FirewallPlan one{.natNetworks = {subnet("10.40.0.1/24")},
                         .gatewayNetworks = {subnet("10.40.0.1/24")},
                         .isolate = true};
  ASSERT_TRUE(apply(one).value_or(false));
  const std::string smaller = nft({"list", "table", "ip", "ovsplane"});
  EXPECT_EQ(smaller.find("10.41.0.0/24"), std::string::npos) << smaller;
  EXPECT_EQ(smaller.find("@networks"), std::string::npos) << "one network: nothing to isolate";

  ASSERT_TRUE(apply(FirewallPlan{}).value_or(false));
  const std::string tables = nft({"list", "tables"});
  EXPECT_EQ(tables.find("ovsplane"), std::string::npos) << tables;
  EXPECT_NE(tables.find("table inet theirs"), std::string::npos) << tables;
  auto idle = apply(FirewallPlan{});
  ASSERT_TRUE(idle.has_value());
  EXPECT_FALSE(*idle);
}

TEST(NftablesRuleset, SealedAndRoutedPlans) {
  EXPECT_EQ(nftablesRuleset(FirewallPlan{}), "");
  // Routing between networks allowed and no NAT: nothing to say.
  EXPECT_EQ(nftablesRuleset({.natNetworks = {},
                             .gatewayNetworks = {subnet("10.40.0.1/24"), subnet("10.41.0.1/24")},
                             .isolate = false}),
            "");
  const std::string isolatedOnly =
      nftablesRuleset({.natNetworks = {},
                       .gatewayNetworks = {subnet("10.40.0.1/24"), subnet("10.41.0.1/24")},
                       .isolate = true});
  EXPECT_NE(isolatedOnly.find("elements = { 10.40.0.0/24, 10.41.0.0/24 }"), std::string::npos)
      << isolatedOnly;
  EXPECT_EQ(isolatedOnly.find("masquerade"), std::string::npos) << isolatedOnly;
}

}  // namespace
}  // namespace ovsplane::netdrv
