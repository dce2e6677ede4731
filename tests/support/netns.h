#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace ovsplane::testing {

/** True when the test runs as root (network namespaces, ovs-vswitchd). */
bool isRoot();

/** A fresh network namespace (`ip netns add`), deleted on destruction. Requires root. */
class NetworkNamespace {
 public:
  NetworkNamespace();
  ~NetworkNamespace();
  NetworkNamespace(const NetworkNamespace&) = delete;
  NetworkNamespace& operator=(const NetworkNamespace&) = delete;
  const std::string& name() const { return name_; }
  /** Runs a command inside the namespace (`ip netns exec`). */
  CommandResult run(std::vector<std::string> argv) const;

 private:
  std::string name_;
};

/** Runs `fn` on a private thread that entered network namespace `name` (/run/netns/NAME);
 *  the calling thread's namespace never changes. Rethrows what `fn` throws. */
void runInNamespace(const std::string& name, const std::function<void()>& fn);

}  // namespace ovsplane::testing
