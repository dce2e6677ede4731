// ovsdb-labelled: the state database as NetworkCatalog, against a real, private ovsdb-server.
#include <gtest/gtest.h>

#include <algorithm>

#include "netdrv/seams.h"
#include "ovsdb/state_store.h"
#include "tests/support/ovsdb_server.h"

namespace ovsplane::netdrv {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> vtepIps(const std::vector<PeerHost>& peers) {
  std::vector<std::string> ips;
  for (const auto& peer : peers) ips.push_back(peer.vtepIp);
  std::sort(ips.begin(), ips.end());
  return ips;
}

TEST(StateCatalog, PeersAreTheOtherHostsOnePerTunnelAddress) {
  testing::OvsdbServer server(testing::stateSchemaPath());
  auto store = std::make_shared<ovsdb::StateStore>(
      ovsdb::ClientOptions{.remote = server.remote(), .leaderOnly = false, .timeout = 10s}, "h0");
  ASSERT_TRUE(store->registerHost("h0", "192.168.77.10").has_value());
  ASSERT_TRUE(store->registerHost("h1", "192.168.77.1").has_value());
  ASSERT_TRUE(store->registerHost("h3", "192.168.77.3").has_value());
  auto catalog = makeStateCatalog(store, "h0");
  auto peers = catalog->peers();
  ASSERT_TRUE(peers.has_value()) << peers.error().message;
  EXPECT_EQ(vtepIps(*peers), (std::vector<std::string>{"192.168.77.1", "192.168.77.3"}));

  // h1 renamed h2 on the same address, its old row not yet stale: one tunnel, not two ports of
  // one name in one batch.
  ASSERT_TRUE(store->registerHost("h2", "192.168.77.1").has_value());
  peers = catalog->peers();
  ASSERT_TRUE(peers.has_value()) << peers.error().message;
  EXPECT_EQ(vtepIps(*peers), (std::vector<std::string>{"192.168.77.1", "192.168.77.3"}));
}

}  // namespace
}  // namespace ovsplane::netdrv
