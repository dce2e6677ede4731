#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "adapter/proxy.h"

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

/**
 * A HookCall that POSTs the hook to an external adapter, one connection per hook (as Powerstrip
 * does), giving up after `timeout` (connect, send and answer together). Never throws; failures
 * become Docker-style error answers naming the adapter: 504 on timeout, 502 when unreachable,
 * and an adapter's own non-2xx answer keeps its status with the adapter named in the message.
 */
HookCall makeHttpHookCall(std::string name, AdapterTarget target,
                          std::chrono::milliseconds timeout);

/**
 * The proxy's rules for a validated file: each endpoint's adapters in file order; `builtin`
 * serves adapters whose URL is builtin. A pattern for versioned paths (its path begins with
 * slash, star, slash) also matches the same path without the version: clients that send no API
 * version use those.
 */
std::vector<HookRule> rulesFromConfig(const AdaptersFile& file, const HookCall& builtin,
                                      std::chrono::milliseconds timeout);

}  // namespace ovsplane::adapter
