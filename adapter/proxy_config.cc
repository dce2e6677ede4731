#include "adapter/proxy_config.h"

#include <yaml-cpp/yaml.h>

#include "common/json_limits.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "adapter/hooks.h"

namespace ovsplane::adapter {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using error_code = boost::system::error_code;

int lineOf(const YAML::Node& node) { return node.Mark().line + 1; }

/** Thrown inside the parser only; turned into the expected's error. */
struct ConfigError {
  std::string message;
};

[[noreturn]] void fail(std::string_view source, const YAML::Node& at, const std::string& what) {
  throw ConfigError{fmt::format("{}:{}: {}", source, lineOf(at), what)};
}

/** A map's entries in order; duplicate and non-scalar keys are errors. */
std::vector<std::pair<std::string, YAML::Node>> mapEntries(std::string_view source,
                                                           const YAML::Node& map,
                                                           std::string_view what) {
  if (!map.IsMap()) fail(source, map, fmt::format("{} must be a mapping", what));
  std::vector<std::pair<std::string, YAML::Node>> out;
  std::map<std::string, int> seen;
  for (const auto& entry : map) {
    if (!entry.first.IsScalar())
      fail(source, entry.first, fmt::format("{}: a key must be a string", what));
    const std::string key = entry.first.Scalar();
    if (auto [it, fresh] = seen.emplace(key, lineOf(entry.first)); !fresh) {
      fail(source, entry.first,
           fmt::format("{}: duplicate key \"{}\" (first at line {})", what, key, it->second));
    }
    out.emplace_back(key, entry.second);
  }
  return out;
}

std::vector<std::string> nameList(std::string_view source, const YAML::Node& node,
                                  const std::string& what) {
  std::vector<std::string> out;
  if (node.IsNull()) return out;
  if (node.IsScalar()) return {node.Scalar()};  // `pre: net` as a shorthand for [net]
  if (!node.IsSequence()) fail(source, node, what + " must be a list of adapter names");
  for (const auto& item : node) {
    if (!item.IsScalar() || item.Scalar().empty()) {
      fail(source, item, what + ": an adapter name must be a non-empty string");
    }
    out.push_back(item.Scalar());
  }
  return out;
}

std::string percentDecode(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size()) {
      unsigned value = 0;
      auto [ptr, ec] = std::from_chars(in.data() + i + 1, in.data() + i + 3, value, 16);
      if (ec == std::errc() && ptr == in.data() + i + 3) {
        out.push_back(static_cast<char>(value));
        i += 2;
        continue;
      }
    }
    out.push_back(in[i]);
  }
  return out;
}

bool isSuccess(unsigned status) { return status >= 200 && status < 300; }

/** POSTs `body` over `stream` (connected by `connect`) within the stream's deadline. */
template <typename Protocol, typename ConnectFn>
error_code postWithin(asio::io_context& ioc, beast::basic_stream<Protocol>& stream,
                      ConnectFn connect, http::request<http::string_body>& request,
                      http::response_parser<http::string_body>& parser) {
  beast::flat_buffer buffer;
  error_code result;
  connect([&](error_code ec) {
    if (ec) {
      result = ec;
      return;
    }
    http::async_write(stream, request, [&](error_code writeEc, size_t) {
      if (writeEc) {
        result = writeEc;
        return;
      }
      http::async_read(stream, buffer, parser, [&](error_code readEc, size_t) { result = readEc; });
    });
  });
  ioc.run();
  return result;
}

}  // namespace

std::expected<AdaptersFile, std::string> parseAdaptersYaml(std::string_view text,
                                                           std::string_view source) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return std::unexpected(
        fmt::format("{}:{}: not valid YAML: {}", source, e.mark.line + 1, e.msg));
  }
  try {
    if (!root.IsDefined() || root.IsNull()) {
      return std::unexpected(fmt::format("{}: empty (expected endpoints: and adapters:)", source));
    }
    AdaptersFile file;
    std::optional<YAML::Node> endpoints;
    std::optional<YAML::Node> adapters;
    for (const auto& [key, value] : mapEntries(source, root, "the file")) {
      if (key == "version") {
        if (!value.IsScalar() || value.Scalar() != "1") {
          fail(source, value, "version: only version 1 is known");
        }
      } else if (key == "endpoints") {
        endpoints = value;
      } else if (key == "adapters") {
        adapters = value;
      } else {
        fail(source, value,
             fmt::format("unknown key \"{}\" (expected version, endpoints, adapters)", key));
      }
    }
    if (!endpoints) fail(source, root, "endpoints: is required");
    if (!adapters) fail(source, root, "adapters: is required");

    std::set<std::string> defined;
    for (const auto& [name, value] : mapEntries(source, *adapters, "adapters")) {
      if (!value.IsScalar() || value.Scalar().empty()) {
        fail(source, value, fmt::format("adapter \"{}\": the value must be a URL", name));
      }
      if (auto target = parseAdapterUrl(value.Scalar()); !target) {
        fail(source, value, fmt::format("adapter \"{}\": {}", name, target.error()));
      }
      file.adapters.push_back(AdapterConfig{name, value.Scalar(), lineOf(value)});
      defined.insert(name);
    }

    for (const auto& [pattern, value] : mapEntries(source, *endpoints, "endpoints")) {
      const auto space = pattern.find(' ');
      if (space == std::string::npos || space == 0 || space + 1 >= pattern.size() ||
          pattern[space + 1] != '/') {
        fail(source, value,
             fmt::format("endpoint \"{}\": expected \"METHOD /path\" (e.g. \"POST "
                         "/*/containers/create\")",
                         pattern));
      }
      EndpointConfig endpoint{pattern, {}, {}, lineOf(value)};
      const std::string what = fmt::format("endpoint \"{}\"", pattern);
      for (const auto& [key, names] : mapEntries(source, value, what)) {
        if (key == "pre") {
          endpoint.pre = nameList(source, names, what + ": pre");
        } else if (key == "post") {
          endpoint.post = nameList(source, names, what + ": post");
        } else {
          fail(source, names,
               fmt::format("{}: unknown key \"{}\" (expected pre, post)", what, key));
        }
        for (const auto& name : key == "pre" ? endpoint.pre : endpoint.post) {
          if (!defined.contains(name)) {
            fail(source, names,
                 fmt::format("{}: adapter \"{}\" is not defined under adapters:", what, name));
          }
        }
      }
      if (endpoint.pre.empty() && endpoint.post.empty()) {
        fail(source, value, what + ": needs pre: or post: adapters");
      }
      file.endpoints.push_back(std::move(endpoint));
    }
    return file;
  } catch (const ConfigError& e) {
    return std::unexpected(e.message);
  } catch (const YAML::Exception& e) {
    return std::unexpected(fmt::format("{}:{}: {}", source, e.mark.line + 1, e.msg));
  }
}

std::expected<AdaptersFile, std::string> loadAdaptersFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return std::unexpected(fmt::format("cannot read {}", path.string()));
  std::stringstream text;
  text << in.rdbuf();
  return parseAdaptersYaml(text.str(), path.string());
}

std::expected<AdapterTarget, std::string> parseAdapterUrl(std::string_view url) {
  AdapterTarget target;
  if (url == "builtin" || url == "builtin:ovsplane") {
    target.kind = AdapterTarget::Kind::Builtin;
    return target;
  }
  auto splitPath = [](std::string_view rest) {
    const auto slash = rest.find('/');
    return std::pair{rest.substr(0, slash),
                     slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash)};
  };
  if (url.starts_with("http://")) {
    auto [authority, path] = splitPath(url.substr(7));
    if (authority.empty()) return std::unexpected(fmt::format("no host in \"{}\"", url));
    target.kind = AdapterTarget::Kind::Tcp;
    target.httpPath = std::string(path);
    const auto bracket = authority.rfind(']');
    auto colon = authority.rfind(':');
    if (bracket != std::string_view::npos && colon < bracket) colon = std::string_view::npos;
    std::string_view host = authority.substr(0, colon);
    if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
    target.host = std::string(host);
    target.port = 80;
    if (colon != std::string_view::npos) {
      const std::string_view port = authority.substr(colon + 1);
      unsigned value = 0;
      auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
      if (ec != std::errc() || ptr != port.data() + port.size() || value == 0 || value > 65535) {
        return std::unexpected(fmt::format("bad port in \"{}\"", url));
      }
      target.port = static_cast<uint16_t>(value);
    }
    if (target.host.empty()) return std::unexpected(fmt::format("no host in \"{}\"", url));
    return target;
  }
  if (url.starts_with("http+unix://")) {
    auto [encoded, path] = splitPath(url.substr(12));
    target.kind = AdapterTarget::Kind::Unix;
    target.socketPath = percentDecode(encoded);
    target.httpPath = std::string(path);
    if (!target.socketPath.starts_with('/')) {
      return std::unexpected(
          fmt::format("\"{}\": the socket path must be absolute and percent-encoded "
                      "(http+unix://%2Frun%2Fadapter.sock/adapter)",
                      url));
    }
    return target;
  }
  if (url.starts_with("unix://")) {
    target.kind = AdapterTarget::Kind::Unix;
    target.socketPath = std::string(url.substr(7));
    target.httpPath = "/adapter";
    if (!target.socketPath.starts_with('/')) {
      return std::unexpected(fmt::format("\"{}\": expected unix:///absolute/path.sock", url));
    }
    return target;
  }
  if (url.starts_with("https://")) {
    return std::unexpected(fmt::format("\"{}\": https adapters are not supported", url));
  }
  return std::unexpected(fmt::format(
      "\"{}\": expected http://HOST:PORT/PATH, http+unix://%2Fpath.sock/PATH, unix:///path.sock "
      "or builtin",
      url));
}

HookCall makeHttpHookCall(std::string name, AdapterTarget target,
                          std::chrono::milliseconds timeout) {
  const std::string where =
      target.kind == AdapterTarget::Kind::Tcp
          ? fmt::format("http://{}:{}{}", target.host, target.port, target.httpPath)
          : fmt::format("{}:{}", target.socketPath, target.httpPath);
  return [name = std::move(name), target = std::move(target), timeout,
          where](const std::string& hookJson) -> HttpAnswer {
    asio::io_context ioc;
    http::request<http::string_body> request{http::verb::post, target.httpPath, 11};
    // Host: as a URL would say it (brackets around IPv6, the port unless 80).
    const bool v6 = target.host.find(':') != std::string::npos;
    request.set(http::field::host,
                target.kind != AdapterTarget::Kind::Tcp
                    ? std::string("adapter")
                    : (v6 ? "[" + target.host + "]" : target.host) +
                          (target.port == 80 ? "" : ":" + std::to_string(target.port)));
    request.set(http::field::content_type, "application/json");
    request.set(http::field::user_agent, "ovsplane-proxy");
    request.keep_alive(false);
    request.body() = hookJson;
    request.prepare_payload();
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);

    error_code ec;
    if (target.kind == AdapterTarget::Kind::Tcp) {
      asio::ip::tcp::resolver resolver(ioc);
      auto endpoints = resolver.resolve(target.host, std::to_string(target.port), ec);
      if (!ec) {
        beast::basic_stream<asio::ip::tcp> stream(ioc);
        stream.expires_after(timeout);
        ec = postWithin(
            ioc, stream,
            [&](auto handler) {
              stream.async_connect(endpoints, [handler](error_code e, const auto&) { handler(e); });
            },
            request, parser);
      }
    } else {
      beast::basic_stream<asio::local::stream_protocol> stream(ioc);
      stream.expires_after(timeout);
      ec = postWithin(
          ioc, stream,
          [&](auto handler) {
            stream.async_connect(asio::local::stream_protocol::endpoint(target.socketPath),
                                 [handler](error_code e) { handler(e); });
          },
          request, parser);
    }
    if (ec == beast::error::timeout) {
      return errorAnswer(504, fmt::format("adapter {} ({}) did not answer within {} ms", name,
                                          where, timeout.count()));
    }
    if (ec) {
      return errorAnswer(502, fmt::format("adapter {} ({}): {}", name, where, ec.message()));
    }
    auto response = parser.release();
    HttpAnswer answer{response.result_int(), std::string(response[http::field::content_type]),
                      std::move(response.body())};
    if (!isSuccess(answer.status)) {
      // Docker's error shape, the adapter named: the docker CLI prints the message.
      const auto json = parseJsonBounded(answer.body);
      std::string message =
          json.is_object() && json.contains("message") && json["message"].is_string()
              ? json["message"].get<std::string>()
              : answer.body.substr(0, 512);
      while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) {
        message.pop_back();
      }
      // A refusal is an error status; anything else that is not 2xx (1xx, 3xx) is nonsense.
      const unsigned status = answer.status >= 400 && answer.status <= 599 ? answer.status : 502;
      return errorAnswer(status, fmt::format("adapter {}: {}", name, message));
    }
    return answer;
  };
}

std::vector<HookRule> rulesFromConfig(const AdaptersFile& file, const HookCall& builtin,
                                      std::chrono::milliseconds timeout) {
  std::map<std::string, HookCall> calls;
  for (const auto& adapter : file.adapters) {
    auto target = parseAdapterUrl(adapter.url);  // validated by the parser
    if (!target || target->kind == AdapterTarget::Kind::Builtin) {
      calls.emplace(adapter.name, builtin);
    } else {
      calls.emplace(adapter.name, makeHttpHookCall(adapter.name, *target, timeout));
    }
  }
  std::vector<HookRule> rules;
  for (const auto& endpoint : file.endpoints) {
    HookRule rule{endpoint.pattern, {}, {}};
    for (const auto& name : endpoint.pre) rule.pre.push_back(calls.at(name));
    for (const auto& name : endpoint.post) rule.post.push_back(calls.at(name));
    const auto space = endpoint.pattern.find(' ');
    if (endpoint.pattern.compare(space + 1, 3, "/*/") == 0) {
      HookRule unversioned = rule;
      unversioned.pattern =
          endpoint.pattern.substr(0, space + 1) + endpoint.pattern.substr(space + 3);
      rules.push_back(std::move(rule));
      rules.push_back(std::move(unversioned));
    } else {
      rules.push_back(std::move(rule));
    }
  }
  return rules;
}

}  // namespace ovsplane::adapter
