#include "netdrv/docker_replies.h"

#include <ctime>
#include <limits>

#include <fmt/format.h>

#include "common/json_limits.h"

namespace ovsplane::netdrv {
namespace {

using json = nlohmann::json;

/** Unix times beyond this (year 9999) are nonsense from a well-meaning daemon. */
constexpr int64_t kLatestSeconds = 253402300799;

std::map<std::string, std::string> labelsOf(const json* labels) {
  std::map<std::string, std::string> out;
  if (labels != nullptr && labels->is_object()) {
    for (const auto& [key, value] : labels->items()) {
      if (value.is_string()) out.emplace(key, value.get<std::string>());
    }
  }
  return out;
}

/** An integer member within [low, high], else `otherwise`. */
int64_t integerAt(const json* value, int64_t low, int64_t high, int64_t otherwise) {
  if (value == nullptr || !value->is_number_integer()) return otherwise;
  if (value->is_number_unsigned()) {
    const auto v = value->get<uint64_t>();
    return v <= static_cast<uint64_t>(high) ? static_cast<int64_t>(v) : otherwise;
  }
  const auto v = value->get<int64_t>();
  return v >= low && v <= high ? v : otherwise;
}

}  // namespace

std::string withoutSlash(std::string name) {
  if (!name.empty() && name.front() == '/') name.erase(0, 1);
  return name;
}

std::expected<json, std::string> parseReplyJson(std::string_view body,
                                                const json::parser_callback_t& keep) {
  if (!jsonDepthWithin(body)) {
    return std::unexpected(fmt::format("nested deeper than {} levels", kMaxJsonDepth));
  }
  json parsed = json::parse(body, keep, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return std::unexpected(std::string("not JSON"));
  return parsed;
}

const json* jsonMember(const json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string jsonString(const json& object, std::string_view key) {
  const json* value = jsonMember(object, key);
  return value != nullptr && value->is_string() ? value->get<std::string>() : std::string();
}

int64_t rfc3339Ms(const std::string& text) {
  std::tm tm{};
  int millis = 0;
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return 0;
  if (*rest == '.') {
    int digits = 0;
    for (++rest; *rest >= '0' && *rest <= '9'; ++rest) {
      if (digits++ < 3) millis = millis * 10 + (*rest - '0');
    }
    for (; digits < 3; ++digits) millis *= 10;
  }
  const auto seconds = static_cast<int64_t>(timegm(&tm));
  if (seconds < 0 || seconds > kLatestSeconds) return 0;
  return seconds * 1000 + millis;
}

ContainerInfo containerFromInspect(json object) {
  const json empty = json::object();
  const json* state = jsonMember(object, "State");
  const json* settings = jsonMember(object, "NetworkSettings");
  const json* hostConfig = jsonMember(object, "HostConfig");
  const json* config = jsonMember(object, "Config");
  ContainerInfo info;
  info.id = jsonString(object, "Id");
  info.name = withoutSlash(jsonString(object, "Name"));
  if (state != nullptr) {
    const json* running = jsonMember(*state, "Running");
    info.running = running != nullptr && running->is_boolean() && running->get<bool>();
    info.pid = static_cast<int>(
        integerAt(jsonMember(*state, "Pid"), 0, std::numeric_limits<int>::max(), 0));
    info.stateError = jsonString(*state, "Error");
  }
  if (hostConfig != nullptr) {
    if (const json* policy = jsonMember(*hostConfig, "RestartPolicy")) {
      info.restartPolicy = jsonString(*policy, "Name");
    }
  }
  info.createdMs = rfc3339Ms(jsonString(object, "Created"));
  info.sandboxKey = jsonString(settings != nullptr ? *settings : empty, "SandboxKey");
  info.networkMode = jsonString(hostConfig != nullptr ? *hostConfig : empty, "NetworkMode");
  info.labels = labelsOf(config != nullptr ? jsonMember(*config, "Labels") : nullptr);
  info.raw = std::move(object);
  return info;
}

json::parser_callback_t containerListMembers() {
  return [](int depth, json::parse_event_t event, json& parsed) {
    // depth 2: a member of one entry (the list is depth 0, an entry 1)
    if (event != json::parse_event_t::key || depth != 2 || !parsed.is_string()) return true;
    const auto& key = parsed.get_ref<const std::string&>();
    return key == "Id" || key == "Names" || key == "State" || key == "Labels" ||
           key == "HostConfig" || key == "Created";
  };
}

std::expected<std::vector<ContainerInfo>, std::string> containersFromList(const json& list) {
  if (!list.is_array()) return std::unexpected(std::string("reply is not a list"));
  std::vector<ContainerInfo> out;
  out.reserve(list.size());
  for (const auto& entry : list) {
    ContainerInfo info;
    info.id = jsonString(entry, "Id");
    if (const json* names = jsonMember(entry, "Names");
        names != nullptr && names->is_array() && !names->empty() && names->front().is_string()) {
      info.name = withoutSlash(names->front().get<std::string>());
    }
    info.running = jsonString(entry, "State") == "running";
    info.labels = labelsOf(jsonMember(entry, "Labels"));
    if (const json* hostConfig = jsonMember(entry, "HostConfig")) {
      info.networkMode = jsonString(*hostConfig, "NetworkMode");
    }
    info.createdMs = integerAt(jsonMember(entry, "Created"), 0, kLatestSeconds, 0) * 1000;
    out.push_back(std::move(info));
  }
  return out;
}

std::optional<ContainerEvent> containerEventFrom(const json& event) {
  if (jsonString(event, "Type") != "container") return std::nullopt;
  const json* actor = jsonMember(event, "Actor");
  if (actor == nullptr) return std::nullopt;
  ContainerEvent out;
  out.action = jsonString(event, "Action");
  out.id = jsonString(*actor, "ID");
  if (out.id.empty()) return std::nullopt;
  out.attributes = labelsOf(jsonMember(*actor, "Attributes"));
  return out;
}

RuntimeNetwork networkFromInspect(const nlohmann::json& object) {
  RuntimeNetwork network;
  network.id = jsonString(object, "Id");
  network.name = jsonString(object, "Name");
  network.driver = jsonString(object, "Driver");
  if (const auto* internal = jsonMember(object, "Internal"); internal && internal->is_boolean()) {
    network.internal = internal->get<bool>();
  }
  if (const auto* options = jsonMember(object, "Options"); options && options->is_object()) {
    for (const auto& [key, value] : options->items()) {
      if (value.is_string()) network.options[key] = value.get<std::string>();
    }
  }
  if (const auto* containers = jsonMember(object, "Containers");
      containers && containers->is_object()) {
    for (const auto& [id, endpoint] : containers->items()) {
      if (!endpoint.is_object()) continue;
      const std::string address = jsonString(endpoint, "IPv4Address");
      network.endpoints.push_back(RuntimeNetwork::Endpoint{jsonString(endpoint, "EndpointID"),
                                                           address.substr(0, address.find('/'))});
    }
  }
  return network;
}

}  // namespace ovsplane::netdrv
