#include "netdrv/naming.h"

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
  return names;
}

std::string bridgeName(uint32_t vni) { return fmt::format("ovpbr{}", vni); }

}  // namespace ovsplane::netdrv
