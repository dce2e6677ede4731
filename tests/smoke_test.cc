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

namespace ovsplane {
namespace {

/** Runs `ovsplane ARGS...` in-process; returns the exit code, stderr in `err`. */
int runOvsplane(std::vector<const char*> args, std::string& err) {
  args.insert(args.begin(), "ovsplane");
  std::ostringstream out;
  std::ostringstream cliErr;
  ::testing::internal::CaptureStderr();
  const int rc = adapter::runCli(static_cast<int>(args.size()), args.data(), out, cliErr);
  err = cliErr.str() + ::testing::internal::GetCapturedStderr();
  return rc;
}

TEST(Security, TcpListenersWithoutAuthenticationAreRefused) {
  // Refused before anything starts (no database, Docker or OVS is reached).
  std::string err;
  EXPECT_EQ(runOvsplane({"proxy", "--proxy-listen", "tcp:127.0.0.1:0", "--docker",
                         "unix:///nonexistent.sock"},
                        err),
            2);
  EXPECT_NE(err.find("needs TLS with client verification"), std::string::npos) << err;
  EXPECT_EQ(runOvsplane({"adapter", "--listen", "tcp:127.0.0.1:0"}, err), 2);
  EXPECT_NE(err.find("--insecure-tcp"), std::string::npos) << err;
}

}  // namespace
}  // namespace ovsplane
