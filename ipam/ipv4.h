#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "ipam/error.h"

namespace ovsplane::ipam {

/** An IPv4 address as a host-order 32-bit value. Cheap to copy. */
class Ipv4Address {
 public:
  constexpr Ipv4Address() = default;
  constexpr explicit Ipv4Address(uint32_t value) : value_(value) {}

  /** Parses dotted-quad text: exactly four decimal octets 0-255, no leading zeros, nothing else
   *  (no whitespace, no IPv6). Errors name the offending text. */
  static Result<Ipv4Address> parse(std::string_view text);

  constexpr uint32_t value() const { return value_; }
  std::string toString() const;

  constexpr auto operator<=>(const Ipv4Address&) const = default;

 private:
  uint32_t value_ = 0;
};

/**
 * An IPv4 network as users write it, with the gateway it implies.
 * "10.0.6.1/24" is network 10.0.6.0/24 with gateway 10.0.6.1; "10.0.6.0/24" is the same network
 * with the gateway on the first host address. The network, gateway and broadcast addresses are
 * never handed out. Prefixes /8 to /30 are accepted.
 */
class Subnet {
 public:
  static constexpr int kMinPrefix = 8;   // a /8 is the largest network ovsplane manages
  static constexpr int kMaxPrefix = 30;  // /31 and /32 leave no room for gateway + host

  /** An empty value (0.0.0.0/0), only to be assigned over; parse() makes usable ones. */
  Subnet() = default;

  /** Parses "a.b.c.d/len". Errors are messages fit for users: garbage, bad octets, bad or
   *  unsupported prefixes, IPv6 ("not supported yet"), a gateway on the broadcast address. */
  static Result<Subnet> parse(std::string_view text);

  Ipv4Address network() const { return network_; }
  Ipv4Address gateway() const { return gateway_; }
  Ipv4Address broadcast() const { return Ipv4Address(network_.value() | ~mask()); }
  int prefixLength() const { return prefix_; }
  uint32_t mask() const { return prefix_ == 0 ? 0 : ~uint32_t{0} << (32 - prefix_); }
  Ipv4Address firstHost() const { return Ipv4Address(network_.value() + 1); }
  Ipv4Address lastHost() const { return Ipv4Address(broadcast().value() - 1); }
  /** Host addresses in the network (excluding network and broadcast, including the gateway). */
  uint32_t hostCount() const { return lastHost().value() - firstHost().value() + 1; }
  bool containsHost(Ipv4Address address) const {
    return address >= firstHost() && address <= lastHost();
  }
  /** True when the two networks share an address (one contains the other, or they are equal). */
  bool overlaps(const Subnet& other) const {
    return network_ <= other.broadcast() && other.network_ <= broadcast();
  }

  /** Canonical network text, e.g. "10.0.6.0/24": the identity of the network. */
  std::string toString() const;
  /** Canonical text with the gateway, e.g. "10.0.6.1/24" (parses back to an equal Subnet). */
  std::string toGatewayString() const;

  auto operator<=>(const Subnet&) const = default;

 private:
  Subnet(Ipv4Address network, int prefix, Ipv4Address gateway)
      : network_(network), prefix_(prefix), gateway_(gateway) {}

  Ipv4Address network_;
  int prefix_ = 0;
  Ipv4Address gateway_;
};

}  // namespace ovsplane::ipam
