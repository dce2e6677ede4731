#include "adapter/heap_trimmer.h"

#include <malloc.h>

namespace ovsplane::adapter {

void keepHeapThresholdsFixed() {
  constexpr int kThreshold = 128 * 1024;
  mallopt(M_MMAP_THRESHOLD, kThreshold);
  mallopt(M_TRIM_THRESHOLD, kThreshold);
}

HeapTrimmer::HeapTrimmer(std::chrono::milliseconds interval, size_t threshold)
    : interval_(interval), threshold_(threshold) {}

HeapTrimmer::~HeapTrimmer() { stop(); }

void HeapTrimmer::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { loop(); });
}

void HeapTrimmer::stop() {
  {
    std::scoped_lock lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool HeapTrimmer::trimIfHeld() {
  if (heapUsage().held <= threshold_) return false;
  malloc_trim(0);
  return true;
}

void HeapTrimmer::loop() {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, interval_, [this] { return stopping_; })) {
    lock.unlock();
    trimIfHeld();
    lock.lock();
  }
}

}  // namespace ovsplane::adapter
