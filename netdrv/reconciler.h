#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "netdrv/driver.h"
#include "netdrv/gateway.h"
#include "netdrv/plugin_driver.h"

namespace ovsplane::netdrv {

/** An overlay MTU and where it came from ("br-phy MTU 1460 - 50"). */
struct MtuReading {
  uint32_t mtu = 0;
  std::string reason;
};

struct ReconcilerConfig {
  /** A network-only container or an address that no app container claims, and that this
   *  process is not attaching, is collected only once older than this: its create may still be
   *  on its way to Docker (from another process, or from before a crash). */
  std::chrono::milliseconds grace{std::chrono::seconds(60)};
  /** The full pass, as a safety net behind events. */
  std::chrono::milliseconds interval{std::chrono::seconds(30)};
  /** Tunnels follow membership, and OVS is checked for lost ports, this often. */
  std::chrono::milliseconds tunnelInterval{std::chrono::seconds(1)};
  /** This host's row is refreshed this often (when vtepIp is set). */
  std::chrono::milliseconds hostRefresh{std::chrono::seconds(5)};
  /** This host's tunnel endpoint; empty: the host does not register (single host). */
  std::string vtepIp;
  /** Reads the overlay MTU the underlay allows now (`--mtu auto`), every hostRefresh; a change
   *  reaches new wirings, the wired veths and the gateways. Empty: the MTU is fixed. */
  std::function<std::optional<MtuReading>()> overlayMtuSource;
};

/** What one pass changed (or, dry, would change), one line each, and what failed. */
struct ReconcileReport {
  std::vector<std::string> changes;
  std::vector<std::string> failures;
};

/**
 * The reconciler: makes this host's world (network-only containers, veths, OVS bridges and
 * ports, addresses in the state database, stopped apps Docker gave up on) match what Docker's
 * containers and their labels say is wanted, touching only what ovsplane labelled or named as
 * its own. Level-triggered: a full pass at start-up, on every (re)connection to Docker's event
 * stream (a dockerd restart), when OVS lost ports, and every `interval`; Docker's events
 * (create, start, die, destroy, rename; by full container id) act at once in between. It also
 * owns the host's background loops: tunnels following membership, gateways following the
 * host's networks, and the host's refresh.
 * Thread-safe. Each pass is idempotent; one failing object does not stop the others.
 */
class Reconciler {
 public:
  /** `gateways`: this host's gateways, kept in step with its networks every tunnel interval
   *  (ovs-vswitchd restarts lose flows); null: none (one-shot passes, tests). `plugin`: the
   *  plugin path, whose leftovers every full pass collects too; null: not served. */
  Reconciler(ReconcilerConfig config, std::shared_ptr<Driver> driver,
             std::shared_ptr<Gateways> gateways = nullptr,
             std::shared_ptr<PluginDriver> plugin = nullptr);
  ~Reconciler();
  Reconciler(const Reconciler&) = delete;
  Reconciler& operator=(const Reconciler&) = delete;

  /** One full pass. `dryRun`: report what would change, change nothing (endpoints found in
   *  Docker are still learned). Unavailable when Docker cannot be listed (nothing is judged
   *  then). */
  Result<ReconcileReport> reconcile(bool dryRun = false);

  /** Starts the background loops (events, passes, tunnels, host refresh). */
  void start();
  /** Asks for a pass soon (a hint; the periodic pass is the truth). */
  void trigger();
  /** Stops the loops and waits for them; removes this host's row when it registered. */
  void stop();

 private:
  void eventLoop(std::stop_token stop);
  void passLoop(std::stop_token stop);
  void tickLoop(std::stop_token stop);
  void onEvent(const RuntimeEvent& event);
  Result<void> restartApp(const Endpoint& endpoint, const std::string& appId,
                          const std::string& netId);
  bool sleepFor(std::stop_token& stop, std::chrono::milliseconds span);
  /** One gateway pass over this host's networks; the failures joined. */
  Result<void> reconcileGateways();
  /** Follows the overlay MTU source (a changed underlay). */
  Result<void> followOverlayMtu();

  ReconcilerConfig config_;
  std::shared_ptr<Driver> driver_;
  std::shared_ptr<Gateways> gateways_;
  std::shared_ptr<PluginDriver> plugin_;  // the plugin path's leftovers; null: not served
  std::mutex mutex_;
  std::condition_variable_any wake_;
  bool triggered_ = false;           // guarded by mutex_
  std::set<std::string> lostPorts_;  // tick thread only: access ports found missing last time
  std::mutex passMutex_;             // one pass at a time
  std::vector<std::jthread> threads_;
};

}  // namespace ovsplane::netdrv
