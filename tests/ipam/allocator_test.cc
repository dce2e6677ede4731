// unit: the allocator over the in-memory store — behaviour, a reference model, concurrency.
#include "ipam/allocator.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "ipam/memory_store.h"
#include "ipam/round_robin.h"

namespace ovsplane::ipam {
namespace {

Subnet subnetOf(const char* text) {
  auto subnet = Subnet::parse(text);
  EXPECT_TRUE(subnet.has_value()) << text;
  return *subnet;
}

Ipv4Address ip(const char* text) { return *Ipv4Address::parse(text); }

class AllocatorTest : public ::testing::Test {
 protected:
  std::shared_ptr<MemoryStore> store_ = std::make_shared<MemoryStore>();
  Allocator allocator_{store_};
};

TEST_F(AllocatorTest, HandsOutHostsSkippingTheGateway) {
  const Subnet net = subnetOf("10.0.6.1/24");
  EXPECT_EQ(allocator_.allocate(net, "a").value(), ip("10.0.6.2"));
  EXPECT_EQ(allocator_.allocate(net, "b").value(), ip("10.0.6.3"));

  const Subnet midGateway = subnetOf("10.0.7.3/29");  // hosts .1-.6, gateway .3
  std::vector<Ipv4Address> got;
  for (const char* owner : {"a", "b", "c", "d", "e"}) {
    got.push_back(allocator_.allocate(midGateway, owner).value());
  }
  EXPECT_EQ(got, (std::vector<Ipv4Address>{ip("10.0.7.1"), ip("10.0.7.2"), ip("10.0.7.4"),
                                           ip("10.0.7.5"), ip("10.0.7.6")}));
}

TEST_F(AllocatorTest, SameOwnerGetsTheSameAddress) {
  const Subnet net = subnetOf("10.0.6.0/24");
  const auto first = allocator_.allocate(net, "c1").value();
  allocator_.allocate(net, "c2").value();
  EXPECT_EQ(allocator_.allocate(net, "c1").value(), first);
  EXPECT_EQ(allocator_.allocate(net, "c1", first).value(), first);
  EXPECT_EQ(store_->leases(net).value().size(), 2U);
}

TEST_F(AllocatorTest, OwnersAreScopedPerNetwork) {
  const Subnet a = subnetOf("10.0.6.1/24");
  const Subnet b = subnetOf("10.0.7.1/24");
  EXPECT_EQ(allocator_.allocate(a, "c1").value(), ip("10.0.6.2"));
  EXPECT_EQ(allocator_.allocate(b, "c1").value(), ip("10.0.7.2"));
}

TEST_F(AllocatorTest, RoundRobinDoesNotReturnAReleasedAddressAtOnce) {
  const Subnet net = subnetOf("10.0.6.1/24");
  const auto first = allocator_.allocate(net, "crashloop").value();
  ASSERT_TRUE(allocator_.release(net, "crashloop").has_value());
  const auto second = allocator_.allocate(net, "crashloop").value();
  EXPECT_NE(second, first);
  EXPECT_EQ(second, ip("10.0.6.3"));
}

TEST_F(AllocatorTest, RoundRobinWrapsAroundToFreedAddresses) {
  const Subnet net = subnetOf("10.0.6.1/29");  // .2-.6 assignable
  for (const char* owner : {"a", "b", "c", "d", "e"}) {
    ASSERT_TRUE(allocator_.allocate(net, owner).has_value());
  }
  ASSERT_TRUE(allocator_.release(net, "b").has_value());  // frees .3
  EXPECT_EQ(allocator_.allocate(net, "f").value(), ip("10.0.6.3"));
}

TEST_F(AllocatorTest, ReleaseIsIdempotent) {
  const Subnet net = subnetOf("10.0.6.1/24");
  EXPECT_TRUE(allocator_.release(net, "never-seen").has_value());
  EXPECT_TRUE(allocator_.releaseAddress(net, ip("10.0.6.77")).has_value());
  EXPECT_TRUE(allocator_.releaseAddress(subnetOf("10.9.9.1/24"), ip("10.0.6.77")).has_value());
  const auto address = allocator_.allocate(net, "c1").value();
  EXPECT_TRUE(allocator_.release(net, "c1").has_value());
  EXPECT_TRUE(allocator_.release(net, "c1").has_value());
  EXPECT_TRUE(allocator_.releaseAddress(net, address).has_value());
  EXPECT_TRUE(store_->leases(net).value().empty());
}

TEST_F(AllocatorTest, ReleaseAddressFreesWhoeverHoldsIt) {
  const Subnet net = subnetOf("10.0.6.1/24");
  const auto address = allocator_.allocate(net, "c1").value();
  ASSERT_TRUE(allocator_.releaseAddress(net, address).has_value());
  EXPECT_EQ(store_->addressOf(net, "c1").value(), std::nullopt);
  EXPECT_EQ(allocator_.allocate(net, "c2", address).value(), address);
}

TEST_F(AllocatorTest, ExhaustsASlash29WithAClearError) {
  const Subnet net = subnetOf("10.0.6.1/29");
  std::set<Ipv4Address> seen;
  for (int i = 0; i < 5; ++i) {
    auto address = allocator_.allocate(net, "c" + std::to_string(i));
    ASSERT_TRUE(address.has_value()) << address.error().message;
    EXPECT_TRUE(seen.insert(*address).second);
  }
  auto full = allocator_.allocate(net, "one-too-many");
  ASSERT_FALSE(full.has_value());
  EXPECT_EQ(full.error().code, ErrorCode::Exhausted);
  EXPECT_NE(full.error().message.find("10.0.6.1/29"), std::string::npos) << full.error().message;
  EXPECT_NE(full.error().message.find("exhausted"), std::string::npos) << full.error().message;
  // An existing owner still gets its address on a full network.
  EXPECT_TRUE(allocator_.allocate(net, "c0").has_value());
}

TEST_F(AllocatorTest, ExhaustsASlash16AndRecoversOneAddress) {
  const Subnet net = subnetOf("172.16.0.1/16");
  std::vector<uint32_t> counts(65536, 0);
  for (uint32_t i = 0; i < 65533; ++i) {
    auto address = allocator_.allocate(net, "c" + std::to_string(i));
    ASSERT_TRUE(address.has_value()) << i << ": " << address.error().message;
    ++counts[address->value() & 0xffff];
  }
  EXPECT_EQ(counts[0], 0U);       // network
  EXPECT_EQ(counts[1], 0U);       // gateway
  EXPECT_EQ(counts[0xffff], 0U);  // broadcast
  for (uint32_t host = 2; host < 0xffff; ++host) {
    ASSERT_EQ(counts[host], 1U) << host;
  }
  auto full = allocator_.allocate(net, "extra");
  ASSERT_FALSE(full.has_value());
  EXPECT_EQ(full.error().code, ErrorCode::Exhausted);
  ASSERT_TRUE(allocator_.release(net, "c1234").has_value());
  EXPECT_EQ(allocator_.allocate(net, "extra").value(), ip("172.16.4.212"));  // 2 + 1234
}

TEST_F(AllocatorTest, RequestedAddressRules) {
  const Subnet net = subnetOf("10.0.6.1/24");
  EXPECT_EQ(allocator_.allocate(net, "a", ip("10.0.6.50")).value(), ip("10.0.6.50"));

  auto taken = allocator_.allocate(net, "b", ip("10.0.6.50"));
  ASSERT_FALSE(taken.has_value());
  EXPECT_EQ(taken.error().code, ErrorCode::AddressTaken);
  EXPECT_NE(taken.error().message.find("taken"), std::string::npos);
  EXPECT_NE(taken.error().message.find("by a"), std::string::npos) << taken.error().message;

  auto conflict = allocator_.allocate(net, "a", ip("10.0.6.51"));
  ASSERT_FALSE(conflict.has_value());
  EXPECT_EQ(conflict.error().code, ErrorCode::OwnerConflict);
  EXPECT_NE(conflict.error().message.find("10.0.6.50"), std::string::npos);

  struct Case {
    const char* address;
    ErrorCode code;
    const char* part;
  };
  for (const Case& c : {Case{"10.0.7.5", ErrorCode::OutOfRange, "outside network 10.0.6.1/24"},
                        Case{"10.0.6.0", ErrorCode::ReservedAddress, "network address"},
                        Case{"10.0.6.255", ErrorCode::ReservedAddress, "broadcast address"},
                        Case{"10.0.6.1", ErrorCode::ReservedAddress, "gateway"}}) {
    auto result = allocator_.allocate(net, "z", ip(c.address));
    ASSERT_FALSE(result.has_value()) << c.address;
    EXPECT_EQ(result.error().code, c.code) << c.address;
    EXPECT_NE(result.error().message.find(c.part), std::string::npos) << result.error().message;
  }
  // Nothing was left allocated by the failures.
  EXPECT_EQ(store_->leases(net).value(), (std::vector<Lease>{{ip("10.0.6.50"), "a"}}));
  // The requested allocation moved the round-robin cursor.
  EXPECT_EQ(allocator_.allocate(net, "next").value(), ip("10.0.6.51"));
}

TEST_F(AllocatorTest, EmptyOwnerIsRejected) {
  auto result = allocator_.allocate(subnetOf("10.0.6.1/24"), "");
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::InvalidArgument);
}

/** A store that delegates to a MemoryStore and fails on command: the seam for error paths. */
class FlakyStore final : public Store {
 public:
  MemoryStore inner;
  bool failReserve = false;
  bool failLookups = false;

  Result<ReserveOutcome> reserve(const Subnet& s, Ipv4Address a, std::string_view o) override {
    if (failReserve) return unavailable();
    return inner.reserve(s, a, o);
  }
  Result<ReserveNextOutcome> reserveNext(const Subnet& s, std::string_view o) override {
    if (failReserve) return unavailable();
    return inner.reserveNext(s, o);
  }
  Result<std::optional<Ipv4Address>> addressOf(const Subnet& s, std::string_view o) override {
    if (failLookups) return unavailable();
    return inner.addressOf(s, o);
  }
  Result<void> releaseOwner(const Subnet& s, std::string_view o) override {
    if (failLookups) return unavailable();
    return inner.releaseOwner(s, o);
  }
  Result<void> releaseAddress(const Subnet& s, Ipv4Address a) override {
    return inner.releaseAddress(s, a);
  }
  Result<std::vector<Lease>> leases(const Subnet& s) override { return inner.leases(s); }

 private:
  static std::unexpected<Error> unavailable() {
    return makeError(ErrorCode::StoreUnavailable, "store down");
  }
};

TEST(AllocatorSeams, StoreErrorsPropagate) {
  auto store = std::make_shared<FlakyStore>();
  Allocator allocator(store);
  const Subnet net = subnetOf("10.0.6.1/24");
  store->failReserve = true;
  for (auto requested : {std::optional<Ipv4Address>(), std::optional(ip("10.0.6.9"))}) {
    auto result = allocator.allocate(net, "a", requested);
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().code, ErrorCode::StoreUnavailable);
    EXPECT_EQ(result.error().message, "store down");
  }
  store->failReserve = false;
  store->failLookups = true;
  auto released = allocator.release(net, "a");
  ASSERT_FALSE(released.has_value());
  EXPECT_EQ(released.error().code, ErrorCode::StoreUnavailable);
  EXPECT_TRUE(store->inner.leases(net).value().empty());
}

TEST(RoundRobinCandidate, SkipsTheGatewayAndWraps) {
  const Subnet net = subnetOf("10.0.7.3/29");  // hosts .1-.6, gateway .3
  std::set<uint32_t> used;
  auto firstFree = [&](Ipv4Address from, Ipv4Address to) -> std::optional<Ipv4Address> {
    for (uint32_t v = from.value(); v <= to.value(); ++v) {
      if (!used.contains(v)) return Ipv4Address(v);
    }
    return std::nullopt;
  };
  EXPECT_EQ(roundRobinCandidate(net, std::nullopt, firstFree), ip("10.0.7.1"));
  EXPECT_EQ(roundRobinCandidate(net, ip("10.0.7.2"), firstFree), ip("10.0.7.4"));  // not .3
  EXPECT_EQ(roundRobinCandidate(net, ip("10.0.7.6"), firstFree), ip("10.0.7.1"));  // wraps
  used = {ip("10.0.7.1").value(), ip("10.0.7.2").value()};
  EXPECT_EQ(roundRobinCandidate(net, ip("10.0.7.6"), firstFree), ip("10.0.7.4"));
  used = {ip("10.0.7.1").value(), ip("10.0.7.2").value(), ip("10.0.7.4").value(),
          ip("10.0.7.5").value(), ip("10.0.7.6").value()};
  EXPECT_EQ(roundRobinCandidate(net, ip("10.0.7.4"), firstFree), std::nullopt);
  // A cursor outside the network (stale or foreign) restarts at the first host.
  used.clear();
  EXPECT_EQ(roundRobinCandidate(net, ip("10.9.9.9"), firstFree), ip("10.0.7.1"));
}

/** The reference model: the allocation rules written as plainly as possible (linear scans). */
class ReferenceModel {
 public:
  explicit ReferenceModel(const Subnet& net) : net_(net) {}

  std::optional<Ipv4Address> allocate(const std::string& owner) {
    if (auto it = byOwner_.find(owner); it != byOwner_.end()) return it->second;
    const uint32_t first = net_.firstHost().value();
    const uint32_t count = net_.hostCount();
    uint32_t start = last_ && *last_ < net_.lastHost().value() ? *last_ + 1 : first;
    for (uint32_t i = 0; i < count; ++i) {
      const uint32_t candidate = first + (start - first + i) % count;
      if (candidate == net_.gateway().value() || byAddress_.contains(candidate)) continue;
      take(owner, candidate);
      return Ipv4Address(candidate);
    }
    return std::nullopt;
  }
  bool request(const std::string& owner, uint32_t address) {
    if (byOwner_.contains(owner) || byAddress_.contains(address)) return false;
    take(owner, address);
    return true;
  }
  void release(const std::string& owner) {
    if (auto it = byOwner_.find(owner); it != byOwner_.end()) {
      byAddress_.erase(it->second.value());
      byOwner_.erase(it);
    }
  }
  void releaseAddress(uint32_t address) {
    if (auto it = byAddress_.find(address); it != byAddress_.end()) {
      byOwner_.erase(it->second);
      byAddress_.erase(it);
    }
  }
  std::vector<Lease> leases() const {
    std::vector<Lease> out;
    for (const auto& [address, owner] : byAddress_) out.push_back({Ipv4Address(address), owner});
    return out;
  }
  bool holds(const std::string& owner) const { return byOwner_.contains(owner); }

 private:
  void take(const std::string& owner, uint32_t address) {
    byOwner_[owner] = Ipv4Address(address);
    byAddress_[address] = owner;
    last_ = address;
  }
  Subnet net_;
  std::map<std::string, Ipv4Address> byOwner_;
  std::map<uint32_t, std::string> byAddress_;
  std::optional<uint32_t> last_;
};

TEST(AllocatorModel, RandomSequencesMatchTheReferenceModel) {
  for (const char* cidr : {"10.0.6.1/29", "10.0.6.9/28", "10.1.0.0/24"}) {
    for (uint32_t seed = 1; seed <= 20; ++seed) {
      SCOPED_TRACE(std::string(cidr) + " seed " + std::to_string(seed));
      const Subnet net = subnetOf(cidr);
      Allocator allocator(std::make_shared<MemoryStore>());
      ReferenceModel model(net);
      std::mt19937 rng(seed);
      const uint32_t owners = net.hostCount() + 4;  // more owners than addresses: exhaustion too
      for (int step = 0; step < 400; ++step) {
        const std::string owner = "o" + std::to_string(rng() % owners);
        switch (rng() % 10) {
          case 0:
          case 1:
          case 2:
          case 3: {
            auto got = allocator.allocate(net, owner);
            auto want = model.allocate(owner);
            ASSERT_EQ(got.has_value(), want.has_value()) << "step " << step;
            if (want) {
              ASSERT_EQ(*got, *want) << "step " << step;
            } else {
              ASSERT_EQ(got.error().code, ErrorCode::Exhausted);
            }
            break;
          }
          case 4: {
            const uint32_t address =
                net.firstHost().value() + static_cast<uint32_t>(rng() % net.hostCount());
            if (address == net.gateway().value()) break;
            auto got = allocator.allocate(net, owner, Ipv4Address(address));
            const bool alreadySame =
                model.holds(owner) && model.allocate(owner)->value() == address;
            const bool want = alreadySame || model.request(owner, address);
            ASSERT_EQ(got.has_value(), want) << "step " << step;
            break;
          }
          case 5:
          case 6:
          case 7:
            ASSERT_TRUE(allocator.release(net, owner).has_value());
            model.release(owner);
            break;
          default: {
            const uint32_t address =
                net.firstHost().value() + static_cast<uint32_t>(rng() % net.hostCount());
            ASSERT_TRUE(allocator.releaseAddress(net, Ipv4Address(address)).has_value());
            model.releaseAddress(address);
          }
        }
        ASSERT_EQ(allocator.store().leases(net).value(), model.leases()) << "step " << step;
      }
    }
  }
}

TEST(AllocatorConcurrency, ThreadsHammeringOneNetworkNeverShareAnAddress) {
  auto store = std::make_shared<MemoryStore>();
  Allocator allocator(store);
  const Subnet net = subnetOf("10.2.0.1/20");  // 4093 assignable
  constexpr int kThreads = 8;
  constexpr int kPerThread = 400;
  std::vector<std::vector<std::pair<std::string, Ipv4Address>>> kept(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<uint32_t>(t));
      for (int i = 0; i < kPerThread; ++i) {
        const std::string owner = "t" + std::to_string(t) + "-" + std::to_string(i);
        auto address = allocator.allocate(net, owner);
        if (!address) {
          ++failures;
          continue;
        }
        // Retries (at-least-once) see the same address.
        if (allocator.allocate(net, owner).value_or(Ipv4Address()) != *address) ++failures;
        if (rng() % 4 == 0) {
          if (!allocator.release(net, owner)) ++failures;
        } else {
          kept[t].emplace_back(owner, *address);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);

  std::vector<Lease> expected;
  for (const auto& perThread : kept) {
    for (const auto& [owner, address] : perThread) expected.push_back({address, owner});
  }
  std::sort(expected.begin(), expected.end());
  const auto leases = store->leases(net).value();
  EXPECT_EQ(leases, expected);  // nothing lost, nothing extra
  std::set<Ipv4Address> distinct;
  for (const auto& lease : leases) distinct.insert(lease.address);
  EXPECT_EQ(distinct.size(), leases.size());
}

TEST(AllocatorConcurrency, RacingAllocationsForOneOwnerAgree) {
  auto store = std::make_shared<MemoryStore>();
  Allocator allocator(store);
  const Subnet net = subnetOf("10.3.0.1/24");
  for (int round = 0; round < 50; ++round) {
    const std::string owner = "same-" + std::to_string(round);
    std::vector<Ipv4Address> got(6);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < got.size(); ++t) {
      threads.emplace_back([&, t] { got[t] = allocator.allocate(net, owner).value(); });
    }
    for (auto& thread : threads) thread.join();
    for (const auto& address : got) ASSERT_EQ(address, got.front()) << round;
  }
  EXPECT_EQ(store->leases(net).value().size(), 50U);
}

TEST(MemoryStore, BitmapOfASlash8IsTwoMebibytes) {
  MemoryStore store;
  const Subnet net = subnetOf("10.0.0.1/8");
  ASSERT_TRUE(store.reserveNext(net, "first").has_value());
  EXPECT_EQ(store.bitmapBytes(net), 2U * 1024 * 1024);
}

}  // namespace
}  // namespace ovsplane::ipam
