#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ipam/error.h"
#include "ipam/ipv4.h"

namespace ovsplane::ipam {

/** One address held by one owner (a container id) in one network. */
struct Lease {
  Ipv4Address address;
  std::string owner;
  auto operator<=>(const Lease&) const = default;
};

/** reserve() succeeded: the address is now the owner's. */
struct Reserved {};
/** reserve() lost: another owner holds the address. */
struct AddressHeldBy {
  std::string owner;
};
/** reserve() found the owner already holding an address in the network (possibly this one:
 *  an at-least-once retry recognises its own earlier reservation this way). */
struct OwnerHolds {
  Ipv4Address address;
};
using ReserveOutcome = std::variant<Reserved, AddressHeldBy, OwnerHolds>;

/** reserveNext() reserved this address for the owner. */
struct ReservedAt {
  Ipv4Address address;
};
/** reserveNext() found no free address. */
struct NetworkFull {};
using ReserveNextOutcome = std::variant<ReservedAt, OwnerHolds, NetworkFull>;

/**
 * Persistence for address leases: the seam between allocation logic (Allocator) and where leases
 * live (in memory here; OVSDB cluster-wide in ovsdb/). Implementations are thread-safe and make
 * reserve() atomic: an address has at most one owner and an owner at most one address per network.
 * Networks are identified by their canonical Subnet (network/prefix). Errors from the backend are
 * ErrorCode::StoreUnavailable.
 */
class Store {
 public:
  virtual ~Store() = default;

  /** Atomically gives `address` to `owner` unless the address or the owner is already taken. */
  virtual Result<ReserveOutcome> reserve(const Subnet& subnet, Ipv4Address address,
                                         std::string_view owner) = 0;

  /** The address `owner` holds in `subnet`, if any. */
  virtual Result<std::optional<Ipv4Address>> addressOf(const Subnet& subnet,
                                                       std::string_view owner) = 0;

  /**
   * Atomically: OwnerHolds when `owner` already holds an address in `subnet`; otherwise reserves
   * the candidate roundRobinCandidate() picks (ipam/round_robin.h) from the network's last
   * reservation, or NetworkFull. Running the policy where the data lives makes one allocation one
   * round trip, and concurrent callers never fight over the same candidate in one store.
   */
  virtual Result<ReserveNextOutcome> reserveNext(const Subnet& subnet, std::string_view owner) = 0;

  /** Frees whatever `owner` holds in `subnet`. Idempotent: an unknown owner is success. */
  virtual Result<void> releaseOwner(const Subnet& subnet, std::string_view owner) = 0;

  /** Frees `address` in `subnet`. Idempotent: a free address is success. */
  virtual Result<void> releaseAddress(const Subnet& subnet, Ipv4Address address) = 0;

  /** Every lease in `subnet`, in address order. */
  virtual Result<std::vector<Lease>> leases(const Subnet& subnet) = 0;
};

using StorePtr = std::shared_ptr<Store>;

}  // namespace ovsplane::ipam
