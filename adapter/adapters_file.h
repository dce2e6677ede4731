#pragma once
// Powerstrip's adapters.yml: reading and validating it (no I/O beyond reading the file).

#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "adapter/http/client.h"

namespace ovsplane::adapter {

/** One entry of `endpoints:` in adapters.yml: a "METHOD PATH" glob and adapter names. */
struct EndpointConfig {
  std::string pattern;
  std::vector<std::string> pre;
  std::vector<std::string> post;
  int line = 0;  ///< 1-based, for messages
};

/** One entry of `adapters:`: a name and where it is (see parseAdapterUrl). */
struct AdapterConfig {
  std::string name;
  std::string url;
  int line = 0;
};

/** Powerstrip's adapters.yml, validated. */
struct AdaptersFile {
  std::vector<EndpointConfig> endpoints;  ///< file order (it is the chaining order)
  std::vector<AdapterConfig> adapters;
};

/**
 * Parses and validates Powerstrip's adapters.yml (`version: 1`, `endpoints:`, `adapters:`).
 * Stricter than Powerstrip: duplicate keys, unknown keys, an endpoint without pre and post, an
 * undefined adapter name and an unusable URL are errors. Messages name the source, the line and
 * the key: "adapters.yml:7: endpoint \"POST /x\": adapter \"foo\" is not defined". Pure.
 */
std::expected<AdaptersFile, std::string> parseAdaptersYaml(std::string_view text,
                                                           std::string_view source);

/** Reads and parses a file (errors name the path). */
std::expected<AdaptersFile, std::string> loadAdaptersFile(const std::filesystem::path& path);

/** Where an adapter listens. */
struct AdapterTarget {
  enum class Kind { Builtin, Tcp, Unix } kind = Kind::Builtin;
  std::string host;        ///< Tcp
  uint16_t port = 0;       ///< Tcp
  std::string socketPath;  ///< Unix
  std::string httpPath;    ///< Tcp and Unix: the path POSTed to
  /** Where to connect (Tcp and Unix). */
  StreamAddress address() const {
    StreamAddress out;
    out.tcp = kind == Kind::Tcp;
    out.path = socketPath;
    out.host = host;
    out.port = port;
    return out;
  }
};

/**
 * The adapter URLs ovsplane understands:
 *  - `builtin` (or `builtin:ovsplane`): ovsplane's own adapter, in-process;
 *  - `http://HOST[:PORT]/PATH` (port 80 by default);
 *  - `http+unix://%2Frun%2Fadapter.sock/PATH`: the socket path percent-encoded, as docker-py
 *    and requests-unixsocket write it;
 *  - `unix:///run/adapter.sock` (POSTs to /adapter, ovsplane's own hook path).
 */
std::expected<AdapterTarget, std::string> parseAdapterUrl(std::string_view url);

}  // namespace ovsplane::adapter
