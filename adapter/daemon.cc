#include "adapter/daemon.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "adapter/hook_service.h"
#include "adapter/http_server.h"
#include "adapter/proxy.h"
#include "adapter/proxy_config.h"
#include "adapter/vtep.h"
#include "netdrv/docker_client.h"
#include "netdrv/driver.h"
#include "netdrv/seams.h"
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

std::string machineHostName() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

}  // namespace

int runDaemon(const DaemonConfig& config) {
  // Our signal handling first: blocked everywhere (threads inherit the mask), taken with
  // sigwait() below. libopenvswitch then never sees them.
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&stopSignals, sig);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  spdlog::set_level(spdlog::level::from_str(config.logLevel));
  ovsdb::routeOvsLogging(4);

  auto listen = parseListenFlags(config.listen, "--listen");
  auto proxyListen = parseListenFlags(config.proxyListen, "--proxy-listen");
  if (!listen || !proxyListen) return 2;
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
  const std::string datapath = config.datapath == "auto" ? detectDatapath() : config.datapath;
  const std::string hostName = config.hostName.empty() ? machineHostName() : config.hostName;

  auto ovs = std::make_shared<ovsdb::Switch>(ovsdb::ClientOptions{
      .remote = config.ovsdb, .leaderOnly = false, .timeout = config.ovsdbTimeout});
  auto state = std::make_shared<ovsdb::StateStore>(
      ovsdb::ClientOptions{.remote = config.stateDb,
                           .leaderOnly = true,
                           .timeout = config.stateTimeout,
                           .unusableLimit = config.stateUnusableLimit},
      hostName);
  auto docker = std::make_shared<netdrv::DockerClient>(netdrv::DockerClientOptions{
      .socketPath = config.docker, .apiVersion = "", .timeout = std::chrono::seconds(30)});

  std::string vtepIp = config.vtepIp;
  if (vtepIp == "auto") {
    auto detected = detectVtepIp(config.stateDb);
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
  auto driver = std::make_shared<netdrv::Driver>(
      netdrv::DriverConfig{.hostName = hostName,
                           .datapath = datapath == "system" ? ovsdb::DatapathType::System
                                                            : ovsdb::DatapathType::Netdev,
                           .overlayMtu = config.mtu,
                           .applyTimeout = config.applyTimeout,
                           .networkContainerPrefix = "ovsplane-net-",
                           .deleteEmptyBridges = config.deleteEmptyBridges},
      netdrv::DriverDependencies{
          state,
          netdrv::makeStateCatalog(state, hostName, std::chrono::seconds(config.hostExpirySeconds)),
          netdrv::makeOvsSwitchControl(ovs), netdrv::makeDockerRuntime(docker),
          netdrv::makeLinuxNetlink()});
  auto service = std::make_shared<HookService>(driver, config.adapterPath);
  HttpServer server(HttpServerOptions{.listen = *listen},
                    [service](const HttpRequestView& request) { return service->handle(request); });
  if (auto started = server.start(); !started) {
    std::cerr << "ovsplane: " << started.error() << "\n";
    return 1;
  }
  std::vector<std::string> bound;
  for (const auto& address : server.addresses()) bound.push_back(address.toString());

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
    for (const auto& address : *proxyListen) {
      const bool loopback = address.host == "127.0.0.1" || address.host == "::1";
      if (address.kind == ListenAddress::Kind::Tcp && !loopback &&
          (!proxyOptions.tls || config.tlsCa.empty())) {
        spdlog::warn(
            "the Docker API proxy listens on {} without TLS client verification: "
            "anyone who reaches it controls dockerd (use --tls-cert, --tls-key, "
            "--tls-ca)",
            address.toString());
      }
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
      "ovsplane adapter on {} (path {}), host {}, datapath {}, overlay MTU {}, OVSDB {}, "
      "state {}, docker {}",
      fmt::join(bound, " "), config.adapterPath, hostName, datapath, config.mtu, config.ovsdb,
      config.stateDb, config.docker);

  // A failure that repeats every second (the state database down) is a warning once, then
  // debug until it works again (said at info).
  bool reconcileTrouble = false;
  bool eventsTrouble = false;
  auto reportRepeated = [](bool& failing, std::string_view what, const auto& result) {
    if (!result) {
      if (!failing) {
        spdlog::warn("{}: {} (repeats at debug level until it works again)", what,
                     result.error().message);
      } else {
        spdlog::debug("{}: {}", what, result.error().message);
      }
      failing = true;
    } else if (failing) {
      spdlog::info("{}: works again", what);
      failing = false;
    }
  };

  // Every second: tunnels follow the cluster's live hosts. Every 5 s: this host's row is
  // refreshed (others consider it gone after --host-expiry of silence) and unpaired attaches (the
  // post-hook never came) are rolled back.
  std::jthread housekeeping([&](std::stop_token stop) {
    for (unsigned tick = 1; !stop.stop_requested(); ++tick) {
      for (int i = 0; i < 10 && !stop.stop_requested(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (stop.stop_requested()) break;
      reportRepeated(reconcileTrouble, "reconciling tunnels", driver->reconcileTunnels());
      if (tick % 5 == 0) {
        service->expirePending(config.pendingTimeout);
        if (!vtepIp.empty()) (void)state->registerHost(hostName, vtepIp);
      }
    }
  });

  // Containers removed without a DELETE through the proxy (docker run --rm, a direct rm):
  // Docker's event stream tells, and the driver detaches them.
  std::jthread events([&](std::stop_token stop) {
    while (!stop.stop_requested()) {
      auto followed = docker->followEvents(
          {{netdrv::labels::kEndpoint, ""}},
          [&](const nlohmann::json& event) {
            if (event.value("Action", "") == "destroy" && event.contains("Actor")) {
              const std::string id = event["Actor"].value("ID", "");
              if (auto detached = driver->detach(id); !detached) {
                spdlog::warn("detaching removed container {} failed: {}", id,
                             detached.error().message);
              }
            }
            return true;
          },
          stop);
      reportRepeated(eventsTrouble, "following Docker events", followed);
      for (int i = 0; i < 20 && !stop.stop_requested(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  });

  int signalNumber = 0;
  sigwait(&stopSignals, &signalNumber);
  spdlog::info("ovsplane adapter: signal {} received, finishing in-flight hooks", signalNumber);
  housekeeping.request_stop();
  housekeeping.join();
  events.request_stop();
  events.join();
  if (proxy) proxy->stop();
  server.stop(std::chrono::seconds(30));
  if (!vtepIp.empty()) {
    // Leaving the cluster: the other hosts drop their tunnels to this one at once.
    if (auto removed = state->removeHost(hostName); !removed) {
      spdlog::warn("removing host {} from the state database: {}", hostName,
                   removed.error().message);
    }
  }
  spdlog::info("ovsplane adapter stopped");
  return 0;
}

}  // namespace ovsplane::adapter
