#pragma once

#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace ovsplane::adapter {

/** The host of the first "tcp:IP:PORT" or "ssl:IP:PORT" entry of an OVSDB remote list
 *  ("unix:..." entries are skipped); nullopt when there is none. Pure. */
std::optional<std::string> firstNetworkRemoteHost(std::string_view remotes);

/**
 * The local address the kernel would use as the source towards `ip` (the underlay route's
 * address): a UDP socket is connected (no packet is sent) and asked for its name.
 * Errors name the address.
 */
std::expected<std::string, std::string> sourceAddressTowards(const std::string& ip);

/**
 * `--vtep-ip auto`: the source address of the route to the state database (its first TCP
 * remote). Without a TCP remote there is no underlay to follow: an error asks for --vtep-ip.
 */
std::expected<std::string, std::string> detectVtepIp(std::string_view stateDbRemotes);

/** The network interface holding the IPv4 address `ip` and its MTU. */
struct InterfaceMtu {
  std::string name;
  unsigned mtu = 0;
};
/** Looks `ip` up among this network namespace's interfaces (getifaddrs). Errors name the
 *  address. */
std::expected<InterfaceMtu, std::string> interfaceMtuOf(const std::string& ip);

/** VXLAN over IPv4 adds 50 bytes (outer IPv4 20, UDP 8, VXLAN 8, inner Ethernet 14). */
inline constexpr unsigned kVxlanOverhead = 50;
/** Without an underlay to measure (one host, a unix state database): fits a 1500-byte one. */
inline constexpr unsigned kFallbackOverlayMtu = 1450;

/** The overlay MTU and how it was chosen ("--mtu", "eth1 MTU 1460 - 50", ...). */
struct OverlayMtu {
  unsigned mtu = kFallbackOverlayMtu;
  std::string reason;
};

/**
 * `--mtu`: a number is taken as it is (576..8950); `auto` is the MTU of the underlay interface
 * minus kVxlanOverhead, the underlay interface being the one that holds this host's VTEP address
 * (`vtepIp`, or, when that is empty or auto, the source address of the route to the state
 * database's first network remote). Without either (a single host), kFallbackOverlayMtu.
 * A fixed 1450 on a 1460-byte cloud network black-holes full-size TCP segments (moby#20178).
 * Errors: a value that is neither; an underlay MTU too small to carry 576 bytes.
 */
std::expected<OverlayMtu, std::string> resolveOverlayMtu(std::string_view flag,
                                                         std::string_view vtepIp,
                                                         std::string_view stateDbRemotes);

}  // namespace ovsplane::adapter
