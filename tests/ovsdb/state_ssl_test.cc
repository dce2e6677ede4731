// ovsdb-labelled: the state database over ssl: against a real ovsdb-server serving pssl:, with
// certificates made by a throw-away CA. Rows are checked independently with ovsdb-client on the
// server's unix socket. (libopenvswitch holds one TLS identity per process; ctest runs every
// case in its own process.)
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ovsdb/state_store.h"
#include "tests/support/ovsdb_server.h"
#include "tests/support/test_pki.h"

namespace ovsplane::ovsdb {
namespace {

using namespace std::chrono_literals;
using testing::IssuedCertificate;
using testing::OvsdbServer;
using testing::ServerTls;
using testing::TestPki;

size_t networkRows(const OvsdbServer& server) {
  const auto result =
      testing::runCommand({"ovsdb-client", "--timeout=10", "transact", server.remote(),
                           R"(["OVSPlane",{"op":"select","table":"Network","where":[]}])"});
  EXPECT_EQ(result.exitCode, 0) << result.output;
  return nlohmann::json::parse(result.output).at(0).at("rows").size();
}

class StateOverSsl : public ::testing::Test {
 protected:
  TestPki pki_;
  IssuedCertificate serverCert_ = pki_.issue("state-db");
  OvsdbServer server_{testing::stateSchemaPath(),
                      ServerTls{serverCert_.key, serverCert_.cert, pki_.caCert()}};

  ClientOptions sslOptions(const IssuedCertificate& mine, const std::filesystem::path& ca,
                           std::chrono::milliseconds timeout) const {
    return ClientOptions{.remote = server_.sslRemote(),
                         .ssl = {mine.key.string(), mine.cert.string(), ca.string()},
                         .leaderOnly = false,
                         .timeout = timeout};
  }
};

TEST_F(StateOverSsl, AClientWithACertificateOfTheCaReadsAndWrites) {
  StateStore store(sslOptions(pki_.issue("host-a"), pki_.caCert(), 20s), "host-a");
  auto network = store.ensureNetwork(*ipam::Subnet::parse("10.0.6.1/24"));
  ASSERT_TRUE(network.has_value()) << network.error().message;
  ASSERT_TRUE(store.registerHost("host-a", "192.168.77.1").has_value());
  EXPECT_EQ(networkRows(server_), 1U);
}

TEST_F(StateOverSsl, ACertificateOfAnotherCaIsRefused) {
  TestPki other("other");
  StateStore store(sslOptions(other.issue("intruder"), pki_.caCert(), 3s), "intruder");
  auto network = store.ensureNetwork(*ipam::Subnet::parse("10.0.6.1/24"));
  ASSERT_FALSE(network.has_value()) << "a client the CA did not sign wrote to the database";
  EXPECT_EQ(networkRows(server_), 0U);
}

TEST_F(StateOverSsl, AServerOfAnotherCaIsNotTrusted) {
  // The client holds a good certificate but trusts another CA: it must not talk to this server
  // (a host on the underlay posing as the state database learns nothing and serves nothing).
  TestPki other("other");
  StateStore store(sslOptions(pki_.issue("host-a"), other.caCert(), 3s), "host-a");
  EXPECT_FALSE(store.networks().has_value());
}

TEST_F(StateOverSsl, PlainTcpToTheSslPortGetsNothing) {
  StateStore store(
      ClientOptions{.remote = server_.plainToSslPort(), .leaderOnly = false, .timeout = 3s},
      "plain");
  EXPECT_FALSE(store.ensureNetwork(*ipam::Subnet::parse("10.0.6.1/24")).has_value());
  EXPECT_EQ(networkRows(server_), 0U);
}

}  // namespace
}  // namespace ovsplane::ovsdb
