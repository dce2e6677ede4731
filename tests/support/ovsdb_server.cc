#include "tests/support/ovsdb_server.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tests/support/ovsdb_cluster.h"

namespace ovsplane::testing {

std::filesystem::path vswitchSchemaPath() { return OVSPLANE_TEST_VSWITCH_SCHEMA; }
std::filesystem::path stateSchemaPath() { return OVSPLANE_TEST_STATE_SCHEMA; }

OvsdbServer::OvsdbServer(const std::filesystem::path& schema, std::optional<ServerTls> tls)
    : socket_(dir_.path() / "db.sock"), tls_(std::move(tls)) {
  if (tls_) sslPort_ = freeLoopbackPort();
  const auto db = dir_.path() / "conf.db";
  const CommandResult created = runCommand({"ovsdb-tool", "create", db.string(), schema.string()});
  if (created.exitCode != 0) {
    throw std::runtime_error("ovsdb-tool create failed: " + created.output);
  }
  start();
}

OvsdbServer::~OvsdbServer() { stop(); }

void OvsdbServer::start() {
  const auto& dir = dir_.path();
  std::filesystem::remove(socket_);
  std::vector<std::string> argv = {"ovsdb-server",
                                   (dir / "conf.db").string(),
                                   "--remote=punix:" + socket_.string(),
                                   "--pidfile=" + (dir / "ovsdb-server.pid").string(),
                                   "--unixctl=" + (dir / "ovsdb-server.ctl").string(),
                                   "--log-file=" + (dir / "ovsdb-server.log").string(),
                                   "--no-chdir"};
  if (tls_) {
    argv.insert(argv.end(),
                {"--remote=pssl:" + std::to_string(sslPort_) + ":127.0.0.1",
                 "--private-key=" + tls_->key.string(), "--certificate=" + tls_->cert.string(),
                 "--ca-cert=" + tls_->ca.string()});
  }
  pid_ = spawnProgram(argv, dir / "ovsdb-server.out");
  if (!waitUntil([&] { return std::filesystem::exists(socket_); }, std::chrono::seconds(10))) {
    std::ifstream log(dir / "ovsdb-server.log");
    std::stringstream text;
    text << log.rdbuf();
    stop();
    throw std::runtime_error("ovsdb-server did not create its socket: " + text.str());
  }
}

void OvsdbServer::stop() {
  stopProgram(pid_);
  pid_ = -1;
}

}  // namespace ovsplane::testing

#include <unistd.h>

#include <atomic>

namespace ovsplane::testing {

OvsVswitchd::OvsVswitchd(const OvsdbServer& server) {
  const auto& dir = server.directory();
  // A private run directory: bridges' .mgmt sockets must not land in /var/run/openvswitch.
  pid_ = spawnProgram(
      {"env", "OVS_RUNDIR=" + dir.string(), "OVS_DBDIR=" + dir.string(),
       "OVS_LOGDIR=" + dir.string(), "ip", "netns", "exec", netns_.name(), "ovs-vswitchd",
       server.remote(), "--pidfile=" + (dir / "ovs-vswitchd.pid").string(),
       "--unixctl=" + (dir / "ovs-vswitchd.ctl").string(),
       "--log-file=" + (dir / "ovs-vswitchd.log").string(), "--no-chdir", "-vconsole:off"},
      dir / "ovs-vswitchd.out");
}

OvsVswitchd::~OvsVswitchd() { stopProgram(pid_, std::chrono::milliseconds(5000)); }

}  // namespace ovsplane::testing
