#include "ipam/allocator.h"

#include <utility>

#include <fmt/format.h>

namespace ovsplane::ipam {
namespace {

// Each lost race means another owner won an address: bounded by the network size in theory, by a
// handful in practice. The bound turns a misbehaving store into an error instead of a spin.
constexpr int kMaxReserveAttempts = 64;

}  // namespace

Allocator::Allocator(StorePtr store) : store_(std::move(store)) {}

Result<Ipv4Address> Allocator::allocate(const Subnet& subnet, std::string_view owner,
                                        std::optional<Ipv4Address> requested) {
  if (owner.empty()) {
    return makeError(ErrorCode::InvalidArgument, "an address owner must not be empty");
  }
  if (requested) {
    return allocateRequested(subnet, owner, *requested);
  }
  auto held = store_->addressOf(subnet, owner);
  if (!held) {
    return std::unexpected(held.error());
  }
  if (*held) {
    return **held;
  }
  auto last = store_->lastReserved(subnet);
  if (!last) {
    return std::unexpected(last.error());
  }
  Ipv4Address start = subnet.firstHost();
  if (*last && **last < subnet.lastHost()) {
    start = Ipv4Address((*last)->value() + 1);
  }
  for (int attempt = 0; attempt < kMaxReserveAttempts; ++attempt) {
    auto candidate = findCandidate(subnet, start);
    if (!candidate) {
      return std::unexpected(candidate.error());
    }
    if (!*candidate) {
      return makeError(ErrorCode::Exhausted,
                       fmt::format("network {} is exhausted: all {} addresses are in use",
                                   subnet.toGatewayString(), subnet.hostCount() - 1));
    }
    auto outcome = store_->reserve(subnet, **candidate, owner);
    if (!outcome) {
      return std::unexpected(outcome.error());
    }
    if (std::holds_alternative<Reserved>(*outcome)) {
      return **candidate;
    }
    if (const auto* holds = std::get_if<OwnerHolds>(&*outcome)) {
      return holds->address;  // a concurrent or earlier allocation for the same owner won
    }
    start = **candidate;  // lost the race for this address: look again from here
  }
  return makeError(ErrorCode::StoreUnavailable,
                   fmt::format("could not reserve an address in {} after {} attempts (contention)",
                               subnet.toGatewayString(), kMaxReserveAttempts));
}

Result<Ipv4Address> Allocator::allocateRequested(const Subnet& subnet, std::string_view owner,
                                                 Ipv4Address requested) {
  const std::string cidr = subnet.toGatewayString();
  if (requested == subnet.network() || requested == subnet.broadcast()) {
    return makeError(
        ErrorCode::ReservedAddress,
        fmt::format("{} is the {} address of {} and cannot be assigned", requested.toString(),
                    requested == subnet.network() ? "network" : "broadcast", cidr));
  }
  if (!subnet.containsHost(requested)) {
    return makeError(ErrorCode::OutOfRange,
                     fmt::format("{} is outside network {}", requested.toString(), cidr));
  }
  if (requested == subnet.gateway()) {
    return makeError(
        ErrorCode::ReservedAddress,
        fmt::format("{} is the gateway of {} and cannot be assigned", requested.toString(), cidr));
  }
  auto outcome = store_->reserve(subnet, requested, owner);
  if (!outcome) {
    return std::unexpected(outcome.error());
  }
  if (const auto* holder = std::get_if<AddressHeldBy>(&*outcome)) {
    return makeError(ErrorCode::AddressTaken,
                     fmt::format("{} in {} is already taken (by {})", requested.toString(), cidr,
                                 holder->owner));
  }
  if (const auto* holds = std::get_if<OwnerHolds>(&*outcome);
      holds && holds->address != requested) {
    return makeError(ErrorCode::OwnerConflict,
                     fmt::format("{} already holds {} in {}, not {}", owner,
                                 holds->address.toString(), cidr, requested.toString()));
  }
  return requested;
}

Result<std::optional<Ipv4Address>> Allocator::findCandidate(const Subnet& subnet,
                                                            Ipv4Address start) {
  // Search [start, last] then wrap to [first, start), skipping the gateway.
  const std::pair<Ipv4Address, Ipv4Address> ranges[] = {
      {start, subnet.lastHost()},
      {subnet.firstHost(), Ipv4Address(start.value() - 1)},
  };
  for (auto [from, to] : ranges) {
    if (from > to || !subnet.containsHost(to)) {
      continue;
    }
    auto free = store_->firstFree(subnet, from, to);
    if (free && *free && **free == subnet.gateway()) {
      // The gateway is never handed out: look past it (it appears once per network).
      free = **free < to ? store_->firstFree(subnet, Ipv4Address(subnet.gateway().value() + 1), to)
                         : Result<std::optional<Ipv4Address>>(std::nullopt);
    }
    if (!free || *free) {
      return free;
    }
  }
  return std::nullopt;
}

Result<void> Allocator::release(const Subnet& subnet, std::string_view owner) {
  return store_->releaseOwner(subnet, owner);
}

Result<void> Allocator::releaseAddress(const Subnet& subnet, Ipv4Address address) {
  return store_->releaseAddress(subnet, address);
}

}  // namespace ovsplane::ipam
