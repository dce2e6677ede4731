#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "adapter/adapters_file.h"
#include "adapter/http/client.h"
#include "adapter/proxy.h"

namespace ovsplane::adapter {

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
