// netlink benchmarks: the attach path's veth wiring into a namespace, and its removal.
// Run (root; creates and deletes the namespace ovpnlbench): scripts/bench.sh netlink
// Results: docs/benchmarks.md.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "netdrv/netlink.h"

namespace ovsplane::netdrv {
namespace {

/** A namespace of the benchmark's own ("ovpnlb<suffix>"), deleted with the object. */
struct ScratchNamespace {
  explicit ScratchNamespace(const std::string& suffix) : name("ovpnlb" + suffix) {
    (void)std::system(fmt::format("ip netns del {} 2>/dev/null", name).c_str());
    ok = std::system(fmt::format("ip netns add {}", name).c_str()) == 0;
  }
  ~ScratchNamespace() {
    if (ok) (void)std::system(fmt::format("ip netns del {}", name).c_str());
  }
  ScratchNamespace(const ScratchNamespace&) = delete;
  ScratchNamespace& operator=(const ScratchNamespace&) = delete;
  NamespaceRef ref() const { return NamespaceRef::ofPath("/run/netns/" + name); }
  std::string name;
  bool ok = false;
};

/** The namespace of BM_DeleteWiredVeth ("ovpnlbench"): created before the first benchmark (it
 *  also tells whether this process may make namespaces), deleted after the last. */
const ScratchNamespace& benchNamespace() {
  static const ScratchNamespace ns("bench");
  return ns;
}

VethSpec benchSpec(bool disableTxChecksum) {
  VethSpec spec;
  spec.hostName = "ovhbench0";
  spec.peerName = "ovcbench0";
  spec.mac = {0x02, 0x42, 0x0a, 0x58, 0x00, 0x05};
  spec.address = *ipam::Ipv4Address::parse("10.88.0.5");
  spec.prefixLength = 24;
  spec.gateway = *ipam::Ipv4Address::parse("10.88.0.1");
  spec.disableTxChecksum = disableTxChecksum;
  return spec;
}

/** Wiring one veth into a container's namespace (create, configure inside, host end up), as an
 *  attach does; `range(0)` = 1 turns TX checksum offload off as on the netdev datapath;
 *  `range(1)` pairs are wired before the timed loop, their host ends beside the new ones and
 *  their container ends in a namespace of their own (an attach at container #1,000 of a host).
 *  Each iteration wires into a fresh namespace, as each container has its own; the pairs are
 *  removed after the timed loop (a removal's deferred kernel work would otherwise land in the
 *  next iteration's time). */
void BM_WireContainer(benchmark::State& state) {
  if (!benchNamespace().ok) {
    state.SkipWithError("ip netns add failed (needs root)");
    return;
  }
  NetlinkPtr netlink = makeLinuxNetlink();
  std::vector<std::string> wired;
  const ScratchNamespace crowdNamespace("crowd");
  for (int64_t i = 0; i < state.range(1); i++) {
    VethSpec spec = benchSpec(true);
    spec.hostName = fmt::format("ovhcrowd{}", i);
    spec.peerName = fmt::format("ovccrowd{}", i);
    spec.containerName = fmt::format("crowd{}", i);
    spec.gateway.reset();
    if (auto done = netlink->wireContainer(spec, crowdNamespace.ref()); !done) {
      state.SkipWithError(done.error().message.c_str());
      break;
    }
    wired.push_back(spec.hostName);
  }
  std::vector<std::unique_ptr<ScratchNamespace>> containers;
  for (auto _ : state) {
    state.PauseTiming();
    containers.push_back(std::make_unique<ScratchNamespace>(std::to_string(containers.size())));
    state.ResumeTiming();
    VethSpec spec = benchSpec(state.range(0) == 1);
    spec.hostName = fmt::format("ovhbench{}", containers.size());
    spec.peerName = fmt::format("ovcbench{}", containers.size());
    if (auto done = netlink->wireContainer(spec, containers.back()->ref()); !done) {
      state.SkipWithError(done.error().message.c_str());
      break;
    }
    wired.push_back(spec.hostName);
  }
  for (const std::string& name : wired) (void)netlink->deleteLink(name);
}
BENCHMARK(BM_WireContainer)
    ->ArgNames({"tx_csum_off", "present"})
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({1, 1000})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

/** Deleting a wired veth from the host side (the detach path). */
void BM_DeleteWiredVeth(benchmark::State& state) {
  const ScratchNamespace& ns = benchNamespace();
  if (!ns.ok) {
    state.SkipWithError("ip netns add failed (needs root)");
    return;
  }
  NetlinkPtr netlink = makeLinuxNetlink();
  const VethSpec spec = benchSpec(true);
  for (auto _ : state) {
    state.PauseTiming();
    if (auto wired = netlink->wireContainer(spec, ns.ref()); !wired) {
      state.SkipWithError(wired.error().message.c_str());
      return;
    }
    state.ResumeTiming();
    (void)netlink->deleteLink(spec.hostName);
  }
}
BENCHMARK(BM_DeleteWiredVeth)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace ovsplane::netdrv

BENCHMARK_MAIN();
