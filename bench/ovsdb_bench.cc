// ovsdb benchmarks: allocations and attach-sized transactions per second against real
// ovsdb-servers (standalone on a unix socket; a 3-member Raft cluster on loopback TCP).
// Run: scripts/bench.sh ovsdb   (results: docs/benchmarks.md)
#include <benchmark/benchmark.h>

#include "common/heap_usage.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>

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

SwitchChanges bridgeWithPorts(const std::string& bridge, uint64_t first, uint64_t count,
                              const std::string& type) {
  SwitchChanges changes;
  changes.ensureBridge({.name = bridge,
                        .datapath = DatapathType::Netdev,
                        .externalIds = {},
                        .hwaddr = "",
                        .localMtu = 0,
                        .localProtected = false});
  for (uint64_t n = first; n < first + count; n++) {
    changes.ensurePort({.bridge = bridge,
                        .name = "ovh" + std::to_string(n),
                        .type = type,
                        .options = {},
                        .externalIds = {{"ovsplane-container", std::to_string(n)}},
                        .isProtected = false});
  }
  return changes;
}

/**
 * An attach-sized Open_vSwitch transaction (ensure the bridge, one access port, one tunnel) and
 * a detach's, on a bridge that already has range(0) ports: what an attach costs at the 10th and
 * at the 1,000th container of a network.
 */
void BM_SwitchAttachTransaction(benchmark::State& state) {
  const auto present = static_cast<uint64_t>(state.range(0));
  testing::OvsdbServer server(testing::vswitchSchemaPath());
  Switch sw(ClientOptions{.remote = server.remote(), .leaderOnly = false, .timeout = 30s});
  if (auto filled = sw.apply(bridgeWithPorts("ovpbr9", 1'000'000, present, "")); !filled) {
    state.SkipWithError(filled.error().message.c_str());
    return;
  }
  uint64_t next = 0;
  for (auto _ : state) {
    const uint64_t n = next++;
    SwitchChanges changes = bridgeWithPorts("ovpbr9", n, 1, "");
    changes.ensureVxlanPort("ovpbr9", "ovx9-1", "192.168.77.1", 9);
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
BENCHMARK(BM_SwitchAttachTransaction)->Arg(0)->Arg(1000)->UseRealTime()->MinTime(2);

/**
 * The memory of a fresh connection's Open_vSwitch replica when ovs-vswitchd (userspace datapath,
 * its own namespace; root) runs range(0) ports, internal ones, which it fills with its status
 * columns: bytes per port, and the time the first full replica takes.
 */
void BM_SwitchReplica(benchmark::State& state) {
  const auto ports = static_cast<uint64_t>(state.range(0));
  testing::OvsdbServer server(testing::vswitchSchemaPath());
  std::optional<testing::OvsVswitchd> vswitchd;
  try {
    vswitchd.emplace(server);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  const ClientOptions options{.remote = server.remote(), .leaderOnly = false, .timeout = 60s};
  {
    Switch filler(options);
    for (uint64_t first = 0; first < ports; first += 100) {
      auto cfg = filler.apply(
          bridgeWithPorts("ovpbr8", first, std::min<uint64_t>(100, ports - first), "internal"));
      if (!cfg || !filler.waitApplied(*cfg, 60s)) {
        state.SkipWithError("could not fill the bridge");
        return;
      }
    }
  }
  size_t perPort = 0;
  for (auto _ : state) {
    const size_t before = heapUsage().inUse;
    Switch sw(options);
    auto snapshot = sw.snapshot();
    if (!snapshot || snapshot->ports.size() < ports) {
      state.SkipWithError("the replica is incomplete");
      break;
    }
    perPort = (heapUsage().inUse - before) / std::max<uint64_t>(ports, 1);
  }
  state.counters["heap_bytes_per_port"] = static_cast<double>(perPort);
}
BENCHMARK(BM_SwitchReplica)->Arg(500)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

}  // namespace
}  // namespace ovsplane::ovsdb

BENCHMARK_MAIN();
