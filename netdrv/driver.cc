#include "netdrv/driver.h"

#include <charconv>
#include <functional>
#include <set>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/fault_point.h"
#include "netdrv/docker_replies.h"
#include "netdrv/naming.h"

namespace ovsplane::netdrv {
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

namespace {

/** The network-only container: a pause process with the settings Docker refuses on the app. */
nlohmann::json networkContainerBody(const std::string& image, const NetworkContainerSettings& moved,
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

bool movesNothing(const NetworkContainerSettings& moved) {
  auto empty = [](const nlohmann::json& value) {
    return value.is_null() || (value.is_string() && value.get_ref<const std::string&>().empty()) ||
           (value.is_array() && value.empty());
  };
  return empty(moved.hostname) && empty(moved.domainname) && empty(moved.dns) &&
         empty(moved.dnsOptions) && empty(moved.dnsSearch) && empty(moved.extraHosts);
}

/** Adds the time since construction to a counter when it goes out of scope. */
class PhaseTimer {
 public:
  explicit PhaseTimer(std::chrono::microseconds& into)
      : into_(into), start_(std::chrono::steady_clock::now()) {}
  ~PhaseTimer() {
    into_ += std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start_);
  }
  PhaseTimer(const PhaseTimer&) = delete;
  PhaseTimer& operator=(const PhaseTimer&) = delete;

 private:
  std::chrono::microseconds& into_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

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

Driver::Driver(DriverConfig config, DriverDependencies dependencies)
    : config_(std::move(config)),
      deps_(std::move(dependencies)),
      overlayMtu_(config_.overlayMtu),
      allocator_(deps_.addresses) {
  if (config_.poolSize > 0) {
    pool_ = std::make_unique<NetworkContainerPool>(
        PoolConfig{.size = config_.poolSize,
                   .namePrefix = config_.networkContainerPrefix,
                   .retry = std::chrono::seconds(2),
                   .healthCheck = std::chrono::seconds(10),
                   .stillRuns = processInContainer},
        deps_.runtime, [this](const std::string& endpointId) { return holdsAddress(endpointId); });
  }
}

Result<bool> Driver::holdsAddress(const std::string& endpointId) {
  auto addresses = deps_.catalog->hostAddresses();
  if (!addresses) return std::unexpected(addresses.error());
  for (const HostAddress& address : *addresses) {
    if (address.owner == endpointId) return true;
  }
  return false;
}

std::string labelOf(const RuntimeContainer& container, const char* key) {
  auto it = container.labels.find(key);
  return it == container.labels.end() ? std::string() : it->second;
}

/** What a network-only container's labels say of its endpoint (no VNI, no app id): after a
 *  restart the driver learns its endpoints from them. nullopt unless they are complete. */
std::optional<Endpoint> endpointFromLabels(const RuntimeContainer& net,
                                           const RuntimeContainer* app) {
  const std::string id = labelOf(net, labels::kEndpoint);
  const bool appSays = app != nullptr && labelOf(*app, labels::kEndpoint) == id;
  auto label = [&](const char* key) {
    std::string value = labelOf(net, key);
    return value.empty() && appSays ? labelOf(*app, key) : value;
  };
  auto subnet = ipam::Subnet::parse(label(labels::kNetwork));
  auto ip = ipam::Ipv4Address::parse(label(labels::kIp));
  if (!subnet || !ip || id.empty()) return std::nullopt;
  Endpoint endpoint;
  endpoint.id = id;
  endpoint.subnet = *subnet;
  endpoint.ip = *ip;
  const std::string mac = label(labels::kMac);
  endpoint.mac = mac.empty() ? endpointNames(id).macString() : mac;
  endpoint.networkContainerId = net.id;
  endpoint.hostVeth = endpointNames(id).hostVeth;
  endpoint.appName = labelOf(net, labels::kApp);
  endpoint.state = EndpointState::Pending;
  endpoint.since = std::chrono::steady_clock::now();
  return endpoint;
}

Result<AttachedEndpoint> Driver::attach(const AttachRequest& request) {
  const ipam::Subnet subnet = request.subnet;
  const std::string cidr = subnet.toGatewayString();
  const std::string& appName = request.appName;
  AttachTimings timings;
  // A pooled network-only container has no hostname, DNS or MAC of its own to give.
  std::optional<PooledContainer> pooled;
  if (pool_ && !request.mac && movesNothing(request.moved)) {
    PhaseTimer timer(timings.docker);
    pooled = pool_->claim();
  }
  timings.pooled = pooled.has_value();
  // Set once the address is asked for: the state database may hold it for this endpoint id
  // even when the answer is an error (a lost reply), so the container is no longer as made.
  bool addressAsked = false;
  UndoStack undo;  // after what its steps refer to: it runs first when the attach returns

  Endpoint endpoint;
  endpoint.id = pooled ? pooled->endpointId : randomEndpointId();
  endpoint.subnet = subnet;
  endpoint.appName = appName;
  const EndpointNames names = endpointNames(endpoint.id);
  endpoint.hostVeth = names.hostVeth;
  endpoint.mac = request.mac.value_or(names.macString());
  endpoint.state = EndpointState::Attaching;
  endpoint.since = std::chrono::steady_clock::now();
  {
    // Known from the start: the reconciler leaves an attach in progress alone.
    std::scoped_lock lock(mutex_);
    endpoints_[endpoint.id] = endpoint;
  }
  if (pooled) {
    // Runs last, after the endpoint is forgotten (another attach may claim it at once): back
    // into the pool when nothing but the network lookup was tried, else removed.
    undo.push("return pooled container", [this, &pooled, &addressAsked]() -> Result<void> {
      if (!pooled) return {};
      if (!addressAsked) {
        pool_->giveBack(*std::exchange(pooled, std::nullopt));
        return {};
      }
      return deps_.runtime->remove(std::exchange(pooled, std::nullopt)->containerId);
    });
  }
  undo.push("forget endpoint " + endpoint.id, [this, id = endpoint.id]() -> Result<void> {
    forget(id);
    return {};
  });

  std::optional<ipam::Ipv4Address> ip;
  {
    PhaseTimer timer(timings.stateDb);
    auto network = deps_.catalog->ensureNetwork(
        subnet, NetworkOptions{.nat = request.nat.value_or(config_.natByDefault)});
    if (!network) {
      return makeError(network.error().code, fmt::format("network {} in the state database: {}",
                                                         cidr, network.error().message));
    }
    endpoint.vni = network->vni;
    faultPoint("attach.network");
    addressAsked = true;
    auto allocated = allocator_.allocate(subnet, endpoint.id, request.ip);
    if (!allocated) {
      const Error refused = fromIpam(allocated.error());
      // A refusal (taken, exhausted, out of range) reserved nothing; only an outage may have.
      addressAsked = refused.code == ErrorCode::Unavailable;
      return std::unexpected(refused);
    }
    ip = *allocated;
  }
  endpoint.ip = *ip;
  undo.push("release " + ip->toString(),
            [this, subnet, owner = endpoint.id] { return releaseAddress(subnet, owner); });
  faultPoint("attach.allocated");

  std::pair<std::string, pid_t> network;
  {
    PhaseTimer timer(timings.docker);
    auto provided =
        provideNetworkContainer(request, endpoint, std::exchange(pooled, std::nullopt), undo);
    if (!provided) return std::unexpected(provided.error());
    network = *provided;
  }
  undo.push("delete veth " + endpoint.hostVeth,
            [this, veth = endpoint.hostVeth] { return deps_.netlink->deleteLink(veth); });
  undo.push("delete OVS port " + endpoint.hostVeth, [this, veth = endpoint.hostVeth] {
    auto deleted = deletePort(veth);
    return deleted ? Result<void>{} : std::unexpected(deleted.error());
  });
  if (auto wired = wire(endpoint, network.second, &timings); !wired) {
    return std::unexpected(wired.error());
  }
  faultPoint("attach.ovs");

  endpoint.state = EndpointState::Pending;
  endpoint.since = std::chrono::steady_clock::now();
  endpoint.inFlight = true;
  {
    std::scoped_lock lock(mutex_);
    endpoints_[endpoint.id] = endpoint;
  }
  undo.dismiss();
  if (timings.pooled && !appName.empty()) {
    pool_->renameLater(network.first, networkContainerName(appName, endpoint.id));
  }
  spdlog::info("attached endpoint {} ({}) to {} as {} via {}{}", endpoint.id,
               appName.empty() ? "unnamed" : appName, cidr, ip->toString(),
               network.first.substr(0, 12), timings.pooled ? " (pooled)" : "");
  return AttachedEndpoint{.endpointId = endpoint.id,
                          .networkContainerId = network.first,
                          .ip = *ip,
                          .appLabels = {{labels::kNetwork, cidr},
                                        {labels::kIp, ip->toString()},
                                        {labels::kMac, endpoint.mac}},
                          .timings = timings};
}

std::string Driver::networkContainerName(const std::string& appName,
                                         const std::string& endpointId) const {
  return config_.networkContainerPrefix + (appName.empty() ? endpointId : appName);
}

Result<std::pair<std::string, pid_t>> Driver::provideNetworkContainer(
    const AttachRequest& request, Endpoint& endpoint, std::optional<PooledContainer> pooled,
    UndoStack& undo) {
  const std::string& appName = request.appName;
  if (pooled) {
    endpoint.networkContainerId = pooled->containerId;
    undo.push("remove pooled network-only container " + pooled->containerId,
              [this, id = pooled->containerId] {
                faultPoint("rollback.container");
                return deps_.runtime->remove(id);
              });
    faultPoint("attach.pool-claimed");
    // Named after the app, as a created one is, once the attach stands (the end of attach()).
    return std::pair{pooled->containerId, pooled->pid};
  }
  const std::string networkName = networkContainerName(appName, endpoint.id);
  auto image = deps_.runtime->ensurePauseImage();
  if (!image) {
    return std::unexpected(image.error());
  }
  const nlohmann::json networkLabels = {
      {labels::kRole, "network"},
      {labels::kEndpoint, endpoint.id},
      {labels::kNetwork, endpoint.subnet.toGatewayString()},
      {labels::kIp, endpoint.ip.toString()},
      {labels::kMac, endpoint.mac},
      {labels::kApp, appName},
  };
  auto networkId = deps_.runtime->create(networkContainerBody(*image, request.moved, networkLabels),
                                         networkName);
  if (!networkId) {
    return std::unexpected(networkId.error());
  }
  endpoint.networkContainerId = *networkId;
  undo.push("remove network-only container " + *networkId, [this, id = *networkId] {
    faultPoint("rollback.container");
    return deps_.runtime->remove(id);
  });
  faultPoint("attach.net-created");

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
  faultPoint("attach.net-started");
  return std::pair{*networkId, running->pid};
}

namespace {
/** The access port of a Powerstrip endpoint. */
AccessPort accessPortOf(const Endpoint& endpoint) {
  return AccessPort{.subnet = endpoint.subnet,
                    .vni = endpoint.vni,
                    .name = endpoint.hostVeth,
                    .externalIds = {{"ovsplane-endpoint", endpoint.id},
                                    {"ovsplane-network", endpoint.subnet.toString()},
                                    {"ovsplane-ip", endpoint.ip.toString()},
                                    {"attached-mac", endpoint.mac}}};
}
}  // namespace

void Driver::addPlug(ovsdb::SwitchChanges& changes, const AccessPort& port,
                     const std::vector<PeerHost>& peers) const {
  const std::string bridge = bridgeName(port.vni);
  changes.ensureBridge(
      networkBridge(port.subnet.toString(), port.vni, config_.datapath, overlayMtu()));
  for (const PeerHost& peer : peers) {
    changes.ensureVxlanPort(bridge, tunnelPortName(port.vni, peer.vtepIp), peer.vtepIp, port.vni,
                            {{"ovsplane-peer", peer.name}});
  }
  changes.ensurePort({.bridge = bridge,
                      .name = port.name,
                      .type = "",
                      .options = {},
                      .externalIds = port.externalIds,
                      .isProtected = false});
}

Result<void> Driver::waitForVswitchd(int64_t nextCfg) const {
  if (config_.applyTimeout.count() == 0) return {};
  return deps_.ovs->waitApplied(nextCfg, config_.applyTimeout);
}

Result<int64_t> Driver::plug(const AccessPort& port) {
  auto peers = deps_.catalog->peers();
  if (!peers) {
    return std::unexpected(peers.error());
  }
  ovsdb::SwitchChanges changes;
  addPlug(changes, port, *peers);
  return deps_.ovs->apply(changes);
}

Result<void> Driver::awaitApplied(const Endpoint& endpoint) {
  if (!endpoint.unappliedCfg) return {};
  if (auto applied = waitForVswitchd(*endpoint.unappliedCfg); !applied) {
    return makeError(applied.error().code, fmt::format("the OVS port {} is not in place yet: {}",
                                                       endpoint.hostVeth, applied.error().message));
  }
  std::scoped_lock lock(mutex_);
  if (auto it = endpoints_.find(endpoint.id); it != endpoints_.end()) {
    it->second.unappliedCfg.reset();
  }
  return {};
}

Result<void> Driver::wire(Endpoint& endpoint, pid_t pid, AttachTimings* timings) {
  AttachTimings ignored;
  AttachTimings& into = timings != nullptr ? *timings : ignored;
  VethSpec spec;
  spec.hostName = endpoint.hostVeth;
  spec.peerName = endpointNames(endpoint.id).containerVeth;
  spec.mac = parseMac(endpoint.mac).value_or(endpointNames(endpoint.id).mac);
  spec.mtu = overlayMtu();
  spec.address = endpoint.ip;
  spec.prefixLength = endpoint.subnet.prefixLength();
  spec.gateway = endpoint.subnet.gateway();
  spec.disableTxChecksum = config_.datapath == ovsdb::DatapathType::Netdev;
  {
    PhaseTimer timer(into.netlink);
    if (auto wired = deps_.netlink->wireContainer(spec, NamespaceRef::ofPid(pid)); !wired) {
      return wired;
    }
  }
  faultPoint("attach.veth");
  {
    PhaseTimer timer(into.ovsdb);
    // An attach leaves ovs-vswitchd's part to the app's start (ensureWired), which comes after
    // Docker has created the app: by then it is done.
    endpoint.unappliedCfg.reset();
    auto cfg = plug(accessPortOf(endpoint));
    if (!cfg) {
      return std::unexpected(cfg.error());
    }
    if (timings != nullptr) {
      endpoint.unappliedCfg = *cfg;
    } else if (auto applied = waitForVswitchd(*cfg); !applied) {
      return applied;
    }
  }
  endpoint.wiredPid = pid;
  return {};
}

std::optional<Endpoint> Driver::find(const std::string& endpointId) const {
  std::scoped_lock lock(mutex_);
  auto it = endpoints_.find(endpointId);
  if (it == endpoints_.end()) return std::nullopt;
  return it->second;
}

std::optional<Endpoint> Driver::findByApp(const std::string& appId) const {
  if (appId.empty()) return std::nullopt;
  std::scoped_lock lock(mutex_);
  for (const auto& [id, endpoint] : endpoints_) {
    if (endpoint.appId == appId) return endpoint;
  }
  return std::nullopt;
}

void Driver::forget(const std::string& endpointId) {
  std::scoped_lock lock(mutex_);
  endpoints_.erase(endpointId);
}

void Driver::setState(const std::string& endpointId, EndpointState state) {
  std::scoped_lock lock(mutex_);
  auto it = endpoints_.find(endpointId);
  if (it == endpoints_.end() || it->second.state == state) return;
  it->second.state = state;
  it->second.since = std::chrono::steady_clock::now();
}

Result<void> Driver::commit(const std::string& endpointId, const std::string& appId) {
  faultPoint("commit.before");
  std::scoped_lock lock(mutex_);
  auto it = endpoints_.find(endpointId);
  if (it == endpoints_.end()) {
    return makeError(ErrorCode::NotFound,
                     fmt::format("no pending attach {} (rolled back or never made)", endpointId));
  }
  it->second.appId = appId;
  it->second.inFlight = false;
  if (it->second.state != EndpointState::Broken) {
    it->second.state = EndpointState::Committed;
    it->second.since = std::chrono::steady_clock::now();
  }
  return {};
}

Result<void> Driver::commitCreated(const std::string& appId, const std::string& hint) {
  std::string endpointId = hint;
  if (auto app = deps_.runtime->inspect(appId); app) {
    const std::string label = labelOf(*app, labels::kEndpoint);
    if (label.empty()) return {};  // not a container ovsplane attached
    if (auto committed = commit(label, appId); !committed) return committed;
    if (!app->name.empty()) appRenamed(appId, app->name);  // its name, as Docker gave it
    return {};
  }
  if (endpointId.empty()) {
    return makeError(ErrorCode::NotFound,
                     fmt::format("container {} names no ovsplane attach", appId));
  }
  return commit(endpointId, appId);
}

Result<void> Driver::rollback(const std::string& endpointId) {
  auto endpoint = find(endpointId);
  if (!endpoint) return {};
  if (endpoint->state == EndpointState::Committed || endpoint->state == EndpointState::Broken) {
    return {};  // an app uses it: never undone by a stray refusal
  }
  // An app container carrying this endpoint means Docker did create it (the refusal came from
  // elsewhere, or the hooks of two identical requests crossed): commit instead.
  if (auto app = appOf(endpointId); app && *app) return commit(endpointId, (*app)->id);
  return teardown(*endpoint);
}

Result<std::optional<RuntimeContainer>> Driver::appOf(const std::string& endpointId) {
  auto labelled = deps_.runtime->list({{labels::kEndpoint, endpointId}});
  if (!labelled) return std::unexpected(labelled.error());
  for (const auto& container : *labelled) {
    if (labelOf(container, labels::kRole).empty()) return container;
  }
  return std::nullopt;
}

std::optional<Endpoint> Driver::recoverEndpoint(const RuntimeContainer& app) {
  // The app container's label names the endpoint; the network-only container's labels hold the
  // rest (after a restart, before the reconciler has looked, or an attach by another process).
  const std::string label = labelOf(app, labels::kEndpoint);
  if (label.empty()) return std::nullopt;
  auto networks = deps_.runtime->list({{labels::kRole, "network"}, {labels::kEndpoint, label}});
  if (!networks || networks->empty()) return std::nullopt;
  auto endpoint = endpointFromLabels(networks->front(), &app);
  if (!endpoint) return std::nullopt;
  auto network = deps_.catalog->ensureNetwork(endpoint->subnet, NetworkOptions{});
  if (!network) return std::nullopt;
  endpoint->vni = network->vni;
  endpoint->appName = app.name;
  endpoint->appId = app.id;
  endpoint->state = EndpointState::Committed;
  adopt(*endpoint);
  return find(endpoint->id);
}

Result<void> Driver::ensureWired(const std::string& appRef) {
  auto app = deps_.runtime->inspect(withoutSlash(appRef));
  if (!app) {
    if (app.error().code == ErrorCode::NotFound) return {};  // Docker will say so itself
    return std::unexpected(app.error());
  }
  const std::string label = labelOf(*app, labels::kEndpoint);
  if (label.empty() || !labelOf(*app, labels::kRole).empty()) return {};  // not an ovsplane app
  std::optional<Endpoint> endpoint = find(label);
  if (!endpoint) endpoint = recoverEndpoint(*app);
  if (!endpoint) {
    return makeError(ErrorCode::NotFound,
                     fmt::format("the network-only container of {} is gone (removed by hand?): "
                                 "remove {} and create it again",
                                 app->name, app->name));
  }
  if (endpoint->appId.empty()) (void)commit(endpoint->id, app->id);  // its post-hook was lost
  auto net = deps_.runtime->inspect(endpoint->networkContainerId);
  if (!net) {
    if (net.error().code == ErrorCode::NotFound) setState(endpoint->id, EndpointState::Broken);
    return makeError(net.error().code,
                     fmt::format("the network-only container of {} is gone: {}; remove {} and "
                                 "create it again",
                                 app->name, net.error().message, app->name));
  }
  if (!net->running) {
    if (auto started = deps_.runtime->start(endpoint->networkContainerId); !started) {
      return started;
    }
    net = deps_.runtime->inspect(endpoint->networkContainerId);
    if (!net) return std::unexpected(net.error());
    faultPoint("wire.start-net");
  }
  if (net->pid == endpoint->wiredPid && net->pid > 0) {
    return awaitApplied(*endpoint);  // same namespace as when wired
  }
  spdlog::info("rewiring endpoint {} ({}): network-only container now pid {}", endpoint->id,
               app->name, net->pid);
  return rewire(endpoint->id, net->pid);
}

Result<void> Driver::rewire(const std::string& endpointId, pid_t pid) {
  // A start's hooks, its Docker event and a reconciler pass may all find the same endpoint
  // unwired: the first wires it, the others see it done.
  std::scoped_lock wiring(wiringMutex_);
  auto endpoint = find(endpointId);
  if (!endpoint) return makeError(ErrorCode::NotFound, "no endpoint " + endpointId);
  if (endpoint->wiredPid == pid && pid > 0) {
    if (auto present = deps_.netlink->linkExists(endpoint->hostVeth); present && *present) {
      return {};  // wired into that namespace, its veth in place
    }
  }
  // The old veth died with the old namespace. ovs-vswitchd keeps the port's stale device open
  // if the row merely stays: remove the port first, so the new veth is opened afresh.
  auto unplugged = deletePort(endpoint->hostVeth);
  if (!unplugged) {
    return std::unexpected(unplugged.error());
  }
  if (auto applied = waitForVswitchd(*unplugged); !applied) {
    return applied;
  }
  faultPoint("wire.unplugged");
  if (auto wired = wire(*endpoint, pid); !wired) {
    return wired;
  }
  markWired(endpointId, pid);
  return {};
}

Result<void> Driver::unplug(const std::string& endpointId) {
  std::scoped_lock wiring(wiringMutex_);
  auto endpoint = find(endpointId);
  if (!endpoint) return {};
  // Judged on an older look at Docker: a start since then has wired it again.
  if (auto net = deps_.runtime->inspect(endpoint->networkContainerId); !net || net->running) {
    return {};
  }
  if (auto deleted = deletePort(endpoint->hostVeth); !deleted) {
    return std::unexpected(deleted.error());
  }
  if (auto deleted = deps_.netlink->deleteLink(endpoint->hostVeth); !deleted) return deleted;
  markWired(endpointId, 0);
  return {};
}

void Driver::markWired(const std::string& endpointId, pid_t pid) {
  std::scoped_lock lock(mutex_);
  auto it = endpoints_.find(endpointId);
  if (it == endpoints_.end()) return;
  it->second.wiredPid = pid;
  it->second.unappliedCfg.reset();  // a rewire waits for ovs-vswitchd itself
}

Result<void> Driver::teardown(const Endpoint& endpoint) {
  std::scoped_lock serialized(teardownMutex_);
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
  if (applied) {
    // ovs-vswitchd lets go of the device before it disappears (else it polls a dead veth and
    // logs errors); a slow or absent vswitchd only delays this, it does not fail the teardown.
    (void)waitForVswitchd(*applied);
  }
  faultPoint("detach.port");
  note(deps_.netlink->deleteLink(endpoint.hostVeth));
  faultPoint("detach.veth");
  bool containerGone = true;
  if (!endpoint.networkContainerId.empty()) {
    auto removed = deps_.runtime->remove(endpoint.networkContainerId);
    containerGone = removed.has_value();
    note(std::move(removed));
  }
  faultPoint("detach.container");
  // The address goes with the container: released while a (pooled) container remains, that
  // container could be taken for a ready one. A retry or the reconciler does both.
  if (containerGone) note(releaseAddress(endpoint.subnet, endpoint.id));
  faultPoint("detach.released");
  if (first) return std::unexpected(*first);
  forget(endpoint.id);
  spdlog::info("detached endpoint {} ({}) from {}", endpoint.id,
               endpoint.appName.empty() ? endpoint.appId : endpoint.appName,
               endpoint.subnet.toGatewayString());
  return {};
}

Result<void> Driver::detach(const std::string& appRef) {
  const std::string ref = withoutSlash(appRef);
  if (ref.empty()) return {};
  // Candidates by what the user typed; each is acted on only once Docker confirms that its app,
  // by full id, is gone (a name or prefix never removes another container's network).
  std::vector<Endpoint> candidates;
  {
    std::scoped_lock lock(mutex_);
    for (const auto& [id, endpoint] : endpoints_) {
      if (endpoint.appId.empty()) continue;
      if (endpoint.appName == ref || endpoint.appId.starts_with(ref)) {
        candidates.push_back(endpoint);
      }
    }
  }
  if (candidates.empty()) {
    // Not remembered (an app attached by another process): its network-only container's label.
    auto networks = deps_.runtime->list({{labels::kRole, "network"}, {labels::kApp, ref}});
    if (networks) {
      for (const auto& net : *networks) {
        if (auto endpoint = endpointFromLabels(net)) {
          if (auto app = appOf(endpoint->id); app && !*app) candidates.push_back(*endpoint);
        }
      }
    }
    for (const auto& endpoint : candidates) {
      if (auto done = teardown(endpoint); !done) return done;
    }
    return {};
  }
  for (const auto& endpoint : candidates) {
    auto app = deps_.runtime->inspect(endpoint.appId);
    if (app) continue;  // still there: another container matched the name or prefix
    if (app.error().code != ErrorCode::NotFound) return std::unexpected(app.error());
    if (auto done = teardown(endpoint); !done) return done;
  }
  return {};
}

void Driver::adopt(const Endpoint& learned) {
  std::scoped_lock lock(mutex_);
  auto [it, inserted] = endpoints_.try_emplace(learned.id, learned);
  Endpoint& known = it->second;
  if (inserted) {
    if (known.since == std::chrono::steady_clock::time_point{}) {
      known.since = std::chrono::steady_clock::now();
    }
    return;
  }
  if (known.state == EndpointState::Attaching) return;  // attach() owns it until it returns
  if (known.appId.empty() && !learned.appId.empty()) {
    known.appId = learned.appId;
    known.inFlight = false;
    if (known.state == EndpointState::Pending) {
      known.state = EndpointState::Committed;
      known.since = std::chrono::steady_clock::now();
    }
  }
  if (!learned.appName.empty()) known.appName = learned.appName;
  if (known.vni == 0) known.vni = learned.vni;
  if (known.networkContainerId.empty()) known.networkContainerId = learned.networkContainerId;
}

void Driver::appRenamed(const std::string& appId, const std::string& name) {
  std::scoped_lock lock(mutex_);
  for (auto& [id, endpoint] : endpoints_) {
    if (endpoint.appId == appId) endpoint.appName = withoutSlash(name);
  }
}

Result<void> Driver::containerRemoved(const std::string& id) {
  if (auto endpoint = findByApp(id)) {
    return teardown(*endpoint);
  }
  std::optional<Endpoint> orphaned;
  {
    std::scoped_lock lock(mutex_);
    for (auto& [endpointId, endpoint] : endpoints_) {
      if (endpoint.networkContainerId == id && endpoint.state != EndpointState::Attaching) {
        orphaned = endpoint;
      }
    }
  }
  if (!orphaned) return {};
  if (orphaned->state == EndpointState::Committed || orphaned->state == EndpointState::Broken) {
    if (deps_.runtime->inspect(orphaned->appId)) {
      setState(orphaned->id, EndpointState::Broken);
      spdlog::error(
          "the network-only container of {} ({}) was removed by hand: {} keeps its address and "
          "network until it stops, then cannot start again; remove {} and create it again",
          orphaned->appName, orphaned->subnet.toGatewayString(), orphaned->appName,
          orphaned->appName);
      return {};
    }
  } else if (orphaned->state == EndpointState::Pending) {
    return {};  // its create may still reach Docker: the reconciler judges it after the grace
  }
  return teardown(*orphaned);
}

std::vector<Error> Driver::replug(const std::vector<Endpoint>& endpoints) {
  std::vector<Error> errors;
  if (endpoints.empty()) return errors;
  auto peers = deps_.catalog->peers();
  if (!peers) {
    errors.push_back(peers.error());
    return errors;
  }
  std::map<uint32_t, ovsdb::SwitchChanges> byNetwork;
  for (const Endpoint& endpoint : endpoints) {
    if (endpoint.vni != 0) addPlug(byNetwork[endpoint.vni], accessPortOf(endpoint), *peers);
  }
  for (auto& [vni, changes] : byNetwork) {
    auto applied = deps_.ovs->apply(changes);
    if (!applied) {
      errors.push_back(
          Error{applied.error().code, fmt::format("network {} (bridge {}): {}", vni,
                                                  bridgeName(vni), applied.error().message)});
      continue;
    }
    // An app started next waits for this configuration, never for one of a database since
    // wiped (its next_cfg counts anew).
    std::scoped_lock lock(mutex_);
    for (const Endpoint& endpoint : endpoints) {
      auto it = endpoints_.find(endpoint.id);
      if (endpoint.vni == vni && it != endpoints_.end()) it->second.unappliedCfg = *applied;
    }
  }
  return errors;
}

Result<int64_t> Driver::deletePort(const std::string& name) {
  ovsdb::SwitchChanges changes;
  changes.deletePort(name);
  return deps_.ovs->apply(changes);
}

Result<void> Driver::releaseAddress(const ipam::Subnet& subnet, const std::string& owner) {
  if (auto released = allocator_.release(subnet, owner); !released) {
    return std::unexpected(fromIpam(released.error()));
  }
  return {};
}

bool Driver::drainAttaches(std::chrono::milliseconds limit) const {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    bool attaching = false;
    {
      std::scoped_lock lock(mutex_);
      for (const auto& [id, endpoint] : endpoints_) {
        attaching = attaching || endpoint.state == EndpointState::Attaching;
      }
    }
    if (!attaching) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::set<uint32_t> Driver::localVnis(const std::vector<ovsdb::PortInfo>& owned) const {
  std::set<uint32_t> vnis;
  {
    std::scoped_lock lock(mutex_);
    for (const auto& [id, endpoint] : endpoints_) {
      if (endpoint.vni != 0) vnis.insert(endpoint.vni);
    }
  }
  // Networks with endpoints here, from OVS too: after a restart the driver remembers no
  // endpoint yet, and existing containers must keep their tunnels and gateways.
  for (const auto& port : owned) {
    const bool endpointPort = port.externalIds.contains("ovsplane-endpoint") ||
                              port.externalIds.contains("ovsplane-docker-endpoint");
    if (port.type.empty() && endpointPort && port.bridge.starts_with("ovpbr")) {
      uint32_t vni = 0;
      const std::string_view digits = std::string_view(port.bridge).substr(5);
      if (std::from_chars(digits.data(), digits.data() + digits.size(), vni).ec == std::errc() &&
          vni != 0) {
        vnis.insert(vni);
      }
    }
  }
  return vnis;
}

std::vector<Error> Driver::changeOverlayMtu(uint32_t mtu) {
  overlayMtu_.store(mtu);
  std::scoped_lock wiring(wiringMutex_);  // no rewire in between sees half of it
  std::vector<Error> failures;
  for (const Endpoint& endpoint : endpoints()) {
    if (endpoint.wiredPid == 0) continue;
    if (auto host = deps_.netlink->setLinkMtu(std::nullopt, endpoint.hostVeth, mtu); !host) {
      if (host.error().code != ErrorCode::NotFound) failures.push_back(host.error());
      continue;
    }
    auto inside = deps_.netlink->setLinkMtu(NamespaceRef::ofPid(endpoint.wiredPid), "eth0", mtu);
    if (!inside && inside.error().code != ErrorCode::NotFound) failures.push_back(inside.error());
  }
  return failures;
}

Result<std::vector<NetworkInfo>> Driver::localNetworks() {
  auto owned = deps_.ovs->ownedPorts();
  if (!owned) return std::unexpected(owned.error());
  const std::set<uint32_t> vnis = localVnis(*owned);
  if (vnis.empty()) return std::vector<NetworkInfo>{};
  auto all = deps_.catalog->networks();
  if (!all) return std::unexpected(all.error());
  std::vector<NetworkInfo> out;
  for (const NetworkInfo& network : *all) {
    if (vnis.contains(network.vni)) out.push_back(network);
  }
  return out;
}

Result<size_t> Driver::reconcileTunnels() {
  auto peers = deps_.catalog->peers();
  if (!peers) return std::unexpected(peers.error());
  auto owned = deps_.ovs->ownedPorts();
  if (!owned) return std::unexpected(owned.error());
  const std::set<uint32_t> vnis = localVnis(*owned);

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
