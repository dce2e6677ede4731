#include "adapter/daemon.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <optional>
#include <ostream>
#include <thread>
#include <tuple>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "adapter/heap_trimmer.h"
#include "adapter/hook_service.h"
#include "adapter/http/server.h"
#include "adapter/plugin_service.h"
#include "adapter/proxy.h"
#include "adapter/proxy_config.h"
#include "adapter/vtep.h"
#include "netdrv/docker_client.h"
#include "netdrv/driver.h"
#include "netdrv/gateway.h"
#include "netdrv/host_firewall.h"
#include "netdrv/plugin_driver.h"
#include "netdrv/reconciler.h"
#include "netdrv/seams.h"
#include "ovsdb/openflow.h"
#include "ovsdb/state_store.h"
#include "ovsdb/switch.h"

namespace ovsplane::adapter {

std::string detectDatapath() {
  return std::filesystem::exists("/sys/module/openvswitch") ? "system" : "netdev";
}

namespace {

/** Parses a listen flag's values and creates unix sockets' directories; prints what is wrong
 *  and returns nullopt on a bad value. */
std::optional<std::vector<ListenAddress>> parseListenFlags(const std::vector<std::string>& texts,
                                                           const char* flag) {
  std::vector<ListenAddress> out;
  for (const auto& text : texts) {
    auto address = parseListenAddress(text);
    if (!address) {
      std::cerr << "ovsplane: " << flag << " " << address.error() << "\n";
      return std::nullopt;
    }
    if (address->kind == ListenAddress::Kind::Unix) {
      std::error_code ignored;
      std::filesystem::create_directories(std::filesystem::path(address->path).parent_path(),
                                          ignored);
    }
    out.push_back(*address);
  }
  return out;
}

void logPass(const netdrv::Result<netdrv::ReconcileReport>& report, std::string_view what) {
  if (!report) {
    spdlog::warn("{}: {} (the reconciler tries again)", what, report.error().message);
    return;
  }
  for (const auto& change : report->changes) spdlog::info("{}: {}", what, change);
  for (const auto& failure : report->failures) spdlog::warn("{}: {}", what, failure);
  spdlog::info("{}: {} change(s), {} failure(s)", what, report->changes.size(),
               report->failures.size());
}

/** What connectHost() needs checked first, for the daemon and gc alike: the state database's
 *  remotes and TLS files, and --mtu resolved. */
std::expected<OverlayMtu, std::string> checkHostSettings(const DaemonConfig& config) {
  if (auto access = checkStateDbAccess(config.stateDb); !access) {
    return std::unexpected(access.error());
  }
  return resolveOverlayMtu(config.mtu, config.vtepIp, config.stateDb.remote);
}

std::string machineHostName() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

}  // namespace

std::string ovsRunDir(const DaemonConfig& config) {
  if (!config.ovsRunDir.empty()) return config.ovsRunDir;
  // ovs-vswitchd puts the bridges' .mgmt sockets in its run directory, where db.sock usually is.
  if (config.ovsdb.starts_with("unix:") && config.ovsdb.find(',') == std::string::npos) {
    const std::string path = config.ovsdb.substr(5);
    if (const auto slash = path.rfind('/'); slash != std::string::npos && slash > 0) {
      return path.substr(0, slash);
    }
  }
  return "/var/run/openvswitch";
}

HostServices connectHost(const DaemonConfig& config, unsigned overlayMtu) {
  HostServices host;
  host.datapath = config.datapath == "auto" ? detectDatapath() : config.datapath;
  host.hostName = config.hostName.empty() ? machineHostName() : config.hostName;
  host.ovs = std::make_shared<ovsdb::Switch>(ovsdb::ClientOptions{
      .remote = config.ovsdb, .leaderOnly = false, .timeout = config.ovsdbTimeout});
  host.state = std::make_shared<ovsdb::StateStore>(
      ovsdb::ClientOptions{.remote = config.stateDb.remote,
                           .ssl = config.stateDb.ssl(),
                           .leaderOnly = true,
                           .timeout = config.stateTimeout,
                           .unusableLimit = config.stateUnusableLimit},
      host.hostName);
  host.docker = std::make_shared<netdrv::DockerClient>(netdrv::DockerClientOptions{
      .socketPath = config.docker, .apiVersion = "", .timeout = std::chrono::seconds(30)});
  host.driver = std::make_shared<netdrv::Driver>(
      netdrv::DriverConfig{.hostName = host.hostName,
                           .datapath = host.datapath == "system" ? ovsdb::DatapathType::System
                                                                 : ovsdb::DatapathType::Netdev,
                           .overlayMtu = overlayMtu,
                           .applyTimeout = config.applyTimeout,
                           .networkContainerPrefix = "ovsplane-net-",
                           .deleteEmptyBridges = config.deleteEmptyBridges,
                           .natByDefault = config.nat,
                           .poolSize = config.networkPool},
      netdrv::DriverDependencies{
          host.state,
          netdrv::makeStateCatalog(host.state, host.hostName,
                                   std::chrono::seconds(config.hostExpirySeconds)),
          netdrv::makeOvsSwitchControl(host.ovs), netdrv::makeDockerRuntime(host.docker),
          netdrv::makeLinuxNetlink()});
  return host;
}

int runGc(const DaemonConfig& config, bool dryRun, std::ostream& out, std::ostream& err) {
  spdlog::set_level(spdlog::level::from_str(config.logLevel));
  ovsdb::routeOvsLogging(config.logLevel == "debug" || config.logLevel == "trace" ? 4 : 1);
  auto mtu = checkHostSettings(config);
  if (!mtu) {
    err << "ovsplane: gc: " << mtu.error() << "\n";
    return 2;
  }
  HostServices host = connectHost(config, mtu->mtu);
  // No loops, no registration: one pass, the daemon's own, with its grace for young objects.
  netdrv::ReconcilerConfig once;
  once.grace = std::chrono::seconds(config.gcGraceSeconds);
  netdrv::Reconciler reconciler(once, host.driver, nullptr,
                                std::make_shared<netdrv::PluginDriver>(host.driver, kPluginName));
  auto report = reconciler.reconcile(dryRun);
  if (!report) {
    err << "ovsplane: gc: " << report.error().message << "\n";
    return 1;
  }
  for (const auto& change : report->changes) out << change << "\n";
  for (const auto& failure : report->failures) err << "ovsplane: gc: " << failure << "\n";
  out << fmt::format("gc: {} changes{}\n", report->changes.size(), dryRun ? " (dry run)" : "");
  return report->failures.empty() ? 0 : 1;
}

int runDaemon(const DaemonConfig& config) {
  // Our signal handling first: blocked everywhere (threads inherit the mask), taken with
  // sigwait() below. libopenvswitch then never sees them.
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&stopSignals, sig);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  keepHeapThresholdsFixed();

  spdlog::set_level(spdlog::level::from_str(config.logLevel));
  ovsdb::routeOvsLogging(4);

  auto listen = parseListenFlags(config.listen, "--listen");
  auto proxyListen = parseListenFlags(config.proxyListen, "--proxy-listen");
  const bool servePlugin = !config.pluginListen.empty() && config.pluginListen != "none";
  auto pluginListen =
      parseListenFlags(servePlugin ? std::vector{config.pluginListen} : std::vector<std::string>{},
                       "--plugin-listen");
  if (!listen || !proxyListen || !pluginListen) return 2;
  if (servePlugin && pluginListen->front().kind != ListenAddress::Kind::Unix) {
    std::cerr << "ovsplane: --plugin-listen " << config.pluginListen
              << ": dockerd finds plugins on unix sockets only (unix:/run/docker/plugins/"
                 "ovsplane.sock)\n";
    return 2;
  }
  // TCP is unauthenticated unless the proxy verifies client certificates: anyone who reaches
  // the Docker API is root on the host, anyone who reaches the hook API can cut a container's
  // network. Refused unless the operator says --insecure-tcp (then a warning).
  const bool verifiedTls = !config.tlsCert.empty() && !config.tlsCa.empty();
  for (const auto& [addresses, flag, verified] :
       {std::tuple{&*listen, "--listen", false},
        std::tuple{&*proxyListen, "--proxy-listen", verifiedTls}}) {
    for (const auto& address : *addresses) {
      if (address.kind != ListenAddress::Kind::Tcp || verified) continue;
      if (!config.insecureTcp) {
        std::cerr << "ovsplane: " << flag << " " << address.toString() << ": a TCP listener needs "
                  << (std::string_view(flag) == "--listen"
                          ? "--insecure-tcp (the hook API has no authentication: use a unix "
                            "socket)"
                          : "TLS with client verification (--tls-cert, --tls-key, --tls-ca) or "
                            "--insecure-tcp")
                  << "; whoever reaches it controls this host's containers\n";
        return 2;
      }
      spdlog::warn(
          "{} {} without authentication (--insecure-tcp): whoever reaches it controls "
          "this host's containers",
          flag, address.toString());
    }
  }
  if (config.tlsCert.empty() != config.tlsKey.empty() ||
      (!config.tlsCa.empty() && config.tlsCert.empty())) {
    std::cerr << "ovsplane: TLS needs --tls-cert and --tls-key together (--tls-ca adds client "
                 "certificate verification)\n";
    return 2;
  }
  if (const auto docker = netdrv::parseDockerAddress(config.docker);
      (docker.tcp && (docker.port == 0 || docker.host.empty())) ||
      (!docker.tcp && docker.path.empty())) {
    std::cerr << "ovsplane: --docker " << config.docker
              << ": expected unix:///path or tcp://HOST:PORT\n";
    return 2;
  }
  // adapters.yml is read before anything starts: a mistake in it registers nothing.
  std::optional<AdaptersFile> adapters;
  if (!config.adaptersFile.empty()) {
    auto file = loadAdaptersFile(config.adaptersFile);
    if (!file) {
      std::cerr << "ovsplane: " << file.error() << "\n";
      return 2;
    }
    adapters = std::move(*file);
  }
  auto mtu = checkHostSettings(config);
  if (!mtu) {
    std::cerr << "ovsplane: " << mtu.error() << "\n";
    return 2;
  }
  if (hasPlainTcpRemote(config.stateDb.remote)) {
    spdlog::warn(
        "state database {} over plain TCP: whoever is on the network path can read it and add "
        "a host that receives your networks' traffic (use ssl: remotes, see the README)",
        config.stateDb.remote);
  }
  HostServices host = connectHost(config, mtu->mtu);
  const std::string& hostName = host.hostName;
  const std::string& datapath = host.datapath;
  auto& state = host.state;

  std::string vtepIp = config.vtepIp;
  if (vtepIp == "auto") {
    auto detected = detectVtepIp(config.stateDb.remote);
    if (!detected) {
      std::cerr << "ovsplane: " << detected.error() << "\n";
      return 2;
    }
    vtepIp = *detected;
    spdlog::info("VTEP address {} (the route to the state database)", vtepIp);
  }
  if (!vtepIp.empty()) {
    if (auto registered = state->registerHost(hostName, vtepIp); !registered) {
      std::cerr << "ovsplane: registering host " << hostName << ": " << registered.error().message
                << "\n";
      return 1;
    }
  }
  auto& driver = host.driver;
  netdrv::ReconcilerConfig reconcilerConfig;
  reconcilerConfig.grace = std::chrono::seconds(config.gcGraceSeconds);
  reconcilerConfig.interval = std::chrono::seconds(config.reconcileIntervalSeconds);
  reconcilerConfig.vtepIp = vtepIp;
  if (config.mtu == "auto") {
    // The underlay's MTU may change under a running host (a cloud network reconfigured, jumbo
    // frames turned on): followed every host refresh.
    reconcilerConfig.overlayMtuSource =
        [flag = config.mtu, vtep = vtepIp,
         remotes = config.stateDb.remote]() -> std::optional<netdrv::MtuReading> {
      auto resolved = resolveOverlayMtu(flag, vtep, remotes);
      if (!resolved) return std::nullopt;
      return netdrv::MtuReading{resolved->mtu, resolved->reason};
    };
  }
  auto gateways = std::make_shared<netdrv::Gateways>(
      netdrv::GatewayConfig{.isolateNetworks = !config.routeBetweenNetworks,
                            .mtu = mtu->mtu,
                            .datapath = driver->config().datapath},
      netdrv::GatewayDependencies{.netlink = driver->dependencies().netlink,
                                  .ovs = driver->dependencies().ovs,
                                  .flows = netdrv::makeOpenFlowControl(
                                      std::make_shared<ovsdb::OpenFlow>(ovsRunDir(config))),
                                  .firewall = netdrv::makeNftablesFirewall()});
  // The plugin path shares the driver; its leftovers are the reconciler's too.
  auto plugin = servePlugin ? std::make_shared<netdrv::PluginDriver>(driver, kPluginName) : nullptr;
  netdrv::Reconciler reconciler(reconcilerConfig, driver, gateways, plugin);
  // Before serving: learn the endpoints Docker's labels describe, collect what a crash left,
  // restart what a dockerd restart left stopped. Docker being down is no reason not to start.
  logPass(reconciler.reconcile(), "start-up reconciliation");
  auto service = std::make_shared<HookService>(driver, config.adapterPath);
  HttpServer server(HttpServerOptions{.listen = *listen},
                    [service](const HttpRequestView& request) { return service->handle(request); });
  if (auto started = server.start(); !started) {
    std::cerr << "ovsplane: " << started.error() << "\n";
    return 1;
  }
  std::vector<std::string> bound;
  for (const auto& address : server.addresses()) bound.push_back(address.toString());
  std::unique_ptr<HttpServer> pluginServer;
  if (servePlugin) {
    if (auto learned = plugin->learnNetworks(); !learned) {
      spdlog::warn(
          "Docker's ovsplane networks: {} (their MTU options are read again when "
          "Docker creates them)",
          learned.error().message);
    }
    auto calls = std::make_shared<PluginService>(plugin, service->metrics());
    // Only dockerd (root) calls it: no group access.
    pluginServer = std::make_unique<HttpServer>(
        HttpServerOptions{.listen = *pluginListen, .unixSocketMode = 0600},
        [calls](const HttpRequestView& request) { return calls->handle(request); });
    if (auto started = pluginServer->start(); !started) {
      std::cerr << "ovsplane: " << started.error() << "\n";
      return 1;
    }
    spdlog::info("Docker network plugin {} on {}", kPluginName, config.pluginListen);
  }

  std::unique_ptr<DockerProxy> proxy;
  if (!config.proxyListen.empty()) {
    // The built-in adapter: hooks go to the same HookService in-process, no HTTP hop.
    const std::string path = config.adapterPath;
    auto call = [service, path](const std::string& hookJson) {
      return service->handle(HttpRequestView{.method = "POST", .target = path, .body = hookJson});
    };
    std::vector<HookRule> rules =
        adapters ? rulesFromConfig(*adapters, call, std::chrono::milliseconds(config.hookTimeoutMs))
                 : builtinRules(call);
    if (adapters) {
      spdlog::info("proxy rules from {}: {} endpoints, {} adapters", config.adaptersFile,
                   adapters->endpoints.size(), adapters->adapters.size());
    }
    ProxyOptions proxyOptions{.listen = *proxyListen, .upstream = config.docker};
    if (!config.tlsCert.empty()) {
      proxyOptions.tls = TlsOptions{config.tlsCert, config.tlsKey, config.tlsCa};
    }
    proxy = std::make_unique<DockerProxy>(std::move(proxyOptions), std::move(rules));
    if (auto started = proxy->start(); !started) {
      std::cerr << "ovsplane: " << started.error() << "\n";
      return 1;
    }
    for (const auto& address : proxy->addresses()) {
      spdlog::info("Docker API proxy on {}{} -> {}", address.toString(),
                   address.kind == ListenAddress::Kind::Tcp && !config.tlsCert.empty()
                       ? (config.tlsCa.empty() ? " (TLS)" : " (TLS, client certificates verified)")
                       : "",
                   config.docker);
    }
  }
  spdlog::info(
      "ovsplane adapter on {} (path {}), host {}, datapath {}, overlay MTU {} ({}), OVSDB {}, "
      "state {}{}, docker {}",
      fmt::join(bound, " "), config.adapterPath, hostName, datapath, mtu->mtu, mtu->reason,
      config.ovsdb, config.stateDb.remote, config.stateDb.ssl().empty() ? "" : " (TLS)",
      config.docker);

  reconciler.start();
  if (auto* pool = driver->pool()) pool->start();
  // Connections' threads come and go; what they freed is given back rather than held.
  HeapTrimmer heapTrimmer(std::chrono::seconds(10), 1 << 20);
  heapTrimmer.start();

  int signalNumber = 0;
  sigwait(&stopSignals, &signalNumber);
  spdlog::info("ovsplane adapter: signal {} received, finishing in-flight hooks", signalNumber);
  heapTrimmer.stop();
  if (proxy) proxy->stop();  // requests with hooks in flight finish first (bounded)
  if (pluginServer) pluginServer->stop(std::chrono::seconds(30));
  server.stop(std::chrono::seconds(30));
  if (!driver->drainAttaches(std::chrono::seconds(20))) {
    spdlog::warn("attaches still running at exit: the next start's reconciliation collects them");
  }
  if (proxy) {
    // Every request through the proxy has finished: an attach whose create never reached
    // Docker is undone now rather than left for the next start.
    for (const auto& endpoint : driver->endpoints()) {
      if (endpoint.state == netdrv::EndpointState::Pending) (void)driver->rollback(endpoint.id);
    }
  }
  if (auto* pool = driver->pool()) pool->stop();  // its ready containers wait for the next start
  reconciler.stop();  // and leaves the cluster: the other hosts drop their tunnels at once
  spdlog::info("ovsplane adapter stopped");
  return 0;
}

}  // namespace ovsplane::adapter
