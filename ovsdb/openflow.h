#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>

#include "ipam/ipv4.h"
#include "ovsdb/error.h"

namespace ovsplane::ovsdb {

/** What keeps one network's gateway local to a host: its MAC and address, and the bridge. */
struct GatewayFlowSpec {
  std::string bridge;
  uint32_t vni = 0;
  std::array<uint8_t, 6> mac{};
  ipam::Ipv4Address ip;
};

/**
 * OpenFlow to the bridges of one ovs-vswitchd through their management sockets
 * (<runDir>/<bridge>.mgmt), natively with libopenvswitch's vconn and flow-mod encoding, OpenFlow
 * 1.3 or later. Stateless: each call opens its own connection (at most `connectTimeout`) and
 * closes it; thread-safe. Errors: Timeout (no such socket, vswitchd down or not answering),
 * Backend (version refused, a flow refused).
 */
class OpenFlow {
 public:
  explicit OpenFlow(std::string runDir,
                    std::chrono::milliseconds connectTimeout = std::chrono::seconds(2));

  /** The cookie every gateway flow of network `vni` carries. */
  static uint64_t gatewayCookie(uint32_t vni);

  /**
   * Makes the bridge hold exactly the gateway flows of `spec` (table 0, the cookie above):
   * frames with the gateway MAC enter the switch only from the LOCAL port (from a tunnel or a
   * container they are dropped, never learnt), ARP for the gateway address and frames to the
   * gateway MAC go to LOCAL only (never flooded into tunnels), everything else is NORMAL
   * switching. Idempotent: nothing is sent when all five are there. Returns true when it
   * (re)installed them (ovs-vswitchd restarted: flows do not persist).
   */
  Result<bool> ensureGatewayFlows(const GatewayFlowSpec& spec);
  /** Removes the gateway flows of network `vni` from `bridge` (the NORMAL default with them). */
  Result<void> removeGatewayFlows(const std::string& bridge, uint32_t vni);
  /** How many flows of `bridge` carry the gateway cookie of `vni`. */
  Result<size_t> countGatewayFlows(const std::string& bridge, uint32_t vni);

  /** "unix:<runDir>/<bridge>.mgmt" */
  std::string target(const std::string& bridge) const;

 private:
  std::string runDir_;
  std::chrono::milliseconds connectTimeout_;
};

}  // namespace ovsplane::ovsdb
