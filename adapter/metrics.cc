#include "adapter/metrics.h"

#include <fmt/format.h>

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

void Metrics::observeAttach(std::chrono::duration<double> elapsed) {
  std::scoped_lock lock(mutex_);
  const double seconds = elapsed.count();
  for (size_t i = 0; i < kAttachBuckets.size(); ++i) {
    if (seconds <= kAttachBuckets[i]) ++attachBuckets_[i];
  }
  ++attachCount_;
  attachSum_ += seconds;
}

void Metrics::countError(const std::string& kind) {
  std::scoped_lock lock(mutex_);
  ++errors_[kind];
}

std::string Metrics::render(const std::map<std::string, size_t>& addressesByNetwork) const {
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
  for (size_t i = 0; i < kAttachBuckets.size(); ++i) {
    out += fmt::format("ovsplane_attach_seconds_bucket{{le=\"{}\"}} {}\n", kAttachBuckets[i],
                       attachBuckets_[i]);
  }
  out += fmt::format("ovsplane_attach_seconds_bucket{{le=\"+Inf\"}} {}\n", attachCount_);
  out += fmt::format("ovsplane_attach_seconds_sum {}\n", attachSum_);
  out += fmt::format("ovsplane_attach_seconds_count {}\n", attachCount_);
  out += "# HELP ovsplane_allocated_addresses Addresses this host's endpoints hold, by network.\n";
  out += "# TYPE ovsplane_allocated_addresses gauge\n";
  for (const auto& [network, count] : addressesByNetwork) {
    out += fmt::format("ovsplane_allocated_addresses{{network=\"{}\"}} {}\n", network, count);
  }
  out += "# HELP ovsplane_errors_total Errors by operation.\n";
  out += "# TYPE ovsplane_errors_total counter\n";
  for (const auto& [kind, count] : errors_) {
    out += fmt::format("ovsplane_errors_total{{operation=\"{}\"}} {}\n", kind, count);
  }
  return out;
}

}  // namespace ovsplane::adapter
