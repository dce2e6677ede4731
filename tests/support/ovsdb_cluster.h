#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace ovsplane::testing {

/**
 * A Raft-clustered OVSDB database on loopback: `members` ovsdb-servers in one temp dir, each with
 * its own Raft port and client port (tcp:127.0.0.1). Stopped (by pid) on destruction.
 */
class OvsdbCluster {
 public:
  OvsdbCluster(const std::filesystem::path& schema, const std::string& database, int members = 3);
  ~OvsdbCluster();
  OvsdbCluster(const OvsdbCluster&) = delete;
  OvsdbCluster& operator=(const OvsdbCluster&) = delete;

  /** All members' client remotes, comma-separated (what a client is given). */
  std::string remote() const;
  /** One member's client remote. */
  std::string memberRemote(int member) const;
  /** The current leader's index, or -1 when no live member reports itself leader. */
  int leader() const;
  /** kill -9 a member by pid and reap it. */
  void killMember(int member);
  bool alive(int member) const { return pids_.at(member) > 0; }
  int size() const { return static_cast<int>(pids_.size()); }

 private:
  void startMember(int member);

  TempDir dir_;
  std::string database_;
  std::vector<int> raftPorts_;
  std::vector<int> clientPorts_;
  std::vector<pid_t> pids_;
};

/** A free TCP port on 127.0.0.1 (bound and released; fine for tests on loopback). */
int freeLoopbackPort();

}  // namespace ovsplane::testing
