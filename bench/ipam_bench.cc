// ipam benchmarks: allocation cost against fill level, and filling whole networks.
// Run: scripts/bench.sh ipam   (results: docs/benchmarks.md)
#include <benchmark/benchmark.h>

#include <unistd.h>
#include <fstream>
#include <random>
#include <string>

#include "ipam/allocator.h"
#include "ipam/memory_store.h"

namespace ovsplane::ipam {
namespace {

Subnet subnetOf(const char* text) { return *Subnet::parse(text); }

/** Resident set size of this process, from /proc/self/statm. */
long residentBytes() {
  std::ifstream statm("/proc/self/statm");
  long size = 0;
  long resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

/** One allocate + release on a /16 already holding `range(0)` per mille of its addresses;
 *  `range(1)` = 1 scatters the held addresses at random (worst case for the free-bit scan). */
void BM_AllocateRelease(benchmark::State& state) {
  const Subnet net = subnetOf("10.20.0.1/16");
  auto store = std::make_shared<MemoryStore>();
  Allocator allocator(store);
  const auto held = static_cast<uint32_t>(net.hostCount() * state.range(0) / 1000);
  if (state.range(1) == 0) {
    for (uint32_t i = 0; i < held; ++i) allocator.allocate(net, "held" + std::to_string(i)).value();
  } else {
    std::mt19937 rng(7);
    for (uint32_t i = 0; i < held;) {
      const Ipv4Address candidate(net.firstHost().value() +
                                  static_cast<uint32_t>(rng() % net.hostCount()));
      if (candidate == net.gateway()) continue;
      if (allocator.allocate(net, "held" + std::to_string(i), candidate)) ++i;
    }
  }
  for (auto _ : state) {
    auto address = allocator.allocate(net, "churn");
    benchmark::DoNotOptimize(address);
    allocator.release(net, "churn").value();
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["held"] = held;
}
BENCHMARK(BM_AllocateRelease)
    ->ArgsProduct({{0, 500, 990}, {0, 1}})
    ->ArgNames({"fill_permille", "scattered"});

/** Fill a whole network from empty with distinct owners; reports bitmap and RSS growth. */
void fillNetwork(benchmark::State& state, const char* cidr) {
  const Subnet net = subnetOf(cidr);
  const uint32_t assignable = net.hostCount() - 1;
  std::vector<std::string> owners;
  owners.reserve(assignable);
  for (uint32_t i = 0; i < assignable; ++i) owners.push_back("c" + std::to_string(i));
  double rssGrowth = 0;
  double bitmap = 0;
  std::shared_ptr<MemoryStore> store;
  for (auto _ : state) {
    state.PauseTiming();
    store.reset();  // freeing the previous fill is not part of filling
    store = std::make_shared<MemoryStore>();
    Allocator allocator(store);
    const long before = residentBytes();
    state.ResumeTiming();
    for (const std::string& owner : owners) {
      auto address = allocator.allocate(net, owner);
      if (!address) state.SkipWithError(address.error().message.c_str());
    }
    state.PauseTiming();
    if (rssGrowth == 0) {  // the first fill only: later ones reuse memory the allocator kept
      rssGrowth = static_cast<double>(residentBytes() - before);
    }
    bitmap = static_cast<double>(store->bitmapBytes(net));
    if (allocator.allocate(net, "one-more")) state.SkipWithError("network not full");
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * assignable);
  state.counters["addresses"] = assignable;
  state.counters["bitmap_MiB"] = bitmap / (1024.0 * 1024.0);
  state.counters["first_fill_rss_growth_MiB"] = rssGrowth / (1024.0 * 1024.0);
  state.counters["first_fill_rss_per_lease_B"] = rssGrowth / assignable;
}

void BM_FillSlash16(benchmark::State& state) { fillNetwork(state, "10.30.0.1/16"); }
BENCHMARK(BM_FillSlash16)->Unit(benchmark::kMillisecond);

void BM_FillSlash8(benchmark::State& state) { fillNetwork(state, "10.0.0.1/8"); }
BENCHMARK(BM_FillSlash8)->Unit(benchmark::kMillisecond)->Iterations(1);

/** What a /8 network costs before and regardless of its leases: the allocation bitmap. */
void BM_Slash8Bookkeeping(benchmark::State& state) {
  const Subnet net = subnetOf("10.0.0.1/8");
  double rssGrowth = 0;
  double bitmap = 0;
  for (auto _ : state) {
    auto store = std::make_shared<MemoryStore>();
    Allocator allocator(store);
    const long before = residentBytes();
    allocator.allocate(net, "first").value();
    allocator.allocate(net, "last", net.lastHost()).value();  // touch both ends of the bitmap
    rssGrowth = static_cast<double>(residentBytes() - before);
    bitmap = static_cast<double>(store->bitmapBytes(net));
  }
  state.counters["bitmap_MiB"] = bitmap / (1024.0 * 1024.0);
  state.counters["rss_growth_MiB"] = rssGrowth / (1024.0 * 1024.0);
}
BENCHMARK(BM_Slash8Bookkeeping)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
}  // namespace ovsplane::ipam

BENCHMARK_MAIN();
