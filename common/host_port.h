#pragma once
// "HOST:PORT" as every address in ovsplane writes it (listen addresses, dockerd's tcp://, adapter
// URLs, OVSDB remotes): an IPv6 host in brackets. The one parser of it. Header-only.

#include <charconv>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace ovsplane {

struct HostPort {
  std::string host;  ///< brackets removed
  uint16_t port = 0;
};

/**
 * "HOST:PORT", "[V6]:PORT", or (when `defaultPort` is not 0) "HOST" / "[V6]" alone. The port is
 * 1..65535 (0 too when `allowZero`: "any free one" for a listener). Errors say what is wrong
 * (the caller names the whole text). Pure.
 */
inline std::expected<HostPort, std::string> parseHostPort(std::string_view text,
                                                          uint16_t defaultPort = 0,
                                                          bool allowZero = false) {
  const auto bracket = text.rfind(']');
  auto colon = text.rfind(':');
  if (bracket != std::string_view::npos && colon != std::string_view::npos && colon < bracket) {
    colon = std::string_view::npos;  // the colons of an IPv6 address in brackets
  }
  if (bracket == std::string_view::npos && colon != std::string_view::npos &&
      text.find(':') != colon) {
    return std::unexpected(std::string("an IPv6 host must be in brackets ([::1]:PORT)"));
  }
  HostPort out;
  std::string_view host = text.substr(0, colon);
  if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
  if (host.empty()) return std::unexpected(std::string("no host"));
  out.host = std::string(host);
  if (colon == std::string_view::npos) {
    if (defaultPort == 0) return std::unexpected(std::string("no port"));
    out.port = defaultPort;
    return out;
  }
  const std::string_view digits = text.substr(colon + 1);
  unsigned value = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || error != std::errc() || end != digits.data() + digits.size() ||
      value > 65535 || (value == 0 && !allowZero)) {
    return std::unexpected("bad port \"" + std::string(digits) + "\"");
  }
  out.port = static_cast<uint16_t>(value);
  return out;
}

/** "host:port", brackets around an IPv6 host. */
inline std::string formatHostPort(std::string_view host, uint16_t port) {
  const bool v6 = host.find(':') != std::string_view::npos;
  return (v6 ? "[" + std::string(host) + "]" : std::string(host)) + ":" + std::to_string(port);
}

}  // namespace ovsplane
