#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ipam/allocator.h"
#include "netdrv/error.h"
#include "netdrv/netlink.h"
#include "netdrv/pool.h"
#include "netdrv/seams.h"
#include "ovsdb/switch.h"

namespace ovsplane::netdrv {

/** An allocator error as the driver reports it (InvalidRequest, Conflict, Unavailable). */
Error fromIpam(const ipam::Error& error);

/** Labels ovsplane puts on containers. */
namespace labels {
inline constexpr const char* kRole = "ovsplane.role";          ///< "network" (network-only)
inline constexpr const char* kEndpoint = "ovsplane.endpoint";  ///< on both containers
inline constexpr const char* kNetwork = "ovsplane.network";    ///< the CIDR (network-only)
inline constexpr const char* kIp = "ovsplane.ip";              ///< (network-only)
inline constexpr const char* kMac = "ovsplane.mac";            ///< (network-only)
inline constexpr const char* kApp = "ovsplane.app";  ///< app container's name (network-only)
/** "1" on a pooled network-only container (netdrv/pool.h): its network, address and MAC are on
 *  its app, as kNetwork, kIp and kMac. */
inline constexpr const char* kPool = "ovsplane.pool";
}  // namespace labels

struct DriverConfig {
  std::string hostName;  ///< recorded with every address this host allocates
  ovsdb::DatapathType datapath = ovsdb::DatapathType::System;
  uint32_t overlayMtu = 1450;  ///< underlay MTU - 50 (VXLAN over IPv4)
  /** Wait this long for ovs-vswitchd to apply each attach (0: do not wait). */
  std::chrono::milliseconds applyTimeout{0};
  std::string networkContainerPrefix = "ovsplane-net-";
  /** Delete a network's bridge (and its tunnels) with its last endpoint on this host. */
  bool deleteEmptyBridges = false;
  /** Egress NAT for the networks this host creates when their first attach does not say
   *  (OVSPLANE_NAT). */
  bool natByDefault = true;
  /** Started network-only containers kept ready for attaches (netdrv/pool.h); 0: none, every
   *  attach creates and starts its own. */
  size_t poolSize = 0;
};

/** Everything the driver talks to; each is a seam tests may replace. */
struct DriverDependencies {
  ipam::StorePtr addresses;
  std::shared_ptr<NetworkCatalog> catalog;
  std::shared_ptr<SwitchControl> ovs;
  std::shared_ptr<ContainerRuntime> runtime;
  NetlinkPtr netlink;
};

/** Where an endpoint is in its life. */
enum class EndpointState {
  Attaching,  ///< attach() is running: nothing of it may be collected
  Pending,    ///< attached, Docker's answer to the create not seen yet
  Committed,  ///< the app container exists (appId known)
  Broken,     ///< the app exists but its network-only container was removed by hand
};
/** A label's value, "" when absent. */
std::string labelOf(const RuntimeContainer& container, const char* key);

/** One container attached to an ovsplane network on this host. */
struct Endpoint {
  std::string id;  ///< endpoint id: owner of the address, label on both containers
  ipam::Subnet subnet;
  uint32_t vni = 0;
  ipam::Ipv4Address ip;
  std::string mac;
  std::string networkContainerId;
  std::string hostVeth;
  std::string appName;  ///< as given to create, then as renamed (may be empty)
  std::string appId;    ///< the app container's full id, once Docker created it
  pid_t wiredPid = 0;   ///< the network-only container's pid when it was last wired
  EndpointState state = EndpointState::Attaching;
  std::chrono::steady_clock::time_point since{};  ///< when it entered `state`
  /** Attached by this process, Docker's answer to its create not seen yet (its request may still
   *  be on its way: the reconciler gives it at least kInFlightGrace). */
  bool inFlight = false;
  /** The Open_vSwitch next_cfg its port was written in, while ovs-vswitchd has not been seen
   *  applying it: an attach does not wait for ovs-vswitchd, its app's start does (ensureWired). */
  std::optional<int64_t> unappliedCfg;
};

/** An attach of this process whose create Docker has not answered is left alone this long at
 *  least, whatever the configured grace (a create under load can take seconds). */
inline constexpr std::chrono::minutes kInFlightGrace{2};

/** What a network-only container's labels say of its endpoint (no VNI, no app id): after a
 *  restart the driver learns its endpoints from them. A pooled one's network, address and MAC
 *  are on its app (`app`, when known). nullopt unless they are complete. */
std::optional<Endpoint> endpointFromLabels(const RuntimeContainer& net,
                                           const RuntimeContainer* app = nullptr);

/** A veth host end to plug into network `vni`'s bridge as an access port. */
struct AccessPort {
  ipam::Subnet subnet;
  uint32_t vni = 0;
  std::string name;                                ///< the host end of the veth
  std::map<std::string, std::string> externalIds;  ///< who it belongs to
};

/** Settings of an app's create that Docker refuses together with `container:` networking:
 *  they move to its network-only container (Docker's JSON values as the body had them, or
 *  null). */
struct NetworkContainerSettings {
  nlohmann::json hostname;
  nlohmann::json domainname;
  nlohmann::json dns;  ///< HostConfig.Dns / DnsOptions / DnsSearch / ExtraHosts
  nlohmann::json dnsOptions;
  nlohmann::json dnsSearch;
  nlohmann::json extraHosts;
};

/** What the Powerstrip path asks of the driver for one app container (read from its create
 *  body by the adapter: adapter/create_body.h). */
struct AttachRequest {
  ipam::Subnet subnet;                  ///< the network (OVSPLANE_CIDR)
  std::optional<ipam::Ipv4Address> ip;  ///< OVSPLANE_IP
  std::optional<std::string> mac;       ///< the app's MacAddress
  /** OVSPLANE_NAT: egress NAT of a network this attach creates (an existing one keeps its
   *  own); nullopt: DriverConfig::natByDefault. */
  std::optional<bool> nat;
  std::string appName;  ///< as given to create (may be empty)
  NetworkContainerSettings moved;
};

/** Where an attach spent its time (the adapter's /metrics split). */
struct AttachTimings {
  std::chrono::microseconds stateDb{0};  ///< network and address in the state database
  std::chrono::microseconds docker{0};   ///< the network-only container: claimed, or made
  std::chrono::microseconds netlink{0};  ///< the veth into its namespace
  std::chrono::microseconds ovsdb{0};    ///< the OVS port (and ovs-vswitchd applying it)
  bool pooled = false;                   ///< the network-only container came from the pool
};

/** An attach done: the network-only container the app joins (`container:<id>`). */
struct AttachedEndpoint {
  std::string endpointId;  ///< pass to commit() or rollback(); the app's ovsplane.endpoint label
  std::string networkContainerId;
  ipam::Ipv4Address ip;
  /** Labels the app container carries besides ovsplane.endpoint: its network, address and MAC
   *  (a pooled network-only container cannot carry them: Docker's labels are fixed at create). */
  std::map<std::string, std::string> appLabels;
  AttachTimings timings;
};

class UndoStack;  // an attach's undo steps (driver.cc)

/** The driver's operations, as the adapter calls them (Driver below; test doubles). */
class NetworkDriver {
 public:
  virtual ~NetworkDriver() = default;
  virtual Result<AttachedEndpoint> attach(const AttachRequest& request) = 0;
  virtual Result<void> commit(const std::string& endpointId, const std::string& appId) = 0;
  virtual Result<void> commitCreated(const std::string& appId, const std::string& hint) = 0;
  virtual Result<void> rollback(const std::string& endpointId) = 0;
  virtual Result<void> ensureWired(const std::string& appRef) = 0;
  virtual Result<void> detach(const std::string& appRef) = 0;
  virtual std::vector<Endpoint> endpoints() const = 0;
  /** Started network-only containers ready in the pool; -1 when there is no pool. */
  virtual long poolReady() const { return -1; }
};

/**
 * The network driver: turns "attach this container create request to CIDR X" into a wired
 * network-only container (address, veth, OVS port, VXLAN tunnels), and back. Every attach step
 * registers its undo; a failure rolls back all that was done. commit/rollback/ensureWired/detach
 * are idempotent. Thread-safe: attaches of different containers run concurrently. Endpoints are
 * keyed by endpoint id (the label on both containers) and, once Docker created the app, by the
 * app's full container id: names and id prefixes are only ever resolved through Docker.
 */
class Driver final : public NetworkDriver {
 public:
  Driver(DriverConfig config, DriverDependencies dependencies);

  /**
   * Attaches an app container to `request.subnet`'s network: address, network-only container
   * (with `request.moved`), veth, OVS port and tunnels. Errors: InvalidRequest (bad IP or MAC),
   * Conflict (address taken, network exhausted), Unavailable (dockerd, OVSDB, netlink) — with
   * nothing left behind.
   */
  Result<AttachedEndpoint> attach(const AttachRequest& request) override;

  /** Docker created app container `appId` (full id) for the attach `endpointId`. */
  Result<void> commit(const std::string& endpointId, const std::string& appId) override;

  /** Docker answered a create with `appId`: the app's ovsplane.endpoint label names the attach
   *  (exact even when two identical creates run at once); `hint` is used when it cannot be read.
   *  An app without the label is success (not ours). */
  Result<void> commitCreated(const std::string& appId, const std::string& hint) override;

  /** Docker refused the create: undoes the attach. Unknown endpoints are success; so is one
   *  whose app container exists after all (it is committed instead). */
  Result<void> rollback(const std::string& endpointId) override;

  /**
   * The app container `appRef` (id, id prefix or name, as the user typed it; resolved through
   * Docker) is about to start or was started: makes sure its network-only container runs and is
   * wired (it may have a new namespace). Containers ovsplane does not know are success.
   * NotFound when the network-only container was removed by hand (the app cannot start).
   */
  Result<void> ensureWired(const std::string& appRef) override;

  /** Docker removed the app container `appRef` (as the user typed it): removes its port, veth,
   *  network-only container and address. Only endpoints whose app Docker no longer knows by its
   *  full id are touched. Unknown containers are success; a partial failure is reported and a
   *  retry (or the reconciler) finishes the job. */
  Result<void> detach(const std::string& appRef) override;

  /** The endpoints this driver knows (attaching, pending, committed or broken). */
  std::vector<Endpoint> endpoints() const override;
  long poolReady() const override { return pool_ ? static_cast<long>(pool_->ready()) : -1; }

  /**
   * Makes the tunnels of every network with endpoints on this host match the cluster's live
   * hosts: a protected vxlan port per peer, none to departed hosts. One transaction, none when
   * nothing changes. Returns how many tunnel ports it added or removed.
   */
  Result<size_t> reconcileTunnels();

  /** The networks with endpoints on this host (known here, or found as access ports in OVS
   *  after a restart), as the state database records them: the gateways this host serves. */
  Result<std::vector<NetworkInfo>> localNetworks();

  // ---- For the reconciler (netdrv/reconciler.h): the same state, one lock. ----

  /** Learns (or refreshes) an endpoint found in Docker's containers; keeps what is known. */
  void adopt(const Endpoint& endpoint);
  /** Docker reported container `id` (full id) destroyed: an app's endpoint is torn down; a
   *  network-only container removed by hand leaves its app's endpoint Broken (its address stays
   *  until the app goes: the app still holds the namespace and the address). */
  Result<void> containerRemoved(const std::string& id);
  /** Docker renamed app `appId`. */
  void appRenamed(const std::string& appId, const std::string& name);
  /** Removes everything of `endpoint` (port, veth, network-only container, address) and forgets
   *  it. Serialized with every other teardown. */
  Result<void> teardown(const Endpoint& endpoint);
  /** Wires endpoint `endpointId` into the namespace of `pid` (its network-only container's),
   *  replacing an older wiring; nothing when it is wired into `pid` already and its veth is in
   *  place. Serialized with every other rewire. */
  Result<void> rewire(const std::string& endpointId, pid_t pid);
  /** Removes the OVS port and veth of a stopped endpoint (its start wires it again). */
  Result<void> unplug(const std::string& endpointId);
  /** Records that `endpointId` is wired into `pid` (found so after a restart). */
  void markWired(const std::string& endpointId, pid_t pid);
  /** Makes OVS hold the bridge and access port of each endpoint (after ovs-vswitchd lost them:
   *  a wiped conf.db, a del-br), one transaction per network so that one bad network does not
   *  stop the others. Returns the errors, one per network that failed. */
  std::vector<Error> replug(const std::vector<Endpoint>& endpoints);
  /** Plugs `port` into its network's bridge (made, with the tunnels to every live peer, when
   *  missing): one transaction; returns its next_cfg (for waitForVswitchd). Idempotent. */
  Result<int64_t> plug(const AccessPort& port);
  /** Waits until ovs-vswitchd applied `nextCfg`, up to applyTimeout (0: does not wait). */
  Result<void> waitForVswitchd(int64_t nextCfg) const;
  /** Waits until ovs-vswitchd applied `endpoint`'s port, when an attach left that for later. */
  Result<void> awaitApplied(const Endpoint& endpoint);
  /** Deletes an OVS port (missing is success); returns the next_cfg. */
  Result<int64_t> deletePort(const std::string& name);
  /** Releases the address `owner` holds in `subnet` (an orphan the reconciler found). */
  Result<void> releaseAddress(const ipam::Subnet& subnet, const std::string& owner);
  /** Waits until no attach is running, at most `limit`; true when none is. */
  bool drainAttaches(std::chrono::milliseconds limit) const;
  const DriverConfig& config() const { return config_; }
  /** The overlay MTU new wirings get (config's, until changeOverlayMtu()). */
  uint32_t overlayMtu() const { return overlayMtu_.load(); }
  /** The underlay's MTU changed: new wirings get `mtu`, and every wired endpoint's veth (both
   *  ends) is set to it now. Returns the failures (an endpoint whose namespace went is not
   *  one); the next wiring of a failed endpoint fixes it. */
  std::vector<Error> changeOverlayMtu(uint32_t mtu);
  const DriverDependencies& dependencies() const { return deps_; }
  /** The pool of started network-only containers; nullptr when poolSize is 0. Its refill runs
   *  between pool()->start() and stop(). */
  NetworkContainerPool* pool() { return pool_.get(); }

 private:
  /** Whether `endpointId` holds an address on this host (a pooled container was claimed). */
  Result<bool> holdsAddress(const std::string& endpointId);
  /** The network-only container of `endpoint`: a pooled one (renamed after the app once the
   *  attach stands), or one created and started with `request.moved`; its id and pid. Registers the
   * undo steps. */
  /** The name of the network-only container of an app (or, unnamed, of the endpoint). */
  std::string networkContainerName(const std::string& appName, const std::string& endpointId) const;
  Result<std::pair<std::string, pid_t>> provideNetworkContainer(
      const AttachRequest& request, Endpoint& endpoint, std::optional<PooledContainer> pooled,
      UndoStack& undo);
  std::optional<Endpoint> find(const std::string& endpointId) const;
  /** VNIs of the networks with endpoints here: known endpoints and `owned` access ports. */
  std::set<uint32_t> localVnis(const std::vector<ovsdb::PortInfo>& owned) const;
  std::optional<Endpoint> findByApp(const std::string& appId) const;
  std::optional<Endpoint> recoverEndpoint(const RuntimeContainer& app);
  /** `timings` set (an attach): does not wait for ovs-vswitchd (Endpoint::unappliedCfg). */
  Result<void> wire(Endpoint& endpoint, pid_t pid, AttachTimings* timings = nullptr);
  /** Adds what plugs `port` into OVS (bridge, tunnels to `peers`, access port). */
  void addPlug(ovsdb::SwitchChanges& changes, const AccessPort& port,
               const std::vector<PeerHost>& peers) const;
  /** The app container carrying endpoint label `endpointId` (not the network-only one). */
  Result<std::optional<RuntimeContainer>> appOf(const std::string& endpointId);
  void forget(const std::string& endpointId);
  void setState(const std::string& endpointId, EndpointState state);

  DriverConfig config_;
  DriverDependencies deps_;
  std::atomic<uint32_t> overlayMtu_;
  ipam::Allocator allocator_;
  mutable std::mutex mutex_;
  std::map<std::string, Endpoint> endpoints_;  // by endpoint id; guarded by mutex_
  // Teardowns run one at a time: a DELETE post-hook and Docker's destroy event for the same
  // container must not race (the loser would see "removal already in progress" and return
  // before the container is gone).
  std::mutex teardownMutex_;
  std::mutex wiringMutex_;                      // rewires run one at a time
  std::unique_ptr<NetworkContainerPool> pool_;  // last: its thread stops first
};

}  // namespace ovsplane::netdrv
