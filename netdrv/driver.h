#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ipam/allocator.h"
#include "netdrv/error.h"
#include "netdrv/netlink.h"
#include "netdrv/seams.h"
#include "ovsdb/switch.h"

namespace ovsplane::netdrv {

/** Labels ovsplane puts on containers. */
namespace labels {
inline constexpr const char* kRole = "ovsplane.role";          ///< "network" (network-only)
inline constexpr const char* kEndpoint = "ovsplane.endpoint";  ///< on both containers
inline constexpr const char* kNetwork = "ovsplane.network";    ///< the CIDR (network-only)
inline constexpr const char* kIp = "ovsplane.ip";              ///< (network-only)
inline constexpr const char* kMac = "ovsplane.mac";            ///< (network-only)
inline constexpr const char* kApp = "ovsplane.app";  ///< app container's name (network-only)
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
};

/** Everything the driver talks to; each is a seam tests may replace. */
struct DriverDependencies {
  ipam::StorePtr addresses;
  std::shared_ptr<NetworkCatalog> catalog;
  std::shared_ptr<SwitchControl> ovs;
  std::shared_ptr<ContainerRuntime> runtime;
  NetlinkPtr netlink;
};

/** One container attached to an ovsplane network on this host. */
struct Endpoint {
  std::string id;  ///< endpoint id: owner of the address, label on both containers
  ipam::Subnet subnet;
  uint32_t vni = 0;
  ipam::Ipv4Address ip;
  std::string mac;
  std::string networkContainerId;
  std::string hostVeth;
  std::string appName;  ///< as given to create (may be empty)
  std::string appId;    ///< known after commit()
  pid_t wiredPid = 0;   ///< the network-only container's pid when it was last wired
};

/** The driver's operations, as the adapter calls them (Driver below; test doubles). */
class NetworkDriver {
 public:
  virtual ~NetworkDriver() = default;
  struct Attached {
    nlohmann::json body;     ///< the create body, rewritten for container:<id> networking
    std::string endpointId;  ///< pass to commit() or rollback()
  };
  virtual Result<std::optional<Attached>> attach(const nlohmann::json& createBody,
                                                 const std::string& appName) = 0;
  virtual Result<void> commit(const std::string& endpointId, const std::string& appId) = 0;
  virtual Result<void> rollback(const std::string& endpointId) = 0;
  virtual Result<void> ensureWired(const std::string& appRef) = 0;
  virtual Result<void> detach(const std::string& appRef) = 0;
  virtual std::vector<Endpoint> endpoints() const = 0;
};

/**
 * The network driver: turns "attach this container create request to CIDR X" into a wired
 * network-only container (address, veth, OVS port, VXLAN tunnels), and back. Every attach step
 * registers its undo; a failure rolls back all that was done. commit/rollback/ensureWired/detach
 * are idempotent. Thread-safe: attaches of different containers run concurrently.
 */
class Driver final : public NetworkDriver {
 public:
  Driver(DriverConfig config, DriverDependencies dependencies);

  /**
   * Attaches the container a Docker create body describes. nullopt when the body asks for no
   * ovsplane network (pass it on unchanged). Errors: InvalidRequest (bad CIDR/IP, port
   * publishing, links, another network mode), Conflict (address taken, network exhausted),
   * Unavailable (dockerd, OVSDB, netlink) — with nothing left behind.
   */
  Result<std::optional<Attached>> attach(const nlohmann::json& createBody,
                                         const std::string& appName) override;

  /** Docker created app container `appId` for the attach `endpointId`. */
  Result<void> commit(const std::string& endpointId, const std::string& appId) override;

  /** Docker refused the create: undoes the attach. Unknown endpoints are success. */
  Result<void> rollback(const std::string& endpointId) override;

  /**
   * The app container `appRef` (id, id prefix or name, as the user typed it) was started: makes
   * sure its network-only container runs and is wired (it may have a new namespace). Containers
   * ovsplane does not know are success.
   */
  Result<void> ensureWired(const std::string& appRef) override;

  /** The app container was removed: removes its port, veth, network-only container and
   *  address. Unknown containers are success; a partial failure is reported and a retry
   *  finishes the job. */
  Result<void> detach(const std::string& appRef) override;

  /** The endpoints this driver knows (attached, committed or not). */
  std::vector<Endpoint> endpoints() const override;

  /**
   * Makes the tunnels of every network with endpoints on this host match the cluster's live
   * hosts: a protected vxlan port per peer, none to departed hosts. One transaction, none when
   * nothing changes. Returns how many tunnel ports it added or removed.
   */
  Result<size_t> reconcileTunnels();

 private:
  std::optional<Endpoint> findEndpoint(const std::string& appRef) const;
  std::optional<Endpoint> recoverEndpoint(const std::string& appRef);
  Result<void> wire(Endpoint& endpoint, pid_t pid);
  Result<void> teardown(const Endpoint& endpoint);

  DriverConfig config_;
  DriverDependencies deps_;
  ipam::Allocator allocator_;
  mutable std::mutex mutex_;
  std::map<std::string, Endpoint> endpoints_;  // by endpoint id; guarded by mutex_
  // Teardowns run one at a time: a DELETE post-hook and Docker's destroy event for the same
  // container must not race (the loser would see "removal already in progress" and return
  // before the container is gone).
  std::mutex teardownMutex_;
};

}  // namespace ovsplane::netdrv
