#include "netdrv/naming.h"

#include <random>

#include <fmt/format.h>

namespace ovsplane::netdrv {
namespace {

/** FNV-1a, 64 bit: stable across runs and builds (std::hash is not). */
uint64_t stableHash(std::string_view text) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

}  // namespace

std::string randomEndpointId() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:016x}", rng());
}

std::string EndpointNames::macString() const {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", mac[0], mac[1], mac[2], mac[3],
                     mac[4], mac[5]);
}

EndpointNames endpointNames(std::string_view endpointId) {
  const uint64_t hash = stableHash(endpointId);
  const std::string suffix = fmt::format("{:012x}", hash & 0xffffffffffffULL);
  EndpointNames names{.hostVeth = "ovh" + suffix, .containerVeth = "ovc" + suffix, .mac = {}};
  names.mac[0] = 0x02;  // locally administered, unicast
  for (size_t i = 1; i < names.mac.size(); ++i) {
    names.mac[i] = static_cast<uint8_t>(hash >> (8 * (i - 1) + 16));
  }
  if (names.mac[1] == 0x6f && names.mac[2] == 0x76) {
    names.mac[2] ^= 0x01;  // 02:6f:76 is the gateways' prefix
  }
  return names;
}

std::array<uint8_t, 6> gatewayMac(uint32_t vni) {
  return {0x02,
          0x6f,
          0x76,
          static_cast<uint8_t>(vni >> 16),
          static_cast<uint8_t>(vni >> 8),
          static_cast<uint8_t>(vni)};
}

std::string gatewayMacString(uint32_t vni) {
  const auto mac = gatewayMac(vni);
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", mac[0], mac[1], mac[2], mac[3],
                     mac[4], mac[5]);
}

std::string bridgeName(uint32_t vni) { return fmt::format("ovpbr{}", vni); }

ovsdb::BridgeSpec networkBridge(const std::string& cidr, uint32_t vni, ovsdb::DatapathType datapath,
                                uint32_t mtu) {
  return ovsdb::BridgeSpec{
      .name = bridgeName(vni),
      .datapath = datapath,
      .externalIds = {{"ovsplane-network", cidr}, {"ovsplane-vni", std::to_string(vni)}},
      .hwaddr = gatewayMacString(vni),
      .localMtu = mtu,
      .localProtected = true};
}

std::string tunnelPortName(uint32_t vni, std::string_view remoteIp) {
  const uint64_t hash = stableHash(fmt::format("{}/{}", vni, remoteIp));
  return fmt::format("ovt{:012x}", hash & 0xffffffffffffULL);
}

std::optional<std::array<uint8_t, 6>> parseMac(std::string_view text) {
  if (text.size() != 17) return std::nullopt;
  std::array<uint8_t, 6> mac{};
  for (size_t i = 0; i < mac.size(); ++i) {
    if (i > 0 && text[i * 3 - 1] != ':') return std::nullopt;
    unsigned value = 0;
    for (char c : text.substr(i * 3, 2)) {
      value <<= 4;
      if (c >= '0' && c <= '9')
        value |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f')
        value |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        value |= static_cast<unsigned>(c - 'A' + 10);
      else
        return std::nullopt;
    }
    mac[i] = static_cast<uint8_t>(value);
  }
  return mac;
}

}  // namespace ovsplane::netdrv
