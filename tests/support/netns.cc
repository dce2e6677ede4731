#include "tests/support/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <thread>

namespace ovsplane::testing {

bool isRoot() { return geteuid() == 0; }

NetworkNamespace::NetworkNamespace() {
  static std::atomic<int> counter{0};
  name_ = "ovsplane-t" + std::to_string(getpid()) + "-" + std::to_string(counter++);
  const CommandResult added = runCommand({"ip", "netns", "add", name_});
  if (added.exitCode != 0) {
    throw std::runtime_error("ip netns add " + name_ + " failed: " + added.output);
  }
  run({"ip", "link", "set", "lo", "up"});
}

NetworkNamespace::~NetworkNamespace() { runCommand({"ip", "netns", "del", name_}); }

CommandResult NetworkNamespace::run(std::vector<std::string> argv) const {
  argv.insert(argv.begin(), {"ip", "netns", "exec", name_});
  return runCommand(argv);
}

void runInNamespace(const std::string& name, const std::function<void()>& fn) {
  std::exception_ptr failure;
  std::thread worker([&] {
    try {
      const std::string path = "/run/netns/" + name;
      const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
        if (fd >= 0) close(fd);
        throw std::runtime_error("cannot enter " + path + ": " + std::strerror(errno));
      }
      close(fd);
      fn();
    } catch (...) {
      failure = std::current_exception();
    }
  });
  worker.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace ovsplane::testing
