#include "netdrv/docker_client.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <ctime>
#include <exception>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "common/host_port.h"
#include "common/json_limits.h"
#include "netdrv/docker_endpoints.h"
#include "netdrv/pause_image.h"

namespace ovsplane::netdrv {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Protocol = asio::generic::stream_protocol;
using Stream =
    beast::basic_stream<Protocol, asio::io_context::executor_type, beast::unlimited_rate_policy>;
using json = nlohmann::json;

/** The largest reply body accepted (container lists, inspect results, progress streams). */
constexpr uint64_t kMaxReplyBody = 64ull << 20;

/** The longest event line accepted from the events stream. */
constexpr size_t kMaxEventLine = 16u << 20;

/** A request as sent: method and target (path with the API version prefix and query). */
struct Request {
  http::verb method = http::verb::get;
  std::string target;
  std::string body;
  std::string contentType;
  std::chrono::milliseconds timeout{0};
};

/** A complete reply. */
struct Reply {
  unsigned status = 0;
  std::string body;
  std::string apiVersion;  ///< the API-Version header, if any
};

/** Percent-encodes everything but RFC 3986's unreserved characters (and `keep`). */
std::string escape(std::string_view text, std::string_view keep = {}) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') ||
        (byte >= '0' && byte <= '9') || c == '-' || c == '.' || c == '_' || c == '~' ||
        keep.find(c) != std::string_view::npos) {
      out += c;
    } else {
      out += fmt::format("%{:02X}", byte);
    }
  }
  return out;
}

/** A path segment: ids and names; image references keep their '/' and ':'. */
std::string pathSegment(std::string_view text) { return escape(text); }
std::string imagePath(std::string_view ref) { return escape(ref, "/:@"); }

std::string trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    return {};
  }
  const auto last = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(first, last - first + 1));
}

/** "1.41" → {1, 41}; nullopt when malformed. A leading 'v' is accepted. */
std::optional<std::pair<int, int>> parseVersion(std::string_view text) {
  if (!text.empty() && (text.front() == 'v' || text.front() == 'V')) {
    text.remove_prefix(1);
  }
  const auto dot = text.find('.');
  if (dot == std::string_view::npos) {
    return std::nullopt;
  }
  int major = 0;
  int minor = 0;
  const auto majorEnd = text.data() + dot;
  const auto end = text.data() + text.size();
  const auto [p1, e1] = std::from_chars(text.data(), majorEnd, major);
  if (e1 != std::errc() || p1 != majorEnd || dot == 0) {
    return std::nullopt;
  }
  const auto [p2, e2] = std::from_chars(majorEnd + 1, end, minor);
  if (e2 != std::errc() || p2 != end || majorEnd + 1 == end) {
    return std::nullopt;
  }
  return std::pair{major, minor};
}

std::string versionText(std::pair<int, int> version) {
  return fmt::format("{}.{}", version.first, version.second);
}

/** {"label": ["k=v", "k2"]} plus `extra` entries. */
std::string labelFilter(const std::map<std::string, std::string>& labels, json filters) {
  if (!labels.empty()) {
    json list = json::array();
    for (const auto& [key, value] : labels) {
      list.push_back(value.empty() ? key : key + "=" + value);
    }
    filters["label"] = std::move(list);
  }
  return filters.dump();
}

/**
 * Runs one asynchronous operation of `io` to completion on the calling thread and returns its
 * error. The stream's own deadline (basic_stream::expires_after) bounds it.
 */
template <typename Initiate>
beast::error_code runOperation(asio::io_context& io, Initiate&& initiate) {
  beast::error_code result = asio::error::would_block;
  std::forward<Initiate>(initiate)([&result](beast::error_code ec, auto&&...) { result = ec; });
  io.restart();
  io.run();
  return result;
}

}  // namespace

DockerAddress parseDockerAddress(std::string_view text) {
  DockerAddress address;
  if (text.starts_with("tcp://")) {
    std::string_view rest = text.substr(6);
    rest = rest.substr(0, rest.find('/'));
    address.tcp = true;
    if (auto hostPort = parseHostPort(rest, 2375)) {
      address.host = std::move(hostPort->host);
      address.port = hostPort->port;
    }  // else: port 0 (and maybe no host), which callers check
    return address;
  }
  address.path = std::string(text.starts_with("unix://") ? text.substr(7) : text);
  return address;
}

std::vector<asio::generic::stream_protocol::endpoint> dockerEndpoints(
    const DockerAddress& address, boost::system::error_code& ec) {
  using SocketEndpoint = asio::generic::stream_protocol::endpoint;
  ec = {};
  if (!address.tcp) return {SocketEndpoint(asio::local::stream_protocol::endpoint(address.path))};
  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  auto results = resolver.resolve(address.host, std::to_string(address.port), ec);
  std::vector<SocketEndpoint> out;
  if (ec) return out;
  for (const auto& entry : results) out.emplace_back(entry.endpoint());
  if (out.empty()) ec = asio::error::host_not_found;
  return out;
}

class DockerClient::Impl {
 public:
  explicit Impl(DockerClientOptions options)
      : options_(std::move(options)), address_(parseDockerAddress(options_.socketPath)) {
    socketPath_ =
        address_.tcp ? address_.host + ":" + std::to_string(address_.port) : address_.path;
    display_ = address_.display();
  }

  const std::string& socketPath() const { return socketPath_; }

  /** "docker GET /v1.41/containers/json (unix:///var/run/docker.sock)" */
  std::string describe(const Request& request) const {
    return fmt::format("docker {} {} ({})", std::string_view(http::to_string(request.method)),
                       request.target, display_);
  }

  std::unexpected<Error> fail(ErrorCode code, const Request& request,
                              std::string_view detail) const {
    return makeError(code, fmt::format("{}: {}", describe(request), detail));
  }

  /** The error for a reply with an unexpected status, carrying Docker's `message`. */
  std::unexpected<Error> replyError(const Request& request, const Reply& reply) const {
    std::string detail;
    try {
      const json body = parseJsonBounded(reply.body);
      if (!body.is_discarded()) detail = jsonString(body, "message");
    } catch (const json::exception&) {
    }
    if (detail.empty()) {
      detail = trim(reply.body);
    }
    if (detail.size() > 1000) {
      detail = detail.substr(0, 1000) + "...";
    }
    const std::string reason(http::obsolete_reason(static_cast<http::status>(reply.status)));
    const std::string text = detail.empty()
                                 ? fmt::format("HTTP {} {}", reply.status, reason)
                                 : fmt::format("{} (HTTP {} {})", detail, reply.status, reason);
    ErrorCode code = ErrorCode::Unavailable;
    if (reply.status == 404) {
      code = ErrorCode::NotFound;
    } else if (reply.status == 409) {
      code = ErrorCode::Conflict;
    } else if (reply.status >= 400 && reply.status < 500) {
      code = ErrorCode::InvalidRequest;
    }
    return fail(code, request, text);
  }

  std::unexpected<Error> transportError(const Request& request, std::string_view stage,
                                        const beast::error_code& ec,
                                        std::chrono::milliseconds timeout) const {
    if (ec == beast::error::timeout) {
      return fail(ErrorCode::Unavailable, request,
                  fmt::format("timed out after {} ms ({})", timeout.count(), stage));
    }
    return fail(ErrorCode::Unavailable, request, fmt::format("{}: {}", stage, ec.message()));
  }

  /** Connects and sends `request` on `stream` (whose deadline the caller set). */
  Result<void> connectAndSend(asio::io_context& io, Stream& stream, const Request& request,
                              std::chrono::milliseconds timeout) const {
    beast::error_code ec;
    const auto where = dockerEndpoints(address_, ec);
    if (ec) {
      return transportError(request, "resolve", ec, timeout);
    }
    for (const auto& endpoint : where) {
      ec = runOperation(io,
                        [&](auto handler) { stream.async_connect(endpoint, std::move(handler)); });
      if (!ec || ec == beast::error::timeout) break;
      beast::error_code ignored;
      stream.socket().close(ignored);
    }
    if (ec) {
      return transportError(request, "connect", ec, timeout);
    }
    http::request<http::string_body> message{request.method, request.target, 11};
    message.set(http::field::host, "docker");
    message.set(http::field::user_agent, "ovsplane");
    if (!request.contentType.empty()) {
      message.set(http::field::content_type, request.contentType);
    }
    message.body() = request.body;
    message.keep_alive(false);
    message.prepare_payload();
    ec = runOperation(
        io, [&](auto handler) { http::async_write(stream, message, std::move(handler)); });
    if (ec) {
      return transportError(request, "send", ec, timeout);
    }
    return {};
  }

  /** One request on its own connection, within `request.timeout`. */
  Result<Reply> exchange(const Request& request) const {
    try {
      asio::io_context io;
      Stream stream(io);
      stream.expires_after(request.timeout);  // one deadline for the whole exchange
      if (auto sent = connectAndSend(io, stream, request, request.timeout); !sent) {
        return std::unexpected(sent.error());
      }
      beast::flat_buffer buffer;
      http::response_parser<http::string_body> parser;
      parser.body_limit(kMaxReplyBody);
      const beast::error_code ec = runOperation(
          io, [&](auto handler) { http::async_read(stream, buffer, parser, std::move(handler)); });
      if (ec) {
        return transportError(request, "receive", ec, request.timeout);
      }
      beast::error_code ignored;
      stream.socket().shutdown(Protocol::socket::shutdown_both, ignored);
      auto& response = parser.get();
      Reply reply;
      reply.status = response.result_int();
      reply.body = std::move(response.body());
      reply.apiVersion = std::string(response["Api-Version"]);
      return reply;
    } catch (const std::exception& e) {  // e.g. a socket path too long for sockaddr_un
      return fail(ErrorCode::Unavailable, request, e.what());
    }
  }

  Request makeRequest(http::verb method, std::string target) const {
    Request request;
    request.method = method;
    request.target = std::move(target);
    request.timeout = options_.timeout;
    return request;
  }

  /** "/v1.41" + path, negotiating the version on first use. */
  Result<std::string> versioned(std::string_view path) {
    auto version = apiVersion();
    if (!version) {
      return std::unexpected(version.error());
    }
    return fmt::format("/v{}{}", *version, path);
  }

  Result<std::string> ping() const {
    const Request request = makeRequest(http::verb::get, "/_ping");
    auto reply = exchange(request);
    if (!reply) {
      return std::unexpected(reply.error());
    }
    if (reply->status != 200) {
      return replyError(request, *reply);
    }
    return reply->apiVersion;
  }

  Result<std::string> apiVersion() {
    std::lock_guard lock(versionMutex_);
    if (version_) {
      return *version_;
    }
    const auto max = parseVersion(kMaxDockerApiVersion);
    if (!options_.apiVersion.empty()) {
      const auto pinned = parseVersion(options_.apiVersion);
      if (!pinned) {
        return makeError(ErrorCode::InvalidRequest,
                         fmt::format("docker: bad API version '{}'", options_.apiVersion));
      }
      version_ = versionText(*pinned);
      return *version_;
    }
    auto announced = ping();
    if (!announced) {
      return std::unexpected(announced.error());
    }
    const auto server = parseVersion(*announced);
    if (!server) {
      return makeError(
          ErrorCode::Unavailable,
          fmt::format("docker GET /_ping ({}): unusable API-Version '{}'", display_, *announced));
    }
    version_ = versionText(std::min(*server, *max));
    return *version_;
  }

  /** A versioned request whose reply must have one of `accepted` statuses. */
  Result<Reply> call(http::verb method, std::string_view path,
                     std::initializer_list<unsigned> accepted, std::string body = {},
                     std::string contentType = {}, std::chrono::milliseconds extraTime = {}) {
    auto target = versioned(path);
    if (!target) {
      return std::unexpected(target.error());
    }
    Request request = makeRequest(method, std::move(*target));
    request.body = std::move(body);
    request.contentType = std::move(contentType);
    request.timeout += extraTime;
    auto reply = exchange(request);
    if (!reply) {
      return std::unexpected(reply.error());
    }
    if (std::find(accepted.begin(), accepted.end(), reply->status) == accepted.end()) {
      return replyError(request, *reply);
    }
    return reply;
  }

  /** Parses a JSON reply body, naming the request when it cannot. */
  Result<json> parseBody(std::string_view what, const Reply& reply,
                         const json::parser_callback_t& keep = nullptr) const {
    auto parsed = parseReplyJson(reply.body, keep);
    if (!parsed) {
      return makeError(ErrorCode::Unavailable, fmt::format("docker {} ({}): unreadable reply: {}",
                                                           what, display_, parsed.error()));
    }
    return std::move(*parsed);
  }

  Result<std::string> createContainer(const json& body, const std::string& name) {
    const std::string path =
        name.empty() ? "/containers/create" : "/containers/create?name=" + escape(name);
    auto reply = call(http::verb::post, path, {201}, body.dump(), "application/json");
    if (!reply) {
      return std::unexpected(reply.error());
    }
    auto created = parseBody("create container", *reply);
    if (!created) {
      return std::unexpected(created.error());
    }
    std::string id = jsonString(*created, "Id");
    if (id.empty()) {
      return makeError(ErrorCode::Unavailable,
                       fmt::format("docker create container ({}): no Id in reply '{}'", display_,
                                   trim(reply->body)));
    }
    return id;
  }

  Result<void> startContainer(const std::string& id) {
    auto reply =
        call(http::verb::post, fmt::format("/containers/{}/start", pathSegment(id)), {204, 304});
    if (!reply) {
      return std::unexpected(reply.error());
    }
    return {};
  }

  Result<void> renameContainer(const std::string& id, const std::string& name) {
    auto reply =
        call(http::verb::post,
             fmt::format("/containers/{}/rename?name={}", pathSegment(id), escape(name)), {204});
    if (!reply) {
      return std::unexpected(reply.error());
    }
    return {};
  }

  Result<void> stopContainer(const std::string& id, int seconds) {
    seconds = std::max(seconds, 0);
    auto reply =
        call(http::verb::post, fmt::format("/containers/{}/stop?t={}", pathSegment(id), seconds),
             {204, 304}, {}, {}, std::chrono::seconds(seconds));
    if (!reply) {
      return std::unexpected(reply.error());
    }
    return {};
  }

  Result<void> removeContainer(const std::string& id, bool force) {
    auto reply =
        call(http::verb::delete_,
             fmt::format("/containers/{}?force={}", pathSegment(id), force ? 1 : 0), {204, 404});
    if (!reply) {
      return std::unexpected(reply.error());
    }
    return {};
  }

  Result<ContainerInfo> inspectContainer(const std::string& id) {
    auto reply = call(http::verb::get, fmt::format("/containers/{}/json", pathSegment(id)), {200});
    if (!reply) {
      return std::unexpected(reply.error());
    }
    auto object = parseBody("inspect container", *reply);
    if (!object) {
      return std::unexpected(object.error());
    }
    return containerFromInspect(std::move(*object));
  }

  Result<std::vector<RuntimeNetwork>> listNetworks(const std::string& driver) {
    const json filters = {{"driver", json::array({driver})}};
    auto reply =
        call(http::verb::get, fmt::format("/networks?filters={}", escape(filters.dump())), {200});
    if (!reply) {
      return std::unexpected(reply.error());
    }
    auto list = parseBody("list networks", *reply);
    if (!list) {
      return std::unexpected(list.error());
    }
    if (!list->is_array()) {
      return makeError(ErrorCode::Unavailable,
                       fmt::format("docker list networks ({}): not a list", display_));
    }
    std::vector<RuntimeNetwork> out;
    for (const json& listed : *list) {
      if (!listed.is_object() || jsonString(listed, "Driver") != driver) continue;
      // The list leaves the endpoints out (API 1.28 on): each network is inspected.
      auto inspected =
          call(http::verb::get, fmt::format("/networks/{}", pathSegment(jsonString(listed, "Id"))),
               {200});
      if (!inspected) {
        if (inspected.error().code == ErrorCode::NotFound) continue;  // removed in between
        return std::unexpected(inspected.error());
      }
      auto object = parseBody("inspect network", *inspected);
      if (!object) return std::unexpected(object.error());
      RuntimeNetwork network = networkFromInspect(*object);
      if (!network.id.empty()) out.push_back(std::move(network));
    }
    return out;
  }

  Result<std::vector<ContainerInfo>> listContainers(
      const std::map<std::string, std::string>& labels, bool all) {
    const std::string filters = labelFilter(labels, json::object());
    auto reply = call(
        http::verb::get,
        fmt::format("/containers/json?all={}&filters={}", all ? 1 : 0, escape(filters)), {200});
    if (!reply) {
      return std::unexpected(reply.error());
    }
    auto list = parseBody("list containers", *reply, containerListMembers());
    if (!list) {
      return std::unexpected(list.error());
    }
    auto containers = containersFromList(std::move(*list));
    if (!containers) {
      return makeError(ErrorCode::Unavailable, fmt::format("docker list containers ({}): {}",
                                                           display_, containers.error()));
    }
    return std::move(*containers);
  }

  Result<bool> imageExists(const std::string& ref) {
    auto reply = call(http::verb::get, fmt::format("/images/{}/json", imagePath(ref)), {200, 404});
    if (!reply) {
      return std::unexpected(reply.error());
    }
    return reply->status == 200;
  }

  Result<void> importImage(std::string_view tar, const std::string& repo, const std::string& tag,
                           const std::vector<std::string>& changes) {
    // fromSrc=- : the image is the request body. This is the only use of /images/create: never
    // with fromImage, which would pull from a registry.
    std::string path =
        fmt::format("/images/create?fromSrc=-&repo={}&tag={}", escape(repo), escape(tag));
    for (const std::string& change : changes) {
      path += "&changes=" + escape(change);
    }
    auto reply = call(http::verb::post, path, {200}, std::string(tar), "application/x-tar");
    if (!reply) {
      return std::unexpected(reply.error());
    }
    // A progress stream: one JSON object per line; failures arrive as an entry with
    // "error"/"errorDetail" in a 200 reply.
    size_t start = 0;
    while (start < reply->body.size()) {
      size_t end = reply->body.find('\n', start);
      if (end == std::string::npos) {
        end = reply->body.size();
      }
      const std::string line = trim(std::string_view(reply->body).substr(start, end - start));
      start = end + 1;
      if (line.empty()) {
        continue;
      }
      const json entry = parseJsonBounded(line);
      if (entry.is_discarded()) {
        continue;  // not an error entry we could read; Docker's final state decides below
      }
      std::string message = jsonString(entry, "error");
      if (const json* detail = jsonMember(entry, "errorDetail");
          message.empty() && detail != nullptr) {
        message = jsonString(*detail, "message");
        if (message.empty()) {
          message = detail->dump();
        }
      }
      if (!message.empty() || jsonMember(entry, "errorDetail") != nullptr) {
        return makeError(ErrorCode::Unavailable,
                         fmt::format("docker import {}:{} ({}): {}", repo, tag, display_, message));
      }
    }
    return {};
  }

  Result<void> ensurePauseImage() {
    std::lock_guard lock(pauseMutex_);
    auto exists = imageExists(std::string(kPauseImage));
    if (!exists) {
      return std::unexpected(exists.error());
    }
    if (*exists) {
      return {};
    }
    const std::string_view ref = kPauseImage;
    const auto colon = ref.rfind(':');
    return importImage(pauseImageTar(), std::string(ref.substr(0, colon)),
                       std::string(ref.substr(colon + 1)), {R"(CMD ["/pause"])"});
  }

  Result<void> followEvents(const std::map<std::string, std::string>& labels,
                            const std::function<bool(const json&)>& onEvent,
                            const std::stop_token& stop, const std::function<void()>& onConnected) {
    if (stop.stop_requested()) {
      return {};
    }
    auto target =
        versioned("/events?filters=" +
                  escape(labelFilter(labels, json{{"type", json::array({"container"})}})));
    if (!target) {
      return std::unexpected(target.error());
    }
    const Request request = makeRequest(http::verb::get, std::move(*target));
    bool inCallback = false;
    try {
      asio::io_context io;
      Stream stream(io);
      // The stop request closes the connection from the io_context's own thread (this one),
      // which ends whatever operation is pending. Declared after `io` and `stream`: destroyed
      // (waiting for a running callback) before them.
      std::stop_callback closeOnStop(
          stop, [&io, &stream] { asio::post(io, [&stream] { stream.close(); }); });
      stream.expires_after(request.timeout);
      if (auto sent = connectAndSend(io, stream, request, request.timeout); !sent) {
        if (stop.stop_requested()) {
          return {};
        }
        return std::unexpected(sent.error());
      }
      beast::flat_buffer buffer;
      http::response_parser<http::string_body> parser;
      parser.body_limit(boost::none);  // an endless stream, drained after every read
      beast::error_code ec = runOperation(io, [&](auto handler) {
        http::async_read_header(stream, buffer, parser, std::move(handler));
      });
      if (stop.stop_requested()) {
        return {};
      }
      if (ec) {
        return transportError(request, "receive", ec, request.timeout);
      }
      if (parser.get().result_int() != 200) {
        parser.body_limit(kMaxReplyBody);
        ec = runOperation(io, [&](auto handler) {
          http::async_read(stream, buffer, parser, std::move(handler));
        });
        Reply reply;
        reply.status = parser.get().result_int();
        reply.body = std::move(parser.get().body());
        return replyError(request, reply);
      }
      stream.expires_never();
      if (onConnected) onConnected();
      std::string pending;
      while (true) {
        if (stop.stop_requested()) {
          return {};
        }
        if (!parser.is_done()) {
          ec = runOperation(io, [&](auto handler) {
            http::async_read_some(stream, buffer, parser, std::move(handler));
          });
        }
        pending += parser.get().body();
        parser.get().body().clear();
        size_t newline = 0;
        while ((newline = pending.find('\n')) != std::string::npos) {
          const std::string line = trim(std::string_view(pending).substr(0, newline));
          pending.erase(0, newline + 1);
          if (line.empty()) {
            continue;
          }
          const json event = parseJsonBounded(line);
          if (event.is_discarded()) {
            return fail(ErrorCode::Unavailable, request,
                        fmt::format("unreadable event '{}'", line.substr(0, 200)));
          }
          inCallback = true;
          const bool more = onEvent(event);
          inCallback = false;
          if (!more) {
            return {};
          }
        }
        if (stop.stop_requested()) {
          return {};
        }
        if (parser.is_done() || ec == http::error::end_of_stream || ec == asio::error::eof) {
          return {};  // the daemon ended the stream (e.g. it is shutting down)
        }
        if (ec) {
          return transportError(request, "receive", ec, request.timeout);
        }
        if (pending.size() > kMaxEventLine) {
          return fail(ErrorCode::Unavailable, request, "event line too long");
        }
      }
    } catch (const std::exception& e) {
      if (inCallback) {
        throw;  // from onEvent: the caller's own
      }
      return fail(ErrorCode::Unavailable, request, e.what());
    }
  }

 private:
  DockerClientOptions options_;
  DockerAddress address_;
  std::string socketPath_;  ///< the unix socket's path, or HOST:PORT
  std::string display_;     ///< "unix:///path" or "tcp://HOST:PORT", for messages
  std::mutex versionMutex_;
  std::optional<std::string> version_;
  std::mutex pauseMutex_;
};

DockerClient::DockerClient(DockerClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

DockerClient::~DockerClient() = default;

const std::string& DockerClient::socketPath() const { return impl_->socketPath(); }

Result<std::string> DockerClient::ping() { return impl_->ping(); }

Result<std::string> DockerClient::apiVersion() { return impl_->apiVersion(); }

Result<std::string> DockerClient::createContainer(const nlohmann::json& body,
                                                  const std::string& name) {
  return impl_->createContainer(body, name);
}

Result<void> DockerClient::startContainer(const std::string& idOrName) {
  return impl_->startContainer(idOrName);
}

Result<void> DockerClient::renameContainer(const std::string& idOrName, const std::string& name) {
  return impl_->renameContainer(idOrName, name);
}

Result<void> DockerClient::stopContainer(const std::string& idOrName, int seconds) {
  return impl_->stopContainer(idOrName, seconds);
}

Result<void> DockerClient::removeContainer(const std::string& idOrName, bool force) {
  return impl_->removeContainer(idOrName, force);
}

Result<ContainerInfo> DockerClient::inspectContainer(const std::string& idOrName) {
  return impl_->inspectContainer(idOrName);
}

Result<std::vector<ContainerInfo>> DockerClient::listContainers(
    const std::map<std::string, std::string>& labelFilters, bool all) {
  return impl_->listContainers(labelFilters, all);
}

Result<std::vector<RuntimeNetwork>> DockerClient::listNetworks(const std::string& driver) {
  return impl_->listNetworks(driver);
}

Result<bool> DockerClient::imageExists(const std::string& ref) { return impl_->imageExists(ref); }

Result<void> DockerClient::importImage(std::string_view tarBytes, const std::string& repo,
                                       const std::string& tag,
                                       const std::vector<std::string>& changes) {
  return impl_->importImage(tarBytes, repo, tag, changes);
}

Result<void> DockerClient::ensurePauseImage() { return impl_->ensurePauseImage(); }

Result<void> DockerClient::followEvents(const std::map<std::string, std::string>& labelFilters,
                                        std::function<bool(const nlohmann::json& event)> onEvent,
                                        std::stop_token stop, std::function<void()> onConnected) {
  return impl_->followEvents(labelFilters, onEvent, stop, onConnected);
}

}  // namespace ovsplane::netdrv
