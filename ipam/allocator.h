#pragma once

#include <optional>
#include <string_view>

#include "ipam/error.h"
#include "ipam/ipv4.h"
#include "ipam/store.h"

namespace ovsplane::ipam {

/**
 * Hands out host addresses of a Subnet to owners (container ids), over a Store.
 *
 * - Idempotent by owner: allocating again for an owner returns the address it holds.
 * - Round-robin (ipam/round_robin.h, run by the Store where the data lives): a search starts
 *   after the address reserved last in the network and wraps, so a crash-looping container does
 *   not get its previous address back at once.
 * - Never hands out the network, gateway or broadcast address.
 * - Thread-safe when the Store is; atomicity comes from Store::reserve / Store::reserveNext.
 * Shares ownership of the store.
 */
class Allocator {
 public:
  explicit Allocator(StorePtr store);

  /**
   * The owner's address in `subnet`: the one it holds, `requested` when given (errors:
   * OutOfRange, ReservedAddress, AddressTaken naming the holder, OwnerConflict when the owner
   * holds another address), or the next free one (error: Exhausted naming the CIDR).
   */
  Result<Ipv4Address> allocate(const Subnet& subnet, std::string_view owner,
                               std::optional<Ipv4Address> requested = std::nullopt);

  /** Frees the owner's address. Idempotent: an unknown owner is success. */
  Result<void> release(const Subnet& subnet, std::string_view owner);

  /** Frees an address whoever holds it. Idempotent: a free or foreign address is success. */
  Result<void> releaseAddress(const Subnet& subnet, Ipv4Address address);

  Store& store() { return *store_; }

 private:
  Result<Ipv4Address> allocateRequested(const Subnet& subnet, std::string_view owner,
                                        Ipv4Address requested);

  StorePtr store_;
};

}  // namespace ovsplane::ipam
