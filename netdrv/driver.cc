#include "netdrv/driver.h"

#include <charconv>
#include <functional>
#include <random>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "netdrv/create_body.h"
#include "netdrv/naming.h"

namespace ovsplane::netdrv {
namespace {

Error fromIpam(const ipam::Error& error) {
  switch (error.code) {
    case ipam::ErrorCode::InvalidArgument:
    case ipam::ErrorCode::OutOfRange:
    case ipam::ErrorCode::ReservedAddress:
      return Error{ErrorCode::InvalidRequest, error.message};
    case ipam::ErrorCode::AddressTaken:
    case ipam::ErrorCode::OwnerConflict:
    case ipam::ErrorCode::Exhausted:
      return Error{ErrorCode::Conflict, error.message};
    case ipam::ErrorCode::StoreUnavailable:
      break;
  }
  return Error{ErrorCode::Unavailable, error.message};
}

std::string newEndpointId() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:016x}", rng());
}

/** A container reference as Docker paths and names carry it, without Docker's leading '/'. */
std::string withoutSlash(const std::string& ref) {
  return !ref.empty() && ref.front() == '/' ? ref.substr(1) : ref;
}

std::string labelOf(const RuntimeContainer& container, const char* key) {
  auto it = container.labels.find(key);
  return it == container.labels.end() ? std::string() : it->second;
}

/** What a network-only container's labels say of its endpoint (no VNI, no app id): after a
 *  restart the driver learns its endpoints from them. nullopt unless they are complete. */
std::optional<Endpoint> endpointFromLabels(const RuntimeContainer& net) {
  auto subnet = ipam::Subnet::parse(labelOf(net, labels::kNetwork));
  auto ip = ipam::Ipv4Address::parse(labelOf(net, labels::kIp));
  const std::string id = labelOf(net, labels::kEndpoint);
  if (!subnet || !ip || id.empty()) return std::nullopt;
  Endpoint endpoint;
  endpoint.id = id;
  endpoint.subnet = *subnet;
  endpoint.ip = *ip;
  const std::string mac = labelOf(net, labels::kMac);
  endpoint.mac = mac.empty() ? endpointNames(id).macString() : mac;
  endpoint.networkContainerId = net.id;
  endpoint.hostVeth = endpointNames(id).hostVeth;
  endpoint.appName = labelOf(net, labels::kApp);
  return endpoint;
}

/** Undo actions of an attach, run newest first unless dismissed. */
class UndoStack {
 public:
  ~UndoStack() { run(); }
  void push(std::string what, std::function<Result<void>()> undo) {
    steps_.emplace_back(std::move(what), std::move(undo));
  }
  void dismiss() { steps_.clear(); }
  void run() {
    while (!steps_.empty()) {
      auto [what, undo] = std::move(steps_.back());
      steps_.pop_back();
      if (auto undone = undo(); !undone) {
        spdlog::warn("rollback: {} failed: {}", what, undone.error().message);
      }
    }
  }

 private:
  std::vector<std::pair<std::string, std::function<Result<void>()>>> steps_;
};

/** The network-only container: a pause process with the settings Docker refuses on the app. */
nlohmann::json networkContainerBody(const std::string& image, const MovedSettings& moved,
                                    const nlohmann::json& containerLabels) {
  nlohmann::json body = {
      {"Image", image},
      {"Labels", containerLabels},
      {"HostConfig", {{"NetworkMode", "none"}, {"RestartPolicy", {{"Name", "no"}}}}},
  };
  auto copyIf = [](nlohmann::json& target, const char* key, const nlohmann::json& value) {
    if (!value.is_null() && !(value.is_string() && value.get_ref<const std::string&>().empty()) &&
        !(value.is_array() && value.empty())) {
      target[key] = value;
    }
  };
  copyIf(body, "Hostname", moved.hostname);
  copyIf(body, "Domainname", moved.domainname);
  copyIf(body["HostConfig"], "Dns", moved.dns);
  copyIf(body["HostConfig"], "DnsOptions", moved.dnsOptions);
  copyIf(body["HostConfig"], "DnsSearch", moved.dnsSearch);
  copyIf(body["HostConfig"], "ExtraHosts", moved.extraHosts);
  return body;
}

}  // namespace

Driver::Driver(DriverConfig config, DriverDependencies dependencies)
    : config_(std::move(config)), deps_(std::move(dependencies)), allocator_(deps_.addresses) {}

Result<std::optional<Driver::Attached>> Driver::attach(const nlohmann::json& createBody,
                                                       const std::string& appName) {
  auto request = readNetworkRequest(createBody);
  if (!request) {
    return std::unexpected(request.error());
  }
  if (!*request) {
    return std::optional<Attached>();
  }
  if (auto rewritable = checkRewritable(createBody); !rewritable) {
    return std::unexpected(rewritable.error());  // before anything is allocated
  }
  const ipam::Subnet subnet = (*request)->subnet;
  const std::string cidr = subnet.toGatewayString();
  UndoStack undo;

  auto network = deps_.catalog->ensureNetwork(subnet);
  if (!network) {
    return makeError(network.error().code, fmt::format("network {} in the state database: {}", cidr,
                                                       network.error().message));
  }

  Endpoint endpoint;
  endpoint.id = newEndpointId();
  endpoint.subnet = subnet;
  endpoint.vni = network->vni;
  endpoint.appName = appName;
  const EndpointNames names = endpointNames(endpoint.id);
  endpoint.hostVeth = names.hostVeth;
  endpoint.mac = (*request)->macAddress.value_or(names.macString());

  auto ip = allocator_.allocate(subnet, endpoint.id, (*request)->ip);
  if (!ip) {
    return std::unexpected(fromIpam(ip.error()));
  }
  endpoint.ip = *ip;
  undo.push("release " + ip->toString(), [this, subnet, owner = endpoint.id]() -> Result<void> {
    if (auto released = allocator_.release(subnet, owner); !released) {
      return std::unexpected(fromIpam(released.error()));
    }
    return {};
  });

  auto image = deps_.runtime->ensurePauseImage();
  if (!image) {
    return std::unexpected(image.error());
  }
  nlohmann::json patched = createBody;
  const nlohmann::json networkLabels = {
      {labels::kRole, "network"},    {labels::kEndpoint, endpoint.id}, {labels::kNetwork, cidr},
      {labels::kIp, ip->toString()}, {labels::kMac, endpoint.mac},     {labels::kApp, appName},
  };
  // What Docker refuses with container: networking moves to the network-only container; the
  // mode itself names that container once it exists (below).
  auto moved =
      rewriteForNetworkContainer(patched, "", nlohmann::json{{labels::kEndpoint, endpoint.id}});
  if (!moved) {
    return std::unexpected(moved.error());
  }
  const std::string networkName =
      config_.networkContainerPrefix + (appName.empty() ? endpoint.id : appName);
  auto networkId =
      deps_.runtime->create(networkContainerBody(*image, *moved, networkLabels), networkName);
  if (!networkId) {
    return std::unexpected(networkId.error());
  }
  endpoint.networkContainerId = *networkId;
  undo.push("remove network-only container " + *networkId,
            [this, id = *networkId] { return deps_.runtime->remove(id); });

  if (auto started = deps_.runtime->start(*networkId); !started) {
    return std::unexpected(started.error());
  }
  auto running = deps_.runtime->inspect(*networkId);
  if (!running) {
    return std::unexpected(running.error());
  }
  if (!running->running || running->pid <= 0) {
    return makeError(ErrorCode::Unavailable,
                     fmt::format("network-only container {} is not running", networkName));
  }
  undo.push("delete veth " + endpoint.hostVeth,
            [this, veth = endpoint.hostVeth] { return deps_.netlink->deleteLink(veth); });
  undo.push("delete OVS port " + endpoint.hostVeth, [this, veth = endpoint.hostVeth] {
    ovsdb::SwitchChanges changes;
    changes.deletePort(veth);
    auto applied = deps_.ovs->apply(changes);
    return applied ? Result<void>{} : std::unexpected(applied.error());
  });
  if (auto wired = wire(endpoint, running->pid); !wired) {
    return std::unexpected(wired.error());
  }

  patched["HostConfig"]["NetworkMode"] = "container:" + *networkId;
  {
    std::scoped_lock lock(mutex_);
    endpoints_[endpoint.id] = endpoint;
  }
  undo.dismiss();
  spdlog::info("attached endpoint {} ({}) to {} as {} via {}", endpoint.id,
               appName.empty() ? "unnamed" : appName, cidr, ip->toString(), networkName);
  return std::optional<Attached>(Attached{std::move(patched), endpoint.id});
}

Result<void> Driver::wire(Endpoint& endpoint, pid_t pid) {
  VethSpec spec;
  spec.hostName = endpoint.hostVeth;
  spec.peerName = endpointNames(endpoint.id).containerVeth;
  spec.mac = parseMac(endpoint.mac).value_or(endpointNames(endpoint.id).mac);
  spec.mtu = config_.overlayMtu;
  spec.address = endpoint.ip;
  spec.prefixLength = endpoint.subnet.prefixLength();
  spec.gateway = endpoint.subnet.gateway();
  spec.disableTxChecksum = config_.datapath == ovsdb::DatapathType::Netdev;
  if (auto wired = deps_.netlink->wireContainer(spec, NamespaceRef::ofPid(pid)); !wired) {
    return wired;
  }

  auto peers = deps_.catalog->peers();
  if (!peers) {
    return std::unexpected(peers.error());
  }
  const std::string bridge = bridgeName(endpoint.vni);
  const std::string cidr = endpoint.subnet.toString();
  ovsdb::SwitchChanges changes;
  changes.ensureBridge({.name = bridge,
                        .datapath = config_.datapath,
                        .externalIds = {{"ovsplane-network", cidr},
                                        {"ovsplane-vni", std::to_string(endpoint.vni)}}});
  for (const PeerHost& peer : *peers) {
    changes.ensureVxlanPort(bridge, tunnelPortName(endpoint.vni, peer.vtepIp), peer.vtepIp,
                            endpoint.vni, {{"ovsplane-peer", peer.name}});
  }
  changes.ensurePort({.bridge = bridge,
                      .name = endpoint.hostVeth,
                      .type = "",
                      .options = {},
                      .externalIds = {{"ovsplane-endpoint", endpoint.id},
                                      {"ovsplane-network", cidr},
                                      {"ovsplane-ip", endpoint.ip.toString()},
                                      {"attached-mac", endpoint.mac}},
                      .isProtected = false});
  auto cfg = deps_.ovs->apply(changes);
  if (!cfg) {
    return std::unexpected(cfg.error());
  }
  if (config_.applyTimeout.count() > 0) {
    if (auto applied = deps_.ovs->waitApplied(*cfg, config_.applyTimeout); !applied) {
      return applied;
    }
  }
  endpoint.wiredPid = pid;
  return {};
}

Result<void> Driver::commit(const std::string& endpointId, const std::string& appId) {
  std::scoped_lock lock(mutex_);
  auto it = endpoints_.find(endpointId);
  if (it == endpoints_.end()) {
    return makeError(ErrorCode::NotFound,
                     fmt::format("no pending attach {} (rolled back or never made)", endpointId));
  }
  it->second.appId = appId;
  return {};
}

Result<void> Driver::rollback(const std::string& endpointId) {
  std::scoped_lock serialized(teardownMutex_);
  std::optional<Endpoint> endpoint;
  {
    std::scoped_lock lock(mutex_);
    auto it = endpoints_.find(endpointId);
    if (it == endpoints_.end()) return {};
    endpoint = it->second;
  }
  auto done = teardown(*endpoint);
  if (done) {
    std::scoped_lock lock(mutex_);
    endpoints_.erase(endpointId);
  }
  return done;
}

std::optional<Endpoint> Driver::findEndpoint(const std::string& appRef) const {
  const std::string ref = withoutSlash(appRef);
  if (ref.empty()) return std::nullopt;
  std::scoped_lock lock(mutex_);
  for (const auto& [id, endpoint] : endpoints_) {
    if (endpoint.appName == ref || (!endpoint.appId.empty() && endpoint.appId.starts_with(ref))) {
      return endpoint;
    }
  }
  return std::nullopt;
}

std::optional<Endpoint> Driver::recoverEndpoint(const std::string& appRef) {
  // After a restart: the app container's label names the endpoint; the network-only container's
  // labels hold the rest.
  auto app = deps_.runtime->inspect(appRef);
  if (!app) return std::nullopt;
  auto label = app->labels.find(labels::kEndpoint);
  if (label == app->labels.end()) return std::nullopt;
  auto networks =
      deps_.runtime->list({{labels::kRole, "network"}, {labels::kEndpoint, label->second}});
  if (!networks || networks->empty()) return std::nullopt;
  auto endpoint = endpointFromLabels(networks->front());
  if (!endpoint) return std::nullopt;
  auto network = deps_.catalog->ensureNetwork(endpoint->subnet);
  if (!network) return std::nullopt;
  endpoint->vni = network->vni;
  endpoint->appName = app->name;
  endpoint->appId = app->id;
  std::scoped_lock lock(mutex_);
  endpoints_[endpoint->id] = *endpoint;
  return endpoint;
}

Result<void> Driver::ensureWired(const std::string& appRef) {
  std::optional<Endpoint> endpoint = findEndpoint(appRef);
  if (!endpoint) endpoint = recoverEndpoint(appRef);
  if (!endpoint) return {};  // not an ovsplane container
  auto net = deps_.runtime->inspect(endpoint->networkContainerId);
  if (!net) {
    return makeError(
        net.error().code == ErrorCode::NotFound ? ErrorCode::NotFound : net.error().code,
        fmt::format("network-only container of {} is gone: {}", appRef, net.error().message));
  }
  if (!net->running) {
    if (auto started = deps_.runtime->start(endpoint->networkContainerId); !started) {
      return started;
    }
    net = deps_.runtime->inspect(endpoint->networkContainerId);
    if (!net) return std::unexpected(net.error());
  }
  if (net->pid == endpoint->wiredPid && net->pid > 0) {
    return {};  // same namespace as when wired
  }
  // The old veth died with the old namespace. ovs-vswitchd keeps the port's stale device open
  // if the row merely stays: remove the port first, so the new veth is opened afresh.
  ovsdb::SwitchChanges unplug;
  unplug.deletePort(endpoint->hostVeth);
  auto unplugged = deps_.ovs->apply(unplug);
  if (!unplugged) {
    return std::unexpected(unplugged.error());
  }
  if (config_.applyTimeout.count() > 0) {
    if (auto applied = deps_.ovs->waitApplied(*unplugged, config_.applyTimeout); !applied) {
      return applied;
    }
  }
  spdlog::info("rewiring endpoint {} ({}): network-only container now pid {}", endpoint->id, appRef,
               net->pid);
  if (auto wired = wire(*endpoint, net->pid); !wired) {
    return wired;
  }
  std::scoped_lock lock(mutex_);
  endpoints_[endpoint->id].wiredPid = endpoint->wiredPid;
  return {};
}

Result<void> Driver::teardown(const Endpoint& endpoint) {
  std::optional<Error> first;
  auto note = [&](Result<void> step) {
    if (!step && !first) first = step.error();
  };
  ovsdb::SwitchChanges changes;
  changes.deletePort(endpoint.hostVeth);
  if (config_.deleteEmptyBridges && endpoint.vni != 0) {
    bool lastOnThisHost = true;
    {
      std::scoped_lock lock(mutex_);
      for (const auto& [id, other] : endpoints_) {
        lastOnThisHost = lastOnThisHost && (id == endpoint.id || other.vni != endpoint.vni);
      }
    }
    if (lastOnThisHost) changes.deleteBridge(bridgeName(endpoint.vni));  // same transaction
  }
  auto applied = deps_.ovs->apply(changes);
  note(applied ? Result<void>{} : std::unexpected(applied.error()));
  note(deps_.netlink->deleteLink(endpoint.hostVeth));
  if (!endpoint.networkContainerId.empty()) {
    note(deps_.runtime->remove(endpoint.networkContainerId));
  }
  if (auto released = allocator_.release(endpoint.subnet, endpoint.id); !released) {
    note(std::unexpected(fromIpam(released.error())));
  }
  if (first) return std::unexpected(*first);
  return {};
}

Result<void> Driver::detach(const std::string& appRef) {
  std::scoped_lock serialized(teardownMutex_);
  std::optional<Endpoint> endpoint = findEndpoint(appRef);
  if (!endpoint) {
    // Not remembered (e.g. ovsplane restarted): find the network-only container by app name.
    const std::string ref = withoutSlash(appRef);
    if (ref.empty()) return {};
    auto networks = deps_.runtime->list({{labels::kRole, "network"}, {labels::kApp, ref}});
    if (!networks || networks->empty()) return {};
    endpoint = endpointFromLabels(networks->front());
    if (!endpoint) return {};
  }
  auto done = teardown(*endpoint);
  if (done) {
    std::scoped_lock lock(mutex_);
    endpoints_.erase(endpoint->id);
    spdlog::info("detached endpoint {} ({}) from {}", endpoint->id, appRef,
                 endpoint->subnet.toGatewayString());
  }
  return done;
}

Result<size_t> Driver::reconcileTunnels() {
  std::set<uint32_t> vnis;
  {
    std::scoped_lock lock(mutex_);
    for (const auto& [id, endpoint] : endpoints_) {
      if (endpoint.vni != 0) vnis.insert(endpoint.vni);
    }
  }
  auto peers = deps_.catalog->peers();
  if (!peers) return std::unexpected(peers.error());
  auto owned = deps_.ovs->ownedPorts();
  if (!owned) return std::unexpected(owned.error());
  // Networks with endpoints here, from OVS too: after a restart the driver remembers no
  // endpoint yet, and existing containers must keep their tunnels.
  for (const auto& port : *owned) {
    if (port.type.empty() && port.externalIds.contains("ovsplane-endpoint") &&
        port.bridge.starts_with("ovpbr")) {
      uint32_t vni = 0;
      const std::string_view digits = std::string_view(port.bridge).substr(5);
      if (std::from_chars(digits.data(), digits.data() + digits.size(), vni).ec == std::errc() &&
          vni != 0) {
        vnis.insert(vni);
      }
    }
  }

  std::set<std::string> wanted;
  ovsdb::SwitchChanges changes;
  size_t changed = 0;
  std::set<std::string> existing;
  for (const auto& port : *owned) {
    if (port.type == "vxlan") existing.insert(port.name);
  }
  for (uint32_t vni : vnis) {
    for (const PeerHost& peer : *peers) {
      const std::string name = tunnelPortName(vni, peer.vtepIp);
      wanted.insert(name);
      if (!existing.contains(name)) {
        changes.ensureVxlanPort(bridgeName(vni), name, peer.vtepIp, vni,
                                {{"ovsplane-peer", peer.name}});
        ++changed;
      }
    }
  }
  for (const auto& port : *owned) {
    if (port.type == "vxlan" && !wanted.contains(port.name)) {
      changes.deletePort(port.name);  // a departed host, or a network gone from this host
      ++changed;
    }
  }
  if (changes.empty()) return size_t{0};
  auto applied = deps_.ovs->apply(changes);
  if (!applied) return std::unexpected(applied.error());
  spdlog::info("tunnels reconciled: {} vxlan ports added or removed ({} peers, {} networks)",
               changed, peers->size(), vnis.size());
  return changed;
}

std::vector<Endpoint> Driver::endpoints() const {
  std::scoped_lock lock(mutex_);
  std::vector<Endpoint> out;
  for (const auto& [id, endpoint] : endpoints_) out.push_back(endpoint);
  return out;
}

}  // namespace ovsplane::netdrv
