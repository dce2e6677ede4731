#include "adapter/hooks.h"

#include <cctype>
#include <vector>

#include <fmt/format.h>

#include "common/json_limits.h"

namespace ovsplane::adapter {
namespace {

using Json = nlohmann::json;

std::expected<std::optional<std::string>, std::string> optionalString(const Json& object,
                                                                      const char* key,
                                                                      const char* where) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) {
    return std::unexpected(fmt::format("{}.{} must be a string or null", where, key));
  }
  return std::optional<std::string>(it->get<std::string>());
}

std::expected<std::string, std::string> requiredString(const Json& object, const char* key,
                                                       const char* where) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) {
    return std::unexpected(fmt::format("{}.{} must be a string", where, key));
  }
  return it->get<std::string>();
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/** %XX decoding; in query strings '+' also means a space. */
std::string percentDecode(std::string_view text, bool plusIsSpace) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int hi = hexValue(text[i + 1]);
      const int lo = hexValue(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plusIsSpace && text[i] == '+' ? ' ' : text[i]);
  }
  return out;
}

std::string queryValue(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const size_t equals = pair.find('=');
    if (pair.substr(0, equals) == key) {
      return equals == std::string_view::npos ? "" : percentDecode(pair.substr(equals + 1), true);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

/** Characters a path segment may carry unencoded (RFC 3986 pchar, '%' excluded). */
bool plainPathChar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("-._~!$&'()*+,;=:@").find(static_cast<char>(c)) != std::string_view::npos;
}

}  // namespace

std::optional<std::string> normalizeTarget(std::string_view target) {
  target = target.substr(0, target.find('#'));
  // Absolute form (a proxy request): what dockerd routes is the path and query after the host.
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() >= scheme.size()) {
      std::string lower(target.substr(0, scheme.size()));
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower == scheme) {
        const std::string_view rest = target.substr(scheme.size());
        const size_t start = rest.find_first_of("/?");
        target = start == std::string_view::npos ? std::string_view("/") : rest.substr(start);
        break;
      }
    }
  }
  if (target.empty()) return std::nullopt;
  if (target.front() == '?') return "/" + std::string(target);
  if (target.front() != '/') return std::nullopt;  // authority or asterisk form: not an API call
  const size_t question = target.find('?');
  const std::string_view rawPath = target.substr(0, question);
  const std::string_view query =
      question == std::string_view::npos ? std::string_view() : target.substr(question);
  // Decode as dockerd's router does, then drop empty and dot segments (path.Clean).
  std::string decoded;
  for (size_t i = 0; i < rawPath.size(); ++i) {
    char c = rawPath[i];
    if (c == '%') {
      if (i + 2 >= rawPath.size() || hexValue(rawPath[i + 1]) < 0 || hexValue(rawPath[i + 2]) < 0) {
        return std::nullopt;
      }
      c = static_cast<char>(hexValue(rawPath[i + 1]) * 16 + hexValue(rawPath[i + 2]));
      i += 2;
    }
    if (c == '\0') return std::nullopt;
    decoded.push_back(c);
  }
  std::vector<std::string_view> segments;
  for (size_t start = 0; start <= decoded.size();) {
    size_t end = decoded.find('/', start);
    if (end == std::string::npos) end = decoded.size();
    const std::string_view segment = std::string_view(decoded).substr(start, end - start);
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!segment.empty() && segment != ".") {
      segments.push_back(segment);
    }
    start = end + 1;
  }
  std::string out;
  for (const std::string_view segment : segments) {
    out.push_back('/');
    for (const char c : segment) {
      const auto byte = static_cast<unsigned char>(c);
      if (plainPathChar(byte)) {
        out.push_back(c);
      } else {
        out += fmt::format("%{:02X}", byte);
      }
    }
  }
  if (out.empty()) out = "/";
  return out + std::string(query);
}

std::expected<Hook, std::string> decodeHook(std::string_view text) {
  if (!jsonDepthWithin(text)) {
    return std::unexpected(fmt::format("hook body nests deeper than {} levels", kMaxJsonDepth));
  }
  Json json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return std::unexpected("hook body is not valid JSON");
  if (!json.is_object()) return std::unexpected("hook body is not a JSON object");
  auto version = json.find("PowerstripProtocolVersion");
  if (version == json.end()) return std::unexpected("PowerstripProtocolVersion is missing");
  if (!version->is_number_integer() || version->get<int64_t>() != 1) {
    return std::unexpected(
        fmt::format("PowerstripProtocolVersion {} is not supported (only 1)", version->dump()));
  }
  Hook hook{HookType::Pre, {}, std::nullopt, {}};
  if (auto id = json.find(kRequestIdField); id != json.end() && id->is_string()) {
    hook.requestId = id->get<std::string>().substr(0, 64);
  }
  auto type = json.find("Type");
  if (type == json.end() || !type->is_string()) return std::unexpected("Type must be a string");
  if (*type == "pre-hook") {
    hook.type = HookType::Pre;
  } else if (*type == "post-hook") {
    hook.type = HookType::Post;
  } else {
    return std::unexpected(fmt::format("Type {} is not pre-hook or post-hook", type->dump()));
  }
  auto client = json.find("ClientRequest");
  if (client == json.end() || !client->is_object()) {
    return std::unexpected("ClientRequest must be an object");
  }
  auto method = requiredString(*client, "Method", "ClientRequest");
  if (!method) return std::unexpected(method.error());
  auto request = requiredString(*client, "Request", "ClientRequest");
  if (!request) return std::unexpected(request.error());
  auto body = optionalString(*client, "Body", "ClientRequest");
  if (!body) return std::unexpected(body.error());
  hook.client = ClientRequest{*method, *request, *body};

  if (hook.type == HookType::Post) {
    auto server = json.find("ServerResponse");
    if (server == json.end() || !server->is_object()) {
      return std::unexpected("a post-hook's ServerResponse must be an object");
    }
    auto contentType = optionalString(*server, "ContentType", "ServerResponse");
    if (!contentType) return std::unexpected(contentType.error());
    auto serverBody = optionalString(*server, "Body", "ServerResponse");
    if (!serverBody) return std::unexpected(serverBody.error());
    auto code = server->find("Code");
    if (code == server->end() || !code->is_number_integer()) {
      return std::unexpected("ServerResponse.Code must be an integer");
    }
    hook.server = ServerResponse{*contentType, serverBody->value_or(""),
                                 static_cast<int>(code->get<int64_t>())};
  }
  return hook;
}

std::string encodeModifiedClientRequest(const ClientRequest& request) {
  Json json = {{"PowerstripProtocolVersion", 1},
               {"ModifiedClientRequest",
                {{"Method", request.method},
                 {"Request", request.request},
                 {"Body", request.body ? Json(*request.body) : Json(nullptr)}}}};
  return json.dump();
}

std::string encodeModifiedServerResponse(const ServerResponse& response) {
  Json json = {
      {"PowerstripProtocolVersion", 1},
      {"ModifiedServerResponse",
       {{"ContentType", response.contentType ? Json(*response.contentType) : Json(nullptr)},
        {"Body", response.body},
        {"Code", response.code}}}};
  return json.dump();
}

RoutedRequest routeRequest(std::string_view method, std::string_view rawTarget) {
  RoutedRequest routed;
  // What dockerd would route: percent-decoded, dot segments resolved, absolute form reduced.
  const std::optional<std::string> normalized = normalizeTarget(rawTarget);
  if (!normalized) return routed;
  const std::string_view target = *normalized;
  const size_t question = target.find('?');
  std::string_view path = target.substr(0, question);
  const std::string_view query =
      question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
  // Optional API version prefix: /v1.41
  if (path.size() > 2 && path.starts_with("/v") && (path[2] >= '0' && path[2] <= '9')) {
    const size_t next = path.find('/', 1);
    path = next == std::string_view::npos ? std::string_view() : path.substr(next);
  }
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  if (!path.starts_with("/containers/")) return routed;
  std::string_view rest = path.substr(std::string_view("/containers/").size());
  const size_t slash = rest.find('/');
  const std::string_view first = rest.substr(0, slash);
  const std::string_view action =
      slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  if (first.empty()) return routed;
  if (method == "POST" && first == "create" && action.empty()) {
    routed.route = Route::CreateContainer;
    routed.name = queryValue(query, "name");
  } else if (method == "POST" && action == "start") {
    routed.route = Route::StartContainer;
    routed.container = percentDecode(first, false);  // re-encoded bytes of the normalisation
  } else if (method == "DELETE" && action.empty()) {
    routed.route = Route::DeleteContainer;
    routed.container = percentDecode(first, false);
  }
  return routed;
}

}  // namespace ovsplane::adapter
