// unit: every module links into one binary and answers a basic call.
#include <gtest/gtest.h>

#include <sstream>

#include "adapter/cli.h"
#include "ipam/ipv4.h"
#include "netdrv/naming.h"
#include "ovsdb/schema_probe.h"

namespace ovsplane {
namespace {

TEST(Smoke, EveryModuleLinks) {
  auto subnet = ipam::Subnet::parse("10.0.6.1/24");
  ASSERT_TRUE(subnet.has_value());
  EXPECT_EQ(subnet->toString(), "10.0.6.0/24");
  EXPECT_EQ(ovsdb::databaseName(ovsdb::Database::OpenVSwitch), "Open_vSwitch");
  EXPECT_EQ(ovsdb::databaseName(ovsdb::Database::State), "OVSPlane");
  EXPECT_EQ(netdrv::bridgeName(4242), "ovpbr4242");

  std::ostringstream out;
  std::ostringstream err;
  const char* argv[] = {"ovsplane", "--version"};
  EXPECT_EQ(adapter::runCli(2, argv, out, err), 0);
  EXPECT_NE(out.str().find("ovsplane "), std::string::npos) << out.str();
}

}  // namespace
}  // namespace ovsplane
