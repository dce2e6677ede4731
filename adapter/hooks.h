#pragma once

#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "adapter/http/message.h"
#include "common/json_limits.h"

namespace ovsplane::adapter {

/** The Docker API request a hook is about (Powerstrip's ClientRequest). */
struct ClientRequest {
  std::string method;
  std::string request;              ///< the raw target, query string included
  std::optional<std::string> body;  ///< the body as a string; null when not JSON / absent
};

/** Docker's answer (Powerstrip's ServerResponse), post-hooks only. */
struct ServerResponse {
  std::optional<std::string> contentType;  ///< null when Docker sent none (204s)
  std::string body;
  int code = 0;
};

enum class HookType { Pre, Post };

/** The hook field in which ovsplane's proxy names the Docker request a hook belongs to (the
 *  same in its pre- and post-hooks). An extension: other adapters ignore it, the original
 *  Powerstrip does not send it. */
inline constexpr const char* kRequestIdField = "OvsplaneRequestId";

/** One decoded Powerstrip protocol v1 hook. */
struct Hook {
  HookType type;
  ClientRequest client;
  std::optional<ServerResponse> server;  ///< set for post-hooks
  std::string requestId;                 ///< kRequestIdField when the proxy sent it, else ""
};

/**
 * Decodes a hook request body. Errors (the message for a 400 answer): not JSON, not an object,
 * a PowerstripProtocolVersion other than 1 (named), an unknown Type, missing or mistyped
 * ClientRequest/ServerResponse fields. Unknown extra fields are ignored.
 */
std::expected<Hook, std::string> decodeHook(std::string_view json);

/** {"PowerstripProtocolVersion":1,"ModifiedClientRequest":{...}} */
std::string encodeModifiedClientRequest(const ClientRequest& request);
/** {"PowerstripProtocolVersion":1,"ModifiedServerResponse":{...}} */
std::string encodeModifiedServerResponse(const ServerResponse& response);

/** The Docker API calls ovsplane acts on. */
enum class Route { CreateContainer, StartContainer, DeleteContainer, Other };

struct RoutedRequest {
  Route route = Route::Other;
  std::string container;  ///< start/delete: the id or name as the user typed it
  std::string name;       ///< create: the ?name= argument (may be empty)
};

/**
 * The request target as dockerd routes it: the absolute form ("http://docker/v1.41/...")
 * reduced to its path and query, the path percent-decoded, empty and dot segments removed, then
 * re-encoded where a path must be ("/v1.41/containers/%63reate" is "/v1.41/containers/create").
 * The query is kept as sent. nullopt for what is no API path (authority or asterisk form, a
 * broken %-escape, a NUL byte). Pure.
 */
std::optional<std::string> normalizeTarget(std::string_view target);

/** Classifies a Docker API call (on its normalized target, see normalizeTarget); versioned
 * (/v1.41/...) and unversioned paths alike. Query arguments are percent-decoded. */
RoutedRequest routeRequest(std::string_view method, std::string_view target);

}  // namespace ovsplane::adapter
