#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>

namespace ovsplane::adapter {

/**
 * The hook server's counters, rendered in Prometheus' text format for GET /metrics.
 * Thread-safe; counters never reset.
 */
class Metrics {
 public:
  /** A hook was answered: `type` "pre-hook"/"post-hook"/"invalid", `result` "ok"/"error". */
  void countHook(const std::string& type, const std::string& route, const std::string& result);
  /** An attach (pre-hook create with a CIDR) took `elapsed`, split as `phases` says (state_db,
   *  docker, netlink, ovsdb); `pooled`: its network-only container came from the pool. */
  void observeAttach(std::chrono::duration<double> elapsed,
                     const std::map<std::string, std::chrono::duration<double>>& phases = {},
                     bool pooled = false);
  /** A call of Docker's plugin protocol was answered: `method` "NetworkDriver.Join"...,
   *  `result` "ok"/"error". */
  void countPluginCall(const std::string& method, const std::string& result);
  /** An error of `kind` (e.g. "attach", "rollback", "ensure_wired", "detach"). */
  void countError(const std::string& kind);

  /** `addressesByNetwork`: CIDR -> addresses this host holds; `poolReady`: started
   *  network-only containers ready (gauges, passed in at render; -1: no pool). */
  std::string render(const std::map<std::string, size_t>& addressesByNetwork,
                     long poolReady = -1) const;

  static constexpr std::array<double, 10> kAttachBuckets = {0.005, 0.01, 0.025, 0.05, 0.1,
                                                            0.25,  0.5,  1,     2.5,  5};

 private:
  mutable std::mutex mutex_;
  std::map<std::string, uint64_t> hooks_;        // rendered label set -> count
  std::map<std::string, uint64_t> errors_;       // kind -> count
  std::map<std::string, uint64_t> pluginCalls_;  // rendered label set -> count
  /** A Prometheus histogram over kAttachBuckets. */
  struct Histogram {
    std::array<uint64_t, kAttachBuckets.size()> buckets{};
    uint64_t count = 0;
    double sum = 0;
    void observe(double seconds);
    /** Its _bucket, _sum and _count lines; `labels` ("phase=\"docker\"") may be empty. */
    std::string render(const std::string& name, const std::string& labels) const;
  };
  Histogram attach_;
  std::map<std::string, Histogram> attachPhases_;  // phase -> histogram
  uint64_t attachPooled_ = 0;
};

}  // namespace ovsplane::adapter
