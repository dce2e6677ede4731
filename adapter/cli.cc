#include "adapter/cli.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "adapter/daemon.h"
#include "common/wall_clock.h"
#include "ipam/ipv4.h"
#include "netdrv/docker_client.h"
#include "netdrv/driver.h"
#include "ovsdb/schema_probe.h"
#include "ovsdb/state_store.h"

#ifndef OVSPLANE_VERSION
#error "OVSPLANE_VERSION must be defined by the build"
#endif

namespace ovsplane::adapter {
namespace {

constexpr const char* kDefaultOvsdb = "unix:/var/run/openvswitch/db.sock";
/** --state-db and its TLS files, the same on every command that reads the state database. */
void addStateDbOptions(CLI::App* cmd, StateDbAccess& access, const std::string& what) {
  cmd->add_option("--state-db", access.remote, what)
      ->envname("OVSPLANE_STATE_DB")
      ->capture_default_str();
  cmd->add_option("--state-db-key", access.key,
                  "PEM private key of this host, for ssl: state database remotes")
      ->envname("OVSPLANE_STATE_DB_KEY");
  cmd->add_option("--state-db-cert", access.cert,
                  "PEM certificate of this host (signed by the cluster's CA), for ssl: remotes")
      ->envname("OVSPLANE_STATE_DB_CERT");
  cmd->add_option("--state-db-ca", access.ca,
                  "PEM CA certificate the state database servers' certificates are signed by")
      ->envname("OVSPLANE_STATE_DB_CA");
}

int runCidr(const std::vector<std::string>& cidrs, std::ostream& out, std::ostream& err) {
  int rc = 0;
  for (const std::string& text : cidrs) {
    auto subnet = ipam::Subnet::parse(text);
    if (!subnet) {
      err << "ovsplane: " << subnet.error().message << "\n";
      rc = 1;
      continue;
    }
    out << fmt::format("{}: network {} gateway {} broadcast {} assignable {}\n", text,
                       subnet->toString(), subnet->gateway().toString(),
                       subnet->broadcast().toString(), subnet->hostCount() - 1);
  }
  return rc;
}

int runOvsdbProbe(const std::string& remote, const std::string& database, int timeoutMs,
                  std::ostream& out, std::ostream& err) {
  const auto which = database == "state" ? ovsdb::Database::State : ovsdb::Database::OpenVSwitch;
  auto schema = ovsdb::probeServerSchema(remote, which, std::chrono::milliseconds(timeoutMs));
  if (!schema) {
    err << "ovsplane: " << schema.error() << "\n";
    return 1;
  }
  out << fmt::format("{} at {}: {} tables\n", schema->database, remote, schema->tables.size());
  for (const std::string& table : schema->tables) {
    out << "  " << table << "\n";
  }
  return 0;
}

std::string ageOf(int64_t whenMs) {
  const int64_t now = wallClockMs();
  const int64_t seconds = std::max<int64_t>(0, (now - whenMs) / 1000);
  return seconds < 120 ? fmt::format("{}s", seconds) : fmt::format("{}m", seconds / 60);
}

/** This host's containers by endpoint id, as `endpoint ls` shows them: the app's name and a
 *  state (running, stopped, broken: its network-only container is gone, pending: no app yet). */
struct LocalEndpointView {
  std::map<std::string, std::pair<std::string, std::string>> byEndpoint;  // id -> name, state
  bool reachable = false;
};

LocalEndpointView lookAtLocalDocker(const std::string& dockerAddress, int timeoutMs) {
  LocalEndpointView view;
  netdrv::DockerClient docker(
      netdrv::DockerClientOptions{.socketPath = dockerAddress,
                                  .apiVersion = "",
                                  .timeout = std::chrono::milliseconds(timeoutMs)});
  auto containers = docker.listContainers({{netdrv::labels::kEndpoint, ""}}, true);
  if (!containers) return view;
  view.reachable = true;
  std::map<std::string, bool> netRunning;
  for (const auto& c : *containers) {
    auto role = c.labels.find(netdrv::labels::kRole);
    if (role != c.labels.end()) netRunning[c.labels.at(netdrv::labels::kEndpoint)] = c.running;
  }
  for (const auto& c : *containers) {
    if (c.labels.contains(netdrv::labels::kRole)) continue;
    const std::string& endpoint = c.labels.at(netdrv::labels::kEndpoint);
    auto net = netRunning.find(endpoint);
    const char* state = net == netRunning.end() ? "broken"
                        : !c.running            ? "stopped"
                        : net->second           ? "running"
                                                : "running, network-only container stopped";
    view.byEndpoint[endpoint] = {c.name, state};
  }
  for (const auto& [endpoint, running] : netRunning) {
    view.byEndpoint.try_emplace(endpoint, "-", "pending (no app container)");
  }
  return view;
}

/** The read-only views of the state database: network ls/inspect, endpoint ls, host ls. */
int runStateView(const std::string& what, const StateDbAccess& stateDb, int timeoutMs,
                 const std::string& cidrArg, std::ostream& out, std::ostream& err,
                 const std::string& localHost = "", const std::string& docker = "") {
  if (auto access = checkStateDbAccess(stateDb); !access) {
    err << "ovsplane: " << access.error() << "\n";
    return 2;
  }
  ovsdb::StateStore store(ovsdb::ClientOptions{.remote = stateDb.remote,
                                               .ssl = stateDb.ssl(),
                                               .leaderOnly = false,
                                               .timeout = std::chrono::milliseconds(timeoutMs)},
                          "cli");
  auto fail = [&](const std::string& message) {
    err << "ovsplane: " << message << "\n";
    return 1;
  };
  auto addresses = store.addresses();
  if (!addresses) return fail(addresses.error().message);
  if (what == "host ls") {
    auto hosts = store.hosts();
    if (!hosts) return fail(hosts.error().message);
    out << fmt::format("{:<24} {:<16} {:<10} {:>9}\n", "HOST", "VTEP IP", "LAST SEEN", "ENDPOINTS");
    for (const auto& host : *hosts) {
      const auto endpoints = std::count_if(addresses->begin(), addresses->end(),
                                           [&](const auto& a) { return a.host == host.name; });
      out << fmt::format("{:<24} {:<16} {:<10} {:>9}\n", host.name, host.vtepIp,
                         ageOf(host.lastSeenMs) + " ago", endpoints);
    }
    return 0;
  }
  if (what == "endpoint ls") {
    // This host's rows also name their container and state, from the local dockerd.
    const LocalEndpointView local = lookAtLocalDocker(docker, timeoutMs);
    out << fmt::format("{:<18} {:<16} {:<18} {:<12} {:<24} {}\n", "NETWORK", "IP", "ENDPOINT",
                       "HOST", "CONTAINER", "STATE");
    for (const auto& address : *addresses) {
      std::string container = "-";
      std::string state = address.host == localHost ? "?" : "remote";
      if (address.host == localHost && local.reachable) {
        auto it = local.byEndpoint.find(address.owner);
        container = it == local.byEndpoint.end() ? "-" : it->second.first;
        state =
            it == local.byEndpoint.end() ? "orphan (no container: ovsplane gc)" : it->second.second;
      }
      out << fmt::format("{:<18} {:<16} {:<18} {:<12} {:<24} {}\n", address.cidr, address.ip,
                         address.owner, address.host, container, state);
    }
    return 0;
  }
  auto networks = store.networks();
  if (!networks) return fail(networks.error().message);
  if (what == "network ls") {
    out << fmt::format("{:<18} {:<16} {:>9} {:>10}\n", "NETWORK", "GATEWAY", "VNI", "ENDPOINTS");
    for (const auto& network : *networks) {
      size_t endpoints = 0;
      for (const auto& address : *addresses) endpoints += address.cidr == network.cidr;
      out << fmt::format("{:<18} {:<16} {:>9} {:>10}\n", network.cidr, network.gateway, network.vni,
                         endpoints);
    }
    return 0;
  }
  // network inspect CIDR
  auto subnet = ipam::Subnet::parse(cidrArg);
  if (!subnet) return fail(subnet.error().message);
  for (const auto& network : *networks) {
    if (network.cidr != subnet->toString()) continue;
    out << fmt::format("network   {}\ngateway   {}\nvni       {}\ncreated   {} ago\nendpoints\n",
                       network.cidr, network.gateway, network.vni, ageOf(network.createdAtMs));
    for (const auto& address : *addresses) {
      if (address.cidr == network.cidr) {
        out << fmt::format("  {:<16} {:<18} {}\n", address.ip, address.owner, address.host);
      }
    }
    return 0;
  }
  return fail(fmt::format("no network {} in {}", subnet->toString(), stateDb.remote));
}

}  // namespace

int runCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  CLI::App app{
      "ovsplane: multi-host overlay networking for Docker on Open vSwitch + VXLAN.\n"
      "Containers created with OVSPLANE_CIDR (or SOCKETPLANE_CIDR) in their environment join\n"
      "that CIDR's network on every host.",
      "ovsplane"};
  app.set_version_flag("--version", std::string("ovsplane ") + OVSPLANE_VERSION);
  app.require_subcommand(0, 1);

  // ovsplane adapter / ovsplane proxy: one daemon, two defaults.
  DaemonConfig daemon;
  auto* adapterCmd = app.add_subcommand(
      "adapter", "Run the Powerstrip v1 hook server (the network driver behind a proxy)");
  auto* proxyCmd = app.add_subcommand(
      "proxy",
      "Run the Powerstrip-compatible Docker API proxy with the adapter built in (no HTTP hop)");
  proxyCmd
      ->add_option("--proxy-listen", daemon.proxyListen,
                   "Where docker clients connect: unix:/path or tcp:IP:PORT (repeatable; "
                   "default unix:/run/ovsplane/docker.sock; TCP needs --tls-ca or "
                   "--insecure-tcp)")
      ->envname("OVSPLANE_PROXY_LISTEN");
  proxyCmd
      ->add_option("--adapters", daemon.adaptersFile,
                   "Powerstrip adapters.yml: endpoints and their pre/post adapters (http://, "
                   "http+unix://, unix://, or builtin for ovsplane's own); default: ovsplane's "
                   "adapter alone")
      ->envname("OVSPLANE_ADAPTERS")
      ->check(CLI::ExistingFile);
  proxyCmd
      ->add_option("--tls-cert", daemon.tlsCert, "TLS on TCP listeners: server certificate (PEM)")
      ->envname("OVSPLANE_TLS_CERT")
      ->check(CLI::ExistingFile);
  proxyCmd->add_option("--tls-key", daemon.tlsKey, "TLS on TCP listeners: private key (PEM)")
      ->envname("OVSPLANE_TLS_KEY")
      ->check(CLI::ExistingFile);
  proxyCmd
      ->add_option("--tls-ca", daemon.tlsCa,
                   "Verify client certificates against this CA (PEM), as dockerd --tlsverify")
      ->envname("OVSPLANE_TLS_CA")
      ->check(CLI::ExistingFile);
  proxyCmd
      ->add_option("--hook-timeout", daemon.hookTimeoutMs,
                   "Milliseconds an external adapter has to answer one hook")
      ->envname("OVSPLANE_HOOK_TIMEOUT")
      ->check(CLI::Range(1, 3600000))
      ->capture_default_str();
  for (CLI::App* cmd : {adapterCmd, proxyCmd}) {
    const bool isProxy = cmd == proxyCmd;
    cmd->add_option("--listen", daemon.listen,
                    isProxy ? "Also serve the hook API here (unix:/path or tcp:IP:PORT)"
                            : "unix:/path or tcp:IP:PORT (repeatable)")
        ->envname("OVSPLANE_LISTEN");
    cmd->add_option("--plugin-listen", daemon.pluginListen,
                    "Serve Docker's network-plugin protocol here (docker network create -d "
                    "ovsplane --ipam-driver ovsplane): a unix:/path where dockerd looks for "
                    "plugins, or none")
        ->envname("OVSPLANE_PLUGIN_LISTEN")
        ->capture_default_str();
    cmd->add_option("--adapter-path", daemon.adapterPath, "HTTP path of the hook endpoint")
        ->capture_default_str();
    cmd->add_option("--ovsdb", daemon.ovsdb, "Open vSwitch database remote")
        ->envname("OVSPLANE_OVSDB")
        ->capture_default_str();
    addStateDbOptions(cmd, daemon.stateDb,
                      "ovsplane state database remote(s): unix:PATH, ssl:IP:PORT (with the TLS "
                      "files below) or tcp:IP:PORT (plain text); comma-separated for a Raft "
                      "cluster");
    cmd->add_option(
           "--docker", daemon.docker,
           "dockerd's Engine API: unix:///path or tcp://HOST:PORT (the proxy's upstream too)")
        ->envname("OVSPLANE_DOCKER")
        ->capture_default_str();
    cmd->add_option("--datapath", daemon.datapath,
                    "OVS datapath for bridges: system (kernel module), netdev (userspace), "
                    "auto (system when the module is loaded)")
        ->envname("OVSPLANE_DATAPATH")
        ->check(CLI::IsMember({"auto", "system", "netdev"}))
        ->capture_default_str();
    cmd->add_option("--mtu", daemon.mtu,
                    "Overlay MTU (576-8950), or auto: the MTU of the underlay interface (the one "
                    "holding the VTEP address) minus 50, re-read every 5 s (running "
                    "containers follow a change); 1450 without an underlay")
        ->envname("OVSPLANE_MTU")
        ->capture_default_str();
    cmd->add_option("--host", daemon.hostName, "This host's name (default: hostname)")
        ->envname("OVSPLANE_HOST");
    cmd->add_option(
           "--vtep-ip", daemon.vtepIp,
           "This host's tunnel endpoint address, or auto (the source address of the "
           "route to the state database's first tcp: or ssl: remote); registers the host for "
           "VXLAN")
        ->envname("OVSPLANE_VTEP_IP")
        ->check(CLI::ValidIPV4 | CLI::IsMember({"auto"}));
    cmd->add_option("--host-expiry", daemon.hostExpirySeconds,
                    "Seconds without a refresh after which a peer host counts as gone")
        ->envname("OVSPLANE_HOST_EXPIRY")
        ->check(CLI::Range(6, 3600))
        ->capture_default_str();
    cmd->add_option("--gc-grace", daemon.gcGraceSeconds,
                    "Seconds an unclaimed network-only container or address is left alone (its "
                    "create may still be on its way to Docker) before the reconciler collects it")
        ->envname("OVSPLANE_GC_GRACE")
        ->check(CLI::Range(0, 86400))
        ->capture_default_str();
    cmd->add_option("--network-pool", daemon.networkPool,
                    "Started network-only containers kept ready, so that an attach claims one "
                    "instead of creating and starting its own (0: none)")
        ->envname("OVSPLANE_NETWORK_POOL")
        ->check(CLI::Range(0, 256))
        ->capture_default_str();
    cmd->add_option("--reconcile-interval", daemon.reconcileIntervalSeconds,
                    "Seconds between the reconciler's full passes (events act at once in between)")
        ->envname("OVSPLANE_RECONCILE_INTERVAL")
        ->check(CLI::Range(1, 3600))
        ->capture_default_str();
    cmd->add_flag("--insecure-tcp", daemon.insecureTcp,
                  "Allow TCP listeners without client authentication (the proxy's without "
                  "--tls-ca, the hook API's always): whoever reaches them controls this host's "
                  "containers")
        ->envname("OVSPLANE_INSECURE_TCP");
    cmd->add_flag("--delete-empty-bridges", daemon.deleteEmptyBridges,
                  "Delete a network's bridge with its last endpoint on this host")
        ->envname("OVSPLANE_DELETE_EMPTY_BRIDGES");
    cmd->add_option("--nat", daemon.nat,
                    "For networks this host creates without OVSPLANE_NAT on their first attach: "
                    "true = egress source-NATed to the host's address and the host reaches the "
                    "containers; false = sealed (no gateway address)")
        ->envname("OVSPLANE_NAT_DEFAULT")
        ->capture_default_str();
    cmd->add_flag("--route-between-networks", daemon.routeBetweenNetworks,
                  "Let the host forward between two ovsplane networks (dropped by default)")
        ->envname("OVSPLANE_ROUTE_BETWEEN_NETWORKS");
    cmd->add_option("--ovs-rundir", daemon.ovsRunDir,
                    "ovs-vswitchd's run directory, where the bridges' .mgmt OpenFlow sockets are "
                    "(default: the directory of a unix: --ovsdb socket, else /var/run/openvswitch)")
        ->envname("OVSPLANE_OVS_RUNDIR");
    cmd->add_option("--log-level", daemon.logLevel, "trace, debug, info, warn, error")
        ->envname("OVSPLANE_LOG_LEVEL")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
        ->capture_default_str();
  }

  bool dryRun = false;
  auto* gc = app.add_subcommand(
      "gc",
      "One reconciliation pass of this host: print what does not match Docker's containers and "
      "the state database (orphan network-only containers, addresses, veths, OVS ports; lost "
      "ports; apps Docker could not restart) and fix it");
  gc->add_flag("--dry-run", dryRun, "Print what would change, change nothing");
  gc->add_option("--ovsdb", daemon.ovsdb, "Open vSwitch database remote")
      ->envname("OVSPLANE_OVSDB")
      ->capture_default_str();
  addStateDbOptions(gc, daemon.stateDb, "ovsplane state database remote(s)");
  gc->add_option("--docker", daemon.docker, "dockerd's Engine API")
      ->envname("OVSPLANE_DOCKER")
      ->capture_default_str();
  gc->add_option("--host", daemon.hostName, "This host's name (default: hostname)")
      ->envname("OVSPLANE_HOST");
  gc->add_option("--datapath", daemon.datapath, "OVS datapath for re-added bridges")
      ->envname("OVSPLANE_DATAPATH")
      ->check(CLI::IsMember({"auto", "system", "netdev"}))
      ->capture_default_str();
  gc->add_option("--mtu", daemon.mtu,
                 "Overlay MTU for rewired endpoints, or auto (as the daemon's --mtu)")
      ->envname("OVSPLANE_MTU")
      ->capture_default_str();
  gc->add_option("--gc-grace", daemon.gcGraceSeconds,
                 "Seconds an unclaimed network-only container or address is left alone")
      ->envname("OVSPLANE_GC_GRACE")
      ->check(CLI::Range(0, 86400))
      ->capture_default_str();
  gc->add_option("--log-level", daemon.logLevel, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));

  std::vector<std::string> cidrs;
  auto* cidr = app.add_subcommand(
      "cidr", "Parse CIDRs as OVSPLANE_CIDR does and show network, gateway and broadcast");
  cidr->add_option("CIDR", cidrs, "e.g. 10.0.6.1/24 (gateway 10.0.6.1) or 10.0.6.0/24")->required();

  std::string remote = kDefaultOvsdb;
  std::string database = "open_vswitch";
  int timeoutMs = 3000;
  auto* probe = app.add_subcommand(
      "ovsdb-probe",
      "Connect to an OVSDB server and list which of the tables ovsplane uses it serves");
  probe->add_option("--db", remote, "OVSDB remote: unix:PATH or tcp:IP:PORT (comma-separated list)")
      ->envname("OVSPLANE_OVSDB")
      ->capture_default_str();
  probe->add_option("--database", database, "Schema to probe")
      ->check(CLI::IsMember({"open_vswitch", "state"}))
      ->capture_default_str();
  probe->add_option("--timeout-ms", timeoutMs, "Give up after this many milliseconds")
      ->check(CLI::Range(1, 600000))
      ->capture_default_str();

  // Read-only views of the state database.
  StateDbAccess stateDb;
  std::string inspectCidr;
  auto addStateOptions = [&](CLI::App* cmd) {
    addStateDbOptions(cmd, stateDb, "ovsplane state database remote(s)");
    cmd->add_option("--timeout-ms", timeoutMs, "Give up after this many milliseconds")
        ->check(CLI::Range(1, 600000))
        ->capture_default_str();
  };
  auto* network = app.add_subcommand("network", "Networks of the cluster");
  network->require_subcommand(1);
  auto* networkLs = network->add_subcommand("ls", "List networks: CIDR, gateway, VNI, endpoints");
  addStateOptions(networkLs);
  auto* networkInspect = network->add_subcommand("inspect", "Show one network and its endpoints");
  networkInspect->add_option("CIDR", inspectCidr, "the network, e.g. 10.0.6.1/24")->required();
  addStateOptions(networkInspect);
  auto* endpoint = app.add_subcommand("endpoint", "Container endpoints (addresses) of the cluster");
  endpoint->require_subcommand(1);
  auto* endpointLs = endpoint->add_subcommand(
      "ls",
      "List endpoints: network, IP, endpoint, host; for this host's, the container and its state "
      "(from the local dockerd)");
  addStateOptions(endpointLs);
  std::string listHost;
  std::string listDocker = "unix:///var/run/docker.sock";
  endpointLs->add_option("--host", listHost, "This host's name (default: hostname)")
      ->envname("OVSPLANE_HOST");
  endpointLs->add_option("--docker", listDocker, "dockerd's Engine API")
      ->envname("OVSPLANE_DOCKER")
      ->capture_default_str();
  auto* host = app.add_subcommand("host", "Hosts of the cluster");
  host->require_subcommand(1);
  auto* hostLs = host->add_subcommand("ls", "List hosts: name, VTEP IP, last seen");
  addStateOptions(hostLs);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e, out, err) == 0 ? 0 : 2;
  }
  if (*adapterCmd) return runDaemon(daemon);
  if (*proxyCmd) {
    // Defaults of proxy mode: clients on a unix socket beside dockerd's, no hook listener.
    if (proxyCmd->count("--proxy-listen") == 0 && std::getenv("OVSPLANE_PROXY_LISTEN") == nullptr) {
      daemon.proxyListen = {"unix:/run/ovsplane/docker.sock"};
    }
    if (proxyCmd->count("--listen") == 0 && std::getenv("OVSPLANE_LISTEN") == nullptr) {
      daemon.listen.clear();
    }
    return runDaemon(daemon);
  }
  if (*gc) {
    if (gc->count("--log-level") == 0) daemon.logLevel = "warn";
    return runGc(daemon, dryRun, out, err);
  }
  if (*cidr) return runCidr(cidrs, out, err);
  if (*probe) return runOvsdbProbe(remote, database, timeoutMs, out, err);
  if (*networkLs) return runStateView("network ls", stateDb, timeoutMs, "", out, err);
  if (*networkInspect) {
    return runStateView("network inspect", stateDb, timeoutMs, inspectCidr, out, err);
  }
  if (*endpointLs) {
    if (listHost.empty()) {
      char name[256] = {};
      gethostname(name, sizeof name - 1);
      listHost = name;
    }
    return runStateView("endpoint ls", stateDb, timeoutMs, "", out, err, listHost, listDocker);
  }
  if (*hostLs) return runStateView("host ls", stateDb, timeoutMs, "", out, err);
  out << app.help();
  return 0;
}

}  // namespace ovsplane::adapter
