#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace ovsplane::testing {

/** A temporary directory removed (recursively) on destruction. */
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/** Result of running a command to completion. */
struct CommandResult {
  int exitCode = -1;
  std::string output;  ///< stdout and stderr interleaved
};

/** Runs argv[0] (searched in PATH) with the given arguments and waits for it. */
CommandResult runCommand(const std::vector<std::string>& argv);

/** Where a program is in PATH (or /usr/sbin, /sbin), or empty. */
std::string findProgram(const std::string& name);

/** Starts a program in the background; returns its pid (throws on failure). The child is
 *  SIGKILLed when the spawning thread ends (PR_SET_PDEATHSIG), so a crashed test leaks no
 *  daemon: spawn from a thread that outlives the child (normally the test's main thread). */
pid_t spawnProgram(const std::vector<std::string>& argv, const std::filesystem::path& logFile);

/** SIGTERM (then SIGKILL after `grace`) to a pid this test started, and reaps it. */
void stopProgram(pid_t pid, std::chrono::milliseconds grace = std::chrono::milliseconds(3000));

/** Polls `condition` every 10 ms until it holds or `timeout` passes. */
template <typename Condition>
bool waitUntil(Condition condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace ovsplane::testing
