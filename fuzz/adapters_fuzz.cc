// Fuzzes Powerstrip's adapters.yml parser: any bytes must parse to a validated file or be
// refused with a message naming the source, never throw or crash; in a file that parses every
// endpoint names defined adapters and every adapter URL is usable.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <set>

#include "adapter/adapters_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ovsplane::adapter;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto file = parseAdaptersYaml(input, "adapters.yml");
  if (!file) {
    if (!file.error().starts_with("adapters.yml")) __builtin_trap();  // the source is named
    return 0;
  }
  std::set<std::string> defined;
  for (const auto& adapter : file->adapters) {
    if (!parseAdapterUrl(adapter.url)) __builtin_trap();
    defined.insert(adapter.name);
  }
  for (const auto& endpoint : file->endpoints) {
    if (endpoint.pre.empty() && endpoint.post.empty()) __builtin_trap();
    for (const auto& names : {endpoint.pre, endpoint.post}) {
      for (const auto& name : names) {
        if (!defined.contains(name)) __builtin_trap();
      }
    }
  }
  return 0;
}
