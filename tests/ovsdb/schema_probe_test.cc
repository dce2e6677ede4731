// ovsdb-labelled: the libopenvswitch IDL against a real, private ovsdb-server.
#include "ovsdb/schema_probe.h"

#include <gtest/gtest.h>

#include "tests/support/ovsdb_server.h"

namespace ovsplane::ovsdb {
namespace {

using namespace std::chrono_literals;
using testing::OvsdbServer;

TEST(SchemaProbe, ReadsOpenVSwitchSchemaThroughTheIdl) {
  OvsdbServer server(testing::vswitchSchemaPath());
  auto schema = probeServerSchema(server.remote(), Database::OpenVSwitch, 10s);
  ASSERT_TRUE(schema.has_value()) << schema.error();
  EXPECT_EQ(schema->database, "Open_vSwitch");
  // The compiled-in part of vswitch.ovsschema: the server serves more (Controller, QoS, ...).
  EXPECT_EQ(schema->tables,
            (std::vector<std::string>{"Bridge", "Interface", "Open_vSwitch", "Port"}));
}

TEST(SchemaProbe, ReadsTheStateSchemaThroughTheIdl) {
  OvsdbServer server(testing::stateSchemaPath());
  auto schema = probeServerSchema(server.remote(), Database::State, 10s);
  ASSERT_TRUE(schema.has_value()) << schema.error();
  EXPECT_EQ(schema->database, "OVSPlane");
  EXPECT_EQ(schema->tables, (std::vector<std::string>{"Address", "Host", "Network"}));
}

TEST(SchemaProbe, DatabaseNotServedIsATimelyError) {
  OvsdbServer server(testing::stateSchemaPath());  // serves OVSPlane only
  const auto start = std::chrono::steady_clock::now();
  auto schema = probeServerSchema(server.remote(), Database::OpenVSwitch, 500ms);
  ASSERT_FALSE(schema.has_value());
  EXPECT_NE(schema.error().find("Open_vSwitch"), std::string::npos) << schema.error();
  EXPECT_NE(schema.error().find(server.remote()), std::string::npos) << schema.error();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(SchemaProbe, UnreachableServerIsATimelyError) {
  testing::TempDir dir;
  const std::string remote = "unix:" + (dir.path() / "nobody.sock").string();
  const auto start = std::chrono::steady_clock::now();
  auto schema = probeServerSchema(remote, Database::OpenVSwitch, 300ms);
  ASSERT_FALSE(schema.has_value());
  EXPECT_NE(schema.error().find(remote), std::string::npos) << schema.error();
  EXPECT_NE(schema.error().find("No such file or directory"), std::string::npos) << schema.error();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

}  // namespace
}  // namespace ovsplane::ovsdb
