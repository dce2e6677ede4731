#pragma once

#include <filesystem>
#include <string>

#include "tests/support/process.h"

namespace ovsplane::testing {

/** A key and the certificate issued for it (PEM files). */
struct IssuedCertificate {
  std::filesystem::path key;
  std::filesystem::path cert;
};

/**
 * A throw-away certificate authority in a temp dir, made with the openssl command (RSA 2048,
 * valid two days): issue() signs a key for a name. Throws std::runtime_error with openssl's
 * output when a command fails.
 */
class TestPki {
 public:
  explicit TestPki(const std::string& name = "ca");
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  const std::filesystem::path& caCert() const { return caCert_; }
  /** A new key and a certificate for CN=`name`, signed by this CA. */
  IssuedCertificate issue(const std::string& name);

 private:
  TempDir dir_;
  std::filesystem::path caKey_;
  std::filesystem::path caCert_;
};

}  // namespace ovsplane::testing
