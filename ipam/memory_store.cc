#include "ipam/memory_store.h"

#include "ipam/round_robin.h"

#include <algorithm>
#include <bit>

namespace ovsplane::ipam {
namespace {

std::pair<uint32_t, int> keyOf(const Subnet& subnet) {
  return {subnet.network().value(), subnet.prefixLength()};
}

}  // namespace

MemoryStore::NetworkState::NetworkState(const Subnet& subnet)
    : base(subnet.firstHost().value()), used((subnet.hostCount() + 63) / 64, 0) {}

bool MemoryStore::NetworkState::isUsed(uint32_t address) const {
  const uint32_t bit = address - base;
  return (used[bit / 64] >> (bit % 64)) & 1U;
}

void MemoryStore::NetworkState::setUsed(uint32_t address, bool value) {
  const uint32_t bit = address - base;
  const uint64_t mask = uint64_t{1} << (bit % 64);
  used[bit / 64] = value ? (used[bit / 64] | mask) : (used[bit / 64] & ~mask);
}

void MemoryStore::NetworkState::erase(uint32_t address) {
  auto it = addressToOwner.find(address);
  if (it == addressToOwner.end()) {
    return;
  }
  const std::string* owner = it->second;
  addressToOwner.erase(it);
  ownerToAddress.erase(ownerToAddress.find(*owner));  // by iterator: the key lives in the node
  setUsed(address, false);
}

MemoryStore::NetworkState& MemoryStore::stateFor(const Subnet& subnet) {
  return networks_.try_emplace(keyOf(subnet), subnet).first->second;
}

const MemoryStore::NetworkState* MemoryStore::findState(const Subnet& subnet) const {
  auto it = networks_.find(keyOf(subnet));
  return it == networks_.end() ? nullptr : &it->second;
}

Result<ReserveOutcome> MemoryStore::NetworkState::reserve(const Subnet& subnet, Ipv4Address address,
                                                          std::string_view owner) {
  if (!subnet.containsHost(address)) {
    return makeError(ErrorCode::OutOfRange,
                     address.toString() + " is not a host address of " + subnet.toString());
  }
  if (isUsed(address.value())) {
    const std::string& holder = *addressToOwner.at(address.value());
    if (holder == owner) {
      return OwnerHolds{address};
    }
    if (auto held = ownerToAddress.find(owner); held != ownerToAddress.end()) {
      return OwnerHolds{Ipv4Address(held->second)};
    }
    return AddressHeldBy{holder};
  }
  // One hash lookup for the owner: insert, or find what it already holds.
  auto [entry, inserted] = ownerToAddress.try_emplace(std::string(owner), address.value());
  if (!inserted) {
    return OwnerHolds{Ipv4Address(entry->second)};
  }
  setUsed(address.value(), true);
  addressToOwner.emplace(address.value(), &entry->first);
  last = address;
  return Reserved{};
}

std::optional<Ipv4Address> MemoryStore::NetworkState::firstFree(Ipv4Address from,
                                                                Ipv4Address to) const {
  uint32_t bit = from.value() - base;
  const uint32_t lastBit = to.value() - base;
  while (bit <= lastBit) {
    // Word-at-a-time scan: a full word costs one comparison, so long used runs are cheap.
    const uint64_t freeBits = ~used[bit / 64] >> (bit % 64);
    if (freeBits == 0) {
      bit = (bit / 64 + 1) * 64;
      continue;
    }
    const uint32_t candidate = bit + static_cast<uint32_t>(std::countr_zero(freeBits));
    if (candidate > lastBit) {
      break;
    }
    return Ipv4Address(base + candidate);
  }
  return std::nullopt;
}

Result<ReserveOutcome> MemoryStore::reserve(const Subnet& subnet, Ipv4Address address,
                                            std::string_view owner) {
  std::scoped_lock lock(mutex_);
  return stateFor(subnet).reserve(subnet, address, owner);
}

Result<ReserveNextOutcome> MemoryStore::reserveNext(const Subnet& subnet, std::string_view owner) {
  std::scoped_lock lock(mutex_);
  NetworkState& state = stateFor(subnet);
  if (auto held = state.ownerToAddress.find(owner); held != state.ownerToAddress.end()) {
    return OwnerHolds{Ipv4Address(held->second)};
  }
  const auto candidate = roundRobinCandidate(
      subnet, state.last,
      [&](Ipv4Address from, Ipv4Address to) { return state.firstFree(from, to); });
  if (!candidate) {
    return NetworkFull{};
  }
  auto outcome = state.reserve(subnet, *candidate, owner);  // cannot lose: we hold the lock
  if (!outcome) {
    return std::unexpected(outcome.error());
  }
  return ReservedAt{*candidate};
}

Result<std::optional<Ipv4Address>> MemoryStore::addressOf(const Subnet& subnet,
                                                          std::string_view owner) {
  std::scoped_lock lock(mutex_);
  const NetworkState* state = findState(subnet);
  if (state == nullptr) {
    return std::nullopt;
  }
  auto it = state->ownerToAddress.find(owner);
  if (it == state->ownerToAddress.end()) {
    return std::nullopt;
  }
  return Ipv4Address(it->second);
}

Result<void> MemoryStore::releaseOwner(const Subnet& subnet, std::string_view owner) {
  std::scoped_lock lock(mutex_);
  auto it = networks_.find(keyOf(subnet));
  if (it == networks_.end()) {
    return {};
  }
  NetworkState& state = it->second;
  if (auto held = state.ownerToAddress.find(owner); held != state.ownerToAddress.end()) {
    state.erase(held->second);
  }
  return {};
}

Result<void> MemoryStore::releaseAddress(const Subnet& subnet, Ipv4Address address) {
  std::scoped_lock lock(mutex_);
  auto it = networks_.find(keyOf(subnet));
  if (it != networks_.end() && subnet.containsHost(address)) {
    it->second.erase(address.value());
  }
  return {};
}

Result<std::vector<Lease>> MemoryStore::leases(const Subnet& subnet) {
  std::scoped_lock lock(mutex_);
  std::vector<Lease> out;
  if (const NetworkState* state = findState(subnet)) {
    out.reserve(state->addressToOwner.size());
    for (const auto& [address, owner] : state->addressToOwner) {
      out.push_back(Lease{Ipv4Address(address), *owner});
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

size_t MemoryStore::bitmapBytes(const Subnet& subnet) const {
  std::scoped_lock lock(mutex_);
  const NetworkState* state = findState(subnet);
  return state == nullptr ? 0 : state->used.size() * sizeof(uint64_t);
}

}  // namespace ovsplane::ipam
