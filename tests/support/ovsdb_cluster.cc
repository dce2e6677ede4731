#include "tests/support/ovsdb_cluster.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>

namespace ovsplane::testing {

int freeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t length = sizeof addr;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    if (fd >= 0) close(fd);
    throw std::runtime_error("cannot find a free loopback port");
  }
  close(fd);
  return ntohs(addr.sin_port);
}

OvsdbCluster::OvsdbCluster(const std::filesystem::path& schema, const std::string& database,
                           int members)
    : database_(database) {
  for (int i = 0; i < members; ++i) {
    raftPorts_.push_back(freeLoopbackPort());
    clientPorts_.push_back(freeLoopbackPort());
  }
  pids_.assign(members, -1);
  const auto db = [&](int i) { return (dir_.path() / ("db" + std::to_string(i))).string(); };
  const auto raft = [&](int i) { return "tcp:127.0.0.1:" + std::to_string(raftPorts_[i]); };
  CommandResult created =
      runCommand({"ovsdb-tool", "create-cluster", db(0), schema.string(), raft(0)});
  if (created.exitCode != 0) throw std::runtime_error("create-cluster: " + created.output);
  for (int i = 1; i < members; ++i) {
    CommandResult joined =
        runCommand({"ovsdb-tool", "join-cluster", db(i), database_, raft(i), raft(0)});
    if (joined.exitCode != 0) throw std::runtime_error("join-cluster: " + joined.output);
  }
  for (int i = 0; i < members; ++i) startMember(i);
  // Every member has joined and a leader exists.
  const bool ready = waitUntil(
      [&] {
        if (leader() < 0) return false;
        for (int i = 0; i < members; ++i) {
          CommandResult status =
              runCommand({"ovs-appctl", "-t", (dir_.path() / ("ctl" + std::to_string(i))).string(),
                          "cluster/status", database_});
          if (status.output.find("Status: cluster member") == std::string::npos) return false;
        }
        return true;
      },
      std::chrono::seconds(30));
  if (!ready) throw std::runtime_error("the Raft cluster did not form within 30 s");
}

OvsdbCluster::~OvsdbCluster() {
  for (pid_t pid : pids_) stopProgram(pid);
}

void OvsdbCluster::startMember(int i) {
  const auto& dir = dir_.path();
  const std::string n = std::to_string(i);
  pids_[i] = spawnProgram(
      {"ovsdb-server", (dir / ("db" + n)).string(),
       "--remote=ptcp:" + std::to_string(clientPorts_[i]) + ":127.0.0.1",
       "--pidfile=" + (dir / ("pid" + n)).string(), "--unixctl=" + (dir / ("ctl" + n)).string(),
       "--log-file=" + (dir / ("log" + n)).string(), "--no-chdir"},
      dir / ("out" + n));
}

std::string OvsdbCluster::remote() const {
  std::string out;
  for (size_t i = 0; i < clientPorts_.size(); ++i) {
    out += (i ? "," : "") + memberRemote(static_cast<int>(i));
  }
  return out;
}

std::string OvsdbCluster::memberRemote(int member) const {
  return "tcp:127.0.0.1:" + std::to_string(clientPorts_.at(member));
}

int OvsdbCluster::leader() const {
  for (size_t i = 0; i < pids_.size(); ++i) {
    if (pids_[i] <= 0) continue;
    CommandResult status =
        runCommand({"ovs-appctl", "-t", (dir_.path() / ("ctl" + std::to_string(i))).string(),
                    "cluster/status", database_});
    if (status.output.find("Role: leader") != std::string::npos) return static_cast<int>(i);
  }
  return -1;
}

void OvsdbCluster::killMember(int member) {
  const pid_t pid = pids_.at(member);
  if (pid > 0) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    pids_[member] = -1;
  }
}

}  // namespace ovsplane::testing
