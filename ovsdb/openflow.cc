#include "ovsdb/openflow.h"

#include <arpa/inet.h>

#include <array>

#include <fmt/format.h>

#include "shim_openflow.h"

namespace ovsplane::ovsdb {
namespace {

std::unexpected<Error> openflowError(int rc, const std::array<char, 512>& message) {
  return makeError(rc == OVSPLANE_OF_REFUSED ? ErrorCode::Backend : ErrorCode::Timeout,
                   std::string(message.data()));
}

}  // namespace

OpenFlow::OpenFlow(std::string runDir, std::chrono::milliseconds connectTimeout)
    : runDir_(std::move(runDir)), connectTimeout_(connectTimeout) {}

uint64_t OpenFlow::gatewayCookie(uint32_t vni) {
  return (uint64_t{0x6f767067} << 32) | vni;  // "ovpg" + VNI
}

std::string OpenFlow::target(const std::string& bridge) const {
  return fmt::format("unix:{}/{}.mgmt", runDir_, bridge);
}

Result<bool> OpenFlow::ensureGatewayFlows(const GatewayFlowSpec& spec) {
  ovsplane_gateway_flows flows{};
  flows.cookie = gatewayCookie(spec.vni);
  std::copy(spec.mac.begin(), spec.mac.end(), flows.mac);
  flows.ip_be = htonl(spec.ip.value());
  std::array<char, 512> message{};
  bool installed = false;
  const int rc = ovsplane_of_ensure_gateway_flows(target(spec.bridge).c_str(), &flows,
                                                  static_cast<int>(connectTimeout_.count()),
                                                  &installed, message.data(), message.size());
  if (rc != 0) return openflowError(rc, message);
  return installed;
}

Result<void> OpenFlow::removeGatewayFlows(const std::string& bridge, uint32_t vni) {
  std::array<char, 512> message{};
  const int rc = ovsplane_of_delete_flows(target(bridge).c_str(), gatewayCookie(vni),
                                          static_cast<int>(connectTimeout_.count()), message.data(),
                                          message.size());
  if (rc != 0) return openflowError(rc, message);
  return {};
}

Result<size_t> OpenFlow::countGatewayFlows(const std::string& bridge, uint32_t vni) {
  std::array<char, 512> message{};
  size_t count = 0;
  const int rc = ovsplane_of_count_flows(target(bridge).c_str(), gatewayCookie(vni),
                                         static_cast<int>(connectTimeout_.count()), &count,
                                         message.data(), message.size());
  if (rc != 0) return openflowError(rc, message);
  return count;
}

}  // namespace ovsplane::ovsdb
