#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ipam/ipv4.h"
#include "netdrv/error.h"

namespace ovsplane::netdrv {

/** What the host's firewall does for its networks' gateways. */
struct FirewallPlan {
  /** Networks whose containers leave the overlay through this host, source-NATed to the host's
   *  outgoing address (networks with NAT on and endpoints here). */
  std::vector<ipam::Subnet> natNetworks;
  /** Every ovsplane network with a gateway here: forwarding between two of them is dropped
   *  (unless `isolate` is false). */
  std::vector<ipam::Subnet> gatewayNetworks;
  bool isolate = true;

  bool operator==(const FirewallPlan&) const = default;
};

/**
 * The host's firewall, as far as ovsplane touches it: one table of its own and nothing else
 * (nftables through libnftables in production: `table ip ovsplane`). Thread-safe.
 */
class HostFirewall {
 public:
  virtual ~HostFirewall() = default;
  /**
   * Makes ovsplane's table express `plan`, atomically (one nftables transaction); an empty plan
   * deletes the table. With NAT networks, IPv4 forwarding is turned on (net.ipv4.ip_forward, as
   * Docker does). Idempotent: nothing is sent when the table already says so (a table changed
   * or removed by someone else is rewritten). Returns true when it changed the ruleset.
   * Unavailable when the kernel refuses (no nf_tables, no CAP_NET_ADMIN).
   */
  virtual Result<bool> apply(const FirewallPlan& plan) = 0;
};

/** nftables through the libnftables API, in the caller's network namespace. */
std::shared_ptr<HostFirewall> makeNftablesFirewall();

/** The nftables ruleset text of `plan` (table ip ovsplane), "" for an empty plan. Pure. */
std::string nftablesRuleset(const FirewallPlan& plan);

}  // namespace ovsplane::netdrv
