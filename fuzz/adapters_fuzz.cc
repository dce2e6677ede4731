// Fuzzes Powerstrip's adapters.yml parser: any bytes must parse to a validated file or be
// refused with a message naming the source, never throw or crash; a file that parses gives
// rules whose adapter names all resolve.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "adapter/proxy_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ovsplane::adapter;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto file = parseAdaptersYaml(input, "adapters.yml");
  if (!file) {
    if (!file.error().starts_with("adapters.yml")) __builtin_trap();  // the source is named
    return 0;
  }
  const HookCall builtin = [](const std::string&) { return HttpAnswer{}; };
  const auto rules = rulesFromConfig(*file, builtin, std::chrono::milliseconds(1));
  if (rules.size() < file->endpoints.size()) __builtin_trap();
  return 0;
}
