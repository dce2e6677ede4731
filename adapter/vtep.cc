#include "adapter/vtep.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

#include "common/host_port.h"

namespace ovsplane::adapter {

std::optional<std::string> firstNetworkRemoteHost(std::string_view remotes) {
  while (!remotes.empty()) {
    const auto comma = remotes.find(',');
    std::string_view entry = remotes.substr(0, comma);
    remotes = comma == std::string_view::npos ? std::string_view() : remotes.substr(comma + 1);
    for (std::string_view scheme : {"tcp:", "ssl:"}) {
      if (!entry.starts_with(scheme)) continue;
      entry.remove_prefix(scheme.size());
      if (auto hostPort = parseHostPort(entry, 6640)) return hostPort->host;
    }
  }
  return std::nullopt;
}

std::expected<std::string, std::string> sourceAddressTowards(const std::string& ip) {
  sockaddr_in target{};
  target.sin_family = AF_INET;
  target.sin_port = htons(6641);  // any port: a UDP connect sends nothing
  if (inet_pton(AF_INET, ip.c_str(), &target.sin_addr) != 1) {
    return std::unexpected(fmt::format("\"{}\" is not an IPv4 address", ip));
  }
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::unexpected(fmt::format("socket: {}", std::strerror(errno)));
  sockaddr_in local{};
  socklen_t length = sizeof local;
  const bool ok = connect(fd, reinterpret_cast<const sockaddr*>(&target), sizeof target) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0;
  const int error = errno;
  close(fd);
  if (!ok) return std::unexpected(fmt::format("no route to {}: {}", ip, std::strerror(error)));
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &local.sin_addr, text, sizeof text);
  return std::string(text);
}

std::expected<std::string, std::string> detectVtepIp(std::string_view stateDbRemotes) {
  const auto host = firstNetworkRemoteHost(stateDbRemotes);
  if (!host) {
    return std::unexpected(
        fmt::format("--vtep-ip auto follows the route to the state database, but {} has no tcp: or "
                    "ssl: remote; "
                    "give the underlay address with --vtep-ip",
                    stateDbRemotes));
  }
  auto source = sourceAddressTowards(*host);
  if (!source) return std::unexpected("--vtep-ip auto: " + source.error());
  if (source->starts_with("127.")) {
    return std::unexpected(fmt::format(
        "--vtep-ip auto: the state database ({}) is reached over loopback, which other hosts "
        "cannot tunnel to; give the underlay address with --vtep-ip",
        *host));
  }
  return source;
}

std::expected<InterfaceMtu, std::string> interfaceMtuOf(const std::string& ip) {
  in_addr wanted{};
  if (inet_pton(AF_INET, ip.c_str(), &wanted) != 1) {
    return std::unexpected(fmt::format("\"{}\" is not an IPv4 address", ip));
  }
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0)
    return std::unexpected(fmt::format("getifaddrs: {}", std::strerror(errno)));
  std::string name;
  for (const ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
    if (entry->ifa_addr == nullptr || entry->ifa_addr->sa_family != AF_INET) continue;
    const auto* address = reinterpret_cast<const sockaddr_in*>(entry->ifa_addr);
    if (address->sin_addr.s_addr == wanted.s_addr) {
      name = entry->ifa_name;
      break;
    }
  }
  freeifaddrs(list);
  if (name.empty()) return std::unexpected(fmt::format("no interface holds {}", ip));
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::unexpected(fmt::format("socket: {}", std::strerror(errno)));
  ifreq request{};
  name.copy(request.ifr_name, IFNAMSIZ - 1);
  const bool ok = ioctl(fd, SIOCGIFMTU, &request) == 0;
  const int error = errno;
  close(fd);
  if (!ok) return std::unexpected(fmt::format("MTU of {}: {}", name, std::strerror(error)));
  return InterfaceMtu{name, static_cast<unsigned>(request.ifr_mtu)};
}

std::expected<OverlayMtu, std::string> resolveOverlayMtu(std::string_view flag,
                                                         std::string_view vtepIp,
                                                         std::string_view stateDbRemotes) {
  if (flag != "auto") {
    unsigned value = 0;
    const auto [end, error] = std::from_chars(flag.data(), flag.data() + flag.size(), value);
    if (error != std::errc() || end != flag.data() + flag.size() || value < 576 || value > 8950) {
      return std::unexpected(
          fmt::format("--mtu {}: expected auto or a number from 576 to 8950", flag));
    }
    return OverlayMtu{value, "--mtu"};
  }
  std::string ip(vtepIp == "auto" ? std::string_view() : vtepIp);
  if (ip.empty()) {
    if (auto detected = detectVtepIp(stateDbRemotes)) ip = *detected;
  }
  if (ip.empty()) {
    return OverlayMtu{kFallbackOverlayMtu, "no underlay to measure (single host)"};
  }
  auto underlay = interfaceMtuOf(ip);
  if (!underlay) return std::unexpected("--mtu auto: " + underlay.error());
  if (underlay->mtu < 576 + kVxlanOverhead) {
    return std::unexpected(fmt::format("--mtu auto: {} has MTU {}, too small for VXLAN",
                                       underlay->name, underlay->mtu));
  }
  return OverlayMtu{underlay->mtu - kVxlanOverhead,
                    fmt::format("{} MTU {} - {}", underlay->name, underlay->mtu, kVxlanOverhead)};
}

}  // namespace ovsplane::adapter
