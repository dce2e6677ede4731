#pragma once
// Gives the heap's freed memory back to the system now and then.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>

#include "common/heap_usage.h"

namespace ovsplane::adapter {

/**
 * Pins malloc's mmap and trim thresholds at glibc's defaults (128 KiB). Left alone, glibc raises
 * both after the first large block is freed (up to 32 / 64 MiB): from then on large blocks come
 * from the arenas instead of mmap, and an arena keeps that much free memory at its top, resident,
 * for good. A daemon whose large blocks are transient (a Docker answer, a snapshot of every port)
 * pays that in every arena its threads use. Call before starting threads; idempotent.
 */
void keepHeapThresholdsFixed();

/**
 * Every `interval`, when malloc holds more than `threshold` bytes freed, asks it to return their
 * pages (malloc_trim). glibc keeps what a thread frees in that thread's arena for reuse; the
 * proxy's and hook server's threads come and go with connections, and an attach's buffers are
 * freed in other arenas than they were made, so the held memory grows with the work done, not
 * with what is live. Owns one thread: start() once, stop() (or destruction) joins it.
 * Idempotent stop; never fails (a trim that frees nothing is harmless).
 */
class HeapTrimmer {
 public:
  HeapTrimmer(std::chrono::milliseconds interval, size_t threshold);
  ~HeapTrimmer();
  HeapTrimmer(const HeapTrimmer&) = delete;
  HeapTrimmer& operator=(const HeapTrimmer&) = delete;

  void start();
  void stop();
  /** Trims once, now, when more than the threshold is held; true when it trimmed. */
  bool trimIfHeld();

 private:
  void loop();

  const std::chrono::milliseconds interval_;
  const size_t threshold_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace ovsplane::adapter
