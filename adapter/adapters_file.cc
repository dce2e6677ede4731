#include "adapter/adapters_file.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "common/host_port.h"

namespace ovsplane::adapter {
namespace {

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
    auto hostPort = parseHostPort(authority, 80);
    if (!hostPort) return std::unexpected(fmt::format("\"{}\": {}", url, hostPort.error()));
    target.host = std::move(hostPort->host);
    target.port = hostPort->port;
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

}  // namespace ovsplane::adapter
