#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "netdrv/seams.h"

namespace ovsplane::netdrv {

/** What ovsplane needs of a container. */
struct ContainerInfo {
  std::string id;
  std::string name;  ///< without Docker's leading '/'
  bool running = false;
  int pid = 0;              ///< its init process on the host; 0 when not running / from a list
  std::string sandboxKey;   ///< its network namespace file; empty from a list
  std::string networkMode;  ///< HostConfig.NetworkMode ("none", "bridge", "container:ID"...)
  std::map<std::string, std::string> labels;
  std::string restartPolicy;  ///< HostConfig.RestartPolicy.Name ("", "no", "always"...); inspect
  std::string stateError;     ///< State.Error: why Docker's last start of it failed; inspect
  int64_t createdMs = 0;      ///< when it was created (ms since the epoch); 0 when unknown
  nlohmann::json raw;         ///< Docker's inspect result as received; null from a list
};

// Decoders of dockerd's replies. Docker is trusted to mean well, not to be well-formed: every
// decoder takes any JSON (wrong types, missing members, huge numbers) without throwing, and
// what it cannot read stays empty. Pure.

/** A reply body as JSON: nesting bounded (common/json_limits.h) before parsing; the error says
 *  what is wrong. With `keep` (nlohmann's parser callback), only what it keeps is stored. */
std::expected<nlohmann::json, std::string> parseReplyJson(
    std::string_view body, const nlohmann::json::parser_callback_t& keep = nullptr);

/** A `keep` for a container list: of each entry only the members containersFromList() reads.
 *  The rest (NetworkSettings, Mounts, Ports, Command...) is never stored: the list of 2,000
 *  containers is megabytes of JSON, and its whole tree several times that. */
nlohmann::json::parser_callback_t containerListMembers();

/** The member `key` of `object` when `object` is an object and the member is present and not
 *  null; else nullptr. */
const nlohmann::json* jsonMember(const nlohmann::json& object, std::string_view key);
/** The string member `key`, or "" (absent, null or not a string). */
std::string jsonString(const nlohmann::json& object, std::string_view key);

/** A container reference as Docker paths and names carry it, without Docker's leading '/'. */
std::string withoutSlash(std::string name);

/** GET /containers/{id}/json. */
ContainerInfo containerFromInspect(nlohmann::json object);

/** A network from GET /networks/{id}: name, driver, Internal, Options, and the endpoints of
 *  its Containers (address without the prefix). Missing or mistyped fields stay empty. */
RuntimeNetwork networkFromInspect(const nlohmann::json& object);
/** GET /containers/json: an error when the reply is not a list. */
std::expected<std::vector<ContainerInfo>, std::string> containersFromList(
    const nlohmann::json& list);

/** One container event of GET /events. */
struct ContainerEvent {
  std::string action;  ///< "create", "start", "die", "destroy", "rename", ...
  std::string id;      ///< the container's full id (Actor.ID)
  std::map<std::string, std::string> attributes;  ///< Actor.Attributes' string values
};
/** The container event in one line of the events stream; nullopt for other types of events
 *  and for events without an Actor.ID. */
std::optional<ContainerEvent> containerEventFrom(const nlohmann::json& event);

/** "2026-12-01T21:45:12.123456789Z" (Docker's Created) as ms since the epoch; 0 when unusable. */
int64_t rfc3339Ms(const std::string& text);

}  // namespace ovsplane::netdrv
