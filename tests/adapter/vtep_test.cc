#include "adapter/vtep.h"

#include <gtest/gtest.h>

#include <fstream>

namespace ovsplane::adapter {
namespace {

TEST(Vtep, TheFirstNetworkRemoteOfAList) {
  EXPECT_EQ(firstNetworkRemoteHost("tcp:10.0.0.11:6641,tcp:10.0.0.12:6641"), "10.0.0.11");
  EXPECT_EQ(firstNetworkRemoteHost("unix:/run/s.sock,ssl:10.0.0.13:6641"), "10.0.0.13");
  EXPECT_EQ(firstNetworkRemoteHost("tcp:[fd00::1]:6641"), "fd00::1");
  EXPECT_EQ(firstNetworkRemoteHost("unix:/var/run/ovsplane/state.sock"), std::nullopt);
  EXPECT_EQ(firstNetworkRemoteHost(""), std::nullopt);
}

TEST(Vtep, TheSourceAddressOfTheRoute) {
  // Loopback is routed to itself in every namespace; no packet is sent.
  EXPECT_EQ(sourceAddressTowards("127.0.0.1"), "127.0.0.1");
  // A loopback route is no tunnel endpoint for other hosts.
  auto loopback = detectVtepIp("unix:/x.sock,tcp:127.0.0.1:6641");
  ASSERT_FALSE(loopback.has_value());
  EXPECT_NE(loopback.error().find("loopback"), std::string::npos) << loopback.error();
  EXPECT_FALSE(sourceAddressTowards("not-an-ip").has_value());
  auto noTcp = detectVtepIp("unix:/var/run/ovsplane/state.sock");
  ASSERT_FALSE(noTcp.has_value());
  EXPECT_NE(noTcp.error().find("give the underlay address with --vtep-ip"), std::string::npos);
}

TEST(OverlayMtu, ANumberAutoOrAClearError) {
  EXPECT_EQ(resolveOverlayMtu("1400", "", "")->mtu, 1400U);
  EXPECT_EQ(resolveOverlayMtu("1400", "", "")->reason, "--mtu");
  for (const char* bad : {"575", "8951", "14x", "", "-1"}) {
    auto refused = resolveOverlayMtu(bad, "", "");
    ASSERT_FALSE(refused.has_value()) << bad;
    EXPECT_NE(refused.error().find("expected auto or a number"), std::string::npos);
  }
  // No underlay (a unix state database, no VTEP): a 1500-byte network's overlay.
  auto single = resolveOverlayMtu("auto", "", "unix:/run/ovsplane/state.sock");
  ASSERT_TRUE(single.has_value()) << single.error();
  EXPECT_EQ(single->mtu, kFallbackOverlayMtu);
}

TEST(OverlayMtu, AutoIsTheVtepInterfacesMtuMinus50) {
  // Loopback holds 127.0.0.1 in every namespace: its MTU, read independently from sysfs.
  auto lo = interfaceMtuOf("127.0.0.1");
  ASSERT_TRUE(lo.has_value()) << lo.error();
  EXPECT_EQ(lo->name, "lo");
  std::ifstream sysfs("/sys/class/net/lo/mtu");
  unsigned expected = 0;
  sysfs >> expected;
  EXPECT_EQ(lo->mtu, expected);
  auto overlay = resolveOverlayMtu("auto", "127.0.0.1", "");
  ASSERT_TRUE(overlay.has_value()) << overlay.error();
  EXPECT_EQ(overlay->mtu, expected - 50);
  EXPECT_EQ(overlay->reason, "lo MTU " + std::to_string(expected) + " - 50");
  // An address nobody holds is named.
  auto nobody = resolveOverlayMtu("auto", "192.0.2.77", "");
  ASSERT_FALSE(nobody.has_value());
  EXPECT_NE(nobody.error().find("no interface holds 192.0.2.77"), std::string::npos);
}

}  // namespace
}  // namespace ovsplane::adapter
