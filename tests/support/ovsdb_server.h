#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>

#include "tests/support/netns.h"
#include "tests/support/process.h"

namespace ovsplane::testing {

/** The schemas the build compiled IDLs for (paths set by tests/CMakeLists.txt). */
std::filesystem::path vswitchSchemaPath();
std::filesystem::path stateSchemaPath();

/** The TLS identity of a server (ovsdb-server's --private-key, --certificate, --ca-cert). */
struct ServerTls {
  std::filesystem::path key;
  std::filesystem::path cert;
  std::filesystem::path ca;
};

/**
 * A private ovsdb-server in its own temp dir serving a fresh database made from `schema` on a
 * unix socket, as Open vSwitch's own tests do; with `tls`, also on pssl: at 127.0.0.1 (clients
 * must present a certificate signed by tls->ca). Stopped (by pid) and removed on destruction.
 * Throws std::runtime_error when it cannot start (the message includes its log).
 */
class OvsdbServer {
 public:
  explicit OvsdbServer(const std::filesystem::path& schema,
                       std::optional<ServerTls> tls = std::nullopt);
  ~OvsdbServer();
  OvsdbServer(const OvsdbServer&) = delete;
  OvsdbServer& operator=(const OvsdbServer&) = delete;

  /** "unix:<dir>/db.sock" */
  std::string remote() const { return "unix:" + socket_.string(); }
  /** "ssl:127.0.0.1:<port>" (with tls only). */
  std::string sslRemote() const { return "ssl:127.0.0.1:" + std::to_string(sslPort_); }
  /** "tcp:127.0.0.1:<port>": plain text to the TLS port (with tls only). */
  std::string plainToSslPort() const { return "tcp:127.0.0.1:" + std::to_string(sslPort_); }
  const std::filesystem::path& directory() const { return dir_.path(); }
  pid_t pid() const { return pid_; }

  void start();  ///< (re)starts the server on the same database file
  void stop();   ///< SIGTERM and reap; the database file stays

 private:
  TempDir dir_;
  std::filesystem::path socket_;
  std::optional<ServerTls> tls_;
  int sslPort_ = 0;
  pid_t pid_ = -1;
};

}  // namespace ovsplane::testing

namespace ovsplane::testing {

/**
 * ovs-vswitchd on the userspace datapath, in its own network namespace, against `server`.
 * Stopped (by pid) and its namespace deleted on destruction. Requires root.
 */
class OvsVswitchd {
 public:
  explicit OvsVswitchd(const OvsdbServer& server);
  ~OvsVswitchd();
  OvsVswitchd(const OvsVswitchd&) = delete;
  OvsVswitchd& operator=(const OvsVswitchd&) = delete;
  const NetworkNamespace& netns() const { return netns_; }

 private:
  NetworkNamespace netns_;
  pid_t pid_ = -1;
};

}  // namespace ovsplane::testing
