#pragma once
// The wall clock as the state database records times (last_seen, created_at): milliseconds since
// the epoch. Header-only.

#include <chrono>
#include <cstdint>

namespace ovsplane {

inline int64_t wallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace ovsplane
