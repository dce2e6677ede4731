// unit: the heap trimmer against glibc's own allocator (__libc_malloc: the sanitizers' allocator
// does not hide it), so the same test means the same under ASan and in a release build.
#include "adapter/heap_trimmer.h"

#include <gtest/gtest.h>

#include <vector>

extern "C" void* __libc_malloc(size_t size);
extern "C" void __libc_free(void* pointer);

namespace ovsplane::adapter {
namespace {

/** Holds `count` blocks of glibc's heap and frees every other one: freed memory malloc keeps
 *  (the kept neighbours stop it from coalescing and going back). */
class FragmentedHeap {
 public:
  explicit FragmentedHeap(size_t count) {
    for (size_t i = 0; i < count; i++) blocks_.push_back(__libc_malloc(1024));
    for (size_t i = 0; i < blocks_.size(); i += 2) {
      __libc_free(blocks_[i]);
      blocks_[i] = nullptr;
    }
  }
  ~FragmentedHeap() {
    for (void* block : blocks_) __libc_free(block);
  }
  FragmentedHeap(const FragmentedHeap&) = delete;
  FragmentedHeap& operator=(const FragmentedHeap&) = delete;

 private:
  std::vector<void*> blocks_;
};

TEST(HeapTrimmer, TrimsOnlyWhenMallocHoldsMoreThanTheThreshold) {
  FragmentedHeap heap(8192);  // 4 MiB freed and held
  EXPECT_GT(heapUsage().held, size_t{2} << 20);
  EXPECT_GT(heapUsage().inUse, size_t{2} << 20);
  HeapTrimmer generous(std::chrono::hours(1), size_t{1} << 40);
  EXPECT_FALSE(generous.trimIfHeld());
  HeapTrimmer strict(std::chrono::hours(1), size_t{1} << 20);
  EXPECT_TRUE(strict.trimIfHeld());
}

TEST(HeapTrimmer, StopsPromptlyAndTwice) {
  HeapTrimmer trimmer(std::chrono::hours(1), 0);
  trimmer.start();
  const auto started = std::chrono::steady_clock::now();
  trimmer.stop();
  trimmer.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

}  // namespace
}  // namespace ovsplane::adapter
