#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace ovsplane::testing {

/** A reply of Dockerd::request(). */
struct HttpReply {
  int status = 0;  ///< 0 when the request failed (connect, timeout)
  std::string body;
};

/**
 * A private dockerd (with its own containerd) in a temp dir: its own data root, exec root,
 * pidfile, config file and socket (`<dir>/docker.sock`); no bridge, no iptables, no IP
 * forwarding changes. Its environment points every HTTP(S) proxy at a closed local port, so
 * even an accidental pull cannot reach a registry. Logs (with --debug: every API call) go to
 * `<dir>/dockerd.log`.
 *
 * The constructor waits until GET /_ping answers; it throws std::runtime_error (with the log's
 * tail) when dockerd does not come up. The destructor removes every container, stops dockerd
 * by pid (SIGTERM, SIGKILL after 30 s), waits for the processes it started (containerd,
 * shims: found by their command lines naming the temp dir), lazily unmounts whatever is still
 * mounted under the temp dir and removes it. Requires root; see skipReason().
 */
class Dockerd {
 public:
  /** Empty when a private dockerd can run here, else why not (for GTEST_SKIP). */
  static std::string skipReason();

  Dockerd();
  ~Dockerd();
  Dockerd(const Dockerd&) = delete;
  Dockerd& operator=(const Dockerd&) = delete;

  /** "<dir>/docker.sock" */
  const std::filesystem::path& socketPath() const { return socket_; }
  /** "unix://<dir>/docker.sock" */
  std::string host() const { return "unix://" + socket_.string(); }
  const std::filesystem::path& directory() const { return dir_.path(); }
  pid_t pid() const { return pid_; }
  /** The daemon's log so far. */
  std::string log() const;

  /** A plain HTTP/1.0 request to the daemon (independent of the client under test); an empty
   *  `body` sends none. Never throws: a failed request has status 0 and the reason as body. */
  HttpReply request(const std::string& method, const std::string& target,
                    const std::string& body = {},
                    std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;

  /** Removes every container (forced). Returns how many it removed. */
  int removeAllContainers() const;

 private:
  void shutdown();

  TempDir dir_;  // first: destroyed last, after everything under it is stopped and unmounted
  std::filesystem::path socket_;
  pid_t pid_ = -1;
};

/** Pids of processes (not zombies) whose command line mentions `text`. */
std::vector<pid_t> processesMentioning(const std::string& text);

/** Mount points at or under `dir`, deepest first. */
std::vector<std::string> mountsUnder(const std::filesystem::path& dir);

}  // namespace ovsplane::testing
