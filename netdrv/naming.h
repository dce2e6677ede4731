#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ovsdb/switch.h"

namespace ovsplane::netdrv {

/** Linux interface names are at most 15 characters (IFNAMSIZ - 1). */
inline constexpr size_t kMaxInterfaceName = 15;

/**
 * Deterministic names and addresses derived from an endpoint id (a container id or name), so a
 * restarted ovsplane finds what an earlier run created. Pure functions; never fail.
 */
struct EndpointNames {
  std::string hostVeth;        ///< host end of the veth, on the OVS bridge: "ovh" + 12 hex
  std::string containerVeth;   ///< container end before it is renamed eth0: "ovc" + 12 hex
  std::array<uint8_t, 6> mac;  ///< locally administered unicast MAC for the container end

  /** "02:xx:xx:xx:xx:xx" */
  std::string macString() const;
};

EndpointNames endpointNames(std::string_view endpointId);

/** A new endpoint id: 16 random hex digits. Thread-safe. */
std::string randomEndpointId();

/** The OVS bridge of a network: "ovpbr" + VNI in decimal (at most 13 characters). */
std::string bridgeName(uint32_t vni);

/** The bridge of network `cidr`/`vni` as ovsplane makes it: its LOCAL port is the network's
 *  gateway (gatewayMac(vni), `mtu`, protected like the tunnels). */
ovsdb::BridgeSpec networkBridge(const std::string& cidr, uint32_t vni, ovsdb::DatapathType datapath,
                                uint32_t mtu);

/** The gateway MAC of network `vni`, the same on every host: 02:6f:76 + the 24-bit VNI. */
std::array<uint8_t, 6> gatewayMac(uint32_t vni);
std::string gatewayMacString(uint32_t vni);  ///< "02:6f:76:00:10:00"

/** The VXLAN port of network `vni` towards `remoteIp`: "ovt" + 12 hex (15 characters). */
std::string tunnelPortName(uint32_t vni, std::string_view remoteIp);

/** Parses "02:42:0a:00:06:02"; nullopt unless six colon-separated hex octets. */
std::optional<std::array<uint8_t, 6>> parseMac(std::string_view text);

}  // namespace ovsplane::netdrv
