// Fuzzes the decoders of dockerd's replies (container inspect, container lists, event lines):
// any bytes must decode or be refused with a reason, never throw, crash or overflow.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "netdrv/docker_replies.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ovsplane::netdrv;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto parsed = parseReplyJson(input);
  if (!parsed) {
    if (parsed.error().empty()) __builtin_trap();  // every refusal says why
    return 0;
  }
  const ContainerInfo info = containerFromInspect(*parsed);
  if (info.pid < 0 || info.createdMs < 0) __builtin_trap();
  if (auto list = containersFromList(*parsed)) {
    if (list->size() != parsed->size()) __builtin_trap();
    for (const auto& entry : *list) {
      if (entry.createdMs < 0) __builtin_trap();
    }
  }
  if (auto event = containerEventFrom(*parsed); event && event->id.empty()) __builtin_trap();
  return 0;
}
