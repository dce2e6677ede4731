#pragma once

#include <chrono>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "adapter/state_db_access.h"

namespace ovsplane::ovsdb {
class Switch;
class StateStore;
}  // namespace ovsplane::ovsdb
namespace ovsplane::netdrv {
class DockerClient;
class Driver;
}  // namespace ovsplane::netdrv

namespace ovsplane::adapter {

/** Settings of `ovsplane adapter` (flags and environment; see the README). */
struct DaemonConfig {
  std::vector<std::string> listen = {"unix:/run/ovsplane/adapter.sock"};
  /** Docker's network-plugin protocol (`-d ovsplane --ipam-driver ovsplane`): a unix socket
   *  where dockerd discovers plugins; "none" (or empty): not served. */
  std::string pluginListen = "unix:/run/docker/plugins/ovsplane.sock";
  /** The Docker API proxy with the adapter built in (no HTTP hop); empty: no proxy. */
  std::vector<std::string> proxyListen;
  /** Powerstrip's adapters.yml for the proxy; empty: the built-in adapter's rules. */
  std::string adaptersFile;
  /** TLS for the proxy's TCP listeners: certificate and key (both or neither), and the CA
   *  that client certificates must be signed by (optional: verification only when set). */
  std::string tlsCert;
  std::string tlsKey;
  std::string tlsCa;
  /** Limit for one external adapter's answer to one hook. */
  unsigned hookTimeoutMs = 30000;
  std::string adapterPath = "/adapter";
  std::string ovsdb = "unix:/var/run/openvswitch/db.sock";
  StateDbAccess stateDb;  ///< remote(s) and, for ssl:, the TLS identity
  std::string docker = "unix:///var/run/docker.sock";
  std::string datapath = "auto";  ///< auto | system | netdev
  std::string mtu = "auto";       ///< a number, or auto (resolveOverlayMtu, adapter/vtep.h)
  std::string hostName;           ///< default: the machine's host name
  std::string vtepIp;             ///< when set, the host registers itself (tunnels end here)
  std::chrono::milliseconds ovsdbTimeout{5000};
  /** One state database operation on a loaded cluster may wait its turn this long... */
  std::chrono::milliseconds stateTimeout{15000};
  /** ...but while the state database is unreachable, attaches fail after this. */
  std::chrono::milliseconds stateUnusableLimit{5000};
  std::chrono::milliseconds applyTimeout{5000};
  /** Unclaimed network-only containers and addresses younger than this are left alone. */
  unsigned gcGraceSeconds = 60;
  /** Started network-only containers kept ready for attaches (0: none). */
  unsigned networkPool = 4;
  /** The reconciler's full pass runs at least this often. */
  unsigned reconcileIntervalSeconds = 30;
  /** A peer whose row has not been refreshed for this long has left (its tunnels go). */
  unsigned hostExpirySeconds = 30;
  std::string logLevel = "info";
  /** Allow TCP listeners without client authentication (logged as a warning). */
  bool insecureTcp = false;
  bool deleteEmptyBridges = false;
  /** Egress NAT + host reachability for networks whose first attach does not set OVSPLANE_NAT. */
  bool nat = true;
  /** Let the host forward between two ovsplane networks (dropped by default). */
  bool routeBetweenNetworks = false;
  /** ovs-vswitchd's run directory (the bridges' .mgmt sockets); "" = the directory of a
   *  unix: --ovsdb socket, else /var/run/openvswitch. */
  std::string ovsRunDir;
};

/**
 * Runs the hook server until SIGTERM/SIGINT, then stops gracefully (in-flight hooks finish).
 * Blocks those signals in every thread first and waits for them on the calling thread, so it
 * must be called before any other thread exists. Returns the exit code; start-up errors are
 * printed to stderr.
 */
int runDaemon(const DaemonConfig& config);

/** What one host's ovsplane talks to, connected as `config` says (`overlayMtu`: --mtu resolved)
 * (nothing registered, nothing started: the clients connect lazily). */
struct HostServices {
  std::string hostName;
  std::string datapath;  ///< "system" or "netdev" ("auto" resolved)
  std::shared_ptr<ovsdb::Switch> ovs;
  std::shared_ptr<ovsdb::StateStore> state;
  std::shared_ptr<netdrv::DockerClient> docker;
  std::shared_ptr<netdrv::Driver> driver;
};
HostServices connectHost(const DaemonConfig& config, unsigned overlayMtu);
/** Where ovs-vswitchd keeps the bridges' management sockets (OpenFlow): --ovs-rundir, else the
 *  directory of a unix: --ovsdb socket, else /var/run/openvswitch. */
std::string ovsRunDir(const DaemonConfig& config);

/** `ovsplane gc`: one reconciliation pass of this host, printed (and done unless `dryRun`).
 *  Exit code 0, or 1 when Docker cannot be listed or a change failed. */
int runGc(const DaemonConfig& config, bool dryRun, std::ostream& out, std::ostream& err);

/** "system" when the openvswitch kernel module is loaded, else "netdev". */
std::string detectDatapath();

}  // namespace ovsplane::adapter
