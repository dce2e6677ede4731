#include "tests/support/test_pki.h"

#include <stdexcept>

namespace ovsplane::testing {
namespace {

void run(const std::vector<std::string>& argv) {
  const CommandResult result = runCommand(argv);
  if (result.exitCode != 0) {
    throw std::runtime_error(argv.at(0) + " " + argv.at(1) + " failed: " + result.output);
  }
}

}  // namespace

TestPki::TestPki(const std::string& name)
    : caKey_(dir_.path() / "ca-key.pem"), caCert_(dir_.path() / "ca.pem") {
  run({"openssl", "req", "-x509", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout",
       caKey_.string(), "-subj", "/CN=ovsplane test " + name, "-days", "2", "-out",
       caCert_.string()});
}

IssuedCertificate TestPki::issue(const std::string& name) {
  IssuedCertificate issued{dir_.path() / (name + "-key.pem"), dir_.path() / (name + ".pem")};
  const auto request = dir_.path() / (name + ".csr");
  run({"openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", issued.key.string(),
       "-subj", "/CN=" + name, "-out", request.string()});
  run({"openssl", "x509", "-req", "-in", request.string(), "-CA", caCert_.string(), "-CAkey",
       caKey_.string(), "-CAcreateserial", "-days", "2", "-out", issued.cert.string()});
  return issued;
}

}  // namespace ovsplane::testing
