#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ipam/store.h"

namespace ovsplane::ipam {

/**
 * A Store in process memory, for tests and for a single process that keeps no state across
 * restarts. Per network: one bit per host address (a /8 costs 2 MiB whatever its fill) plus one
 * owner record per lease. Thread-safe (one mutex); never fails.
 */
class MemoryStore final : public Store {
 public:
  Result<ReserveOutcome> reserve(const Subnet& subnet, Ipv4Address address,
                                 std::string_view owner) override;
  Result<std::optional<Ipv4Address>> addressOf(const Subnet& subnet,
                                               std::string_view owner) override;
  Result<ReserveNextOutcome> reserveNext(const Subnet& subnet, std::string_view owner) override;
  Result<void> releaseOwner(const Subnet& subnet, std::string_view owner) override;
  Result<void> releaseAddress(const Subnet& subnet, Ipv4Address address) override;
  Result<std::vector<Lease>> leases(const Subnet& subnet) override;

  /** Bytes held for `subnet`'s allocation bitmap (0 for a network never touched). */
  size_t bitmapBytes(const Subnet& subnet) const;

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct NetworkState {
    explicit NetworkState(const Subnet& subnet);
    uint32_t base;               // first host address value; bit i = base + i
    std::vector<uint64_t> used;  // one bit per host address
    std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>> ownerToAddress;
    // Points at the key in ownerToAddress (node keys never move): each owner is stored once.
    std::unordered_map<uint32_t, const std::string*> addressToOwner;
    std::optional<Ipv4Address> last;

    bool isUsed(uint32_t address) const;
    std::optional<Ipv4Address> firstFree(Ipv4Address from, Ipv4Address to) const;
    Result<ReserveOutcome> reserve(const Subnet& subnet, Ipv4Address address,
                                   std::string_view owner);
    void setUsed(uint32_t address, bool used);
    void erase(uint32_t address);
  };

  NetworkState& stateFor(const Subnet& subnet);               // requires mutex_
  const NetworkState* findState(const Subnet& subnet) const;  // requires mutex_

  mutable std::mutex mutex_;
  // Keyed by (network, prefix): the gateway does not change a network's identity.
  std::map<std::pair<uint32_t, int>, NetworkState> networks_;
};

}  // namespace ovsplane::ipam
