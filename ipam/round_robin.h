#pragma once

#include <functional>
#include <optional>

#include "ipam/ipv4.h"

namespace ovsplane::ipam {

/** Answers "the first free host address in [from, to]" for a search (from <= to). */
using FirstFreeFn = std::function<std::optional<Ipv4Address>(Ipv4Address from, Ipv4Address to)>;

/**
 * The allocation policy, as a pure function so every Store runs the same rules where its data
 * lives: search from the address after `lastReserved` to the last host, then wrap to the first
 * host; never the gateway. nullopt when every candidate is taken.
 */
std::optional<Ipv4Address> roundRobinCandidate(const Subnet& subnet,
                                               std::optional<Ipv4Address> lastReserved,
                                               const FirstFreeFn& firstFree);

}  // namespace ovsplane::ipam
