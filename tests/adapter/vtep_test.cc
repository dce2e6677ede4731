#include "adapter/vtep.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace ovsplane::adapter
