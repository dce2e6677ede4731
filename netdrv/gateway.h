#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "netdrv/host_firewall.h"
#include "netdrv/netlink.h"
#include "netdrv/seams.h"
#include "ovsdb/openflow.h"

namespace ovsplane::netdrv {

/** The OpenFlow rules of a gateway (ovsdb::OpenFlow in production; a seam for tests). */
class GatewayFlowControl {
 public:
  virtual ~GatewayFlowControl() = default;
  /** Idempotent; true when it (re)installed the flows. */
  virtual Result<bool> ensure(const ovsdb::GatewayFlowSpec& spec) = 0;
  virtual Result<void> remove(const std::string& bridge, uint32_t vni) = 0;
};

/** ovsdb::OpenFlow as GatewayFlowControl. */
std::shared_ptr<GatewayFlowControl> makeOpenFlowControl(std::shared_ptr<ovsdb::OpenFlow> flows);

struct GatewayConfig {
  /** Drop forwarding between two ovsplane networks (--route-between-networks turns it off). */
  bool isolateNetworks = true;
  /** The MTU of the gateway ports (the overlay MTU). */
  uint32_t mtu = 1450;
  /** The datapath of the bridges (for re-shaping one made before gateways existed). */
  ovsdb::DatapathType datapath = ovsdb::DatapathType::System;
};

struct GatewayDependencies {
  NetlinkPtr netlink;
  std::shared_ptr<SwitchControl> ovs;
  std::shared_ptr<GatewayFlowControl> flows;
  std::shared_ptr<HostFirewall> firewall;
};

/**
 * This host's side of the distributed gateway: for every network with endpoints here, the
 * bridge's own internal (LOCAL) port is the gateway (the network's gateway address, and the same
 * MAC, 02:6f:76 + VNI, on every host), its OpenFlow rules keep it local (ovsdb::OpenFlow), and
 * the host firewall source-NATs the network's egress. A sealed network (nat off) gets the rules
 * but no address: neither egress nor the host reach it. Level-triggered: reconcile() makes the
 * host match the networks it is given, reinstalls flows ovs-vswitchd lost (a restart) and
 * removes the gateways of networks no longer given. Thread-safe (one reconcile at a time).
 */
class Gateways {
 public:
  Gateways(GatewayConfig config, GatewayDependencies dependencies);

  struct Report {
    std::vector<std::string> changes;   ///< one line each
    std::vector<std::string> failures;  ///< one line per network (or the firewall) that failed
  };
  /** Makes this host the gateway of exactly `networks` (the networks with endpoints here). */
  Report reconcile(const std::vector<NetworkInfo>& networks);
  /** The overlay MTU changed: the gateway ports follow on the next reconcile(). */
  void setMtu(uint32_t mtu);

 private:
  /** One network's port, flows and address; appends to `report`. */
  void reconcileOne(const NetworkInfo& network, Report& report);
  void retire(uint32_t vni, Report& report);

  GatewayConfig config_;
  GatewayDependencies deps_;
  std::mutex mutex_;
  std::map<uint32_t, NetworkInfo> served_;  // by VNI: gateways set up by this process
};

}  // namespace ovsplane::netdrv
