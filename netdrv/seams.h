#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ipam/ipv4.h"
#include "netdrv/error.h"
#include "ovsdb/switch.h"

namespace ovsplane::netdrv {

/** A container as the driver needs to see it. */
struct RuntimeContainer {
  std::string id;
  std::string name;
  bool running = false;
  pid_t pid = 0;  ///< 0 when not running (and in list() results)
  std::map<std::string, std::string> labels;
  std::string restartPolicy;  ///< "", "no", "always", "unless-stopped", "on-failure" (inspect)
  std::string startError;     ///< why Docker's last start of it failed, "" if none (inspect)
  int64_t createdMs = 0;      ///< when it was created, ms since the epoch; 0 when unknown
};

/** One container event of the engine (Docker's /events), keyed by the full container id. */
struct RuntimeEvent {
  std::string action;  ///< "create", "start", "die", "destroy", "rename", ...
  std::string id;      ///< the container's full id
  std::map<std::string, std::string> attributes;  ///< name, labels, oldName (rename)...
};

/** A Docker network as the plugin path needs to see it (GET /networks). */
struct RuntimeNetwork {
  std::string id;
  std::string name;
  std::string driver;
  bool internal = false;
  std::map<std::string, std::string> options;  ///< `-o key=value` (driver options)
  /** The endpoints of this host's containers on it (Docker's view). */
  struct Endpoint {
    std::string id;
    std::string ip;  ///< "10.0.7.2" ("" when it has none)
  };
  std::vector<Endpoint> endpoints;
};

/** The container engine (dockerd), as far as the driver uses it. Implementations are
 *  thread-safe. */
class ContainerRuntime {
 public:
  virtual ~ContainerRuntime() = default;
  /** Creates a container from a Docker create body; returns its id. */
  virtual Result<std::string> create(const nlohmann::json& body, const std::string& name) = 0;
  virtual Result<void> start(const std::string& id) = 0;  ///< already running is success
  /** NotFound when there is no such container. */
  virtual Result<RuntimeContainer> inspect(const std::string& idOrName) = 0;
  virtual Result<void> remove(const std::string& id) = 0;  ///< forced; missing is success
  /** Conflict when `name` is taken, NotFound when there is no container `id`. */
  virtual Result<void> rename(const std::string& id, const std::string& name) = 0;
  /** Every container (running or not) carrying all of `labels`. */
  virtual Result<std::vector<RuntimeContainer>> list(
      const std::map<std::string, std::string>& labels) = 0;
  /** Every network of driver `driver`, with its endpoints. */
  virtual Result<std::vector<RuntimeNetwork>> listNetworks(const std::string& driver) = 0;
  /** Makes sure the network-only containers' image exists (imported locally, never pulled);
   *  returns its reference. */
  virtual Result<std::string> ensurePauseImage() = 0;
  /** Calls `onEvent` for each event of a container carrying `label` (any value) until `stop`,
   *  `onEvent` returning false, or the stream ending (success); an error when it cannot be
   *  followed. `onConnected` runs once the stream is established, before the first event. */
  virtual Result<void> followEvents(const std::string& label,
                                    const std::function<void()>& onConnected,
                                    const std::function<bool(const RuntimeEvent&)>& onEvent,
                                    std::stop_token stop) = 0;
};

/** Open vSwitch configuration, as far as the driver uses it (ovsdb::Switch in production). */
class SwitchControl {
 public:
  virtual ~SwitchControl() = default;
  /** One transaction; returns the next_cfg to wait for. */
  virtual Result<int64_t> apply(const ovsdb::SwitchChanges& changes) = 0;
  virtual Result<void> waitApplied(int64_t nextCfg, std::chrono::milliseconds timeout) = 0;
  /** The ports ovsplane created (access and tunnel ports), from the local replica. */
  virtual Result<std::vector<ovsdb::PortInfo>> ownedPorts() = 0;
};

/** A network's cluster-wide identity. */
struct NetworkInfo {
  ipam::Subnet subnet;
  uint32_t vni = 0;
  /** Egress NAT and host reachability through each host's gateway; false: a sealed network. */
  bool nat = true;
};

/** What the first attach to a network chooses for it (later attaches find it chosen). */
struct NetworkOptions {
  bool nat = true;
};

/** An address the state database records as allocated by this host. */
struct HostAddress {
  ipam::Subnet subnet;
  ipam::Ipv4Address ip;
  std::string owner;      ///< the endpoint id
  int64_t createdMs = 0;  ///< when it was reserved (wall clock); 0 when unknown
};

/** Another host of the cluster: where its tunnels end. */
struct PeerHost {
  std::string name;
  std::string vtepIp;
};

/** Networks and hosts of the cluster (the state database in production). */
class NetworkCatalog {
 public:
  virtual ~NetworkCatalog() = default;
  /** The network of `subnet`, created on first use with `options` (an existing network keeps
   *  its own). InvalidRequest when it exists with another gateway, or overlaps another. */
  virtual Result<NetworkInfo> ensureNetwork(const ipam::Subnet& subnet,
                                            const NetworkOptions& options) = 0;
  /** Every network of the cluster. */
  virtual Result<std::vector<NetworkInfo>> networks() = 0;
  /** Every other live host (tunnel endpoints), one per VTEP address: two live hosts that
   *  claim one address (a host renamed before its old row went stale) share its tunnel. */
  virtual Result<std::vector<PeerHost>> peers() = 0;
  /** The addresses this host allocated, every network. */
  virtual Result<std::vector<HostAddress>> hostAddresses() = 0;
  /** Registers this host with its tunnel endpoint, or refreshes its row (others drop a host
   *  that stops refreshing). Idempotent. */
  virtual Result<void> announce(const std::string& vtepIp) = 0;
  /** Removes this host's row: the others drop their tunnels to it at once. Idempotent. */
  virtual Result<void> withdraw() = 0;
};

/** ovsdb::Switch as SwitchControl. */
std::shared_ptr<SwitchControl> makeOvsSwitchControl(std::shared_ptr<ovsdb::Switch> sw);

}  // namespace ovsplane::netdrv

namespace ovsplane::ovsdb {
class StateStore;
}
namespace ovsplane::netdrv {
class DockerClient;
}

namespace ovsplane::netdrv {

/** dockerd (through a DockerClient) as ContainerRuntime. */
std::shared_ptr<ContainerRuntime> makeDockerRuntime(std::shared_ptr<DockerClient> client);

/** The state database as NetworkCatalog; `selfName` is left out of peers(), and so are hosts
 *  whose last_seen has not changed for `staleAfter` (departed without saying so; see
 *  PeerLiveness: judged on this host's clock, outages of the database forgiven). */
std::shared_ptr<NetworkCatalog> makeStateCatalog(
    std::shared_ptr<ovsdb::StateStore> store, std::string selfName,
    std::chrono::milliseconds staleAfter = std::chrono::seconds(30));

}  // namespace ovsplane::netdrv
