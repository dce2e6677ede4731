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

}  // namespace ovsplane::adapter
