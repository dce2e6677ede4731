// ovsdb benchmarks: allocations and attach-sized transactions per second against real
// ovsdb-servers (standalone on a unix socket; a 3-member Raft cluster on loopback TCP).
// Run: scripts/bench.sh ovsdb   (results: docs/benchmarks.md)
#include <benchmark/benchmark.h>

#include <atomic>
#include <memory>
#include <mutex>

#include "ipam/allocator.h"
#include "ovsdb/state_store.h"
#include "ovsdb/switch.h"
#include "tests/support/ovsdb_cluster.h"
#include "tests/support/ovsdb_server.h"

namespace ovsplane::ovsdb {
namespace {

using namespace std::chrono_literals;

/** One database shared by every run of a benchmark (and its threads). */
struct StateFixture {
  std::unique_ptr<testing::OvsdbServer> server;
  std::unique_ptr<testing::OvsdbCluster> cluster;
  std::shared_ptr<StateStore> store;
  ipam::Subnet subnet = *ipam::Subnet::parse("10.128.0.1/12");
  std::atomic<uint64_t> nextOwner{0};

  explicit StateFixture(bool raft) {
    if (raft) {
      cluster = std::make_unique<testing::OvsdbCluster>(testing::stateSchemaPath(), "OVSPlane");
    } else {
      server = std::make_unique<testing::OvsdbServer>(testing::stateSchemaPath());
    }
    store = std::make_shared<StateStore>(
        ClientOptions{.remote = raft ? cluster->remote() : server->remote(),
                      .leaderOnly = true,
                      .timeout = 30s},
        "bench");
    store->ensureNetwork(subnet).value();
  }
};

StateFixture& stateFixture(bool raft) {
  static std::unique_ptr<StateFixture> standalone;
  static std::unique_ptr<StateFixture> clustered;
  static std::mutex mutex;
  std::scoped_lock lock(mutex);
  auto& slot = raft ? clustered : standalone;
  if (!slot) slot = std::make_unique<StateFixture>(raft);
  return *slot;
}

/** One allocation (new owner) through the Allocator and the state database. */
void allocate(benchmark::State& state, bool raft) {
  StateFixture& fixture = stateFixture(raft);
  ipam::Allocator allocator(fixture.store);
  for (auto _ : state) {
    const std::string owner = "o" + std::to_string(fixture.nextOwner++);
    auto address = allocator.allocate(fixture.subnet, owner);
    if (!address) {
      state.SkipWithError(address.error().message.c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_AllocateStandalone(benchmark::State& state) { allocate(state, false); }
BENCHMARK(BM_AllocateStandalone)->Threads(1)->Threads(4)->Threads(16)->UseRealTime()->MinTime(2);

void BM_AllocateRaft(benchmark::State& state) { allocate(state, true); }
BENCHMARK(BM_AllocateRaft)->Threads(1)->Threads(16)->UseRealTime()->MinTime(2);

/** An attach-sized Open_vSwitch transaction: ensure the bridge, one access port, one tunnel. */
void BM_SwitchAttachTransaction(benchmark::State& state) {
  static testing::OvsdbServer server(testing::vswitchSchemaPath());
  static Switch sw(ClientOptions{.remote = server.remote(), .leaderOnly = false, .timeout = 30s});
  static std::atomic<uint64_t> next{0};
  for (auto _ : state) {
    const uint64_t n = next++;
    SwitchChanges changes;
    changes
        .ensureBridge({.name = "ovpbr9",
                       .datapath = DatapathType::Netdev,
                       .externalIds = {},
                       .hwaddr = "",
                       .localMtu = 0,
                       .localProtected = false})
        .ensurePort({.bridge = "ovpbr9",
                     .name = "ovh" + std::to_string(n),
                     .type = "",
                     .options = {},
                     .externalIds = {{"ovsplane-container", std::to_string(n)}},
                     .isProtected = false})
        .ensureVxlanPort("ovpbr9", "ovx9-1", "192.168.77.1", 9);
    if (auto result = sw.apply(changes); !result) {
      state.SkipWithError(result.error().message.c_str());
      break;
    }
    SwitchChanges detach;
    detach.deletePort("ovh" + std::to_string(n));
    if (auto result = sw.apply(detach); !result) {
      state.SkipWithError(result.error().message.c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * 2);  // attach + detach transactions
}
BENCHMARK(BM_SwitchAttachTransaction)->Threads(1)->UseRealTime()->MinTime(2);

}  // namespace
}  // namespace ovsplane::ovsdb

BENCHMARK_MAIN();
