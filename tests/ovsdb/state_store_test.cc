// ovsdb-labelled: the state database (networks, addresses, hosts) against real ovsdb-servers —
// standalone, and a 3-member Raft cluster with its leader killed mid-run. Rows are checked
// independently with ovsdb-client.
#include "ovsdb/state_store.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <thread>

#include "ipam/allocator.h"
#include "tests/support/ovsdb_cluster.h"
#include "tests/support/ovsdb_server.h"

namespace ovsplane::ovsdb {
namespace {

using namespace std::chrono_literals;
using testing::OvsdbServer;
using testing::runCommand;

ipam::Subnet subnetOf(const char* text) { return *ipam::Subnet::parse(text); }

/** Rows of `table` read with ovsdb-client (not through ovsplane's IDL). */
nlohmann::json selectRows(const std::string& remote, const std::string& table) {
  const std::string query = R"(["OVSPlane",{"op":"select","table":")" + table + R"(","where":[]}])";
  auto result = runCommand({"ovsdb-client", "--timeout=10", "transact", remote, query});
  EXPECT_EQ(result.exitCode, 0) << result.output;
  return nlohmann::json::parse(result.output).at(0).at("rows");
}

/** ip -> owner for every Address row; fails the test on a duplicate ip. */
std::map<std::string, std::string> addressRows(const std::string& remote) {
  std::map<std::string, std::string> rows;
  for (const auto& row : selectRows(remote, "Address")) {
    const bool inserted =
        rows.emplace(row.at("ip").get<std::string>(), row.at("owner").get<std::string>()).second;
    EXPECT_TRUE(inserted) << "duplicate address " << row.at("ip");
  }
  return rows;
}

class StateStoreTest : public ::testing::Test {
 protected:
  OvsdbServer server_{testing::stateSchemaPath()};
  ClientOptions options() const {
    return ClientOptions{.remote = server_.remote(), .leaderOnly = false, .timeout = 10s};
  }
  std::shared_ptr<StateStore> store_ = std::make_shared<StateStore>(options(), "host-a");
};

TEST_F(StateStoreTest, ASealedNetworkIsRecordedSoAndKeepsItsChoice) {
  auto sealed = store_->ensureNetwork(subnetOf("10.0.20.1/24"), std::nullopt, /*nat=*/false);
  ASSERT_TRUE(sealed.has_value()) << sealed.error().message;
  EXPECT_FALSE(sealed->nat);
  auto later = store_->ensureNetwork(subnetOf("10.0.20.1/24"), std::nullopt, /*nat=*/true);
  ASSERT_TRUE(later.has_value());
  EXPECT_FALSE(later->nat) << "the first attach chose";
  auto open = store_->ensureNetwork(subnetOf("10.0.21.1/24"));
  ASSERT_TRUE(open.has_value());
  EXPECT_TRUE(open->nat);
  // A second client (another host) reads it from the row.
  StateStore other(options(), "host-b");
  auto networks = other.networks();
  ASSERT_TRUE(networks.has_value());
  std::map<std::string, bool> nat;
  for (const auto& network : *networks) nat[network.cidr] = network.nat;
  EXPECT_FALSE(nat.at("10.0.20.0/24"));
  EXPECT_TRUE(nat.at("10.0.21.0/24"));
}

TEST_F(StateStoreTest, NetworksGetOneVniEach) {
  auto first = store_->ensureNetwork(subnetOf("10.0.6.1/24"));
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_EQ(first->cidr, "10.0.6.0/24");
  EXPECT_EQ(first->gateway, "10.0.6.1");
  EXPECT_EQ(first->vni, StateStore::kFirstAutoVni);
  auto again = store_->ensureNetwork(subnetOf("10.0.6.0/24"));  // same network, same gateway
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->vni, first->vni);
  auto second = store_->ensureNetwork(subnetOf("10.0.7.1/24"));
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->vni, StateStore::kFirstAutoVni + 1);
  auto explicitVni = store_->ensureNetwork(subnetOf("10.0.8.1/24"), 42);
  ASSERT_TRUE(explicitVni.has_value());
  EXPECT_EQ(explicitVni->vni, 42U);

  auto otherGateway = store_->ensureNetwork(subnetOf("10.0.6.9/24"));
  ASSERT_FALSE(otherGateway.has_value());
  EXPECT_EQ(otherGateway.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(otherGateway.error().message.find("gateway 10.0.6.1"), std::string::npos);
  auto takenVni = store_->ensureNetwork(subnetOf("10.0.9.1/24"), 42);
  ASSERT_FALSE(takenVni.has_value());
  EXPECT_EQ(takenVni.error().code, ErrorCode::InvalidArgument);

  const auto rows = selectRows(server_.remote(), "Network");
  ASSERT_EQ(rows.size(), 3U);
  std::map<std::string, int64_t> vnis;
  for (const auto& row : rows) vnis[row.at("cidr")] = row.at("vni");
  EXPECT_EQ(vnis, (std::map<std::string, int64_t>{
                      {"10.0.6.0/24", 4096}, {"10.0.7.0/24", 4097}, {"10.0.8.0/24", 42}}));
  auto listed = store_->networks();
  ASSERT_TRUE(listed.has_value());
  EXPECT_EQ(listed->size(), 3U);
}

TEST_F(StateStoreTest, AllocatorWorksOverTheStateDatabase) {
  const auto net = subnetOf("10.0.6.1/29");
  ASSERT_TRUE(store_->ensureNetwork(net).has_value());
  ipam::Allocator allocator(store_);
  std::vector<std::string> got;
  for (const char* owner : {"c1", "c2", "c3", "c4", "c5"}) {
    auto address = allocator.allocate(net, owner);
    ASSERT_TRUE(address.has_value()) << address.error().message;
    got.push_back(address->toString());
  }
  EXPECT_EQ(got,
            (std::vector<std::string>{"10.0.6.2", "10.0.6.3", "10.0.6.4", "10.0.6.5", "10.0.6.6"}));
  EXPECT_EQ(allocator.allocate(net, "c3").value().toString(), "10.0.6.4");  // idempotent
  auto full = allocator.allocate(net, "c6");
  ASSERT_FALSE(full.has_value());
  EXPECT_EQ(full.error().code, ipam::ErrorCode::Exhausted);

  auto rows = addressRows(server_.remote());
  EXPECT_EQ(rows.size(), 5U);
  EXPECT_EQ(rows["10.0.6.4"], "c3");
  for (const auto& row : selectRows(server_.remote(), "Address")) {
    EXPECT_EQ(row.at("host"), "host-a");
  }

  ASSERT_TRUE(allocator.release(net, "c2").has_value());
  ASSERT_TRUE(allocator.release(net, "c2").has_value());  // idempotent
  ASSERT_TRUE(allocator.releaseAddress(net, *ipam::Ipv4Address::parse("10.0.6.5")).has_value());
  rows = addressRows(server_.remote());
  EXPECT_EQ(rows.size(), 3U);
  EXPECT_FALSE(rows.contains("10.0.6.3"));
  EXPECT_FALSE(rows.contains("10.0.6.5"));
  // Round robin continues after the last reservation (.6), wrapping to the first free (.3).
  EXPECT_EQ(allocator.allocate(net, "c7").value().toString(), "10.0.6.3");

  auto taken = allocator.allocate(net, "c8", *ipam::Ipv4Address::parse("10.0.6.4"));
  ASSERT_FALSE(taken.has_value());
  EXPECT_EQ(taken.error().code, ipam::ErrorCode::AddressTaken);
  EXPECT_NE(taken.error().message.find("c3"), std::string::npos);
}

TEST_F(StateStoreTest, CursorSurvivesANewConnection) {
  const auto net = subnetOf("10.0.6.1/24");
  ASSERT_TRUE(store_->ensureNetwork(net).has_value());
  ipam::Allocator allocator(store_);
  ASSERT_EQ(allocator.allocate(net, "a").value().toString(), "10.0.6.2");
  ASSERT_TRUE(allocator.release(net, "a").has_value());
  auto otherHost = std::make_shared<StateStore>(options(), "host-b");
  ipam::Allocator other(otherHost);
  EXPECT_EQ(other.allocate(net, "b").value().toString(), "10.0.6.3");
}

TEST_F(StateStoreTest, ReservingInAnUnknownNetworkIsRefused) {
  auto outcome =
      store_->reserve(subnetOf("10.9.0.1/24"), *ipam::Ipv4Address::parse("10.9.0.5"), "x");
  ASSERT_FALSE(outcome.has_value());
  EXPECT_EQ(outcome.error().code, ipam::ErrorCode::InvalidArgument);
  EXPECT_NE(outcome.error().message.find("not registered"), std::string::npos);
}

TEST_F(StateStoreTest, OverlappingNetworksAreRefused) {
  ASSERT_TRUE(store_->ensureNetwork(subnetOf("10.0.6.1/24")).has_value());
  for (const char* overlapping : {"10.0.0.1/16", "10.0.6.129/25", "10.0.4.1/22"}) {
    auto refused = store_->ensureNetwork(subnetOf(overlapping));
    ASSERT_FALSE(refused.has_value()) << overlapping;
    EXPECT_EQ(refused.error().code, ErrorCode::InvalidArgument);
    EXPECT_NE(refused.error().message.find("overlaps network 10.0.6.0/24"), std::string::npos)
        << refused.error().message;
  }
  EXPECT_TRUE(store_->ensureNetwork(subnetOf("10.0.7.1/24")).has_value());  // adjacent: fine
  EXPECT_TRUE(store_->ensureNetwork(subnetOf("10.0.6.1/24")).has_value());  // itself: fine
  EXPECT_EQ(selectRows(server_.remote(), "Network").size(), 2U);
}

TEST_F(StateStoreTest, DeleteNetworkOnlyWhenEmpty) {
  const auto net = subnetOf("10.0.6.1/24");
  ASSERT_TRUE(store_->ensureNetwork(net).has_value());
  ipam::Allocator allocator(store_);
  ASSERT_TRUE(allocator.allocate(net, "a").has_value());
  auto busy = store_->deleteNetwork(net);
  ASSERT_FALSE(busy.has_value());
  EXPECT_EQ(busy.error().code, ErrorCode::Conflict);
  ASSERT_TRUE(allocator.release(net, "a").has_value());
  ASSERT_TRUE(store_->deleteNetwork(net).has_value());
  ASSERT_TRUE(store_->deleteNetwork(net).has_value());
  EXPECT_TRUE(selectRows(server_.remote(), "Network").empty());
}

TEST_F(StateStoreTest, HostsRegisterRefreshAndLeave) {
  ASSERT_TRUE(store_->registerHost("h1", "192.168.77.1").has_value());
  ASSERT_TRUE(store_->registerHost("h2", "192.168.77.2").has_value());
  auto before = store_->hosts().value();
  std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(store_->registerHost("h1", "192.168.77.11").has_value());
  auto after = store_->hosts().value();
  ASSERT_EQ(after.size(), 2U);
  EXPECT_EQ(after[0].vtepIp, "192.168.77.11");
  EXPECT_GT(after[0].lastSeenMs, before[0].lastSeenMs);
  ASSERT_TRUE(store_->removeHost("h2").has_value());
  ASSERT_TRUE(store_->removeHost("h2").has_value());
  const auto rows = selectRows(server_.remote(), "Host");
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows[0].at("name"), "h1");
}

TEST_F(StateStoreTest, ThreadsOnTwoConnectionsNeverShareAnAddress) {
  const auto net = subnetOf("10.1.0.1/22");
  ASSERT_TRUE(store_->ensureNetwork(net).has_value());
  auto second = std::make_shared<StateStore>(options(), "host-b");
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      ipam::Allocator allocator(t % 2 ? std::static_pointer_cast<ipam::Store>(second)
                                      : std::static_pointer_cast<ipam::Store>(store_));
      for (int i = 0; i < 40; ++i) {
        const auto got = allocator.allocate(net, "t" + std::to_string(t) + "-" + std::to_string(i));
        if (!got) {
          ++failures;
          ADD_FAILURE() << "thread " << t << ", allocation " << i << ": " << got.error().message;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(addressRows(server_.remote()).size(), 160U);
}

TEST_F(StateStoreTest, ConcurrentFirstAttachesAgreeOnOneVni) {
  auto second = std::make_shared<StateStore>(options(), "host-b");
  for (int round = 0; round < 10; ++round) {
    const auto net = subnetOf(("10.2." + std::to_string(round) + ".1/24").c_str());
    Result<NetworkRecord> a = makeError(ErrorCode::Backend, "unset");
    Result<NetworkRecord> b = makeError(ErrorCode::Backend, "unset");
    std::thread ta([&] { a = store_->ensureNetwork(net); });
    std::thread tb([&] { b = second->ensureNetwork(net); });
    ta.join();
    tb.join();
    ASSERT_TRUE(a.has_value()) << a.error().message;
    ASSERT_TRUE(b.has_value()) << b.error().message;
    EXPECT_EQ(a->vni, b->vni) << net.toString();
  }
  std::set<int64_t> vnis;
  for (const auto& row : selectRows(server_.remote(), "Network")) {
    vnis.insert(row.at("vni").get<int64_t>());
  }
  EXPECT_EQ(vnis.size(), 10U);
}

TEST_F(StateStoreTest, ServerRestartWhileTheClientRuns) {
  const auto net = subnetOf("10.0.6.1/24");
  ASSERT_TRUE(store_->ensureNetwork(net).has_value());
  ipam::Allocator allocator(store_);
  ASSERT_TRUE(allocator.allocate(net, "before").has_value());
  server_.stop();
  server_.start();
  auto after = allocator.allocate(net, "after");
  ASSERT_TRUE(after.has_value()) << after.error().message;
  EXPECT_EQ(after->toString(), "10.0.6.3");
  EXPECT_EQ(addressRows(server_.remote()).size(), 2U);
}

TEST(StateStoreUnreachable, FailsFastAsStoreUnavailable) {
  testing::TempDir dir;
  StateStore store(ClientOptions{.remote = "unix:" + (dir.path() / "none.sock").string(),
                                 .leaderOnly = false,
                                 .timeout = 300ms},
                   "h");
  const auto start = std::chrono::steady_clock::now();
  auto result = store.addressOf(subnetOf("10.0.6.1/24"), "x");
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ipam::ErrorCode::StoreUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST_F(StateStoreTest, DuringALongOutageCallsFailAtOnceAndRecoverWhenTheServerReturns) {
  const auto net = subnetOf("10.0.7.1/24");
  auto store = std::make_shared<StateStore>(
      ClientOptions{.remote = server_.remote(), .leaderOnly = false, .timeout = 1s}, "h");
  ASSERT_TRUE(store->ensureNetwork(net).has_value());
  server_.stop();
  // The first call after the server went away waits out its limit (a blip may end in time).
  auto first = store->networks();
  ASSERT_FALSE(first.has_value());
  EXPECT_EQ(first.error().code, ErrorCode::Timeout);
  // The outage is now older than the limit: later calls do not wait for it again.
  const auto start = std::chrono::steady_clock::now();
  auto second = store->networks();
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(second.has_value());
  EXPECT_NE(second.error().message.find("unusable for"), std::string::npos)
      << second.error().message;
  EXPECT_LT(waited, 500ms);
  // Waiting out an outage costs no CPU (the IDL thread sleeps; it once spun here).
  auto cpuSeconds = [] {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  };
  const double cpuBefore = cpuSeconds();
  std::this_thread::sleep_for(2s);
  EXPECT_LT(cpuSeconds() - cpuBefore, 0.5) << "CPU used while idle during an outage";
  server_.start();
  // Reconnection backs off (up to 8 s in libopenvswitch): the first calls may still fail fast.
  Result<std::vector<NetworkRecord>> back = std::unexpected(Error{ErrorCode::Timeout, ""});
  for (int i = 0; i < 150 && !back; ++i) {
    back = store->networks();
    if (!back) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_EQ(back->size(), 1U);
}

/** Runs the helper process; returns its pid (output goes to `log`). */
pid_t startHelper(std::vector<std::string> args, const std::filesystem::path& log) {
  args.insert(args.begin(), OVSPLANE_TEST_STATE_HELPER);
  return testing::spawnProgram(args, log);
}

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

int waitExit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_F(StateStoreTest, TwoProcessesRacingForTheSameAddressesEachWinItOnce) {
  testing::TempDir dir;
  const auto start = dir.path() / "go";
  const auto logA = dir.path() / "a.log";
  const auto logB = dir.path() / "b.log";
  const pid_t a = startHelper({"reserve", server_.remote(), "10.3.0.1/24", "pa", "10.3.0.2",
                               "10.3.0.101", "asc", start.string()},
                              logA);
  const pid_t b = startHelper({"reserve", server_.remote(), "10.3.0.1/24", "pb", "10.3.0.2",
                               "10.3.0.101", "desc", start.string()},
                              logB);
  std::this_thread::sleep_for(300ms);  // both connected and waiting
  std::ofstream(start).put('\n');
  ASSERT_EQ(waitExit(a), 0) << readFile(logA);
  ASSERT_EQ(waitExit(b), 0) << readFile(logB);

  std::map<std::string, int> wins;
  for (const auto& log : {logA, logB}) {
    std::istringstream lines(readFile(log));
    std::string ip;
    std::string result;
    while (lines >> ip >> result) {
      if (result == "won") ++wins[ip];
    }
  }
  ASSERT_EQ(wins.size(), 100U) << readFile(logA) << readFile(logB);
  for (const auto& [ip, count] : wins) EXPECT_EQ(count, 1) << ip;
  const auto rows = addressRows(server_.remote());
  EXPECT_EQ(rows.size(), 100U);
  int fromA = 0;
  for (const auto& [ip, owner] : rows) fromA += owner.starts_with("pa-");
  EXPECT_GT(fromA, 0);
  EXPECT_LT(fromA, 100);  // both really competed
}

TEST_F(StateStoreTest, TwoProcessesAllocatingGetDistinctAddresses) {
  testing::TempDir dir;
  const auto start = dir.path() / "go";
  const pid_t a =
      startHelper({"allocate", server_.remote(), "10.4.0.1/24", "a", "100", start.string()},
                  dir.path() / "a.log");
  const pid_t b =
      startHelper({"allocate", server_.remote(), "10.4.0.1/24", "b", "100", start.string()},
                  dir.path() / "b.log");
  std::this_thread::sleep_for(300ms);
  std::ofstream(start).put('\n');
  ASSERT_EQ(waitExit(a), 0) << readFile(dir.path() / "a.log");
  ASSERT_EQ(waitExit(b), 0) << readFile(dir.path() / "b.log");
  EXPECT_EQ(addressRows(server_.remote()).size(), 200U);
}

TEST(StateStoreRaft, LeaderKilledMidRunLosesAndDuplicatesNothing) {
  testing::OvsdbCluster cluster(testing::stateSchemaPath(), "OVSPlane", 3);
  const auto net = subnetOf("10.5.0.1/22");
  auto store = std::make_shared<StateStore>(
      ClientOptions{.remote = cluster.remote(), .leaderOnly = true, .timeout = 5s}, "host-a");
  ASSERT_TRUE(store->ensureNetwork(net).has_value());
  ipam::Allocator allocator(store);

  constexpr int kOwners = 150;
  std::map<std::string, std::string> got;  // owner -> ip
  int retries = 0;
  std::atomic<int> done{0};
  std::thread worker([&] {
    for (int i = 0; i < kOwners; ++i) {
      const std::string owner = "c" + std::to_string(i);
      // A caller retries after an error: the store is at-least-once and the owner check makes
      // the retry find its own row if the first attempt committed after all.
      for (int attempt = 0; attempt < 20; ++attempt) {
        auto address = allocator.allocate(net, owner);
        if (address) {
          got[owner] = address->toString();
          break;
        }
        ++retries;
      }
      ++done;
    }
  });
  ASSERT_TRUE(testing::waitUntil([&] { return done.load() >= 50; }, 60s));
  const int leader = cluster.leader();
  ASSERT_GE(leader, 0);
  cluster.killMember(leader);
  worker.join();

  ASSERT_EQ(got.size(), static_cast<size_t>(kOwners)) << "retries: " << retries;
  std::set<std::string> distinct;
  for (const auto& [owner, ip] : got) distinct.insert(ip);
  EXPECT_EQ(distinct.size(), got.size());
  // Read back from a surviving member, not through the client under test.
  const int survivor = leader == 0 ? 1 : 0;
  const auto rows = addressRows(cluster.memberRemote(survivor));
  EXPECT_EQ(rows.size(), static_cast<size_t>(kOwners));
  for (const auto& [owner, ip] : got) EXPECT_EQ(rows.at(ip), owner);
  std::cout << "raft leader kill: " << kOwners << " allocations, " << retries
            << " caller retries\n";
}

}  // namespace
}  // namespace ovsplane::ovsdb
