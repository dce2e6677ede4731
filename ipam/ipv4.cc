#include "ipam/ipv4.h"

#include <charconv>
#include <optional>

#include <fmt/format.h>

namespace ovsplane::ipam {
namespace {

constexpr size_t kMaxEchoedInput = 64;

/** The input, quoted and shortened, safe to put in a message (hostile strings stay readable). */
std::string quoted(std::string_view text) {
  // Bounded by what is printed, not by what is read: escapes take four characters each.
  std::string out = "\"";
  size_t i = 0;
  for (; i < text.size() && out.size() <= kMaxEchoedInput; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  if (i < text.size()) {
    out += "...";
  }
  return out + "\"";
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }

/** Parses a decimal number made of 1-3 digits without a leading zero (unless it is "0"). */
std::optional<unsigned> parseSmallDecimal(std::string_view digits) {
  if (digits.empty() || digits.size() > 3) {
    return std::nullopt;
  }
  for (char c : digits) {
    if (!isDigit(c)) {
      return std::nullopt;
    }
  }
  if (digits.size() > 1 && digits.front() == '0') {
    return std::nullopt;
  }
  unsigned value = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), value);
  return value;
}

/** Parses a dotted quad; the error is the reason alone, for callers to prefix with context. */
std::expected<Ipv4Address, std::string> parseAddress(std::string_view text) {
  if (text.find(':') != std::string_view::npos) {
    return std::unexpected("IPv6 is not supported yet");
  }
  uint32_t value = 0;
  std::string_view rest = text;
  for (int octet = 0; octet < 4; ++octet) {
    const size_t dot = rest.find('.');
    const std::string_view part = octet < 3 ? rest.substr(0, dot) : rest;
    if (octet < 3 && dot == std::string_view::npos) {
      return std::unexpected(fmt::format("{} is not four dot-separated octets", quoted(text)));
    }
    const auto number = parseSmallDecimal(part);
    if (!number) {
      return std::unexpected(fmt::format(
          "octet {} must be a decimal number 0-255 without leading zeros", quoted(part)));
    }
    if (*number > 255) {
      return std::unexpected(fmt::format("octet {} is out of range 0-255", *number));
    }
    value = (value << 8) | *number;
    if (octet < 3) {
      rest.remove_prefix(dot + 1);
    }
  }
  return Ipv4Address(value);
}

}  // namespace

Result<Ipv4Address> Ipv4Address::parse(std::string_view text) {
  auto address = parseAddress(text);
  if (!address) {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("invalid IPv4 address {}: {}", quoted(text), address.error()));
  }
  return *address;
}

std::string Ipv4Address::toString() const {
  return fmt::format("{}.{}.{}.{}", value_ >> 24, (value_ >> 16) & 0xff, (value_ >> 8) & 0xff,
                     value_ & 0xff);
}

Result<Subnet> Subnet::parse(std::string_view text) {
  if (text.empty()) {
    return makeError(ErrorCode::InvalidArgument,
                     "invalid CIDR \"\": empty (expected e.g. 10.0.6.1/24)");
  }
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    if (text.find(':') != std::string_view::npos) {
      return makeError(ErrorCode::InvalidArgument,
                       fmt::format("invalid CIDR {}: IPv6 is not supported yet", quoted(text)));
    }
    return makeError(
        ErrorCode::InvalidArgument,
        fmt::format("invalid CIDR {}: missing /prefix (expected e.g. 10.0.6.1/24)", quoted(text)));
  }
  auto address = parseAddress(text.substr(0, slash));
  if (!address) {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("invalid CIDR {}: {}", quoted(text), address.error()));
  }
  const std::string_view prefixText = text.substr(slash + 1);
  const auto prefix = parseSmallDecimal(prefixText);
  if (!prefix || prefixText.size() > 2) {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("invalid CIDR {}: prefix {} must be a decimal number 0-32",
                                 quoted(text), quoted(prefixText)));
  }
  if (*prefix > 32) {
    return makeError(
        ErrorCode::InvalidArgument,
        fmt::format("invalid CIDR {}: prefix /{} is out of range 0-32", quoted(text), *prefix));
  }
  if (*prefix > kMaxPrefix) {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("invalid CIDR {}: a /{} has no room for a gateway and a host "
                                 "(use /{} or shorter)",
                                 quoted(text), *prefix, kMaxPrefix));
  }
  if (*prefix < kMinPrefix) {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("invalid CIDR {}: a /{} is larger than ovsplane manages (use /{} "
                                 "or longer)",
                                 quoted(text), *prefix, kMinPrefix));
  }
  const int length = static_cast<int>(*prefix);
  const uint32_t mask = ~uint32_t{0} << (32 - length);
  const Ipv4Address network(address->value() & mask);
  Subnet subnet(network, length, *address);
  if (*address == network) {
    subnet.gateway_ = subnet.firstHost();
  } else if (*address == subnet.broadcast()) {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("invalid CIDR {}: {} is the broadcast address and cannot be the "
                                 "gateway",
                                 quoted(text), address->toString()));
  }
  return subnet;
}

std::string Subnet::toString() const { return fmt::format("{}/{}", network_.toString(), prefix_); }

std::string Subnet::toGatewayString() const {
  return fmt::format("{}/{}", gateway_.toString(), prefix_);
}

}  // namespace ovsplane::ipam
