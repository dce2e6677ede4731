#include "adapter/plugin_service.h"

#include <functional>
#include <map>
#include <optional>
#include <string_view>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "common/json_limits.h"

namespace ovsplane::adapter {
namespace {

using netdrv::ErrorCode;
using netdrv::Result;
using nlohmann::json;

constexpr const char* kContentType = "application/vnd.docker.plugins.v1+json";
constexpr const char* kGatewayRequest = "com.docker.network.gateway";

HttpAnswer reply(const json& body, unsigned status = 200) {
  return HttpAnswer{status, kContentType, dumpJson(body)};
}

/** Docker's error shape for both APIs (network: Err, IPAM: Error). */
HttpAnswer errorReply(std::string_view message) {
  const std::string text = fmt::format("ovsplane: {}", message);
  return reply(json{{"Err", text}, {"Error", text}});
}

/** A request field that must be a string ("" when absent or not a string). */
std::string text(const json& body, const char* key) {
  auto it = body.find(key);
  return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json& member(const json& body, const char* key) {
  static const json kNull;
  auto it = body.find(key);
  return it == body.end() ? kNull : *it;
}

Result<ipam::Subnet> poolOf(const json& body) {
  auto pool = ipam::Subnet::parse(text(body, "PoolID"));
  if (!pool) {
    return netdrv::makeError(ErrorCode::InvalidRequest,
                             fmt::format("unknown pool {:?}", text(body, "PoolID")));
  }
  return *pool;
}

/** "10.0.7.2" or "" (Docker leaves it empty for "any"). */
Result<std::optional<ipam::Ipv4Address>> optionalAddress(const std::string& value) {
  if (value.empty()) return std::optional<ipam::Ipv4Address>();
  // Docker sends a bare address; a prefix ("10.0.7.2/24", as in IPv4Data's Gateway) is dropped.
  auto parsed = ipam::Ipv4Address::parse(value.substr(0, value.find('/')));
  if (!parsed) {
    return netdrv::makeError(ErrorCode::InvalidRequest,
                             fmt::format("address {:?}: {}", value, parsed.error().message));
  }
  return std::optional<ipam::Ipv4Address>(*parsed);
}

/** The MTU of -o com.docker.network.driver.mtu, from CreateNetwork's generic options. */
Result<std::optional<uint32_t>> mtuOption(const json& options) {
  const json& generic = member(options, "com.docker.network.generic");
  if (!generic.is_object()) return std::optional<uint32_t>();
  auto it = generic.find("com.docker.network.driver.mtu");
  if (it == generic.end()) return std::optional<uint32_t>();
  const std::string value = it->is_string()            ? it->get<std::string>()
                            : it->is_number_unsigned() ? std::to_string(it->get<uint64_t>())
                                                       : std::string();
  auto mtu = netdrv::parseMtu(value);
  if (!mtu) {
    return netdrv::makeError(ErrorCode::InvalidRequest,
                             "com.docker.network.driver.mtu must be a number from 68 to 65535");
  }
  return std::optional<uint32_t>(*mtu);
}

bool flag(const json& options, const char* key) {
  const json& value = member(options, key);
  return (value.is_boolean() && value.get<bool>()) ||
         (value.is_string() && value.get<std::string>() == "true");
}

/** The empty answer of a call that only acts, or its error. */
Result<json> done(const Result<void>& acted) {
  if (!acted) return std::unexpected(acted.error());
  return json::object();
}

/** One endpoint as Join and EndpointOperInfo describe it. */
json joinReply(const netdrv::DockerEndpoint& endpoint) {
  json out = {{"InterfaceName", {{"SrcName", endpoint.containerVeth}, {"DstPrefix", "eth"}}},
              {"DisableGatewayService", false}};
  if (endpoint.gateway) out["Gateway"] = endpoint.gateway->toString();
  return out;
}

/** What each call does with its (object) body: the answer, or an error message. */
using Call = std::function<Result<json>(netdrv::PluginDriver&, const json&)>;

Result<json> requestPool(netdrv::PluginDriver& driver, const json& body) {
  const json& v6 = member(body, "V6");
  auto pool = driver.requestPool(text(body, "Pool"), text(body, "SubPool"),
                                 v6.is_boolean() && v6.get<bool>());
  if (!pool) return std::unexpected(pool.error());
  return json{{"PoolID", pool->toString()}, {"Pool", pool->toString()}, {"Data", json::object()}};
}

Result<json> requestAddress(netdrv::PluginDriver& driver, const json& body) {
  auto pool = poolOf(body);
  if (!pool) return std::unexpected(pool.error());
  auto wanted = optionalAddress(text(body, "Address"));
  if (!wanted) return std::unexpected(wanted.error());
  const json& options = member(body, "Options");
  const bool gateway =
      options.is_object() && text(options, "RequestAddressType") == kGatewayRequest;
  auto address =
      gateway ? driver.requestGateway(*pool, *wanted) : driver.requestAddress(*pool, *wanted);
  if (!address) return std::unexpected(address.error());
  return json{{"Address", fmt::format("{}/{}", address->toString(), pool->prefixLength())},
              {"Data", json::object()}};
}

Result<json> releaseAddress(netdrv::PluginDriver& driver, const json& body) {
  auto pool = poolOf(body);
  if (!pool) return std::unexpected(pool.error());
  auto address = optionalAddress(text(body, "Address"));
  if (!address) return std::unexpected(address.error());
  if (!*address) return json::object();
  return done(driver.releaseAddress(*pool, **address));
}

Result<json> createNetwork(netdrv::PluginDriver& driver, const json& body) {
  const json& v4 = member(body, "IPv4Data");
  if (!v4.is_array() || v4.size() != 1 || !v4[0].is_object()) {
    return netdrv::makeError(ErrorCode::InvalidRequest,
                             "an ovsplane network has exactly one IPv4 --subnet");
  }
  if (const json& v6 = member(body, "IPv6Data"); v6.is_array() && !v6.empty()) {
    return netdrv::makeError(ErrorCode::InvalidRequest, "IPv6 is not supported");
  }
  // Addresses must come from the cluster's state database, not from another IPAM driver (which
  // knows nothing of the other hosts).
  if (!text(v4[0], "AddressSpace").starts_with(kPluginName)) {
    return netdrv::makeError(ErrorCode::InvalidRequest,
                             "give the network --ipam-driver ovsplane too: addresses must come "
                             "from the cluster's state database");
  }
  const std::string pool = text(v4[0], "Pool");
  std::string gateway = text(v4[0], "Gateway");
  gateway = gateway.substr(0, gateway.find('/'));
  const auto slash = pool.find('/');
  auto subnet = ipam::Subnet::parse(
      slash == std::string::npos || gateway.empty() ? pool : gateway + pool.substr(slash));
  if (!subnet) {
    return netdrv::makeError(ErrorCode::InvalidRequest,
                             fmt::format("pool {}: {}", pool, subnet.error().message));
  }
  const json& options = member(body, "Options");
  auto mtu = mtuOption(options);
  if (!mtu) return std::unexpected(mtu.error());
  return done(driver.createNetwork(
      netdrv::DockerNetworkSpec{.networkId = text(body, "NetworkID"),
                                .subnet = *subnet,
                                .internal = flag(options, "com.docker.network.internal"),
                                .mtu = *mtu}));
}

Result<json> createEndpoint(netdrv::PluginDriver& driver, const json& body) {
  // Docker 1.10 on: "Interface" (an object); older: "Interfaces" (a list).
  json interface = member(body, "Interface");
  if (!interface.is_object()) {
    const json& list = member(body, "Interfaces");
    interface = list.is_array() && !list.empty() && list[0].is_object() ? list[0] : json::object();
  }
  const std::string address = text(interface, "Address");
  const auto slash = address.find('/');
  auto ip = ipam::Ipv4Address::parse(address.substr(0, slash));
  int prefix = -1;
  if (slash != std::string::npos && slash + 1 < address.size() && address.size() - slash <= 3) {
    prefix = std::stoi(address.substr(slash + 1));  // at most two digits: no overflow
  }
  if (!ip || prefix < 1 || prefix > 30) {
    return netdrv::makeError(ErrorCode::InvalidRequest,
                             fmt::format("endpoint address {:?}: expected an IPv4 address from "
                                         "ovsplane's IPAM (--ipam-driver ovsplane)",
                                         address));
  }
  const json& options = member(body, "Options");
  if (const json& ports = member(options, "com.docker.network.portmap");
      ports.is_array() && !ports.empty()) {
    return netdrv::makeError(ErrorCode::InvalidRequest,
                             "port publishing (-p) is not supported on ovsplane networks: reach "
                             "the container at its address from its network, or through the "
                             "host's gateway (see the README)");
  }
  const std::string mac = text(interface, "MacAddress");
  auto endpoint = driver.createEndpoint(netdrv::DockerEndpointRequest{
      .networkId = text(body, "NetworkID"),
      .endpointId = text(body, "EndpointID"),
      .ip = *ip,
      .prefixLength = prefix,
      .mac = mac.empty() ? std::nullopt : std::optional<std::string>(mac)});
  if (!endpoint) return std::unexpected(endpoint.error());
  // Docker takes back only what it did not give (a MAC it gave must not be answered).
  if (!mac.empty()) return json{{"Interface", json::object()}};
  return json{{"Interface", {{"MacAddress", endpoint->mac}}}};
}

Result<json> join(netdrv::PluginDriver& driver, const json& body) {
  auto endpoint = driver.endpoint(text(body, "EndpointID"));
  if (!endpoint) return std::unexpected(endpoint.error());
  return joinReply(*endpoint);
}

Result<json> operInfo(netdrv::PluginDriver& driver, const json& body) {
  auto endpoint = driver.endpoint(text(body, "EndpointID"));
  if (!endpoint) return std::unexpected(endpoint.error());
  return json{{"Value",
               {{"ovsplane.ip", endpoint->ip.toString()},
                {"ovsplane.mac", endpoint->mac},
                {"ovsplane.veth", endpoint->hostVeth},
                {"ovsplane.vni", std::to_string(endpoint->vni)}}}};
}

Result<json> nothing(netdrv::PluginDriver&, const json&) { return json::object(); }

const std::map<std::string_view, Call>& calls() {
  static const std::map<std::string_view, Call> table = {
      {"/Plugin.Activate",
       [](netdrv::PluginDriver&, const json&) -> Result<json> {
         return json{{"Implements", {"NetworkDriver", "IpamDriver"}}};
       }},
      {"/NetworkDriver.GetCapabilities",
       [](netdrv::PluginDriver&, const json&) -> Result<json> {
         // Local: every host creates the network itself; the state database makes the same
         // subnet one L2 network (one VNI) across hosts.
         return json{{"Scope", "local"}, {"ConnectivityScope", "global"}};
       }},
      {"/NetworkDriver.CreateNetwork", createNetwork},
      {"/NetworkDriver.DeleteNetwork",
       [](netdrv::PluginDriver& driver, const json& body) {
         return done(driver.deleteNetwork(text(body, "NetworkID")));
       }},
      {"/NetworkDriver.CreateEndpoint", createEndpoint},
      {"/NetworkDriver.EndpointOperInfo", operInfo},
      {"/NetworkDriver.DeleteEndpoint",
       [](netdrv::PluginDriver& driver, const json& body) {
         return done(driver.deleteEndpoint(text(body, "EndpointID")));
       }},
      {"/NetworkDriver.Join", join},
      {"/NetworkDriver.Leave", nothing},
      {"/NetworkDriver.DiscoverNew", nothing},
      {"/NetworkDriver.DiscoverDelete", nothing},
      {"/NetworkDriver.ProgramExternalConnectivity", nothing},
      {"/NetworkDriver.RevokeExternalConnectivity", nothing},
      {"/IpamDriver.GetCapabilities",
       [](netdrv::PluginDriver&, const json&) -> Result<json> {
         // No replay after a dockerd restart: the leases live in the state database already,
         // and Docker releases the addresses of the endpoints it cleans up.
         return json{{"RequiresMACAddress", false}, {"RequiresRequestReplay", false}};
       }},
      {"/IpamDriver.GetDefaultAddressSpaces",
       [](netdrv::PluginDriver&, const json&) -> Result<json> {
         return json{{"LocalDefaultAddressSpace", "ovsplane-local"},
                     {"GlobalDefaultAddressSpace", "ovsplane-global"}};
       }},
      {"/IpamDriver.RequestPool", requestPool},
      {"/IpamDriver.ReleasePool", nothing},  // the network stays the cluster's
      {"/IpamDriver.RequestAddress", requestAddress},
      {"/IpamDriver.ReleaseAddress", releaseAddress},
  };
  return table;
}

}  // namespace

PluginService::PluginService(std::shared_ptr<netdrv::PluginDriver> driver, Metrics& metrics)
    : driver_(std::move(driver)), metrics_(metrics) {}

HttpAnswer PluginService::handle(const HttpRequestView& request) {
  const auto& table = calls();
  auto call = table.find(request.target);
  if (call == table.end()) {
    metrics_.countPluginCall("unknown", "error");
    return reply(json{{"Err", fmt::format("ovsplane: no such plugin call {}", request.target)}},
                 404);
  }
  const std::string method(request.target.substr(1));
  if (request.method != "POST") {
    metrics_.countPluginCall(method, "error");
    return reply(json{{"Err", "ovsplane: plugin calls are POST"}}, 405);
  }
  // Docker sends "{}" or nothing for calls without arguments.
  json body = request.body.empty() ? json::object() : parseJsonBounded(request.body);
  if (body.is_discarded() || !body.is_object()) {
    metrics_.countPluginCall(method, "error");
    return reply(json{{"Err", "ovsplane: the body is not a JSON object"}}, 400);
  }
  try {
    auto answer = call->second(*driver_, body);
    if (!answer) {
      metrics_.countPluginCall(method, "error");
      spdlog::warn("plugin {}: {}", method, answer.error().message);
      return errorReply(answer.error().message);
    }
    metrics_.countPluginCall(method, "ok");
    spdlog::debug("plugin {}: {}", method, dumpJson(*answer));
    return reply(*answer);
  } catch (const std::exception& e) {  // a JSON type surprise: never the server's end
    metrics_.countPluginCall(method, "error");
    return reply(json{{"Err", fmt::format("ovsplane: {}", e.what())}}, 400);
  }
}

}  // namespace ovsplane::adapter
