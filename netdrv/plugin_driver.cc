#include "netdrv/plugin_driver.h"

#include <random>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/wall_clock.h"
#include "netdrv/naming.h"

namespace ovsplane::netdrv {
namespace {

constexpr const char* kNetworkIdKey = "ovsplane-docker-network";
constexpr const char* kMtuOption = "com.docker.network.driver.mtu";

std::string newDockerOwner(const std::string& hostName) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{}{}:{:016x}", kDockerOwnerPrefix, hostName, rng());
}

bool sameNetwork(const ipam::Subnet& a, const ipam::Subnet& b) {
  return a.network() == b.network() && a.prefixLength() == b.prefixLength();
}

}  // namespace

std::optional<uint32_t> parseMtu(std::string_view text) {
  uint32_t value = 0;
  if (text.empty() || text.size() > 5) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value < 68 || value > 65535) return std::nullopt;
  return value;
}

bool isDockerOwner(std::string_view owner) { return owner.starts_with(kDockerOwnerPrefix); }

DockerVethNames dockerVethNames(std::string_view endpointId) {
  const std::string hex = endpointNames(endpointId).hostVeth.substr(3);
  return DockerVethNames{"ovd" + hex, "ovq" + hex};
}

PluginDriver::PluginDriver(std::shared_ptr<Driver> driver, std::string dockerDriverName)
    : driver_(std::move(driver)),
      dockerDriverName_(std::move(dockerDriverName)),
      allocator_(driver_->dependencies().addresses) {}

Result<std::optional<NetworkInfo>> PluginDriver::findNetwork(const ipam::Subnet& pool) {
  auto all = driver_->dependencies().catalog->networks();
  if (!all) return std::unexpected(all.error());
  for (const NetworkInfo& network : *all) {
    if (sameNetwork(network.subnet, pool)) return network;
  }
  return std::optional<NetworkInfo>();
}

Result<NetworkInfo> PluginDriver::networkOf(ipam::Ipv4Address ip, int prefixLength) {
  auto pool = ipam::Subnet::parse(fmt::format("{}/{}", ip.toString(), prefixLength));
  if (!pool) return makeError(ErrorCode::InvalidRequest, pool.error().message);
  auto network = findNetwork(*pool);
  if (!network) return std::unexpected(network.error());
  if (!*network) {
    return makeError(ErrorCode::InvalidRequest,
                     fmt::format("{}/{} is no ovsplane network: create the Docker network with "
                                 "--ipam-driver ovsplane",
                                 ip.toString(), prefixLength));
  }
  return **network;
}

Result<ipam::Subnet> PluginDriver::requestPool(const std::string& pool, const std::string& subPool,
                                               bool v6) {
  if (v6) {
    return makeError(ErrorCode::InvalidRequest, "IPv6 is not supported: give an IPv4 --subnet");
  }
  if (pool.empty()) {
    return makeError(ErrorCode::InvalidRequest,
                     "the ovsplane IPAM driver has no default pool: give the network a --subnet "
                     "(the same on every host)");
  }
  auto parsed = ipam::Subnet::parse(pool);
  if (!parsed) {
    return makeError(ErrorCode::InvalidRequest,
                     fmt::format("--subnet {}: {}", pool, parsed.error().message));
  }
  if (!subPool.empty() && subPool != pool) {
    return makeError(ErrorCode::InvalidRequest,
                     "--ip-range is not supported: addresses come from the whole --subnet, "
                     "shared with every host");
  }
  auto all = driver_->dependencies().catalog->networks();
  if (!all) return std::unexpected(all.error());
  for (const NetworkInfo& network : *all) {
    if (sameNetwork(network.subnet, *parsed)) return network.subnet;
    if (network.subnet.overlaps(*parsed)) {
      return makeError(ErrorCode::InvalidRequest,
                       fmt::format("--subnet {} overlaps ovsplane network {}", parsed->toString(),
                                   network.subnet.toString()));
    }
  }
  return *parsed;
}

Result<ipam::Ipv4Address> PluginDriver::requestGateway(const ipam::Subnet& pool,
                                                       std::optional<ipam::Ipv4Address> wanted) {
  auto network = findNetwork(pool);
  if (!network) return std::unexpected(network.error());
  if (*network) {
    const ipam::Ipv4Address gateway = (*network)->subnet.gateway();
    if (wanted && *wanted != gateway) {
      return makeError(ErrorCode::InvalidRequest,
                       fmt::format("network {} has gateway {} in the state database (another host "
                                   "or OVSPLANE_CIDR created it so): --gateway must match",
                                   pool.toString(), gateway.toString()));
    }
    return gateway;
  }
  if (!wanted) return pool.firstHost();
  if (!pool.containsHost(*wanted)) {
    return makeError(ErrorCode::InvalidRequest,
                     fmt::format("--gateway {} is not a host address of {}", wanted->toString(),
                                 pool.toString()));
  }
  return *wanted;
}

Result<ipam::Ipv4Address> PluginDriver::requestAddress(const ipam::Subnet& pool,
                                                       std::optional<ipam::Ipv4Address> wanted) {
  auto network = findNetwork(pool);
  if (!network) return std::unexpected(network.error());
  ipam::Subnet subnet = pool;
  if (*network) {
    subnet = (*network)->subnet;
  } else {
    // The IPAM driver under another network driver: the network is made on first use.
    auto made = driver_->dependencies().catalog->ensureNetwork(
        pool, NetworkOptions{.nat = driver_->config().natByDefault});
    if (!made) return std::unexpected(made.error());
    subnet = made->subnet;
  }
  auto ip = allocator_.allocate(subnet, newDockerOwner(driver_->config().hostName), wanted);
  if (!ip) return std::unexpected(fromIpam(ip.error()));
  return *ip;
}

Result<void> PluginDriver::releaseAddress(const ipam::Subnet& pool, ipam::Ipv4Address address) {
  auto network = findNetwork(pool);
  if (!network) return std::unexpected(network.error());
  if (!*network || (*network)->subnet.gateway() == address) return {};
  const ipam::Subnet& subnet = (*network)->subnet;
  auto leases = allocator_.store().leases(subnet);
  if (!leases) return std::unexpected(fromIpam(leases.error()));
  for (const ipam::Lease& lease : *leases) {
    if (lease.address != address) continue;
    if (!isDockerOwner(lease.owner)) {
      spdlog::warn("Docker released {} of {}, held by {} (not a Docker endpoint): left alone",
                   address.toString(), subnet.toString(), lease.owner);
      return {};
    }
    if (auto released = allocator_.release(subnet, lease.owner); !released) {
      return std::unexpected(fromIpam(released.error()));
    }
    return {};
  }
  return {};
}

Result<void> PluginDriver::createNetwork(const DockerNetworkSpec& spec) {
  const uint32_t overlay = driver_->overlayMtu();
  if (spec.mtu && *spec.mtu > overlay) {
    return makeError(ErrorCode::InvalidRequest,
                     fmt::format("MTU {} is above the overlay's {} (the underlay's MTU - 50)",
                                 *spec.mtu, overlay));
  }
  auto network = driver_->dependencies().catalog->ensureNetwork(
      spec.subnet, NetworkOptions{.nat = !spec.internal});
  if (!network) {
    return makeError(network.error().code,
                     fmt::format("network {} in the state database: {}",
                                 spec.subnet.toGatewayString(), network.error().message));
  }
  if (network->nat == spec.internal) {
    return makeError(
        ErrorCode::InvalidRequest,
        fmt::format("network {} exists {} (made so by its first user); create it {} "
                    "--internal",
                    spec.subnet.toString(),
                    network->nat ? "with a gateway and NAT" : "sealed (no gateway, no NAT)",
                    network->nat ? "without" : "with"));
  }
  std::scoped_lock lock(mutex_);
  networks_[spec.networkId] = spec;
  spdlog::info("Docker network {} on {} (VNI {}{}{})", spec.networkId.substr(0, 12),
               spec.subnet.toGatewayString(), network->vni, spec.internal ? ", internal" : "",
               spec.mtu ? fmt::format(", MTU {}", *spec.mtu) : "");
  return {};
}

Result<void> PluginDriver::deleteNetwork(const std::string& networkId) {
  std::scoped_lock lock(mutex_);
  networks_.erase(networkId);
  return {};
}

Result<size_t> PluginDriver::learnNetworks() {
  auto listed = driver_->dependencies().runtime->listNetworks(dockerDriverName_);
  if (!listed) return std::unexpected(listed.error());
  std::scoped_lock lock(mutex_);
  for (const RuntimeNetwork& network : *listed) {
    DockerNetworkSpec& spec = networks_[network.id];
    spec.networkId = network.id;
    spec.internal = network.internal;
    if (auto it = network.options.find(kMtuOption); it != network.options.end()) {
      spec.mtu = parseMtu(it->second);
    }
  }
  return networks_.size();
}

Result<DockerEndpoint> PluginDriver::createEndpoint(const DockerEndpointRequest& request) {
  auto network = networkOf(request.ip, request.prefixLength);
  if (!network) return std::unexpected(network.error());
  std::optional<uint32_t> networkMtu;
  {
    std::scoped_lock lock(mutex_);
    if (auto it = networks_.find(request.networkId); it != networks_.end())
      networkMtu = it->second.mtu;
  }
  const DockerVethNames names = dockerVethNames(request.endpointId);
  DockerEndpoint endpoint;
  endpoint.endpointId = request.endpointId;
  endpoint.networkId = request.networkId;
  endpoint.subnet = network->subnet;
  endpoint.vni = network->vni;
  endpoint.ip = request.ip;
  endpoint.mac = request.mac.value_or(endpointNames(request.endpointId).macString());
  endpoint.hostVeth = names.hostVeth;
  endpoint.containerVeth = names.containerVeth;
  endpoint.mtu = std::min(networkMtu.value_or(driver_->overlayMtu()), driver_->overlayMtu());
  if (network->nat) endpoint.gateway = network->subnet.gateway();

  auto mac = parseMac(endpoint.mac);
  if (!mac) {
    return makeError(ErrorCode::InvalidRequest, "MAC address " + endpoint.mac + " is not valid");
  }
  VethSpec spec;
  spec.hostName = names.hostVeth;
  spec.peerName = names.containerVeth;
  spec.mac = *mac;
  spec.mtu = endpoint.mtu;
  spec.disableTxChecksum = driver_->config().datapath == ovsdb::DatapathType::Netdev;
  const DriverDependencies& deps = driver_->dependencies();
  if (auto created = deps.netlink->createVeth(spec); !created)
    return std::unexpected(created.error());
  auto plugged =
      driver_->plug(AccessPort{.subnet = endpoint.subnet,
                               .vni = endpoint.vni,
                               .name = endpoint.hostVeth,
                               .externalIds = {{kDockerEndpointKey, endpoint.endpointId},
                                               {kNetworkIdKey, endpoint.networkId},
                                               {"ovsplane-network", endpoint.subnet.toString()},
                                               {"ovsplane-ip", endpoint.ip.toString()},
                                               {"ovsplane-mtu", std::to_string(endpoint.mtu)},
                                               {"attached-mac", endpoint.mac}}});
  if (!plugged) {
    (void)driver_->deletePort(endpoint.hostVeth);
    (void)deps.netlink->deleteLink(endpoint.hostVeth);
    return std::unexpected(plugged.error());
  }
  spdlog::info("Docker endpoint {} on {} as {} ({} <-> {})", endpoint.endpointId.substr(0, 12),
               endpoint.subnet.toGatewayString(), endpoint.ip.toString(), endpoint.hostVeth,
               endpoint.containerVeth);
  return endpoint;
}

std::optional<DockerEndpoint> PluginDriver::fromPort(const ovsdb::PortInfo& port) const {
  auto get = [&](const char* key) {
    auto it = port.externalIds.find(key);
    return it == port.externalIds.end() ? std::string() : it->second;
  };
  const std::string id = get(kDockerEndpointKey);
  auto subnet = ipam::Subnet::parse(get("ovsplane-network"));
  auto ip = ipam::Ipv4Address::parse(get("ovsplane-ip"));
  if (id.empty() || !subnet || !ip) return std::nullopt;
  DockerEndpoint endpoint;
  endpoint.endpointId = id;
  endpoint.networkId = get(kNetworkIdKey);
  endpoint.subnet = *subnet;  // the gateway comes from the state database (endpoint())
  endpoint.ip = *ip;
  endpoint.mac = get("attached-mac");
  endpoint.hostVeth = port.name;
  endpoint.containerVeth = dockerVethNames(id).containerVeth;
  endpoint.mtu = parseMtu(get("ovsplane-mtu")).value_or(driver_->overlayMtu());
  return endpoint;
}

Result<std::vector<DockerEndpoint>> PluginDriver::endpoints() {
  auto ports = driver_->dependencies().ovs->ownedPorts();
  if (!ports) return std::unexpected(ports.error());
  std::vector<DockerEndpoint> out;
  for (const auto& port : *ports) {
    if (auto endpoint = fromPort(port)) out.push_back(std::move(*endpoint));
  }
  return out;
}

Result<DockerEndpoint> PluginDriver::endpoint(const std::string& endpointId) {
  auto all = endpoints();
  if (!all) return std::unexpected(all.error());
  for (DockerEndpoint& endpoint : *all) {
    if (endpoint.endpointId != endpointId) continue;
    auto network = findNetwork(endpoint.subnet);
    if (!network) return std::unexpected(network.error());
    if (*network) {
      endpoint.subnet = (*network)->subnet;
      endpoint.vni = (*network)->vni;
      if ((*network)->nat) endpoint.gateway = (*network)->subnet.gateway();
    }
    return endpoint;
  }
  return makeError(ErrorCode::NotFound, fmt::format("no endpoint {} on this host", endpointId));
}

Result<void> PluginDriver::deleteEndpoint(const std::string& endpointId) {
  const DockerVethNames names = dockerVethNames(endpointId);
  auto deleted = driver_->deletePort(names.hostVeth);
  if (!deleted) return std::unexpected(deleted.error());
  if (const auto limit = driver_->config().applyTimeout; limit.count() > 0) {
    // ovs-vswitchd lets go of the device first (else it polls a dead veth and logs errors).
    (void)driver_->dependencies().ovs->waitApplied(*deleted, limit);
  }
  if (auto gone = driver_->dependencies().netlink->deleteLink(names.hostVeth); !gone) return gone;
  spdlog::info("Docker endpoint {} deleted ({})", endpointId.substr(0, 12), names.hostVeth);
  return {};
}

bool PluginDriver::orphanedFor(const std::string& key, std::chrono::milliseconds grace) {
  const auto now = std::chrono::steady_clock::now();
  std::scoped_lock lock(mutex_);
  auto [it, fresh] = orphanSince_.try_emplace(key, now);
  return now - it->second >= grace;
}

Result<void> PluginDriver::collect(std::chrono::milliseconds grace, const Collect& collect) {
  const DriverDependencies& deps = driver_->dependencies();
  // OVS and the links first, Docker after: an endpoint made in between is known to Docker.
  auto ports = deps.ovs->ownedPorts();
  if (!ports) return std::unexpected(ports.error());
  auto veths = deps.netlink->listLinks("ovd");
  if (!veths) return std::unexpected(veths.error());
  auto addresses = deps.catalog->hostAddresses();
  if (!addresses) return std::unexpected(addresses.error());
  auto networks = deps.runtime->listNetworks(dockerDriverName_);
  if (!networks) return std::unexpected(networks.error());
  std::set<std::string> known;  // Docker's endpoint ids on this host
  std::set<std::string> held;   // their addresses (ovsplane's networks never overlap)
  for (const RuntimeNetwork& network : *networks) {
    for (const auto& endpoint : network.endpoints) {
      known.insert(endpoint.id);
      held.insert(endpoint.ip);
    }
  }
  std::set<std::string> live;  // every key still a candidate this pass
  std::set<std::string> plugged;
  for (const auto& port : *ports) {
    auto endpoint = fromPort(port);
    if (!endpoint) continue;
    plugged.insert(port.name);
    if (known.contains(endpoint->endpointId)) continue;
    live.insert(port.name);
    if (!orphanedFor(port.name, grace)) continue;
    collect(fmt::format("delete Docker endpoint {} ({} on {}): Docker has no such endpoint",
                        endpoint->endpointId.substr(0, 12), endpoint->ip.toString(),
                        endpoint->subnet.toString()),
            [this, id = endpoint->endpointId] { return deleteEndpoint(id); });
  }
  for (const std::string& veth : *veths) {
    if (plugged.contains(veth)) continue;
    live.insert(veth);
    if (!orphanedFor(veth, grace)) continue;
    collect(fmt::format("delete veth {} (no Docker endpoint's port)", veth),
            [&deps, veth] { return deps.netlink->deleteLink(veth); });
  }
  const int64_t wallNow = wallClockMs();
  const std::string mine = fmt::format("{}{}:", kDockerOwnerPrefix, driver_->config().hostName);
  for (const HostAddress& address : *addresses) {
    if (!address.owner.starts_with(mine)) continue;
    if (held.contains(address.ip.toString())) continue;
    if (address.createdMs <= 0 || wallNow - address.createdMs < grace.count()) continue;
    collect(fmt::format("release address {} of {} ({}: no Docker endpoint holds it)",
                        address.ip.toString(), address.subnet.toString(), address.owner),
            [this, address] {
              auto released = allocator_.release(address.subnet, address.owner);
              return released ? Result<void>{} : std::unexpected(fromIpam(released.error()));
            });
  }
  std::scoped_lock lock(mutex_);
  std::erase_if(orphanSince_, [&](const auto& entry) { return !live.contains(entry.first); });
  return {};
}

}  // namespace ovsplane::netdrv
