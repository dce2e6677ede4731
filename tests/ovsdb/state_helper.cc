// A second (and third) process for the state-store race tests: allocates or reserves through its
// own StateStore connection and prints what it got, one line each.
//   state_helper allocate REMOTE CIDR OWNER_PREFIX COUNT START_FILE
//   state_helper reserve  REMOTE CIDR OWNER FIRST_IP LAST_IP asc|desc START_FILE
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <string>
#include <thread>

#include "ipam/allocator.h"
#include "ovsdb/state_store.h"

using namespace ovsplane;

int main(int argc, char** argv) {
  const std::string command = argc > 1 ? argv[1] : "";
  if (!((command == "allocate" && argc == 7) || (command == "reserve" && argc == 9))) {
    std::cerr << "usage: see the comment at the top of state_helper.cc\n";
    return 2;
  }
  const std::string startFile = argv[argc - 1];
  auto store = std::make_shared<ovsdb::StateStore>(
      ovsdb::ClientOptions{
          .remote = argv[2], .leaderOnly = true, .timeout = std::chrono::seconds(20)},
      "helper-" + std::to_string(getpid()));
  auto subnet = ipam::Subnet::parse(argv[3]);
  if (!subnet || !store->ensureNetwork(*subnet)) {
    std::cerr << "cannot ensure network\n";
    return 1;
  }
  while (!std::filesystem::exists(startFile)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (command == "allocate") {
    ipam::Allocator allocator(store);
    const int count = std::stoi(argv[5]);
    for (int i = 0; i < count; ++i) {
      const std::string owner = std::string(argv[4]) + std::to_string(i);
      auto address = allocator.allocate(*subnet, owner);
      if (!address) {
        std::cerr << owner << ": " << address.error().message << "\n";
        return 1;
      }
      std::cout << owner << " " << address->toString() << "\n";
    }
    return 0;
  }
  const uint32_t first = ipam::Ipv4Address::parse(argv[5])->value();
  const uint32_t last = ipam::Ipv4Address::parse(argv[6])->value();
  const bool ascending = std::string(argv[7]) == "asc";
  for (uint32_t i = 0; i <= last - first; ++i) {
    const ipam::Ipv4Address ip(ascending ? first + i : last - i);
    const std::string owner = std::string(argv[4]) + "-" + ip.toString();
    auto outcome = store->reserve(*subnet, ip, owner);
    if (!outcome) {
      std::cerr << ip.toString() << ": " << outcome.error().message << "\n";
      return 1;
    }
    std::cout << ip.toString() << " "
              << (std::holds_alternative<ipam::Reserved>(*outcome) ? "won" : "lost") << "\n";
  }
  return 0;
}
