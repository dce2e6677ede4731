// Fuzzes what the proxy does with a request line's target before any hook runs
// (normalizeTarget): a normalized target is a clean absolute path (no empty, "." or ".."
// segments, no raw byte a path may not carry), normalizing it again changes nothing, and routing
// it never crashes. Also bounded JSON parsing of the same bytes (create bodies, hook answers).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "adapter/create_body.h"
#include "adapter/hooks.h"
#include "common/json_limits.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (auto normalized = ovsplane::adapter::normalizeTarget(input)) {
    const std::string& target = *normalized;
    const std::string_view path = std::string_view(target).substr(0, target.find('?'));
    if (path.empty() || path.front() != '/') __builtin_trap();
    if (path.find("//") != std::string_view::npos) __builtin_trap();
    if (path.find("/./") != std::string_view::npos || path.ends_with("/.")) __builtin_trap();
    if (path.find("/../") != std::string_view::npos || path.ends_with("/..")) __builtin_trap();
    for (const char c : path) {
      const auto byte = static_cast<unsigned char>(c);
      if (byte <= 0x20 || byte >= 0x7f || c == '"' || c == '<' || c == '>' || c == '\\') {
        __builtin_trap();
      }
    }
    auto again = ovsplane::adapter::normalizeTarget(target);
    if (!again || *again != target) __builtin_trap();
    (void)ovsplane::adapter::routeRequest("POST", target);
    (void)ovsplane::adapter::routeRequest("DELETE", target);
  }
  const nlohmann::json json = ovsplane::parseJsonBounded(input);
  if (!json.is_discarded() && json.is_object()) {
    (void)ovsplane::adapter::readNetworkRequest(json);
    (void)ovsplane::adapter::checkRewritable(json);
  }
  return 0;
}
