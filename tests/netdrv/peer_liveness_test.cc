#include "netdrv/peer_liveness.h"

#include <gtest/gtest.h>

#include <chrono>

namespace ovsplane::netdrv {
namespace {

using namespace std::chrono_literals;
using Clock = PeerLiveness::Clock;

ovsdb::HostRecord host(const std::string& name, int64_t lastSeenMs) {
  return ovsdb::HostRecord{name, "192.168.77.1", lastSeenMs};
}

class PeerLivenessTest : public ::testing::Test {
 protected:
  PeerLiveness liveness_{30s};
  Clock::time_point t0_ = Clock::now();
  static constexpr int64_t kWall = 1'700'000'000'000;  // this host's wall clock at t0_

  std::vector<std::string> at(std::chrono::milliseconds since,
                              std::vector<ovsdb::HostRecord> rows) {
    return liveness_.observe(rows, kWall + since.count(), t0_ + since);
  }
};

TEST_F(PeerLivenessTest, AHostRefreshingItsRowStaysAlive) {
  for (int s = 0; s <= 120; ++s) {
    const int64_t refreshed = kWall + (s / 5) * 5000;  // every 5 s
    EXPECT_EQ(at(std::chrono::seconds(s), {host("a", refreshed)}), std::vector<std::string>{"a"})
        << "at " << s << " s";
  }
}

TEST_F(PeerLivenessTest, AHostSilentForTheExpiryIsGoneAndBackWhenItRefreshes) {
  for (int s = 0; s <= 30; ++s) {
    EXPECT_EQ(at(std::chrono::seconds(s), {host("a", kWall)}).size(), 1U) << s;
  }
  EXPECT_TRUE(at(31s, {host("a", kWall)}).empty());
  EXPECT_EQ(at(32s, {host("a", kWall + 32000)}), std::vector<std::string>{"a"});
}

TEST_F(PeerLivenessTest, ARowLeftBehindLongAgoIsNotAliveAtFirstSight) {
  EXPECT_TRUE(at(0s, {host("old", kWall - 3'600'000)}).empty());
  EXPECT_EQ(at(0s, {host("fresh", kWall - 2000)}), std::vector<std::string>{"fresh"});
}

TEST_F(PeerLivenessTest, ClockSkewMattersOnlyAtFirstSight) {
  // Its clock runs 20 s behind ours: at first sight it looks 20 s old, then only changes count.
  const int64_t skew = -20'000;
  for (int s = 0; s <= 60; ++s) {
    const int64_t refreshed = kWall + skew + (s / 5) * 5000;
    EXPECT_EQ(at(std::chrono::seconds(s), {host("slow", refreshed)}).size(), 1U) << s;
  }
  // Its clock runs an hour ahead: the age clamps at zero, it is alive.
  EXPECT_EQ(at(61s, {host("fast", kWall + 3'600'000)}), std::vector<std::string>{"fast"});
}

TEST_F(PeerLivenessTest, AnOutageOfTheDatabaseLongerThanTheExpiryCountsAgainstNobody) {
  ASSERT_EQ(at(0s, {host("a", kWall), host("b", kWall)}).size(), 2U);
  // No read succeeded for 90 s; the rows are unchanged since (nobody could write either).
  EXPECT_EQ(at(90s, {host("a", kWall), host("b", kWall)}).size(), 2U);
  // Reads resume every second: each host has a fresh expiry to refresh its row.
  for (int s = 91; s <= 120; ++s) {
    EXPECT_EQ(at(std::chrono::seconds(s), {host("a", kWall + 95000), host("b", kWall)}).size(), 2U)
        << s;
  }
  // b never refreshed after the outage: gone once that fresh expiry has passed.
  EXPECT_EQ(at(121s, {host("a", kWall + 95000), host("b", kWall)}), std::vector<std::string>{"a"});
}

TEST_F(PeerLivenessTest, AHostGoneBeforeAnOutageStaysGoneAfterIt) {
  for (int s = 0; s <= 40; ++s) {
    at(std::chrono::seconds(s), {host("dead", kWall), host("live", kWall + s * 1000)});
  }
  // dead stopped refreshing at 0 s: gone since 31 s. A 10 s gap in reads must not revive it.
  EXPECT_EQ(at(50s, {host("dead", kWall), host("live", kWall + 50000)}),
            std::vector<std::string>{"live"});
}

TEST_F(PeerLivenessTest, ADeletedRowIsForgotten) {
  ASSERT_EQ(at(0s, {host("a", kWall)}).size(), 1U);
  EXPECT_TRUE(at(1s, {}).empty());
  // Registered again much later with an old timestamp: judged afresh, as at first sight.
  EXPECT_TRUE(at(100s, {host("a", kWall)}).empty());
}

}  // namespace
}  // namespace ovsplane::netdrv
