#include "adapter/create_body.h"

#include <fmt/format.h>

namespace ovsplane::adapter {

using netdrv::makeError;
namespace {

constexpr std::string_view kCidrVariables[] = {"OVSPLANE_CIDR", "SOCKETPLANE_CIDR"};
constexpr std::string_view kIpVariable = "OVSPLANE_IP";
constexpr std::string_view kNatVariable = "OVSPLANE_NAT";

/** OVSPLANE_NAT's value: 1/true/on or 0/false/off. */
std::optional<bool> parseSwitch(std::string_view text) {
  for (std::string_view yes : {"1", "true", "on", "yes"}) {
    if (text == yes) return true;
  }
  for (std::string_view no : {"0", "false", "off", "no"}) {
    if (text == no) return false;
  }
  return std::nullopt;
}

/** True for null, "", false, 0, [] and {}: what the docker CLI sends for "not set". */
bool isUnset(const nlohmann::json* value) {
  if (value == nullptr || value->is_null()) return true;
  if (value->is_string()) return value->get_ref<const std::string&>().empty();
  if (value->is_boolean()) return !value->get<bool>();
  if (value->is_number()) return value->get<double>() == 0;
  if (value->is_array() || value->is_object()) return value->empty();
  return false;
}

const nlohmann::json* find(const nlohmann::json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

bool validMac(const std::string& mac) {
  if (mac.size() != 17) return false;
  for (size_t i = 0; i < mac.size(); ++i) {
    const char c = mac[i];
    if (i % 3 == 2) {
      if (c != ':') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  // Unicast only: the low bit of the first octet is the multicast bit.
  return (std::stoi(mac.substr(0, 2), nullptr, 16) & 1) == 0;
}

}  // namespace

Result<std::optional<NetworkRequest>> readNetworkRequest(const nlohmann::json& body) {
  if (!body.is_object()) {
    return makeError(ErrorCode::InvalidRequest, "the container create body is not a JSON object");
  }
  const nlohmann::json* env = find(body, "Env");
  if (env == nullptr || !env->is_array()) {
    return std::optional<NetworkRequest>();
  }
  std::optional<std::pair<std::string, std::string>> cidr;  // variable, value
  std::optional<std::string> ipText;
  std::optional<std::string> natText;
  for (const auto& entry : *env) {
    if (!entry.is_string()) continue;
    const std::string& text = entry.get_ref<const std::string&>();
    const size_t equals = text.find('=');
    if (equals == std::string::npos) continue;
    const std::string_view name(text.data(), equals);
    const std::string value = text.substr(equals + 1);
    for (std::string_view variable : kCidrVariables) {
      if (name != variable) continue;
      if (cidr && cidr->second != value) {
        return makeError(ErrorCode::InvalidRequest,
                         fmt::format("{}={} and {}={} name different networks", cidr->first,
                                     cidr->second, name, value));
      }
      cidr = std::pair(std::string(name), value);
    }
    if (name == kIpVariable) ipText = value;
    if (name == kNatVariable) natText = value;
  }
  if (!cidr) {
    if (ipText) {
      return makeError(ErrorCode::InvalidRequest,
                       "OVSPLANE_IP is set but OVSPLANE_CIDR is not: say which network");
    }
    return std::optional<NetworkRequest>();
  }
  auto subnet = ipam::Subnet::parse(cidr->second);
  if (!subnet) {
    return makeError(ErrorCode::InvalidRequest,
                     fmt::format("{}: {}", cidr->first, subnet.error().message));
  }
  NetworkRequest request{*subnet, cidr->first, std::nullopt, std::nullopt, std::nullopt};
  if (natText) {
    request.nat = parseSwitch(*natText);
    if (!request.nat) {
      return makeError(ErrorCode::InvalidRequest,
                       fmt::format("OVSPLANE_NAT={} is neither 1 (egress NAT, the host reaches "
                                   "the network) nor 0 (a sealed network)",
                                   natText->substr(0, 64)));
    }
  }
  if (ipText) {
    auto ip = ipam::Ipv4Address::parse(*ipText);
    if (!ip) {
      return makeError(ErrorCode::InvalidRequest,
                       fmt::format("OVSPLANE_IP: {}", ip.error().message));
    }
    request.ip = *ip;
  }
  if (const auto* mac = find(body, "MacAddress"); !isUnset(mac)) {
    if (!mac->is_string() || !validMac(mac->get<std::string>())) {
      return makeError(
          ErrorCode::InvalidRequest,
          fmt::format("MacAddress {} is not a unicast MAC like 02:42:0a:00:06:02", mac->dump()));
    }
    request.macAddress = mac->get<std::string>();
    if (request.macAddress->starts_with("02:6f:76:") ||
        request.macAddress->starts_with("02:6F:76:")) {
      return makeError(
          ErrorCode::InvalidRequest,
          fmt::format("MacAddress {}: 02:6f:76:... is reserved for ovsplane's gateways",
                      *request.macAddress));
    }
  }
  return std::optional<NetworkRequest>(std::move(request));
}

Result<void> checkRewritable(const nlohmann::json& body) {
  // The members ovsplane reads or rewrites must have Docker's types: a body Docker would refuse
  // is refused here, before an address is allocated for it.
  auto wrongType = [](std::string_view member, std::string_view type) {
    return makeError(ErrorCode::InvalidRequest,
                     fmt::format("the create body's {} must be {}", member, type));
  };
  for (const char* member : {"HostConfig", "Labels"}) {
    if (const auto* value = find(body, member);
        value != nullptr && !value->is_null() && !value->is_object()) {
      return wrongType(member, "an object");
    }
  }
  if (const auto* env = find(body, "Env"); env != nullptr && !env->is_null()) {
    if (!env->is_array()) return wrongType("Env", "a list of strings");
    for (const auto& entry : *env) {
      if (!entry.is_string()) return wrongType("Env", "a list of strings");
    }
  }
  for (const char* member : {"Hostname", "Domainname"}) {
    if (const auto* value = find(body, member);
        value != nullptr && !value->is_null() && !value->is_string()) {
      return wrongType(member, "a string");
    }
  }
  const nlohmann::json* hostConfig = find(body, "HostConfig");
  const nlohmann::json empty = nlohmann::json::object();
  const nlohmann::json& hc = hostConfig != nullptr && hostConfig->is_object() ? *hostConfig : empty;
  if (!isUnset(find(body, "ExposedPorts")) || !isUnset(find(hc, "PortBindings")) ||
      !isUnset(find(hc, "PublishAllPorts"))) {
    return makeError(ErrorCode::InvalidRequest,
                     "port publishing (-p, -P, --expose) cannot be combined with an ovsplane "
                     "network: the container is reachable on its overlay address instead");
  }
  if (!isUnset(find(hc, "Links"))) {
    return makeError(ErrorCode::InvalidRequest,
                     "--link cannot be combined with an ovsplane network: containers on one CIDR "
                     "reach each other by address");
  }
  const auto* mode = find(hc, "NetworkMode");
  if (mode != nullptr && !mode->is_null() && !mode->is_string()) {
    return wrongType("HostConfig.NetworkMode", "a string");
  }
  if (!isUnset(mode) && *mode != "default" && *mode != "bridge") {
    // docker-compose attaches every service to its project network: not taken over (the
    // services would lose the project network's names); the plugin path is the compose way.
    const auto* labels = find(body, "Labels");
    const bool compose =
        labels != nullptr && labels->is_object() && labels->contains("com.docker.compose.project");
    return makeError(
        ErrorCode::InvalidRequest,
        compose ? fmt::format("--network={} (docker-compose's project network) cannot be combined "
                              "with OVSPLANE_CIDR: give the project an ovsplane network instead "
                              "(networks: default: driver: ovsplane, ipam: driver: ovsplane with "
                              "a subnet; see the README's Compose section), or network_mode: "
                              "bridge on every service",
                              mode->get<std::string>())
                : fmt::format("--network={} cannot be combined with OVSPLANE_CIDR: put the "
                              "container on an ovsplane network with --network (docker network "
                              "create -d ovsplane --ipam-driver ovsplane) or use OVSPLANE_CIDR "
                              "alone",
                              mode->get<std::string>()));
  }
  return {};
}

Result<MovedSettings> rewriteForNetworkContainer(nlohmann::json& body,
                                                 const std::string& networkContainerId,
                                                 const nlohmann::json& labels) {
  if (auto ok = checkRewritable(body); !ok) {
    return std::unexpected(ok.error());
  }
  MovedSettings moved;
  auto take = [](nlohmann::json& object, const char* key) {
    nlohmann::json value;
    if (object.is_object() && object.contains(key)) {
      value = std::move(object[key]);
      object.erase(key);
    }
    return value;
  };
  moved.hostname = take(body, "Hostname");
  moved.domainname = take(body, "Domainname");
  take(body, "MacAddress");  // used for the veth (readNetworkRequest), refused by Docker here
  take(body, "ExposedPorts");
  if (!body.contains("HostConfig") || !body["HostConfig"].is_object()) {
    body["HostConfig"] = nlohmann::json::object();
  }
  nlohmann::json& hostConfig = body["HostConfig"];
  moved.dns = take(hostConfig, "Dns");
  moved.dnsOptions = take(hostConfig, "DnsOptions");
  moved.dnsSearch = take(hostConfig, "DnsSearch");
  moved.extraHosts = take(hostConfig, "ExtraHosts");
  take(hostConfig, "PortBindings");
  take(hostConfig, "PublishAllPorts");
  take(hostConfig, "Links");
  hostConfig["NetworkMode"] = "container:" + networkContainerId;
  // Endpoint settings for the default network would be refused with container mode too.
  if (body.contains("NetworkingConfig")) body.erase("NetworkingConfig");
  if (!body.contains("Labels") || !body["Labels"].is_object()) {
    body["Labels"] = nlohmann::json::object();
  }
  for (const auto& [key, value] : labels.items()) body["Labels"][key] = value;
  return moved;
}

Result<std::optional<AttachedCreate>> attachCreate(netdrv::NetworkDriver& driver,
                                                   const nlohmann::json& body,
                                                   const std::string& appName) {
  auto request = readNetworkRequest(body);
  if (!request) return std::unexpected(request.error());
  if (!*request) return std::optional<AttachedCreate>();
  // What Docker refuses with container: networking moves to the network-only container (and is
  // refused before anything is allocated); the mode and the label name it once it exists.
  nlohmann::json patched = body;
  auto moved =
      rewriteForNetworkContainer(patched, "", nlohmann::json{{netdrv::labels::kEndpoint, ""}});
  if (!moved) return std::unexpected(moved.error());
  auto attached = driver.attach(netdrv::AttachRequest{.subnet = (*request)->subnet,
                                                      .ip = (*request)->ip,
                                                      .mac = (*request)->macAddress,
                                                      .nat = (*request)->nat,
                                                      .appName = appName,
                                                      .moved = std::move(*moved)});
  if (!attached) return std::unexpected(attached.error());
  patched["HostConfig"]["NetworkMode"] = "container:" + attached->networkContainerId;
  patched["Labels"][netdrv::labels::kEndpoint] = attached->endpointId;
  for (const auto& [key, value] : attached->appLabels) patched["Labels"][key] = value;
  return std::optional<AttachedCreate>(
      AttachedCreate{std::move(patched), attached->endpointId, attached->timings});
}

}  // namespace ovsplane::adapter
