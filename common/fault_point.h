#pragma once
// Named fault points for crash tests: the e2e kill -9 sweep (integration/test_lifecycle.sh)
// starts the daemon with OVSPLANE_FAULT_POINT=<name>; the first thread that reaches that point
// says so on stderr and blocks there for good, so the test can kill the process at exactly that
// moment. Without the variable a fault point costs one comparison against a cached null pointer.
// Test-only: not a documented setting of the product.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace ovsplane {

inline void faultPoint(std::string_view name) {
  static const char* const wanted = std::getenv("OVSPLANE_FAULT_POINT");
  if (wanted == nullptr || name != wanted) return;
  std::fprintf(stderr, "[warning] fault point %.*s reached: pausing until killed\n",
               static_cast<int>(name.size()), name.data());
  std::fflush(stderr);
  for (;;) pause();
}

}  // namespace ovsplane
