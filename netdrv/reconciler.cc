#include "netdrv/reconciler.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/fault_point.h"
#include "common/wall_clock.h"
#include "netdrv/naming.h"
#include "netdrv/plugin_driver.h"

namespace ovsplane::netdrv {
namespace {

/** A failure that repeats every second (a database down) is a warning once, then debug until
 *  it works again (said at info). */
class RepeatedTrouble {
 public:
  explicit RepeatedTrouble(std::string what) : what_(std::move(what)) {}
  void report(const Result<void>& result) {
    if (!result) {
      if (!failing_) {
        spdlog::warn("{}: {} (repeats at debug level until it works again)", what_,
                     result.error().message);
      } else {
        spdlog::debug("{}: {}", what_, result.error().message);
      }
      failing_ = true;
    } else if (failing_) {
      spdlog::info("{}: works again", what_);
      failing_ = false;
    }
  }

 private:
  std::string what_;
  bool failing_ = false;
};

/** Docker tried to start an app with a restart policy and gave up (its network-only container
 *  was not running: moby#50326): the reconciler starts it once its network is wired. A user's
 *  own `docker stop` leaves no start error, so it stays stopped. */
bool dockerGaveUp(const RuntimeContainer& app, bool networkRunning) {
  const bool policy = app.restartPolicy == "always" || app.restartPolicy == "unless-stopped" ||
                      app.restartPolicy == "on-failure";
  return policy && !app.startError.empty() &&
         (!networkRunning || app.startError.find("network") != std::string::npos);
}

/** A port ovsplane plugged an endpoint's veth into (not a tunnel, not a bridge's own). */
bool isAccessPort(const ovsdb::PortInfo& port) {
  return port.type.empty() && port.externalIds.contains("ovsplane-endpoint");
}

/** Whether Docker says it has no container `id` (any other answer, an error included, is not
 *  proof). */
bool goneFromDocker(ContainerRuntime& runtime, const std::string& id) {
  auto container = runtime.inspect(id);
  return !container && container.error().code == ErrorCode::NotFound;
}

std::string appLabel(const Endpoint& endpoint) {
  if (!endpoint.appName.empty()) return endpoint.appName;
  if (!endpoint.appId.empty()) return endpoint.appId.substr(0, 12);
  return "endpoint " + endpoint.id;
}

/** Docker's containers as the pass sees them: by endpoint id. */
struct DockerView {
  std::map<std::string, RuntimeContainer> apps;  ///< app containers (no role label)
  std::map<std::string, RuntimeContainer> nets;  ///< network-only containers
};

Result<DockerView> lookAtDocker(ContainerRuntime& runtime) {
  auto labelled = runtime.list({{labels::kEndpoint, ""}});
  if (!labelled) return std::unexpected(labelled.error());
  DockerView view;
  for (auto& container : *labelled) {
    const std::string endpoint = labelOf(container, labels::kEndpoint);
    if (endpoint.empty()) continue;
    if (labelOf(container, labels::kRole) == "network") {
      view.nets[endpoint] = container;
    } else if (labelOf(container, labels::kRole).empty()) {
      view.apps[endpoint] = container;
    }
  }
  return view;
}

/** The endpoint of a pooled network-only container no app names, from the address its
 *  endpoint id holds on this host; nullopt when it holds none (ready in the pool). */
std::optional<Endpoint> pooledClaimOf(const RuntimeContainer& net,
                                      const std::vector<HostAddress>& addresses) {
  const std::string id = labelOf(net, labels::kEndpoint);
  for (const HostAddress& address : addresses) {
    if (address.owner != id) continue;
    Endpoint endpoint;
    endpoint.id = id;
    endpoint.subnet = address.subnet;
    endpoint.ip = address.ip;
    endpoint.mac = endpointNames(id).macString();
    endpoint.networkContainerId = net.id;
    endpoint.hostVeth = endpointNames(id).hostVeth;
    endpoint.state = EndpointState::Pending;
    endpoint.since = std::chrono::steady_clock::now();
    return endpoint;
  }
  return std::nullopt;
}

}  // namespace

Reconciler::Reconciler(ReconcilerConfig config, std::shared_ptr<Driver> driver,
                       std::shared_ptr<Gateways> gateways, std::shared_ptr<PluginDriver> plugin)
    : config_(std::move(config)),
      driver_(std::move(driver)),
      gateways_(std::move(gateways)),
      plugin_(std::move(plugin)) {}

Reconciler::~Reconciler() { stop(); }

Result<ReconcileReport> Reconciler::reconcile(bool dryRun) {
  std::scoped_lock pass(passMutex_);
  const DriverDependencies& deps = driver_->dependencies();
  auto docker = lookAtDocker(*deps.runtime);
  if (!docker) {
    return makeError(docker.error().code,
                     fmt::format("cannot look at Docker's containers: {}", docker.error().message));
  }
  ReconcileReport report;
  auto act = [&](std::string what, const std::function<Result<void>()>& change) {
    report.changes.push_back(what);
    if (dryRun) return;
    if (auto done = change(); !done) {
      report.failures.push_back(fmt::format("{}: {}", what, done.error().message));
    }
  };

  // This host's addresses (step 3), and what a pooled network-only container's claim holds.
  auto addresses = deps.catalog->hostAddresses();

  // 1. Learn the endpoints Docker's labels describe (after a restart: all of them).
  for (const auto& [endpointId, net] : docker->nets) {
    const auto app = docker->apps.find(endpointId);
    auto endpoint = endpointFromLabels(net, app == docker->apps.end() ? nullptr : &app->second);
    if (!endpoint && addresses && NetworkContainerPool::isPooled(net)) {
      // Claimed, its app gone or never created (removed while ovsplane was down, a crash
      // mid-attach): the address its endpoint holds says which network.
      endpoint = pooledClaimOf(net, *addresses);
    }
    if (!endpoint) continue;  // (a pooled network-only container no app has claimed)
    if (app != docker->apps.end()) {
      endpoint->appId = app->second.id;
      endpoint->appName = app->second.name;
      endpoint->state = EndpointState::Committed;
    }
    if (auto network = deps.catalog->ensureNetwork(endpoint->subnet, NetworkOptions{})) {
      endpoint->vni = network->vni;
    }
    driver_->adopt(*endpoint);
  }

  // What exists now (listed before the endpoints are: an attach that creates a veth or a port
  // after this is already known as attaching, so its objects are never taken for orphans).
  auto links = deps.netlink->listLinks("ovh");
  auto ports = deps.ovs->ownedPorts();
  const std::vector<Endpoint> known = driver_->endpoints();
  const int64_t wallNow = wallClockMs();
  const auto steadyNow = std::chrono::steady_clock::now();
  const auto graceMs = config_.grace.count();

  // 2. Endpoints whose app or network-only container is gone.
  std::vector<const Endpoint*> live;  // app and network-only container both exist
  for (const Endpoint& endpoint : known) {
    if (endpoint.state == EndpointState::Attaching) continue;
    const auto app = docker->apps.find(endpoint.id);
    const auto net = docker->nets.find(endpoint.id);
    if (app == docker->apps.end()) {
      const auto pendingGrace =
          endpoint.inFlight ? std::max(config_.grace, std::chrono::milliseconds(kInFlightGrace))
                            : config_.grace;
      const bool youngPending =
          endpoint.state == EndpointState::Pending && steadyNow - endpoint.since < pendingGrace;
      const bool youngContainer = net != docker->nets.end() && net->second.createdMs > 0 &&
                                  wallNow - net->second.createdMs < graceMs;
      if (youngPending || youngContainer) continue;  // its create may still reach Docker
      // Docker was listed before the endpoints were read: an app created since is missing from
      // the list. Only Docker's own "no such container" for its full id counts.
      if (!endpoint.appId.empty() && !goneFromDocker(*deps.runtime, endpoint.appId)) continue;
      act(fmt::format("remove endpoint {} ({} on {}): no app container", endpoint.id,
                      endpoint.ip.toString(), endpoint.subnet.toGatewayString()),
          [&] {
            faultPoint("gc.container");
            return driver_->teardown(endpoint);
          });
      continue;
    }
    if (net == docker->nets.end()) {
      if (endpoint.networkContainerId.empty() ||
          !goneFromDocker(*deps.runtime, endpoint.networkContainerId)) {
        continue;  // created after the list was taken
      }
      if (endpoint.state != EndpointState::Broken) {
        act(fmt::format("mark {} broken: its network-only container was removed by hand",
                        appLabel(endpoint)),
            [&] { return driver_->containerRemoved(endpoint.networkContainerId); });
      }
      continue;
    }
    live.push_back(&endpoint);
  }

  // 3. Addresses of this host that no endpoint owns.
  std::set<std::string> owners;
  for (const Endpoint& endpoint : known) owners.insert(endpoint.id);
  for (const auto& [endpointId, net] : docker->nets) owners.insert(endpointId);
  if (!addresses) {
    report.failures.push_back("addresses in the state database: " + addresses.error().message);
  } else {
    for (const HostAddress& address : *addresses) {
      // Docker's own requests (the plugin path): Docker releases them, and after a crash the
      // plugin's collection judges them against Docker's endpoints.
      if (owners.contains(address.owner) || isDockerOwner(address.owner)) continue;
      if (address.createdMs > 0 && wallNow - address.createdMs < graceMs) continue;
      act(fmt::format("release address {} of {} (owner {}: no container)", address.ip.toString(),
                      address.subnet.toString(), address.owner),
          [&] {
            auto released = driver_->releaseAddress(address.subnet, address.owner);
            faultPoint("gc.released");
            return released;
          });
    }
  }

  // The plugin path's leftovers (Docker's endpoints are Docker's to manage otherwise).
  if (plugin_) {
    if (auto collected = plugin_->collect(config_.grace, act); !collected) {
      report.failures.push_back("Docker's plugin endpoints: " + collected.error().message);
    }
  }

  // 4. Apps Docker gave up on; network-only containers that lost their wiring.
  std::set<std::string> veths;
  if (links) veths.insert(links->begin(), links->end());
  if (!links) report.failures.push_back("listing links: " + links.error().message);
  std::set<std::string> plugged;  // access ports in OVS
  if (ports) {
    for (const auto& port : *ports) {
      if (isAccessPort(port)) plugged.insert(port.name);
    }
  }
  size_t unseenVeths = 0;  // wired endpoints whose host end is not in this namespace
  for (const Endpoint* endpoint : live) {
    const RuntimeContainer& app = docker->apps.at(endpoint->id);
    const RuntimeContainer& net = docker->nets.at(endpoint->id);
    if (!app.running) {
      auto full = deps.runtime->inspect(app.id);
      if (full && dockerGaveUp(*full, net.running)) {
        act(fmt::format("start {} (restart policy {}; Docker could not start it: {})",
                        appLabel(*endpoint), full->restartPolicy, full->startError),
            [&]() -> Result<void> { return restartApp(*endpoint, app.id, net.id); });
      } else if (!net.running && links && ports &&
                 (plugged.contains(endpoint->hostVeth) || veths.contains(endpoint->hostVeth))) {
        // Stopped with its network-only container: its namespace is gone, so is (or soon is)
        // the veth; the port would point at nothing. Its start wires it again.
        act(fmt::format("unplug {} (stopped): its OVS port and veth", appLabel(*endpoint)),
            [&] { return driver_->unplug(endpoint->id); });
      }
      continue;
    }
    if (!net.running || !links) continue;  // the app keeps the namespace it has
    if (endpoint->wiredPid != 0 && veths.contains(endpoint->hostVeth)) continue;
    auto inspected = deps.runtime->inspect(net.id);
    if (!inspected || inspected->pid <= 0) continue;
    // Wired if its namespace has the container end: a veth dies as a pair, so the host end
    // exists too, here or (a CLI run in another network namespace than ovs-vswitchd's) where
    // this process cannot see it; rewiring from there would break it.
    auto inside = deps.netlink->linkExistsIn(NamespaceRef::ofPid(inspected->pid), "eth0");
    if (inside && *inside) {
      if (!veths.contains(endpoint->hostVeth)) ++unseenVeths;
      driver_->markWired(endpoint->id, inspected->pid);
      continue;
    }
    act(fmt::format("rewire {} ({}) into its network-only container (pid {})", appLabel(*endpoint),
                    endpoint->ip.toString(), inspected->pid),
        [&] { return driver_->rewire(endpoint->id, inspected->pid); });
  }

  if (unseenVeths > 0) {
    report.failures.push_back(fmt::format(
        "{} wired endpoint(s) have their host veth in another network namespace than this "
        "process: run ovsplane where ovs-vswitchd runs (their veths and ports were left alone)",
        unseenVeths));
    return report;
  }

  // 5. Veths and OVS access ports that no endpoint has; access ports OVS lost.
  std::set<std::string> wanted;
  for (const Endpoint& endpoint : known) wanted.insert(endpoint.hostVeth);
  for (const std::string& veth : veths) {
    if (wanted.contains(veth)) continue;
    act(fmt::format("delete veth {} (no endpoint)", veth),
        [&] { return deps.netlink->deleteLink(veth); });
  }
  if (!ports) {
    report.failures.push_back("listing OVS ports: " + ports.error().message);
    return report;
  }
  for (const auto& port : *ports) {
    if (!isAccessPort(port) || wanted.contains(port.name)) continue;
    act(fmt::format("delete OVS port {} of bridge {} (no endpoint)", port.name, port.bridge),
        [&]() -> Result<void> {
          auto deleted = driver_->deletePort(port.name);
          return deleted ? Result<void>{} : std::unexpected(deleted.error());
        });
  }
  std::vector<Endpoint> lost;
  for (const Endpoint* endpoint : live) {
    if (endpoint->wiredPid != 0 && veths.contains(endpoint->hostVeth) &&
        !plugged.contains(endpoint->hostVeth)) {
      lost.push_back(*endpoint);
    }
  }
  if (!lost.empty()) {
    act(fmt::format("re-add {} access port(s) OVS lost (bridge deleted or database wiped)",
                    lost.size()),
        [&]() -> Result<void> {
          auto errors = driver_->replug(lost);
          if (errors.empty()) return {};
          std::string all;
          for (const auto& error : errors) all += (all.empty() ? "" : "; ") + error.message;
          return makeError(ErrorCode::Unavailable, all);
        });
  }
  return report;
}

Result<void> Reconciler::restartApp(const Endpoint& endpoint, const std::string& appId,
                                    const std::string& netId) {
  const DriverDependencies& deps = driver_->dependencies();
  if (auto started = deps.runtime->start(netId); !started) return started;
  faultPoint("reconcile.net-started");
  auto net = deps.runtime->inspect(netId);
  if (!net) return std::unexpected(net.error());
  if (!net->running || net->pid <= 0) {
    return makeError(ErrorCode::Unavailable, "its network-only container did not stay up");
  }
  if (net->pid != endpoint.wiredPid) {
    if (auto wired = driver_->rewire(endpoint.id, net->pid); !wired) return wired;
  }
  faultPoint("reconcile.before-app-start");
  return deps.runtime->start(appId);
}

void Reconciler::onEvent(const RuntimeEvent& event) {
  auto attribute = [&](const char* key) {
    auto it = event.attributes.find(key);
    return it == event.attributes.end() ? std::string() : it->second;
  };
  const bool isApp = attribute(labels::kRole).empty();
  if (event.action == "destroy") {
    if (auto removed = driver_->containerRemoved(event.id); !removed) {
      spdlog::warn("cleaning up after container {} was removed: {}", event.id,
                   removed.error().message);
      trigger();
    }
  } else if (event.action == "create" && isApp) {
    // The create's post-hook may never come (a crash, a client gone): the label commits it.
    const std::string endpointId = attribute(labels::kEndpoint);
    if (!endpointId.empty() && driver_->commit(endpointId, event.id)) {
      if (const std::string name = attribute("name"); !name.empty()) {
        driver_->appRenamed(event.id, name);
      }
    }
  } else if (event.action == "start" && isApp) {
    // Started behind ovsplane's back (a restart policy, dockerd directly): check its wiring.
    if (auto wired = driver_->ensureWired(event.id); !wired) {
      spdlog::warn("container {} started but its network is not ready: {}", event.id,
                   wired.error().message);
    }
  } else if (event.action == "rename" && isApp) {
    driver_->appRenamed(event.id, attribute("name"));
  } else if (event.action == "die" && !isApp) {
    trigger();  // a network-only container stopped: let the pass look
  }
}

void Reconciler::trigger() {
  {
    std::scoped_lock lock(mutex_);
    triggered_ = true;
  }
  wake_.notify_all();
}

bool Reconciler::sleepFor(std::stop_token& stop, std::chrono::milliseconds span) {
  std::unique_lock lock(mutex_);
  wake_.wait_for(lock, stop, span, [] { return false; });
  return !stop.stop_requested();
}

void Reconciler::passLoop(std::stop_token stop) {
  RepeatedTrouble trouble("reconciling");
  while (!stop.stop_requested()) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, stop, config_.interval, [this] { return triggered_; });
      triggered_ = false;
    }
    if (stop.stop_requested()) break;
    auto report = reconcile(false);
    if (!report) {
      trouble.report(std::unexpected(report.error()));
      continue;
    }
    trouble.report({});
    for (const auto& change : report->changes) spdlog::info("reconciler: {}", change);
    for (const auto& failure : report->failures) spdlog::warn("reconciler: {}", failure);
  }
}

void Reconciler::eventLoop(std::stop_token stop) {
  RepeatedTrouble trouble("following Docker events");
  while (!stop.stop_requested()) {
    auto followed = driver_->dependencies().runtime->followEvents(
        labels::kEndpoint, [this] { trigger(); },  // (re)connected: what did we miss?
        [this](const RuntimeEvent& event) {
          try {
            onEvent(event);
          } catch (const std::exception& e) {
            spdlog::error("handling Docker event {} of {}: {}", event.action, event.id, e.what());
          }
          return true;
        },
        stop);
    trouble.report(followed);
    if (!sleepFor(stop, std::chrono::seconds(1))) break;
  }
}

void Reconciler::tickLoop(std::stop_token stop) {
  RepeatedTrouble tunnels("reconciling tunnels");
  RepeatedTrouble host("refreshing this host's row");
  RepeatedTrouble gateways("keeping this host's gateways");
  const DriverDependencies& deps = driver_->dependencies();
  auto lastRefresh = std::chrono::steady_clock::now();
  auto lastMtuCheck = lastRefresh;
  RepeatedTrouble mtu("following the underlay's MTU");
  while (sleepFor(stop, config_.tunnelInterval)) {
    auto changed = driver_->reconcileTunnels();
    tunnels.report(changed ? Result<void>{} : std::unexpected(changed.error()));
    if (gateways_) gateways.report(reconcileGateways());
    // OVS lost an access port of a wired endpoint (del-br, a wiped database): a pass re-adds it.
    // Only a new loss triggers: one the pass cannot fix (the app is stopped) must not make
    // every second a pass.
    if (auto ports = deps.ovs->ownedPorts()) {
      std::set<std::string> plugged;
      for (const auto& port : *ports) plugged.insert(port.name);
      std::set<std::string> lost;
      for (const Endpoint& endpoint : driver_->endpoints()) {
        if (endpoint.wiredPid != 0 && endpoint.state != EndpointState::Attaching &&
            !plugged.contains(endpoint.hostVeth)) {
          lost.insert(endpoint.hostVeth);
        }
      }
      for (const auto& name : lost) {
        if (!lostPorts_.contains(name)) {
          trigger();
          break;
        }
      }
      lostPorts_ = std::move(lost);
    }
    if (!config_.vtepIp.empty() &&
        std::chrono::steady_clock::now() - lastRefresh >= config_.hostRefresh) {
      lastRefresh = std::chrono::steady_clock::now();
      host.report(deps.catalog->announce(config_.vtepIp));
    }
    if (config_.overlayMtuSource &&
        std::chrono::steady_clock::now() - lastMtuCheck >= config_.hostRefresh) {
      lastMtuCheck = std::chrono::steady_clock::now();
      mtu.report(followOverlayMtu());
    }
  }
}

Result<void> Reconciler::reconcileGateways() {
  auto networks = driver_->localNetworks();
  if (!networks) return std::unexpected(networks.error());
  const Gateways::Report report = gateways_->reconcile(*networks);
  for (const auto& line : report.changes) spdlog::info("{}", line);
  if (report.failures.empty()) return {};
  return makeError(ErrorCode::Unavailable, fmt::format("{}", fmt::join(report.failures, "; ")));
}

Result<void> Reconciler::followOverlayMtu() {
  const std::optional<MtuReading> reading = config_.overlayMtuSource();
  if (!reading || reading->mtu == 0 || reading->mtu == driver_->overlayMtu()) return {};
  spdlog::info("overlay MTU {} -> {} ({}): new and wired endpoints and the gateways follow",
               driver_->overlayMtu(), reading->mtu, reading->reason);
  if (gateways_) gateways_->setMtu(reading->mtu);
  const std::vector<Error> failures = driver_->changeOverlayMtu(reading->mtu);
  if (failures.empty()) return {};
  std::vector<std::string> lines;
  for (const auto& failure : failures) lines.push_back(failure.message);
  return makeError(ErrorCode::Unavailable,
                   fmt::format("setting MTU {}: {}", reading->mtu, fmt::join(lines, "; ")));
}

void Reconciler::start() {
  if (!threads_.empty()) return;
  threads_.emplace_back([this](std::stop_token stop) { passLoop(stop); });
  threads_.emplace_back([this](std::stop_token stop) { eventLoop(stop); });
  threads_.emplace_back([this](std::stop_token stop) { tickLoop(stop); });
}

void Reconciler::stop() {
  if (threads_.empty()) return;
  for (auto& thread : threads_) thread.request_stop();
  wake_.notify_all();
  threads_.clear();  // joins
  if (!config_.vtepIp.empty()) {
    // Leaving the cluster: the other hosts drop their tunnels to this one at once.
    if (auto removed = driver_->dependencies().catalog->withdraw(); !removed) {
      spdlog::warn("removing this host from the state database: {}", removed.error().message);
    }
  }
}

}  // namespace ovsplane::netdrv
