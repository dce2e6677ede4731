// Fuzzes Powerstrip hook decoding and Docker API routing: any bytes must decode to a hook or a
// message, never crash; a decoded hook re-encodes to JSON that decodes back to the same request.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "adapter/hooks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto hook = ovsplane::adapter::decodeHook(input);
  if (!hook) {
    if (hook.error().empty()) __builtin_trap();  // every refusal says why
    return 0;
  }
  (void)ovsplane::adapter::routeRequest(hook->client.method, hook->client.request);
  if (hook->type == ovsplane::adapter::HookType::Pre) {
    const std::string encoded = ovsplane::adapter::encodeModifiedClientRequest(hook->client);
    auto reparsed = nlohmann::json::parse(encoded);
    const auto& modified = reparsed.at("ModifiedClientRequest");
    if (modified.at("Request").get<std::string>() != hook->client.request) __builtin_trap();
    if (hook->client.body && modified.at("Body").get<std::string>() != *hook->client.body) {
      __builtin_trap();
    }
  } else {
    (void)ovsplane::adapter::encodeModifiedServerResponse(*hook->server);
  }
  // Routing on arbitrary method/target pairs as well.
  const size_t split = size / 2;
  (void)ovsplane::adapter::routeRequest(input.substr(0, split), input.substr(split));
  return 0;
}
