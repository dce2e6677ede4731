// Fuzzes what users write: CIDRs, addresses, MACs and create-body environments. Parsers must
// accept or refuse with a message, never crash; accepted CIDRs must be self-consistent.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "adapter/create_body.h"
#include "ipam/ipv4.h"
#include "netdrv/naming.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  using ovsplane::ipam::Subnet;
  if (auto subnet = Subnet::parse(input)) {
    // Invariants of an accepted network.
    if (!subnet->containsHost(subnet->gateway())) __builtin_trap();
    if (subnet->hostCount() < 2) __builtin_trap();
    auto again = Subnet::parse(subnet->toGatewayString());
    if (!again || !(*again == *subnet)) __builtin_trap();
  } else if (subnet.error().message.empty() || subnet.error().message.size() > 400) {
    __builtin_trap();  // refusals are short and say why
  }
  if (auto address = ovsplane::ipam::Ipv4Address::parse(input)) {
    if (address->toString() != input) __builtin_trap();  // canonical text only
  }
  (void)ovsplane::netdrv::parseMac(input);
  nlohmann::json body = {{"Image", "x"},
                         {"Env", {"OVSPLANE_CIDR=" + input, "OVSPLANE_IP=" + input}},
                         {"MacAddress", input}};
  (void)ovsplane::adapter::readNetworkRequest(body);
  body["Env"] = {"SOCKETPLANE_CIDR=" + input};
  if (auto request = ovsplane::adapter::readNetworkRequest(body); request && *request) {
    nlohmann::json rewritten = body;
    (void)ovsplane::adapter::rewriteForNetworkContainer(rewritten, "id", nlohmann::json::object());
  }
  return 0;
}
