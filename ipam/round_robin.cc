#include "ipam/round_robin.h"

#include <utility>

namespace ovsplane::ipam {

std::optional<Ipv4Address> roundRobinCandidate(const Subnet& subnet,
                                               std::optional<Ipv4Address> lastReserved,
                                               const FirstFreeFn& firstFree) {
  Ipv4Address start = subnet.firstHost();
  if (lastReserved && subnet.containsHost(*lastReserved) && *lastReserved < subnet.lastHost()) {
    start = Ipv4Address(lastReserved->value() + 1);
  }
  const std::pair<Ipv4Address, Ipv4Address> ranges[] = {
      {start, subnet.lastHost()},
      {subnet.firstHost(), Ipv4Address(start.value() - 1)},
  };
  for (auto [from, to] : ranges) {
    if (from > to || !subnet.containsHost(to)) {
      continue;
    }
    auto free = firstFree(from, to);
    if (free && *free == subnet.gateway()) {
      // The gateway is never handed out: look past it (it appears once per network).
      free = *free < to ? firstFree(Ipv4Address(free->value() + 1), to) : std::nullopt;
    }
    if (free) {
      return free;
    }
  }
  return std::nullopt;
}

}  // namespace ovsplane::ipam
