#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ipam/allocator.h"
#include "ipam/ipv4.h"
#include "netdrv/driver.h"
#include "netdrv/error.h"

namespace ovsplane::netdrv {

/** Owners of the addresses Docker's IPAM requests take: "docker:<host>:<16 hex>". */
inline constexpr std::string_view kDockerOwnerPrefix = "docker:";
bool isDockerOwner(std::string_view owner);

/** An MTU as Docker's `com.docker.network.driver.mtu` option (and ovsplane's port record) carry
 *  it: decimal digits, 68..65535; nullopt otherwise. Pure. */
std::optional<uint32_t> parseMtu(std::string_view text);

/** External id of the OVS ports the plugin path plugs (the Powerstrip path's is
 *  "ovsplane-endpoint"): Docker's endpoint id. */
inline constexpr const char* kDockerEndpointKey = "ovsplane-docker-endpoint";

/** A Docker network of driver ovsplane on this host, as Docker's CreateNetwork describes it. */
struct DockerNetworkSpec {
  std::string networkId;
  /** The pool and gateway ovsplane's IPAM gave it. */
  ipam::Subnet subnet;
  /** `--internal`: no gateway on the hosts, no NAT (a sealed network). */
  bool internal = false;
  /** `-o com.docker.network.driver.mtu=N` (at most the overlay MTU); nullopt: the overlay's. */
  std::optional<uint32_t> mtu;
};

/** Docker's CreateEndpoint, typed. */
struct DockerEndpointRequest {
  std::string networkId;
  std::string endpointId;
  ipam::Ipv4Address ip;  ///< the address ovsplane's IPAM gave the endpoint
  int prefixLength = 24;
  std::optional<std::string> mac;  ///< `--mac-address`, when given
};

/** An endpoint of the plugin path: a veth whose host end is on the network's bridge and whose
 *  other end Docker moves into the container (Join). */
struct DockerEndpoint {
  std::string endpointId;
  std::string networkId;
  ipam::Subnet subnet;
  uint32_t vni = 0;
  ipam::Ipv4Address ip;
  std::string mac;
  std::string hostVeth;       ///< "ovd" + 12 hex, on the bridge
  std::string containerVeth;  ///< "ovq" + 12 hex, Docker's SrcName
  uint32_t mtu = 0;
  /** The default route Docker gives the container; nullopt on a sealed network. */
  std::optional<ipam::Ipv4Address> gateway;
};

/** The deterministic veth names of Docker endpoint `endpointId`. Pure. */
struct DockerVethNames {
  std::string hostVeth;
  std::string containerVeth;
};
DockerVethNames dockerVethNames(std::string_view endpointId);

/**
 * The network driver's entry for Docker's network-plugin protocol (remote NetworkDriver and
 * IpamDriver): pools and addresses from the same allocator and state database as the Powerstrip
 * path (a CIDR used through OVSPLANE_CIDR and through `docker network create` is one network;
 * no address goes out twice), bridges, tunnels and gateways through the same Driver. Docker owns
 * the sandbox: an endpoint is a veth pair whose host end ovsplane plugs into the bridge and
 * whose other end Docker moves into the container.
 *
 * Endpoints are kept in OVS (the port's external ids), not in memory alone, so a restarted
 * ovsplane still finds, joins and deletes what an earlier run created. Every call is idempotent
 * (Docker retries); thread-safe. Errors carry messages fit for the docker CLI.
 */
class PluginDriver {
 public:
  /** `dockerDriverName`: the name Docker knows the plugin by (its networks' driver). */
  explicit PluginDriver(std::shared_ptr<Driver> driver, std::string dockerDriverName = "ovsplane");

  // ---- IPAM ----

  /** RequestPool: `pool` must be given (IPv4, `--subnet`); a sub-pool (`--ip-range`) and IPv6
   *  are refused (InvalidRequest). Returns the subnet with the gateway of the network the state
   *  database holds for it, or its first host when there is none yet. */
  Result<ipam::Subnet> requestPool(const std::string& pool, const std::string& subPool, bool v6);
  /** RequestAddress for the gateway: `wanted` (`--gateway`) must be the network's gateway when
   *  the network exists. Returns the gateway. */
  Result<ipam::Ipv4Address> requestGateway(const ipam::Subnet& pool,
                                           std::optional<ipam::Ipv4Address> wanted);
  /** RequestAddress for an endpoint: `wanted` (`--ip`) or the next free address, owned by a
   *  fresh "docker:<host>:..." owner. Conflict when taken (naming the holder) or exhausted. */
  Result<ipam::Ipv4Address> requestAddress(const ipam::Subnet& pool,
                                           std::optional<ipam::Ipv4Address> wanted);
  /** ReleaseAddress: frees `address` when a Docker request holds it (the gateway, free
   *  addresses and Powerstrip endpoints' addresses are left alone). */
  Result<void> releaseAddress(const ipam::Subnet& pool, ipam::Ipv4Address address);

  // ---- NetworkDriver ----

  /** CreateNetwork: makes sure the state database holds the network (its VNI, NAT unless
   *  internal) and this host its bridge. InvalidRequest when an existing network of the subnet
   *  is sealed and this one is not (or the other way round), or the MTU is above the overlay's. */
  Result<void> createNetwork(const DockerNetworkSpec& spec);
  /** DeleteNetwork: forgets it here (the cluster's network and other hosts' stay). */
  Result<void> deleteNetwork(const std::string& networkId);
  /** CreateEndpoint: the veth pair, its host end plugged. Conflict when the address is not
   *  ovsplane's (another IPAM driver). Undone on failure. */
  Result<DockerEndpoint> createEndpoint(const DockerEndpointRequest& request);
  /** The endpoint (Join, EndpointOperInfo). NotFound when unknown. */
  Result<DockerEndpoint> endpoint(const std::string& endpointId);
  /** DeleteEndpoint: port and veth. Unknown is success. */
  Result<void> deleteEndpoint(const std::string& endpointId);
  /** This host's plugin endpoints, as OVS holds them. */
  Result<std::vector<DockerEndpoint>> endpoints();

  /** Learns the MTU options of Docker's existing ovsplane networks (Docker sends CreateNetwork
   *  once: a restarted ovsplane asks Docker instead). Returns how many it knows. Called at
   *  start-up, never from a plugin call: dockerd may be starting and not answering then. */
  Result<size_t> learnNetworks();

  /** Reports a leftover: what it is, and how to remove it (run unless the pass is dry). */
  using Collect = std::function<void(std::string what, const std::function<Result<void>()>& fix)>;
  /**
   * One collection pass over what a crash (of dockerd or of ovsplane, between Docker's calls)
   * can leave of the plugin path: ports and `ovd` veths of endpoints Docker does not know, and
   * this host's Docker addresses that no endpoint of Docker's holds. Each is handed to `collect`
   * once it has been so for `grace` (Docker may be between two calls). Unavailable when Docker
   * cannot be asked (nothing is judged then).
   */
  Result<void> collect(std::chrono::milliseconds grace, const Collect& collect);

 private:
  /** The network of `pool` as the state database holds it (gateway included), or nullopt. */
  Result<std::optional<NetworkInfo>> findNetwork(const ipam::Subnet& pool);
  /** The network `ip`/`prefixLength` is in; NotFound when the state database has none. */
  Result<NetworkInfo> networkOf(ipam::Ipv4Address ip, int prefixLength);
  std::optional<DockerEndpoint> fromPort(const ovsdb::PortInfo& port) const;

  /** Whether `key` (a port or a veth Docker does not know) has been so for `grace`. */
  bool orphanedFor(const std::string& key, std::chrono::milliseconds grace);

  std::shared_ptr<Driver> driver_;
  std::string dockerDriverName_;
  ipam::Allocator allocator_;
  std::mutex mutex_;
  std::map<std::string, DockerNetworkSpec> networks_;  // by Docker network id; guarded
  /** Leftover candidates by port/veth name, and since when; collect() only. */
  std::map<std::string, std::chrono::steady_clock::time_point> orphanSince_;
};

}  // namespace ovsplane::netdrv
