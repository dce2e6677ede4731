#include "ipam/allocator.h"

#include <utility>

#include <fmt/format.h>

namespace ovsplane::ipam {
Allocator::Allocator(StorePtr store) : store_(std::move(store)) {}

Result<Ipv4Address> Allocator::allocate(const Subnet& subnet, std::string_view owner,
                                        std::optional<Ipv4Address> requested) {
  if (owner.empty()) {
    return makeError(ErrorCode::InvalidArgument, "an address owner must not be empty");
  }
  if (requested) {
    return allocateRequested(subnet, owner, *requested);
  }
  auto outcome = store_->reserveNext(subnet, owner);
  if (!outcome) {
    return std::unexpected(outcome.error());
  }
  if (const auto* reserved = std::get_if<ReservedAt>(&*outcome)) {
    return reserved->address;
  }
  if (const auto* holds = std::get_if<OwnerHolds>(&*outcome)) {
    return holds->address;
  }
  return makeError(ErrorCode::Exhausted,
                   fmt::format("network {} is exhausted: all {} addresses are in use",
                               subnet.toGatewayString(), subnet.hostCount() - 1));
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

Result<void> Allocator::release(const Subnet& subnet, std::string_view owner) {
  return store_->releaseOwner(subnet, owner);
}

Result<void> Allocator::releaseAddress(const Subnet& subnet, Ipv4Address address) {
  return store_->releaseAddress(subnet, address);
}

}  // namespace ovsplane::ipam
