#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "netdrv/error.h"
#include "netdrv/seams.h"

namespace ovsplane::netdrv {

/** A started network-only container no app uses yet: an attach claims it instead of creating
 *  and starting one (the two Docker calls that make most of an attach's time). */
struct PooledContainer {
  std::string endpointId;   ///< given at its creation: its ovsplane.endpoint label, veth names
  std::string containerId;  ///< full id
  pid_t pid = 0;            ///< its pause process (the namespace to wire); 0: not known yet
};

/** Whether process `pid` still runs in container `containerId` (full id; its /proc/<pid>/cgroup
 *  names the id as a whole path part), without asking Docker. False when it cannot tell: the
 *  caller then inspects. */
bool processInContainer(pid_t pid, const std::string& containerId);
/** The check of processInContainer on the text of a /proc/<pid>/cgroup file. */
bool cgroupNamesContainer(std::string_view cgroupFile, std::string_view containerId);

struct PoolConfig {
  size_t size = 0;  ///< started containers kept ready; 0: no pool
  /** A pooled container is named prefix + its endpoint id (the name an unnamed app's
   *  network-only container gets); a claimed one is renamed after its app. */
  std::string namePrefix = "ovsplane-net-";
  /** After a failed refill (dockerd or the state database away), and between checks that the
   *  ready containers still run (a dockerd restart stops them). */
  std::chrono::milliseconds retry{std::chrono::seconds(2)};
  std::chrono::milliseconds healthCheck{std::chrono::seconds(10)};
  /** A claim's check that a ready container's pid, seen when it was started or adopted, still
   *  runs in it: when it does the claim asks Docker nothing; otherwise it inspects. */
  std::function<bool(pid_t, const std::string&)> stillRuns = processInContainer;
};

/**
 * A per-host pool of pre-created, pre-started network-only containers (`--network-pool`).
 * Pooled containers carry the labels ovsplane.role=network, ovsplane.endpoint=<id> and
 * ovsplane.pool=1, and no network: which network a claimed one serves is recorded by the
 * address its endpoint id owns in the state database and by the app's labels, so a crash at any
 * point leaks nothing. At start the pool adopts what an earlier run left: a running pooled
 * container that no app names and whose endpoint holds no address goes back into the pool; the
 * rest of those (stopped ones, more than `size`) are removed. One whose endpoint holds an address
 * is a claim whose app is gone or never came: the reconciler's (netdrv/reconciler.h).
 * Thread-safe; the refill runs on its own thread between start() and stop().
 */
class NetworkContainerPool {
 public:
  /** `holdsAddress(endpointId)`: whether that endpoint holds an address on this host (then its
   *  container was claimed, perhaps wired, and its app is gone or never came: the reconciler
   *  collects it after its grace; the pool neither reuses nor removes it). While it fails (the
   *  state database away) leftovers are neither adopted nor removed. */
  NetworkContainerPool(PoolConfig config, std::shared_ptr<ContainerRuntime> runtime,
                       std::function<Result<bool>(const std::string& endpointId)> holdsAddress);
  ~NetworkContainerPool();  ///< stops
  NetworkContainerPool(const NetworkContainerPool&) = delete;
  NetworkContainerPool& operator=(const NetworkContainerPool&) = delete;

  /** Starts the refill thread (adoption first). Nothing for size 0. Idempotent. */
  void start();
  /** Stops the refill thread; the ready containers stay for the next run to adopt. */
  void stop();

  /** A running pooled container, out of the pool for good (the claimer removes it if its attach
   *  fails), or nullopt when none is ready: the caller creates one. No Docker call while the pid
   *  seen at its start still runs in it (PoolConfig::stillRuns), else one inspect; a container
   *  found stopped or gone is dropped and the next one tried. Never blocks on a refill. */
  std::optional<PooledContainer> claim();

  /** Puts back a container claimed but not touched (its attach failed before wiring it). */
  void giveBack(PooledContainer container);

  /** Renames a claimed container after its app, on the pool's renaming thread (off the attach's
   * path; the name is for people: ovsplane finds it by its labels and its app's). A failure (the
   *  container already removed, the name taken by a leftover) is logged; nothing retries. */
  void renameLater(std::string containerId, std::string name);

  /** How many containers are ready now. */
  size_t ready() const;
  size_t size() const { return config_.size; }

  /** One refill step (the thread's body; tests call it directly): renames claimed containers
   *  (when the renaming thread has not),
   *  adopts leftovers when not done yet, removes dropped containers, tops the pool up to size.
   *  False when a step failed. */
  bool refillOnce(std::stop_token stop = {});

  /** The labels of a pooled container (`endpointId` its endpoint). */
  static std::map<std::string, std::string> labelsFor(const std::string& endpointId);
  /** Whether `container` was made by a pool. */
  static bool isPooled(const RuntimeContainer& container);

 private:
  bool adopt();
  bool checkHealth();
  void renameClaimed();
  Result<PooledContainer> makeOne();
  void run(std::stop_token stop);

  PoolConfig config_;
  std::shared_ptr<ContainerRuntime> runtime_;
  std::function<Result<bool>(const std::string&)> holdsAddress_;
  mutable std::mutex mutex_;
  std::condition_variable_any wake_;
  std::deque<PooledContainer> ready_;  // guarded by mutex_
  std::vector<std::string> dropped_;   // container ids to remove; guarded by mutex_
  std::vector<std::pair<std::string, std::string>> renames_;  // id, name; guarded by mutex_
  bool adopted_ = false;                                      // guarded by mutex_
  std::chrono::steady_clock::time_point lastHealthCheck_{};   // refill thread only
  bool failing_ = false;                                      // refill thread only
  std::jthread thread_;
  std::condition_variable_any renameWake_;
  std::jthread renamer_;  // renames claimed containers (renameLater) between start() and stop()
};

}  // namespace ovsplane::netdrv
