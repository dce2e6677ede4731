// How the state database is reached: which remotes and TLS files are accepted before anything
// connects, with messages that name the flag and the file. Certificates from a throw-away CA
// (the openssl command).
#include "adapter/state_db_access.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/test_pki.h"

namespace ovsplane::adapter {
namespace {

using ::testing::HasSubstr;

class StateDbAccessTest : public ::testing::Test {
 protected:
  testing::TestPki pki_;
  testing::IssuedCertificate mine_ = pki_.issue("host-a");
  StateDbAccess ssl(const std::string& remote = "ssl:192.168.77.1:6641") const {
    return {remote, mine_.key.string(), mine_.cert.string(), pki_.caCert().string()};
  }
};

TEST_F(StateDbAccessTest, PlainRemotesNeedNoFiles) {
  EXPECT_TRUE(checkStateDbAccess({"unix:/run/ovsplane/state.sock", "", "", ""}).has_value());
  EXPECT_TRUE(
      checkStateDbAccess({"tcp:192.168.77.1:6641,tcp:192.168.77.2:6641", "", "", ""}).has_value());
  EXPECT_TRUE(hasPlainTcpRemote("unix:/x,tcp:192.168.77.1:6641"));
  EXPECT_FALSE(hasPlainTcpRemote("ssl:192.168.77.1:6641,unix:/x"));
}

TEST_F(StateDbAccessTest, SslRemotesWithAMatchingIdentityAreAccepted) {
  auto checked = checkStateDbAccess(ssl("ssl:192.168.77.1:6641,ssl:192.168.77.2:6641"));
  EXPECT_TRUE(checked.has_value()) << checked.error();
  EXPECT_EQ(ssl().ssl().privateKey, mine_.key.string());
}

TEST_F(StateDbAccessTest, AnSslRemoteWithoutEveryFileIsRefused) {
  auto access = ssl();
  access.ca.clear();
  auto checked = checkStateDbAccess(access);
  ASSERT_FALSE(checked.has_value());
  EXPECT_THAT(checked.error(), HasSubstr("--state-db-ca"));
}

TEST_F(StateDbAccessTest, FilesWithoutAnSslRemoteAreRefused) {
  // A typo (tcp: for ssl:) must not silently talk in plain text.
  auto checked = checkStateDbAccess(ssl("tcp:192.168.77.1:6641"));
  ASSERT_FALSE(checked.has_value());
  EXPECT_THAT(checked.error(), HasSubstr("ssl:"));
}

TEST_F(StateDbAccessTest, UnreadableOrMismatchedFilesNameTheFlagAndTheFile) {
  auto missing = ssl();
  missing.cert = "/nonexistent/cert.pem";
  auto checked = checkStateDbAccess(missing);
  ASSERT_FALSE(checked.has_value());
  EXPECT_THAT(checked.error(), HasSubstr("--state-db-cert /nonexistent/cert.pem"));

  auto otherKey = ssl();
  otherKey.key = pki_.issue("host-b").key.string();
  checked = checkStateDbAccess(otherKey);
  ASSERT_FALSE(checked.has_value());
  EXPECT_THAT(checked.error(), HasSubstr("is not the key of --state-db-cert"));

  auto garbageCa = ssl();
  garbageCa.ca = mine_.key.string() + ".garbage";
  std::ofstream(garbageCa.ca) << "not a certificate\n";
  checked = checkStateDbAccess(garbageCa);
  ASSERT_FALSE(checked.has_value());
  EXPECT_THAT(checked.error(), HasSubstr("--state-db-ca"));
}

TEST_F(StateDbAccessTest, UnknownSchemesAreRefused) {
  for (const char* remote :
       {"http://192.168.77.1:6641", "ssl:", "", "unix:/x,,tcp:1.2.3.4:1", "pssl:6641"}) {
    auto checked = checkStateDbAccess({remote, "", "", ""});
    EXPECT_FALSE(checked.has_value()) << remote;
  }
}

}  // namespace
}  // namespace ovsplane::adapter
