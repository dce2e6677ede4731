#pragma once
// malloc's count of this process's heap (glibc's mallinfo2, every arena). Header-only.

#include <malloc.h>

#include <cstddef>

namespace ovsplane {

struct HeapUsage {
  size_t inUse = 0;  ///< allocated and not yet freed (mmapped blocks included)
  size_t held = 0;   ///< freed, still kept by malloc (resident until trimmed or reused)
};

inline HeapUsage heapUsage() {
  const struct mallinfo2 info = mallinfo2();
  return HeapUsage{.inUse = info.uordblks + info.hblkhd, .held = info.fordblks};
}

}  // namespace ovsplane
