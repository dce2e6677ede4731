#include "adapter/metrics.h"

#include <fmt/format.h>

#include "adapter/heap_trimmer.h"

namespace ovsplane::adapter {

void Metrics::countHook(const std::string& type, const std::string& route,
                        const std::string& result) {
  std::scoped_lock lock(mutex_);
  ++hooks_[fmt::format("type=\"{}\",route=\"{}\",result=\"{}\"", type, route, result)];
}

void Metrics::countPluginCall(const std::string& method, const std::string& result) {
  std::scoped_lock lock(mutex_);
  ++pluginCalls_[fmt::format("method=\"{}\",result=\"{}\"", method, result)];
}

void Metrics::Histogram::observe(double seconds) {
  for (size_t i = 0; i < kAttachBuckets.size(); ++i) {
    if (seconds <= kAttachBuckets[i]) ++buckets[i];
  }
  ++count;
  sum += seconds;
}

std::string Metrics::Histogram::render(const std::string& name, const std::string& labels) const {
  const std::string sep = labels.empty() ? "" : ",";
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  std::string out;
  for (size_t i = 0; i < kAttachBuckets.size(); ++i) {
    out += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, kAttachBuckets[i],
                       buckets[i]);
  }
  out += fmt::format("{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep, count);
  out += fmt::format("{}_sum{} {}\n", name, braces, sum);
  out += fmt::format("{}_count{} {}\n", name, braces, count);
  return out;
}

void Metrics::observeAttach(std::chrono::duration<double> elapsed,
                            const std::map<std::string, std::chrono::duration<double>>& phases,
                            bool pooled) {
  std::scoped_lock lock(mutex_);
  attach_.observe(elapsed.count());
  for (const auto& [phase, spent] : phases) attachPhases_[phase].observe(spent.count());
  if (pooled) ++attachPooled_;
}

void Metrics::countError(const std::string& kind) {
  std::scoped_lock lock(mutex_);
  ++errors_[kind];
}

std::string Metrics::render(const std::map<std::string, size_t>& addressesByNetwork,
                            long poolReady) const {
  std::scoped_lock lock(mutex_);
  std::string out;
  out += "# HELP ovsplane_hooks_total Powerstrip hooks answered.\n";
  out += "# TYPE ovsplane_hooks_total counter\n";
  for (const auto& [labels, count] : hooks_) {
    out += fmt::format("ovsplane_hooks_total{{{}}} {}\n", labels, count);
  }
  out += "# HELP ovsplane_plugin_calls_total Calls of Docker's network-plugin protocol answered.\n";
  out += "# TYPE ovsplane_plugin_calls_total counter\n";
  for (const auto& [labels, count] : pluginCalls_) {
    out += fmt::format("ovsplane_plugin_calls_total{{{}}} {}\n", labels, count);
  }
  out += "# HELP ovsplane_attach_seconds Time to attach a container to its network.\n";
  out += "# TYPE ovsplane_attach_seconds histogram\n";
  out += attach_.render("ovsplane_attach_seconds", "");
  out += "# HELP ovsplane_attach_phase_seconds An attach's time by what it waited for.\n";
  out += "# TYPE ovsplane_attach_phase_seconds histogram\n";
  for (const auto& [phase, histogram] : attachPhases_) {
    out += histogram.render("ovsplane_attach_phase_seconds", fmt::format("phase=\"{}\"", phase));
  }
  out += "# HELP ovsplane_attach_pooled_total Attaches whose network-only container was pooled.\n";
  out += "# TYPE ovsplane_attach_pooled_total counter\n";
  out += fmt::format("ovsplane_attach_pooled_total {}\n", attachPooled_);
  if (poolReady >= 0) {
    out += "# HELP ovsplane_pool_ready Started network-only containers ready for attaches.\n";
    out += "# TYPE ovsplane_pool_ready gauge\n";
    out += fmt::format("ovsplane_pool_ready {}\n", poolReady);
  }
  out += "# HELP ovsplane_allocated_addresses Addresses this host's endpoints hold, by network.\n";
  out += "# TYPE ovsplane_allocated_addresses gauge\n";
  for (const auto& [network, count] : addressesByNetwork) {
    out += fmt::format("ovsplane_allocated_addresses{{network=\"{}\"}} {}\n", network, count);
  }
  // malloc's own view of this process's heap: what is allocated, and what it holds freed (RSS
  // that returns to the system only when trimmed).
  const HeapUsage heap = heapUsage();
  out += "# HELP ovsplane_heap_bytes The process's heap by malloc: in use, or freed and held.\n";
  out += "# TYPE ovsplane_heap_bytes gauge\n";
  out += fmt::format("ovsplane_heap_bytes{{state=\"in_use\"}} {}\n", heap.inUse);
  out += fmt::format("ovsplane_heap_bytes{{state=\"held\"}} {}\n", heap.held);
  out += "# HELP ovsplane_errors_total Errors by operation.\n";
  out += "# TYPE ovsplane_errors_total counter\n";
  for (const auto& [kind, count] : errors_) {
    out += fmt::format("ovsplane_errors_total{{operation=\"{}\"}} {}\n", kind, count);
  }
  return out;
}

}  // namespace ovsplane::adapter
